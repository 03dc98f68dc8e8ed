"""Generate CustomResourceDefinitions from the pydantic models.

pydantic emits JSON Schema 2020-12; Kubernetes wants a *structural* OpenAPI v3 schema:
no ``$ref``, no ``anyOf`` standing in for a type, no ``additionalProperties`` beside
``properties``, no null defaults.  ``structural`` rewrites one into the other and refuses
keywords it does not know how to translate, so a model change can never silently produce a
schema the API server would read differently.

Run ``python -m controllers.api.crdgen`` to rewrite ``crds/``; ``tests/api`` fails on drift.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema
from pydantic_core import core_schema

from controllers.api import GROUP, KINDS, VERSION
from controllers.api.common import Kind

CRD_DIR = Path(__file__).resolve().parents[2] / "crds"
CATEGORY = "cverag"
# Keywords that mean the same in OpenAPI v3 and are copied as they are.
_PASS_THROUGH = {
    "type",
    "description",
    "enum",
    "pattern",
    "minLength",
    "maxLength",
    "minimum",
    "maximum",
    "minItems",
    "maxItems",
    "format",
    "default",
    "required",
    "x-kubernetes-validations",
    "x-kubernetes-int-or-string",
    "x-kubernetes-list-type",
    "x-kubernetes-list-map-keys",
}


class _FactoryDefaults(GenerateJsonSchema):
    """Also write defaults that come from a ``default_factory`` (pydantic leaves them out).

    Without this the API server would default ``spec.job.resources`` to ``{}`` while the
    controller's model expects the factory's requests and limits: two different defaults.
    """

    def default_schema(self, schema: core_schema.WithDefaultSchema) -> Any:
        factory = schema.get("default_factory")
        if factory is not None and not schema.get("default_factory_takes_data"):
            value = factory()  # type: ignore[call-arg]
            schema = {**schema, "default": _jsonable(value)}
            schema.pop("default_factory")
        return super().default_schema(schema)


def _jsonable(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(by_alias=True, exclude_none=True, mode="json")
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value


def _resolve(node: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    """Inline a ``$ref``; keywords beside it (field description, rules) win over the target's."""
    if "$ref" not in node:
        return node
    target = defs[node["$ref"].rsplit("/", 1)[-1]]
    merged = {**_resolve(target, defs), **{k: v for k, v in node.items() if k != "$ref"}}
    return merged


def _unwrap_optional(node: dict[str, Any]) -> dict[str, Any]:
    """``X | None`` arrives as anyOf [X, null]: keep X and the outer keywords, drop a None default."""
    variants = [v for v in node.get("anyOf", []) if v.get("type") != "null"]
    if "anyOf" not in node or len(variants) != 1:
        return node
    outer = {k: v for k, v in node.items() if k != "anyOf"}
    if outer.get("default", 0) is None:
        del outer["default"]
    return {**variants[0], **outer}


