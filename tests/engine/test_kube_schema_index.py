"""The built-in kinds read from the schema cache (engine.kube_schema_index).

A command that plans reads the index of kinds and each validated kind's
reached definitions from ``$GITWAVE_CACHE/schemas`` instead of the whole
1.8 MB ``_definitions.json``; what it refuses must not change: the errors of
a registry of the reached definitions are those of one over the whole file,
and a status or plan with the cache warm still refuses a bad field deep in a
kind's schema.
"""

from __future__ import annotations

import json
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest

from gitwave.engine import kube_schema, kube_schema_index
from gitwave.engine.kube_schema import _DEFINITIONS_URI, _errors, _schema_dir, builtin_errors
from gitwave.engine.kube_schema_index import SchemaFile, schema_file
from gitwave.engine.kube_versions import current_version
from gitwave.engine.render.disk_cache import SignedFiles
from tests.tui.cli_support import run, sandbox_state


def _as_a_new_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """Forget what this process read of the schemas (a new command starts so)."""
    kube_schema._builtin_of.cache_clear()
    monkeypatch.setattr(kube_schema, "_compiled", {})
    monkeypatch.setattr(kube_schema_index, "_files", {})


def _definitions() -> Path:
    return _schema_dir(current_version()) / "_definitions.json"


@dataclass(frozen=True)
class Case:
    reason: str
    manifest: dict[str, Any]


def _deployment(**spec: Any) -> dict[str, Any]:
    template = {
        "metadata": {"labels": {"app": "web"}},
        "spec": {"containers": [{"name": "web", "image": "nginx"}]},
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": template, **spec},
    }


BROKEN = [
    Case("a string for an integer", _deployment(replicas="three")),
    Case(
        "a bad field four $refs deep",
        _deployment(
            template={
                "spec": {
                    "containers": [
                        {"name": "web", "ports": [{"containerPort": "eighty", "protocol": 1}]}
                    ],
                    "volumes": [{"name": "v", "configMap": {"defaultMode": "x"}}],
                }
            }
        ),
    ),
    Case("a required field missing", {"apiVersion": "apps/v1", "kind": "Deployment", "spec": {}}),
    Case(
        "a Service port out of type and an unknown enum",
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "s"},
            "spec": {"ports": [{"port": "http"}], "sessionAffinity": 3},
        },
    ),
    Case(
        "a quantity of the wrong shape",
        {
            "apiVersion": "v1",
            "kind": "ResourceQuota",
            "metadata": {"name": "q"},
            "spec": {"hard": {"cpu": [1]}},
        },
    ),
    Case(
        "a CRD with a bad schema type",
        {
            "apiVersion": "apiextensions.k8s.io/v1",
            "kind": "CustomResourceDefinition",
            "metadata": {"name": "w.example.com"},
            "spec": {"group": 3, "names": {"kind": []}, "versions": [{"name": 1}]},
        },
    ),
]


def _whole_file_errors(manifest: dict[str, Any]) -> list[str]:
    """What a validator over the whole ``_definitions.json`` (as before) finds."""
    document = json.loads(_definitions().read_text())
    registry = jsonschema_rs.Registry([(_DEFINITIONS_URI, document)])
    group, _, version = str(manifest["apiVersion"]).rpartition("/")
    name = schema_file(_definitions()).kinds.definitions[(group, version, manifest["kind"])]
    validator = jsonschema_rs.Draft202012Validator(
        {"$ref": f"{_DEFINITIONS_URI}#/$defs/{name}"}, registry=registry
    )
    return [e.text() for e in _errors(validator, manifest)]


