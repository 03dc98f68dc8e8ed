"""The RAG API's OpenAPI document, committed as ``workloads/rag/openapi.json``.

FastAPI generates the paths and the request and response models; :func:`finish` adds what it
cannot know: the problem schema every error answers with (instead of FastAPI's own 422 body,
which the app never sends), and the Bearer key ``/v1`` takes.  Clients and fuzzers read
the committed file, so a change to the API shows in review as a change to it:
``python -m workloads.rag.openapi`` rewrites it, ``--check`` exits 1 when it is stale, and
tests/rag/test_openapi.py fails the same way.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic.json_schema import models_json_schema

from workloads.rag import problems

PATH = Path(__file__).with_name("openapi.json")
_FASTAPI_422 = ("HTTPValidationError", "ValidationError")
BEARER = {
    "type": "http",
    "scheme": "bearer",
    "description": "one of the keys in CVERAG_API_KEYS; needed only when the deployment sets keys",
}


def finish(doc: dict[str, Any]) -> dict[str, Any]:
    """``doc`` with the problem schema, the problem 422 and ``/v1``'s Bearer security."""
    components = doc.setdefault("components", {})
    schemas = {k: v for k, v in components.get("schemas", {}).items() if k not in _FASTAPI_422}
    _, defs = models_json_schema(
        [(problems.Problem, "serialization")], ref_template="#/components/schemas/{model}"
    )
    schemas.update(defs["$defs"])
    components["schemas"] = dict(sorted(schemas.items()))
    components["securitySchemes"] = {"bearer": BEARER}
    for path, item in doc["paths"].items():
        for operation in item.values():
            responses = operation.setdefault("responses", {})
            declared = problems.MEDIA_TYPE in responses.get("422", {}).get("content", {})
            if "422" in responses and not declared:
                del responses["422"]  # FastAPI's own, on a route that never answers invalid_request
            if path.startswith("/v1/"):
                operation["security"] = [{"bearer": []}]
    return doc


def install(app: FastAPI) -> None:
    """Serve the finished document at ``/openapi.json`` (and so in ``/docs``)."""

    def document() -> dict[str, Any]:
        if app.openapi_schema is None:
            generated = get_openapi(
                title=app.title, version=app.version, description=app.description, routes=app.routes
            )
            app.openapi_schema = finish(generated)
        return app.openapi_schema

    app.openapi = document  # type: ignore[method-assign]


def render(doc: dict[str, Any]) -> str:
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def current() -> str:
    """The document of the app as the code defines it now (no store is opened)."""
    from workloads.rag.api import create_app  # here, not at the top: api imports this module
    from workloads.rag.settings import RagSettings

    return render(create_app(RagSettings.from_env({})).openapi())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m workloads.rag.openapi", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--check", action="store_true", help=f"exit 1 if {PATH.name} is not up to date")
    args = parser.parse_args(argv)
    text = current()
    if args.check:
        stale = not PATH.is_file() or PATH.read_text(encoding="utf-8") != text
        if stale:
            print(f"{PATH} is stale: run python -m workloads.rag.openapi", file=sys.stderr)
        return 1 if stale else 0
    PATH.write_text(text, encoding="utf-8")
    print(f"wrote {PATH}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
