// Builds outline.js into a WebAssembly component of wasmgate's
// `tool-provider` world with componentize-js (StarlingMonkey, pre-initialised
// by wizer): `node build.mjs OUT.wasm`. componentize-js is found where npm
// installed it beside this checkout, or in the example toolchains folder
// ($WASMGATE_EXAMPLE_TOOLCHAINS/node, where examples/install-toolchains puts it).

import { writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const out = process.argv[2];
if (!out) {
  console.error('usage: node build.mjs OUT.wasm');
  process.exit(2);
}

async function componentizeJs() {
  const toolchains = process.env.WASMGATE_EXAMPLE_TOOLCHAINS ?? join(here, '..', '..', 'target', 'example-toolchains');
  const installed = join(toolchains, 'node', 'node_modules', '@bytecodealliance', 'componentize-js', 'src', 'componentize.js');
  try {
    return await import(pathToFileURL(installed).href);
  } catch {
    return import('@bytecodealliance/componentize-js');
  }
}

const { componentize } = await componentizeJs();
const { component } = await componentize({
  sourcePath: join(here, 'outline.js'),
  witPath: join(here, '..', '..', 'wit'),
  worldName: 'tool-provider',
  // It reads files through wasmgate's bulk-fs; it needs no HTTP.
  disableFeatures: ['http', 'fetch-event'],
});
await writeFile(resolve(out), component);