@pytest.mark.parametrize("case", BROKEN, ids=lambda c: c.reason)
def test_the_reached_definitions_find_the_errors_the_whole_file_finds(
    case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITWAVE_CACHE", str(tmp_path / "cache"))
    _as_a_new_process(monkeypatch)
    try:
        found = [e.text() for e in builtin_errors(case.manifest) or []]
    finally:
        kube_schema._builtin_of.cache_clear()
    assert found, "the case must be refused"
    assert found == _whole_file_errors(case.manifest)


def test_a_second_reader_reads_the_index_and_a_kind_from_the_cache(tmp_path: Path) -> None:
    cache = tmp_path / "schemas"
    first = SchemaFile(_definitions(), SignedFiles(cache))
    name = first.kinds.definitions[("apps", "v1", "Deployment")]
    reached = first.reached(name)
    assert first.documents_read == 1
    assert "io.k8s.api.core.v1.Container" in reached
    assert "io.k8s.api.core.v1.Service" not in reached

    second = SchemaFile(_definitions(), SignedFiles(cache))
    assert second.kinds == first.kinds
    assert second.reached(name) == reached
    assert second.documents_read == 0

    # A tampered entry is no entry: the whole file is read again.
    for entry in cache.glob("*.json"):
        entry.write_bytes(entry.read_bytes().replace(b"Container", b"Containor"))
    third = SchemaFile(_definitions(), SignedFiles(cache))
    assert third.reached(name) == reached
    assert third.documents_read == 1


DEEP_BAD_FIELD = textwrap.dedent(
    """\
    apiVersion: v1
    kind: Namespace
    metadata:
      name: shop
    ---
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: web
      namespace: shop
    spec:
      selector:
        matchLabels: {app: web}
      template:
        metadata:
          labels: {app: web}
        spec:
          containers:
            - name: web
              image: nginx:1.27
              ports:
                - containerPort: eighty
    """
)
REFUSAL = (
    'Deployment/shop/web (app.yaml:6): Deployment.apps "web" is invalid: '
    "spec.template.spec.containers[0].ports[0].containerPort: "
    'Invalid value: "eighty": must be of type integer'
)


@pytest.mark.parametrize("verb", ["status", "plan"])
def test_status_and_plan_refuse_a_bad_field_with_the_schema_cache_warm(
    verb: str, capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The app is small (no plan memo vouches for it), so each command checks
    # the Deployment: from the whole file the first time, from the cache's
    # index and the Deployment's reached definitions the second.
    sandbox_state(tmp_path, monkeypatch, own_cache=True)
    app = tmp_path / "shop"
    app.mkdir()
    (app / "app.yaml").write_text(DEEP_BAD_FIELD)
    try:
        reads = []
        for _ in range(2):
            _as_a_new_process(monkeypatch)
            code, out, err = run(capsys, verb, str(app))
            assert code == 2, (out, err)
            assert REFUSAL in err
            reads.append(schema_file(_definitions()).documents_read)
        assert reads == [1, 0]
    finally:
        kube_schema._builtin_of.cache_clear()


@pytest.mark.parametrize("verb", ["status", "plan"])
def test_an_object_edited_after_its_small_app_passed_is_checked_again(
    verb: str, capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every app keeps the digests of the objects that passed the pre-flight (a
    # small app too, since status4): the passing Deployment is not checked by
    # the second command, and the same Deployment with a bad field, a new
    # digest, is refused by the third, naming file:line and field.
    sandbox_state(tmp_path, monkeypatch, own_cache=True)
    app = tmp_path / "shop"
    app.mkdir()
    (app / "app.yaml").write_text(
        DEEP_BAD_FIELD.replace("containerPort: eighty", "containerPort: 80")
    )
    try:
        for _ in range(2):
            _as_a_new_process(monkeypatch)
            code, out, err = run(capsys, verb, str(app))
            assert code == (0 if verb == "status" else 1), (out, err)  # plan: all to create
            assert "shop" in out
        checked = list((tmp_path / "cache").rglob("checks/*.json"))
        assert len(checked) == 1, "the small app's passed objects are kept"
        (app / "app.yaml").write_text(DEEP_BAD_FIELD)
        _as_a_new_process(monkeypatch)
        code, out, err = run(capsys, verb, str(app))
        assert code == 2, (out, err)
        assert REFUSAL in err
    finally:
        kube_schema._builtin_of.cache_clear()
