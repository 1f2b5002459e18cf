"""data_query: read a JSON or TOML file (or text), pick a part of it, print it as JSON or TOML.

A wasmgate tool written in Python and built into a WebAssembly component with
componentize-py against wasmgate's WIT contract (`wit/tools.wit`, world
`tool-provider`). It reaches files only through the folder the host grants
each call: paths are resolved against `context.workspace`, and the sandbox
refuses anything outside it whatever this code does.
"""

import json
import os
import tomllib
from datetime import date, datetime, time

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports.types import (
    CallContext,
    ToolError_InvalidArguments,
    ToolError_NotFound,
    ToolError_OutsideWorkspace,
    ToolError_UnknownTool,
    ToolResult,
    ToolSpec,
)

NAME = "data_query"

DESCRIPTION = (
    "Reads a JSON or TOML file in the workspace (or inline text), selects part of it with a "
    "path such as `package.version`, `dependencies.serde`, `items[0].name` or `items[*].name`, "
    "and prints the result as JSON or TOML. Use it to read or convert configuration and data "
    "files without loading them whole into the conversation."
)

PARAMETERS = {
    "type": "object",
    "properties": {
        "path": {"type": "string", "description": "The file to read, relative to the workspace."},
        "text": {"type": "string", "description": "The data itself, instead of a file."},
        "format": {
            "type": "string",
            "enum": ["json", "toml"],
            "description": "The input's format (default: from the file's extension, else JSON).",
        },
        "query": {
            "type": "string",
            "description": "What to select: keys joined by dots, [N] for an element, [*] for all of them. Empty selects everything.",
        },
        "to": {"type": "string", "enum": ["json", "toml"], "description": "The output's format (default: JSON)."},
    },
    "additionalProperties": False,
}

# Output past this many characters is cut, as the built-in tools cut theirs.
MAX_OUTPUT = 50_000


def invalid(message: str) -> Err:
    return Err(ToolError_InvalidArguments(message))


class Tool(exports.Tool):
    def describe(self) -> list[ToolSpec]:
        return [ToolSpec(NAME, DESCRIPTION, json.dumps(PARAMETERS))]

    def invoke(self, name: str, arguments: str, context: CallContext) -> ToolResult:
        if name != NAME:
            raise Err(ToolError_UnknownTool(name))
        try:
            args = json.loads(arguments)
        except json.JSONDecodeError as error:
            raise invalid(f"the arguments are not JSON: {error}")
        if not isinstance(args, dict):
            raise invalid("the arguments must be an object")
        unknown = set(args) - set(PARAMETERS["properties"])
        if unknown:
            raise invalid(f"unknown argument(s): {', '.join(sorted(unknown))}")
        text, source, fmt = read_input(args, context)
        data = parse(text, fmt, source)
        query = args.get("query") or ""
        selected = select(data, query)
        output = render(selected, args.get("to", "json"))
        truncated = len(output) > MAX_OUTPUT
        if truncated:
            output = output[:MAX_OUTPUT] + f"\n... (cut at {MAX_OUTPUT} characters; select less)"
        title = f"{source} {query}".strip()
        metadata = {"format": fmt, "query": query, "truncated": truncated}
        return ToolResult(title, output, json.dumps(metadata))


def read_input(args: dict, context: CallContext) -> tuple[str, str, str]:
    """The text to parse, where it came from, and its format."""
    fmt = args.get("format")
    if fmt not in (None, "json", "toml"):
        raise invalid(f"format {fmt!r}: use json or toml")
    if args.get("to", "json") not in ("json", "toml"):
        raise invalid(f"to {args.get('to')!r}: use json or toml")
    if "text" in args:
        if "path" in args:
            raise invalid("give path or text, not both")
        return str(args["text"]), "text", fmt or "json"
    path = args.get("path")
    if not isinstance(path, str) or not path:
        raise invalid("path (a file in the workspace) or text is required")
    full = resolve(path, context.workspace)
    try:
        with open(full, encoding="utf-8") as file:
            text = file.read()
    except FileNotFoundError:
        raise Err(ToolError_NotFound(path))
    except (IsADirectoryError, NotADirectoryError):
        raise invalid(f"{path} is not a file")
    except PermissionError:
        raise Err(ToolError_OutsideWorkspace(path))
    except UnicodeDecodeError:
        raise invalid(f"{path} is not UTF-8 text")
    if fmt is None:
        fmt = "toml" if path.endswith(".toml") else "json"
    return text, path, fmt