def structural(node: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    """Translate one pydantic JSON-schema node into a structural OpenAPI v3 node."""
    node = _resolve(_unwrap_optional(_resolve(node, defs)), defs)
    if node.get("x-kubernetes-int-or-string"):
        return {k: node[k] for k in ("description", "default", "x-kubernetes-int-or-string") if k in node}
    if "const" in node:
        node = {**{k: v for k, v in node.items() if k != "const"}, "enum": [node["const"]]}
    unknown = set(node) - _PASS_THROUGH - {"properties", "items", "additionalProperties", "title", "anyOf"}
    if unknown or "anyOf" in node:
        raise ValueError(f"cannot translate schema keywords {sorted(unknown) or ['anyOf']}: {node}")
    out = {k: v for k, v in node.items() if k in _PASS_THROUGH}
    if "properties" in node:
        out["type"] = "object"
        required = set(node.get("required", []))
        out["properties"] = {
            name: _property(sub, defs, name in required) for name, sub in node["properties"].items()
        }
    elif isinstance(node.get("additionalProperties"), dict):
        out["additionalProperties"] = structural(node["additionalProperties"], defs)
    if "items" in node:
        out["items"] = structural(node["items"], defs)
    return out


def _property(raw: dict[str, Any], defs: dict[str, Any], required: bool = False) -> dict[str, Any]:
    """A property; a non-optional object whose fields all have defaults defaults to ``{}``.

    The API server applies a nested field's default only when its parent object exists, so
    ``spec.job: {}`` by default is what makes ``spec.job.backoffLimit`` appear when omitted.
    Optional objects (``X | None``, like the three sources) must stay absent instead, and so
    must required ones (``spec.source``, ``spec.postgres``): a default there is never used, and
    the API server rejects it when it breaks the object's own CEL rules ("exactly one of").
    """
    out = structural(raw, defs)
    optional = any(v.get("type") == "null" for v in raw.get("anyOf", []))
    if required or optional:
        return out
    if out.get("type") == "object" and "properties" in out and not out.get("required"):
        out.setdefault("default", {})
    return out


class _NoAliasDumper(yaml.SafeDumper):
    """Write repeated sub-schemas out in full: anchors would confuse people reading crds/."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _schema_of(kind: type[Kind]) -> dict[str, Any]:
    full = kind.model_json_schema(by_alias=True, mode="validation", schema_generator=_FactoryDefaults)
    defs = full.get("$defs", {})
    spec = structural(full["properties"]["spec"], defs)
    status = structural(full["properties"]["status"], defs)
    status.pop("default", None)
    return {
        "type": "object",
        "description": (kind.__doc__ or "").strip(),
        "required": ["spec"],
        "properties": {
            "apiVersion": {"type": "string", "description": "APIVersion of this object."},
            "kind": {"type": "string", "description": "Kind of this object."},
            "metadata": {"type": "object"},
            "spec": spec,
            "status": status,
        },
    }


def crd(kind: type[Kind]) -> dict[str, Any]:
    """The CustomResourceDefinition of one kind."""
    singular = kind.kind.lower()
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{kind.plural}.{GROUP}", "labels": {"app.kubernetes.io/part-of": "cverag"}},
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {
                "kind": kind.kind,
                "listKind": f"{kind.kind}List",
                "plural": kind.plural,
                "singular": singular,
                "shortNames": list(kind.short_names),
                "categories": [CATEGORY],
            },
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": kind.printer_columns(),
                    "schema": {"openAPIV3Schema": _schema_of(kind)},
                }
            ],
        },
    }


def render(kind: type[Kind]) -> str:
    header = "# Generated by `python -m controllers.api.crdgen` from controllers/api. Do not edit.\n"
    return header + yaml.dump(crd(kind), Dumper=_NoAliasDumper, sort_keys=False, width=100)


def kustomization(names: list[str]) -> str:
    """``crds/Kustomization``: lets ``bundles/operator`` include the directory ``../../crds``.

    Kustomize's default load restrictions refuse a file outside the kustomization's own
    directory but accept another kustomization, so the bundle names this directory instead of
    the four files.  The name is the one kustomize accepts without a ``.yaml`` extension, so
    ``kubectl apply -f crds/`` (which reads only .json/.yaml/.yml files) still sees CRDs only.
    """
    header = "# Generated by `python -m controllers.api.crdgen`. Do not edit.\n"
    body = {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization", "resources": names}
    return header + yaml.dump(body, sort_keys=False)


def crd_files() -> dict[Path, str]:
    """Every CRD file as it should be on disk, and the kustomization listing them."""
    files = {CRD_DIR / f"{GROUP}_{kind.plural}.yaml": render(kind) for kind in KINDS}
    files[CRD_DIR / "Kustomization"] = kustomization([path.name for path in files])
    return files


def main() -> int:
    CRD_DIR.mkdir(exist_ok=True)
    for path, text in crd_files().items():
        path.write_text(text)
        print(f"wrote {path.relative_to(CRD_DIR.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
