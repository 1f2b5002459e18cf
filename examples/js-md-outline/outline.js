// md_outline: the outline of a Markdown file, and its broken links.
//
// A wasmgate tool written in JavaScript and built into a WebAssembly
// component with jco (componentize-js) against wasmgate's WIT contract
// (`wit/tools.wit`, world `tool-provider`). It reads files only through the
// host's `bulk-fs` import, which resolves every path beneath the folder the
// call was granted: `..`, absolute paths and links out fail there, whatever
// this code does.

import { listDir, readFile } from 'wasmgate:tools/bulk-fs@0.1.0';

const NAME = 'md_outline';

const DESCRIPTION =
  'Lists the headings of a Markdown file in the workspace with their line numbers (its outline), ' +
  'and with check_links also its broken links: relative links to files or folders that do not exist ' +
  'and #anchors that match no heading. Use it to find your way in long documents without reading them whole.';

const PARAMETERS = {
  type: 'object',
  properties: {
    path: { type: 'string', description: 'The Markdown file, relative to the workspace.' },
    check_links: { type: 'boolean', description: 'Also check relative links and #anchors (default: false).' },
  },
  required: ['path'],
  additionalProperties: false,
};

/// Files larger than this are refused (an outline of more is not useful).
const MAX_BYTES = 4 * 1024 * 1024;

const fail = (tag, message) => ({ tag, val: message });

export const tool = {
  describe() {
    return [{ name: NAME, description: DESCRIPTION, parameters: JSON.stringify(PARAMETERS) }];
  },

  invoke(name, argumentsJson, _context) {
    if (name !== NAME) throw fail('unknown-tool', name);
    let args;
    try {
      args = JSON.parse(argumentsJson);
    } catch (error) {
      throw fail('invalid-arguments', `the arguments are not JSON: ${error.message}`);
    }
    if (args === null || typeof args !== 'object' || Array.isArray(args)) {
      throw fail('invalid-arguments', 'the arguments must be an object');
    }
    for (const key of Object.keys(args)) {
      if (!(key in PARAMETERS.properties)) throw fail('invalid-arguments', `unknown argument: ${key}`);
    }
    if (typeof args.path !== 'string' || args.path === '') {
      throw fail('invalid-arguments', 'path (a Markdown file in the workspace) is required');
    }
    const text = read(args.path);
    const headings = outline(text);
    const lines = headings.map((h) => `${String(h.line).padStart(5)}  ${'#'.repeat(h.level)} ${h.text}`);
    let output = `${args.path}: ${headings.length} heading${headings.length === 1 ? '' : 's'}\n${lines.join('\n')}`;
    const metadata = { headings: headings.length };
    if (args.check_links) {
      const broken = brokenLinks(text, args.path, headings);
      metadata.broken = broken.length;
      output += `\n\n${broken.length} broken link${broken.length === 1 ? '' : 's'}`;
      output += broken.map((b) => `\n${String(b.line).padStart(5)}  ${b.target}: ${b.why}`).join('');
    }
    return { title: args.path, output: output.trimEnd(), metadata: JSON.stringify(metadata) };
  },
};

/// The file's text, or the host's refusal as a tool error.
function read(path) {
  let bytes;
  try {
    bytes = readFile(path, BigInt(MAX_BYTES));
  } catch (error) {
    const message = String(error?.payload ?? error);
    if (/outside|escapes|beneath/i.test(message)) throw fail('outside-workspace', `${path}: ${message}`);
    if (/not found|no such/i.test(message)) throw fail('not-found', path);
    throw fail('failed', `${path}: ${message}`);
  }
  return new TextDecoder().decode(bytes);
}

/// ATX headings (`# Title`), outside fenced code blocks.
function outline(text) {
  const headings = [];
  let fence = null;
  text.split('\n').forEach((line, index) => {
    const opener = line.match(/^\s{0,3}(`{3,}|~{3,})/);
    if (opener) {
      if (fence === null) fence = opener[1][0];
      else if (opener[1][0] === fence) fence = null;
      return;
    }
    if (fence !== null) return;
    const heading = line.match(/^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$/);
    if (heading) headings.push({ line: index + 1, level: heading[1].length, text: heading[2] });
  });
  return headings;
}

/// GitHub's anchor for a heading: lower case, punctuation dropped, spaces as dashes.
function slug(text) {
  let anchor = '';
  for (const c of text.toLowerCase()) {
    if (/\s/.test(c)) anchor += '-';
    else if (c === '-' || c === '_' || /[0-9]/.test(c) || c.toLowerCase() !== c.toUpperCase()) anchor += c;
  }
  return anchor;
}

/// Relative links whose file or folder is missing, and #anchors no heading has.
function brokenLinks(text, path, headings) {
  const anchors = new Set(headings.map((h) => slug(h.text)));
  const folder = path.includes('/') ? path.slice(0, path.lastIndexOf('/')) : '';
  const broken = [];
  text.split('\n').forEach((line, index) => {
    for (const match of line.matchAll(/\[[^\]]*\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) {
      const target = match[1];
      if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // https:, mailto: ...
      const [file, anchor] = target.split('#', 2);
      if (file === '') {
        if (!anchors.has(anchor)) broken.push({ line: index + 1, target, why: 'no such heading' });
        continue;
      }
      const why = missing(joinPath(folder, decodeURIComponent(file)));
      if (why) broken.push({ line: index + 1, target, why });
    }
  });
  return broken;
}

/// Why `path` does not name a file or folder in the workspace, or null.
function missing(path) {
  if (path.startsWith('/')) return 'an absolute path';
  const parts = path.split('/').filter((p) => p !== '' && p !== '.');
  const stack = [];
  for (const part of parts) {
    if (part === '..') {
      if (stack.length === 0) return 'outside the workspace';
      stack.pop();
    } else stack.push(part);
  }
  if (stack.length === 0) return null;
  const name = stack.pop();
  try {
    const entries = listDir(stack.length ? stack.join('/') : '.');
    return entries.some((e) => e.name === name) ? null : 'no such file';
  } catch (error) {
    return 'no such folder';
  }
}

function joinPath(folder, file) {
  return folder === '' ? file : `${folder}/${file}`;
}
