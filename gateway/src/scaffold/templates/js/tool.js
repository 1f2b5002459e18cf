// {{name}}: a wasmgate tool, made by `wasmgate tool new`.
//
// It counts the lines, words and bytes of a file in the workspace. Make it
// yours by changing `describe` (its name, description and the JSON Schema of
// its arguments) and `invoke`. The contract is `wit/tools.wit`, world
// `tool-provider`; `./test.sh` builds it and runs it as a server will.
//
// Files are read through wasmgate's `bulk-fs` import: the host resolves each
// path beneath the folder the call was granted, and refuses the rest.

import { readFile } from 'wasmgate:tools/bulk-fs@0.1.0';

const NAME = '{{name}}';

const PARAMETERS = {
  type: 'object',
  properties: { path: { type: 'string', description: 'The file, relative to the workspace.' } },
  required: ['path'],
  additionalProperties: false,
};

/// Files larger than this are refused.
const MAX_BYTES = 16n * 1024n * 1024n;

// A tool-error: `{ tag, val }`, thrown.
const fail = (tag, message) => ({ tag, val: message });

export const tool = {
  describe() {
    const description = 'Counts the lines, words and bytes of a file in the workspace.';
    return [{ name: NAME, description, parameters: JSON.stringify(PARAMETERS) }];
  },

  invoke(name, argumentsJson, _context) {
    if (name !== NAME) throw fail('unknown-tool', name);
    let args;
    try {
      args = JSON.parse(argumentsJson);
    } catch (error) {
      throw fail('invalid-arguments', `the arguments are not JSON: ${error.message}`);
    }
    const path = args?.path;
    if (typeof path !== 'string') throw fail('invalid-arguments', 'path (a file in the workspace) is required');
    let bytes;
    try {
      bytes = readFile(path, MAX_BYTES);
    } catch (error) {
      const message = String(error?.payload ?? error);
      if (/outside|escapes|beneath/i.test(message)) throw fail('outside-workspace', `${path}: ${message}`);
      if (/not found|no such/i.test(message)) throw fail('not-found', `${path}: no such file`);
      throw fail('failed', `${path}: ${message}`);
    }
    const text = new TextDecoder().decode(bytes);
    const lines = text.split('\n').length - (text.endsWith('\n') || text === '' ? 1 : 0);
    const words = text.split(/\s+/).filter(Boolean).length;
    const output = `${path}: ${lines} lines, ${words} words, ${bytes.length} bytes`;
    return { title: path, output, metadata: JSON.stringify({ lines, words, bytes: bytes.length }) };
  },
};
