"""Builders shared by the composition tests: resources as the render stage makes them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from gitwave.compositions import Composed, FunctionRegistry, compose
from gitwave.engine.model import Resource, ResourceKey, SourceRef

TESTDATA = Path(__file__).parent.parent / "testdata" / "compositions"
SAMPLE = Path(__file__).parent.parent.parent / "samples" / "production-database"


def resource(manifest: dict[str, Any], *, file: str = "test.yaml", line: int = 1) -> Resource:
    """A rendered object with a source, as the Render stage hands it on."""
    return Resource(
        ResourceKey.of(manifest), manifest["apiVersion"], manifest, SourceRef(file, line)
    )


def load(path: Path) -> list[Resource]:
    """Every document of a YAML file, each with the line its document starts on."""
    text = path.read_text()
    out: list[Resource] = []
    line = 1
    for chunk in text.split("\n---\n"):
        manifest = yaml.load(chunk, Loader=yaml.CSafeLoader)
        if isinstance(manifest, dict):
            first = next(
                i for i, row in enumerate(chunk.splitlines()) if row.startswith("apiVersion")
            )
            out.append(resource(manifest, file=path.name, line=line + first))
        line += chunk.count("\n") + 2
    return out


def fixture(name: str) -> list[Resource]:
    return load(TESTDATA / name)


def xapp(
    parameters: dict[str, Any] | None = None,
    *,
    name: str = "demo",
    namespace: str = "",
    kind: str = "XApp",
    **spec: Any,
) -> Resource:
    """An XApp (or, with kind="App", a claim) of the open XRD."""
    metadata: dict[str, Any] = {"name": name}
    if namespace:
        metadata["namespace"] = namespace
    manifest = {
        "apiVersion": "example.org/v1",
        "kind": kind,
        "metadata": metadata,
        "spec": {"parameters": parameters or {}, **spec},
    }
    return resource(manifest, file="app.yaml", line=3)


def composition(
    resources: list[dict[str, Any]],
    *,
    name: str = "xapps",
    patch_sets: list[dict[str, Any]] | None = None,
    labels: dict[str, str] | None = None,
    kind: str = "XApp",
) -> Resource:
    """A mode: Resources Composition for XApp."""
    spec: dict[str, Any] = {
        "compositeTypeRef": {"apiVersion": "example.org/v1", "kind": kind},
        "resources": resources,
    }
    if patch_sets:
        spec["patchSets"] = patch_sets
    metadata: dict[str, Any] = {"name": name}
    if labels:
        metadata["labels"] = labels
    manifest = {
        "apiVersion": "apiextensions.crossplane.io/v1",
        "kind": "Composition",
        "metadata": metadata,
        "spec": spec,
    }
    return resource(manifest, file="composition.yaml", line=1)


def thing(name: str = "thing", **fields: Any) -> dict[str, Any]:
    """A composition resource template of a managed resource kind."""
    base: dict[str, Any] = {
        "apiVersion": "things.example.org/v1",
        "kind": "Thing",
        "spec": {"forProvider": {}},
    }
    return {"name": name, "base": base, **fields}


def compose_app(
    templates: list[dict[str, Any]],
    parameters: dict[str, Any] | None = None,
    *,
    patch_sets: list[dict[str, Any]] | None = None,
    extra: list[Resource] | None = None,
    functions: FunctionRegistry | None = None,
    observed: Any = None,
    **spec: Any,
) -> Composed:
    """Compose one XApp with a Resources composition of ``templates``."""
    return compose(
        [
            *fixture("open-xrd.yaml"),
            composition(templates, patch_sets=patch_sets),
            xapp(parameters, **spec),
            *(extra or []),
        ],
        functions=functions,
        observed=observed,
    )


def composed(result: Composed, kind: str = "Thing") -> Resource:
    """The one composed resource of ``kind``."""
    matches = [r for r in result.resources if r.key.kind == kind]
    assert len(matches) == 1, [r.key.display for r in result.resources]
    return matches[0]