def resolve(path: str, workspace: str) -> str:
    """The guest path of `path`, refused early when it leaves the workspace
    (the host's grant refuses it anyway)."""
    root = os.path.normpath(workspace)
    full = os.path.normpath(path if os.path.isabs(path) else os.path.join(root, path))
    if full != root and not full.startswith(root.rstrip("/") + "/"):
        raise Err(ToolError_OutsideWorkspace(f"{path} is outside the workspace {workspace}"))
    return full


def parse(text: str, fmt: str, source: str):
    try:
        return tomllib.loads(text) if fmt == "toml" else json.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as error:
        raise invalid(f"{source} is not valid {fmt.upper()}: {error}")


def steps(query: str) -> list:
    """`a.b[0][*].c` as ['a', 'b', 0, '*', 'c']."""
    result = []
    for part in query.split("."):
        if part == "":
            raise invalid(f"query {query!r}: an empty key (two dots, or a leading or trailing dot)")
        key, _, rest = part.partition("[")
        if key:
            result.append(key)
        while rest:
            index, close, rest = rest.partition("]")
            if not close:
                raise invalid(f"query {query!r}: a [ without its ]")
            if index == "*":
                result.append("*")
            elif index.lstrip("-").isdigit():
                result.append(int(index))
            else:
                raise invalid(f"query {query!r}: [{index}] is not an index or *")
            if rest and not rest.startswith("["):
                raise invalid(f"query {query!r}: put a dot before a key after ]")
            rest = rest[1:]
    return result


def select(data, query: str):
    if not query:
        return data
    values, spread = [data], False
    walked = ""
    for step in steps(query):
        found = []
        for value in values:
            if step == "*":
                spread = True
                if isinstance(value, list):
                    found.extend(value)
                elif isinstance(value, dict):
                    found.extend(value.values())
                else:
                    raise invalid(f"{walked or 'the data'} is a {kind(value)}: [*] needs an array or a table")
            elif isinstance(step, int):
                if not isinstance(value, list):
                    raise invalid(f"{walked or 'the data'} is a {kind(value)}, not an array")
                if not -len(value) <= step < len(value):
                    raise invalid(f"{walked or 'the data'} has {len(value)} elements: no [{step}]")
                found.append(value[step])
            else:
                if not isinstance(value, dict):
                    raise invalid(f"{walked or 'the data'} is a {kind(value)}: it has no key {step!r}")
                if step not in value:
                    if spread:
                        continue
                    keys = ", ".join(list(value)[:20])
                    raise invalid(f"{walked or 'the data'} has no key {step!r} (it has: {keys})")
                found.append(value[step])
        values = found
        walked += (f"[{step}]" if isinstance(step, int) or step == "*" else ("." if walked else "") + step)
    return values if spread else values[0]


def kind(value) -> str:
    if isinstance(value, dict):
        return "table"
    if isinstance(value, list):
        return "array"
    return type(value).__name__


def render(value, to: str) -> str:
    if to == "json":
        return json.dumps(value, indent=2, ensure_ascii=False, default=str)
    if not isinstance(value, dict):
        raise invalid(f"a {kind(value)} cannot be written as TOML on its own: select a table, or ask for JSON")
    return toml_table(value, []).strip() + "\n"


def toml_key(key: str) -> str:
    bare = key and all(c.isalnum() and c.isascii() or c in "-_" for c in key)
    return key if bare else json.dumps(key)


def toml_value(value) -> str:
    if value is None:
        raise invalid("TOML has no null: ask for JSON")
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value) if isinstance(value, float) else str(value)
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{toml_key(k)} = {toml_value(v)}" for k, v in value.items()) + " }"
    raise invalid(f"a {kind(value)} has no TOML form")


def toml_table(table: dict, path: list) -> str:
    lines, nested = [], []
    for key, value in table.items():
        if isinstance(value, dict):
            nested.append((key, value, False))
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            nested.append((key, value, True))
        else:
            lines.append(f"{toml_key(key)} = {toml_value(value)}")
    text = "\n".join(lines) + ("\n" if lines else "")
    for key, value, many in nested:
        name = ".".join(toml_key(k) for k in path + [key])
        for table in value if many else [value]:
            header = f"[[{name}]]" if many else f"[{name}]"
            text += f"\n{header}\n" + toml_table(table, path + [key])
    return text
