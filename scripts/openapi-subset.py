#!/usr/bin/env python3
"""Writes gateway/src/api/openapi.json, the document `GET /doc` serves.

It is the reference server's own OpenAPI document (what `opencode serve`
answers at `GET /doc`) cut down to the operations wasmgate implements, with
every schema they reference. Run it when routes are added:

    python3 scripts/openapi-subset.py REFERENCE_OPENAPI.json

The test `openapi_document_matches_the_router` fails until the document and
the router agree.
"""
import json
import sys
from pathlib import Path

ROUTES = {
    "/global/health": ["get"], "/global/event": ["get"], "/global/config": ["get"], "/event": ["get"],
    "/doc": ["get"],
    "/project": ["get"], "/project/current": ["get"], "/path": ["get"], "/vcs": ["get"],
    "/config": ["get"], "/config/providers": ["get"], "/provider": ["get"], "/provider/auth": ["get"],
    "/agent": ["get"], "/command": ["get"], "/mcp": ["get"], "/experimental/resource": ["get"],
    "/lsp": ["get"], "/formatter": ["get"],
    "/session": ["get", "post"], "/session/status": ["get"],
    "/session/{sessionID}": ["get", "patch", "delete"], "/session/{sessionID}/children": ["get"],
    "/session/{sessionID}/abort": ["post"], "/session/{sessionID}/message": ["get", "post"],
    "/session/{sessionID}/message/{messageID}": ["get"], "/session/{sessionID}/prompt_async": ["post"],
    "/session/{sessionID}/command": ["post"], "/session/{sessionID}/shell": ["post"],
    "/session/{sessionID}/todo": ["get"], "/session/{sessionID}/diff": ["get"], "/session/{sessionID}/fork": ["post"],
    "/permission": ["get"], "/permission/{requestID}/reply": ["post"],
    "/file": ["get"], "/file/content": ["get"], "/file/status": ["get"], "/find": ["get"], "/find/file": ["get"],
    "/find/symbol": ["get"], "/api/fs/find": ["get"],
}


def refs(node, found):
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
            found.add(ref.rsplit("/", 1)[1])
        for value in node.values():
            refs(value, found)
    elif isinstance(node, list):
        for value in node:
            refs(value, found)


def main():
    reference = json.loads(Path(sys.argv[1]).read_text())
    paths = {}
    for path, methods in ROUTES.items():
        source = reference["paths"].get(path, {})
        entry = {}
        for method in methods:
            entry[method] = source.get(method) or {
                "operationId": path.strip("/").replace("/", "."),
                "summary": "wasmgate: the OpenAPI document of this server",
                "responses": {"200": {"description": "OpenAPI 3.1 document", "content": {"application/json": {}}}},
            }
        paths[path] = entry
    schemas = reference.get("components", {}).get("schemas", {})
    wanted, pending = set(), set()
    refs(paths, pending)
    while pending:
        name = pending.pop()
        if name in wanted or name not in schemas:
            continue
        wanted.add(name)
        refs(schemas[name], pending)
    document = {
        "openapi": reference.get("openapi", "3.1.0"),
        "info": {
            "title": "wasmgate",
            "description": "The OpenCode routes wasmgate implements, described as the reference server describes them.",
            "version": "1.0.0",
        },
        "paths": paths,
        "components": {"schemas": {name: schemas[name] for name in sorted(wanted)}},
    }
    out = Path(__file__).resolve().parent.parent / "gateway/src/api/openapi.json"
    out.write_text(json.dumps(document, indent=1) + "\n")
    print(f"{out}: {sum(len(m) for m in ROUTES.values())} operations, {len(wanted)} schemas")


if __name__ == "__main__":
    main()
