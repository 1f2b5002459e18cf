"""{{name}}: a wasmgate tool, made by `wasmgate tool new`.

It counts the lines, words and bytes of a file in the workspace. Make it
yours by changing `describe` (its name, description and the JSON Schema of
its arguments) and `invoke`. The contract is `wit/tools.wit`, world
`tool-provider`; `./test.sh` builds it and runs it as a server will.
"""

import json
import os

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports.types import (
    CallContext,
    ToolError_Failed,
    ToolError_InvalidArguments,
    ToolError_NotFound,
    ToolError_OutsideWorkspace,
    ToolError_UnknownTool,
    ToolResult,
    ToolSpec,
)

NAME = "{{name}}"

PARAMETERS = {
    "type": "object",
    "properties": {"path": {"type": "string", "description": "The file, relative to the workspace."}},
    "required": ["path"],
    "additionalProperties": False,
}


class Tool(exports.Tool):
    def describe(self) -> list[ToolSpec]:
        description = "Counts the lines, words and bytes of a file in the workspace."
        return [ToolSpec(NAME, description, json.dumps(PARAMETERS))]

    def invoke(self, name: str, arguments: str, context: CallContext) -> ToolResult:
        if name != NAME:
            raise Err(ToolError_UnknownTool(name))
        try:
            args = json.loads(arguments)
        except json.JSONDecodeError as error:
            raise Err(ToolError_InvalidArguments(f"the arguments are not JSON: {error}"))
        path = args.get("path") if isinstance(args, dict) else None
        if not isinstance(path, str):
            raise Err(ToolError_InvalidArguments("path (a file in the workspace) is required"))
        try:
            with open(resolve(path, context.workspace), "rb") as file:
                data = file.read()
        except FileNotFoundError:
            raise Err(ToolError_NotFound(f"{path}: no such file"))
        except OSError as error:
            raise Err(ToolError_Failed(f"{path}: {error}"))
        text = data.decode("utf-8", errors="replace")
        lines, words = len(text.splitlines()), len(text.split())
        output = f"{path}: {lines} lines, {words} words, {len(data)} bytes"
        metadata = {"lines": lines, "words": words, "bytes": len(data)}
        return ToolResult(path, output, json.dumps(metadata))


def resolve(path: str, workspace: str) -> str:
    """Where `path` is, refused when it leaves the workspace. (The sandbox
    refuses it anyway: it holds the workspace and nothing else. Saying so
    here gives the model a clearer error.)"""
    root = os.path.normpath(workspace)
    full = os.path.normpath(os.path.join(root, path))
    if full != root and not full.startswith(root.rstrip("/") + "/"):
        raise Err(ToolError_OutsideWorkspace(f"{path} is outside the workspace {workspace}"))
    return full
