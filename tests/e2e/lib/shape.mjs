// Compares JSON values by shape: the keys of objects and the types of
// values, recursively; array items are merged into one shape.

/** The shape of a JSON value. */
export function shape(value) {
  if (value === null) return "null";
  if (Array.isArray(value)) {
    const items = value.map(shape);
    return items.length === 0 ? ["empty"] : [items.reduce(merge)];
  }
  if (typeof value === "object") {
    return Object.fromEntries(Object.keys(value).sort().map((key) => [key, shape(value[key])]));
  }
  return typeof value;
}

function merge(a, b) {
  if (JSON.stringify(a) === JSON.stringify(b)) return a;
  if (isObject(a) && isObject(b)) {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    return Object.fromEntries([...keys].sort().map((k) => [k, k in a && k in b ? merge(a[k], b[k]) : a[k] ?? b[k]]));
  }
  return a;
}

const isObject = (v) => v && typeof v === "object" && !Array.isArray(v);

/**
 * The differences between two shapes, as readable lines:
 * `path: only in reference`, `path: string vs number`, ...
 */
export function differences(reference, ours, path = "$") {
  if (Array.isArray(reference) && Array.isArray(ours)) {
    if (reference[0] === "empty" || ours[0] === "empty") return [];
    return differences(reference[0], ours[0], `${path}[]`);
  }
  if (isObject(reference) && isObject(ours)) {
    const lines = [];
    for (const key of new Set([...Object.keys(reference), ...Object.keys(ours)])) {
      if (!(key in ours)) lines.push(`${path}.${key}: only in reference`);
      else if (!(key in reference)) lines.push(`${path}.${key}: only in wasmgate`);
      else lines.push(...differences(reference[key], ours[key], `${path}.${key}`));
    }
    return lines;
  }
  const kind = (s) => (Array.isArray(s) ? "array" : isObject(s) ? "object" : s);
  return kind(reference) === kind(ours) ? [] : [`${path}: ${kind(reference)} vs ${kind(ours)}`];
}
