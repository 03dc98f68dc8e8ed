"""crds/ must be exactly what the pydantic models generate: one source of truth."""

from __future__ import annotations

from controllers.api import KINDS
from controllers.api.crdgen import CRD_DIR, crd_files


def test_crd_files_match_the_models() -> None:
    expected = crd_files()
    on_disk = {p: p.read_text() for p in CRD_DIR.iterdir() if p.is_file()}
    assert set(on_disk) == set(expected), "crds/ has missing or extra files; run `make crds`"
    stale = [p.name for p, text in expected.items() if on_disk[p] != text]
    assert not stale, f"crds/ drifted from controllers/api: {stale}; run `make crds`"


def test_every_field_is_documented() -> None:
    """Descriptions become `kubectl explain`; an undocumented field is a defect."""

    def walk(node: dict[str, object], path: str) -> list[str]:
        missing = (
            [] if node.get("description") or path.endswith(("metadata", "apiVersion", "kind")) else [path]
        )
        for name, sub in (node.get("properties") or {}).items():  # type: ignore[attr-defined]
            missing += walk(sub, f"{path}.{name}")
        items = node.get("items")
        if isinstance(items, dict) and "properties" in items:
            missing += [m for m in walk(items, f"{path}[]") if not m.endswith("[]")]
        return missing

    from controllers.api.crdgen import crd

    for kind in KINDS:
        schema = crd(kind)["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
        assert walk(schema, kind.kind) == []
