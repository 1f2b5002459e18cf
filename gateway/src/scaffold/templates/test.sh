#!/bin/sh
# Builds {{name}} and calls it through wasmgate's sandbox, as a server will:
# a workspace with one file, the tool in a tools folder of its own. WASMGATE
# names the wasmgate binary (default: the one on PATH).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
wasmgate=${WASMGATE:-wasmgate}

{{build}}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/tools" "$work/workspace"
cp "$wasm" "$work/tools/{{name}}.wasm"
printf 'hello tool\nsecond line\n' > "$work/workspace/hello.txt"
echo "not yours" > "$work/outside.txt"

# expect ok|error ARGUMENTS TEXT: the call succeeds (or fails) and what it
# prints holds TEXT.
expect() {
  if out=$("$wasmgate" tool call {{name}} "$2" --root "$work/workspace" --tools-dir "$work/tools" 2>&1); then
    got=ok
  else
    got=error
  fi
  case "$got $out" in
    "$1 "*"$3"*) echo "ok: $2" ;;
    *) echo "FAILED: $2 gave $got: $out" >&2; exit 1 ;;
  esac
}

expect ok '{"path":"hello.txt"}' 'hello.txt: 2 lines, 4 words, 23 bytes'
expect error '{"path":"missing.txt"}' 'no such file'
expect error '{"path":"../outside.txt"}' 'outside'
expect error '{"file":"hello.txt"}' 'path (a file in the workspace) is required'
echo "{{name}}: all passed"
