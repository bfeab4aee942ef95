"""Finalizers on the sandbox, as the API server honours them (issue 10 item 20):
a delete only marks an object that has some, the object stays Terminating
until the last one is removed, none may be added meanwhile; and a prune held
by one fails after the wave timeout naming the finalizer, through the CLI."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from gitwave.engine.errors import ProviderError
from gitwave.engine.model import ChangeAction, Resource, ResourceKey
from gitwave.providers.sandbox import SandboxProvider
from gitwave.tui.cli import main

HELD = ResourceKey("", "ConfigMap", "keeper", "held")
NAMESPACE = ResourceKey("", "Namespace", "", "keeper")
KEEP = "example.com/keep"


def configmap(name: str = "held", finalizers: tuple[str, ...] = (KEEP,)) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": "keeper"}
    if finalizers:
        meta["finalizers"] = list(finalizers)
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": {"a": "b"}}


def resource(manifest: dict[str, Any]) -> Resource:
    return Resource(ResourceKey.of(manifest), manifest["apiVersion"], manifest)


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[SandboxProvider]:
    with SandboxProvider(tmp_path / "state", rollout_seconds=0) as provider:
        provider.apply(
            resource({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "keeper"}})
        )
        yield provider


def without_finalizers(sandbox: SandboxProvider, key: ResourceKey, *keep: str) -> None:
    """What the finalizer's controller does when its cleanup is done (kubectl edit)."""
    live = sandbox.observe(key)
    assert live is not None
    edited = json.loads(json.dumps(live.manifest))
    edited["metadata"]["finalizers"] = list(keep)
    sandbox.replace_live(key, edited, manager="keep-controller")


def test_a_delete_marks_an_object_with_a_finalizer_and_it_stays_terminating(
    sandbox: SandboxProvider,
) -> None:
    sandbox.apply(resource(configmap()))

    entry = sandbox.delete(HELD)
    again = sandbox.delete(HELD)

    assert entry.action is ChangeAction.DELETED
    assert entry.message == f"terminating: waiting on finalizer {KEEP}"
    live = sandbox.observe(HELD)
    assert live is not None
    meta = live.manifest["metadata"]
    assert meta["deletionTimestamp"] and meta["deletionGracePeriodSeconds"] == 0
    assert meta["finalizers"] == [KEEP]
    assert again.live is not None and again.live.resource_version == live.resource_version


def test_removing_the_last_finalizer_completes_the_delete(sandbox: SandboxProvider) -> None:
    sandbox.apply(resource(configmap(finalizers=(KEEP, "example.com/audit"))))
    sandbox.delete(HELD)

    without_finalizers(sandbox, HELD, "example.com/audit")
    assert sandbox.observe(HELD) is not None, "one finalizer is left: still terminating"
    without_finalizers(sandbox, HELD)

    assert sandbox.observe(HELD) is None


@dataclass(frozen=True)
class AddCase:
    reason: str
    by_gitwave: bool


@pytest.mark.parametrize(
    "case",
    [AddCase("an edit", by_gitwave=False), AddCase("an apply", by_gitwave=True)],
    ids=lambda c: c.reason,
)
def test_no_finalizer_can_be_added_once_deleting(sandbox: SandboxProvider, case: AddCase) -> None:
    sandbox.apply(resource(configmap()))
    sandbox.delete(HELD)
    before = sandbox.observe(HELD)
    assert before is not None

    with pytest.raises(ProviderError) as caught:
        if case.by_gitwave:
            sandbox.apply(resource(configmap(finalizers=(KEEP, "example.com/more"))))
        else:
            without_finalizers(sandbox, HELD, KEEP, "example.com/more")

    assert "no new finalizers can be added if the object is being deleted" in str(caught.value)
    assert "example.com/more" in str(caught.value)
    after = sandbox.observe(HELD)
    assert after is not None and after.resource_version == before.resource_version


def test_a_namespace_stays_terminating_while_an_object_in_it_is_held(
    sandbox: SandboxProvider,
) -> None:
    sandbox.apply(resource(configmap()))
    sandbox.apply(resource(configmap("free", finalizers=())))

    sandbox.delete(NAMESPACE)

    namespace = sandbox.observe(NAMESPACE)
    assert namespace is not None
    assert namespace.manifest["status"]["phase"] == "Terminating"
    assert sandbox.observe(ResourceKey("", "ConfigMap", "keeper", "free")) is None
    assert sandbox.observe(HELD) is not None
    without_finalizers(sandbox, HELD)
    assert sandbox.observe(HELD) is None
    assert sandbox.observe(NAMESPACE) is None, "its last object gone, the namespace goes too"


def test_a_crd_stays_terminating_while_a_custom_resource_of_it_is_held(
    sandbox: SandboxProvider,
) -> None:
    crd_key = ResourceKey(
        "apiextensions.k8s.io", "CustomResourceDefinition", "", "widgets.example.com"
    )
    sandbox.apply(
        resource(
            {
                "apiVersion": "apiextensions.k8s.io/v1",
                "kind": "CustomResourceDefinition",
                "metadata": {"name": crd_key.name},
                "spec": {
                    "group": "example.com",
                    "scope": "Namespaced",
                    "names": {"kind": "Widget", "plural": "widgets"},
                    "versions": [{"name": "v1", "served": True, "storage": True, "schema": {}}],
                },
            }
        )
    )
    widget = {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": "w", "namespace": "keeper", "finalizers": [KEEP]},
    }
    sandbox.apply(resource(widget))
    widget_key = ResourceKey.of(widget)

    sandbox.delete(crd_key)

    crd = sandbox.observe(crd_key)
    assert crd is not None and crd.manifest["metadata"]["deletionTimestamp"]
    with pytest.raises(ProviderError):  # no new objects of a kind being deleted
        sandbox.apply(resource({**widget, "metadata": {"name": "new", "namespace": "keeper"}}))
    without_finalizers(sandbox, widget_key)
    assert sandbox.observe(widget_key) is None
    assert sandbox.observe(crd_key) is None, "its last custom resource gone, the CRD goes too"


# --- through the command line ---------------------------------------------------------------


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out + err


def test_a_prune_held_by_a_finalizer_fails_after_the_wave_timeout_naming_it(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITWAVE_STATE", str(tmp_path / "state"))
    monkeypatch.setenv("GITWAVE_SANDBOX_ROLLOUT", "0.05")
    monkeypatch.setenv("NO_COLOR", "1")
    app = tmp_path / "keeper"
    app.mkdir()
    (app / "namespace.yaml").write_text(
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: keeper\n"
    )
    (app / "held.yaml").write_text(json.dumps(configmap()))
    assert run(capsys, "sync", str(app))[0] == 0
    (app / "held.yaml").unlink()

    code, out = run(capsys, "sync", str(app), "--prune", "--timeout", "1")

    want = f"ConfigMap/keeper/held is still terminating: waiting on finalizer {KEEP}"
    assert code == 1, out
    assert f"prune timed out after 1s: {want}" in out
    code, history = run(capsys, "history", "keeper", "-o", "json")
    last = json.loads(history)[0]
    assert (last["result"], last["prune"]) == ("Failed", True)
    assert want in last["message"]
    with SandboxProvider(tmp_path / "state") as sandbox:
        held = sandbox.observe(HELD)
        assert held is not None and held.manifest["metadata"]["deletionTimestamp"]
        without_finalizers(sandbox, HELD)  # the finalizer's controller finished
        assert sandbox.observe(HELD) is None

    code, out = run(capsys, "sync", str(app), "--prune", "--timeout", "1")
    assert code == 0, out
