// Builds tool.js into a WebAssembly component of wasmgate's `tool-provider`
// world with componentize-js: `node build.mjs` writes {{name}}.wasm.

import { writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { componentize } from '@bytecodealliance/componentize-js';

const here = dirname(fileURLToPath(import.meta.url));
const { component } = await componentize({
  sourcePath: join(here, 'tool.js'),
  witPath: join(here, 'wit'),
  worldName: 'tool-provider',
  // It reads files through wasmgate's bulk-fs; it needs no HTTP.
  disableFeatures: ['http', 'fetch-event'],
});
await writeFile(join(here, '{{name}}.wasm'), component);
