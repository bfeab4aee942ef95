"""Server-side apply conflicts with another applier are reported, not forced,
unless the app opts in (issue 10 item 19c): Argo CD's
``ServerSideApply=true,Force=true``. Imperative edits (kubectl edit/scale,
operation Update) are drift, and gitwave takes those fields back as before."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import git
import pytest
import yaml

from gitwave.engine.errors import FieldConflictError
from gitwave.engine.model import ChangeAction, Resource, ResourceKey
from gitwave.providers.sandbox import SandboxProvider
from gitwave.tui.cli import main

SETTINGS = ResourceKey("", "ConfigMap", "shop", "settings")
OPT_IN = "ServerSideApply=true,Force=true"


def settings(color: str, *, annotations: dict[str, str] | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": "settings", "namespace": "shop"}
    if annotations:
        meta["annotations"] = annotations
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": {"color": color}}


def resource(manifest: dict[str, Any], *, force: bool = False) -> Resource:
    return Resource(ResourceKey.of(manifest), manifest["apiVersion"], manifest, None, force)


def owners(sandbox: SandboxProvider, field: str) -> list[str]:
    live = sandbox.observe(SETTINGS)
    assert live is not None
    return sorted(
        entry["manager"]
        for entry in live.manifest["metadata"]["managedFields"]
        if f"f:{field}" in entry["fieldsV1"].get("f:data", {})
    )


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[SandboxProvider]:
    with SandboxProvider(tmp_path / "state", rollout_seconds=0) as provider:
        provider.apply(
            resource({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}})
        )
        yield provider


@dataclass(frozen=True)
class Case:
    reason: str
    other_writes: str  # "apply" (another applier) or "edit" (kubectl edit: operation Update)
    other_value: str
    force: bool
    conflict: bool
    owners_after: list[str]


CASES = [
    Case("another applier's field is a conflict", "apply", "red", False, True, ["other-tool"]),
    Case(
        "the same value is shared, no conflict",
        "apply",
        "blue",
        False,
        False,
        ["gitwave", "other-tool"],
    ),
    Case("forced, the field is taken over", "apply", "red", True, False, ["gitwave"]),
    Case("an imperative edit is drift, taken back", "edit", "red", False, False, ["gitwave"]),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.reason)
def test_an_apply_over_another_managers_field(sandbox: SandboxProvider, case: Case) -> None:
    if case.other_writes == "apply":
        sandbox.server_side_apply(resource(settings(case.other_value)), manager="other-tool")
    else:
        sandbox.apply(resource(settings("blue")))
        live = sandbox.observe(SETTINGS)
        assert live is not None
        sandbox.replace_live(SETTINGS, {**live.manifest, "data": {"color": case.other_value}})
    before = sandbox.observe(SETTINGS)
    assert before is not None

    if case.conflict:
        with pytest.raises(FieldConflictError) as caught:
            sandbox.apply(resource(settings("blue"), force=case.force))
        error = caught.value
        assert error.conflicts == ((".data.color", "other-tool"),)
        assert str(error) == (
            "ConfigMap/shop/settings: apply conflicts with field manager 'other-tool': "
            ".data.color (owned by other-tool); not forced (to take them over, add the sync "
            f"option {OPT_IN})"
        )
        assert not error.retriable
        after = sandbox.observe(SETTINGS)
        assert after is not None and after.resource_version == before.resource_version
    else:
        sandbox.apply(resource(settings("blue"), force=case.force))
    live = sandbox.observe(SETTINGS)
    assert live is not None
    assert live.manifest["data"]["color"] == ("red" if case.conflict else "blue")
    want = case.owners_after if case.other_writes == "apply" else ["gitwave"]
    assert owners(sandbox, "color") == want


# --- through the command line and an Argo CD Application ------------------------------------


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out + err


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("GITWAVE_STATE", str(tmp_path / "state"))
    monkeypatch.setenv("GITWAVE_SANDBOX_ROLLOUT", "0.05")
    monkeypatch.setenv("GITWAVE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("NO_COLOR", "1")
    return tmp_path / "state"


def write_repo(root: Path, manifest: dict[str, Any], sync_options: list[str]) -> None:
    (root / "manifests").mkdir(parents=True, exist_ok=True)
    (root / "manifests" / "namespace.yaml").write_text(
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n"
    )
    (root / "manifests" / "settings.yaml").write_text(yaml.safe_dump(manifest))
    app = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": "shop"},
        "spec": {
            "source": {"repoURL": ".", "path": "manifests"},
            "destination": {"namespace": "shop"},
            "syncPolicy": {"syncOptions": sync_options} if sync_options else {},
        },
    }
    (root / "app.yaml").write_text(yaml.safe_dump(app))
    repo = git.Repo.init(root) if not (root / ".git").exists() else git.Repo(root)
    repo.index.add(["app.yaml", "manifests/namespace.yaml", "manifests/settings.yaml"])
    actor = git.Actor("Test", "test@example.com")
    repo.index.commit("manifests", author=actor, committer=actor)


@dataclass(frozen=True)
class OptInCase:
    reason: str
    annotations: dict[str, str]
    sync_options: list[str]


OPT_INS = [
    OptInCase("on the object", {"argocd.argoproj.io/sync-options": OPT_IN}, []),
    OptInCase("on the app", {}, ["ServerSideApply=true", "Force=true"]),
]


@pytest.mark.parametrize("case", OPT_INS, ids=lambda c: c.reason)
def test_sync_reports_the_conflict_and_applies_nothing_until_the_app_opts_in(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, cli_env: Path, case: OptInCase
) -> None:
    repo = tmp_path / "repo"
    write_repo(repo, settings("blue"), [])
    with SandboxProvider(cli_env) as other:
        other.apply(
            resource({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}})
        )
        other.server_side_apply(resource(settings("red")), manager="other-tool")

    code, out = run(capsys, "sync", str(repo))

    assert code == 1, out
    assert (
        "ConfigMap/shop/settings: apply conflicts with field manager 'other-tool': "
        ".data.color (owned by other-tool); not forced" in out
    )
    assert OPT_IN in out
    code, history = run(capsys, "history", "shop", "-o", "json")
    assert json.loads(history)[0]["result"] == "Failed"
    with SandboxProvider(cli_env) as sandbox:
        live = sandbox.observe(SETTINGS)
        assert live is not None and live.manifest["data"] == {"color": "red"}
        assert "gitwave.dev/app" not in live.manifest["metadata"].get("labels", {})

    write_repo(repo, settings("blue", annotations=case.annotations), case.sync_options)
    code, out = run(capsys, "sync", str(repo))

    assert code == 0, out
    with SandboxProvider(cli_env) as sandbox:
        live = sandbox.observe(SETTINGS)
        assert live is not None and live.manifest["data"] == {"color": "blue"}
        assert owners(sandbox, "color") == ["gitwave"]


def test_sync_lists_every_conflicting_field_and_manager(sandbox: SandboxProvider) -> None:
    sandbox.server_side_apply(resource(settings("red")), manager="other-tool")
    third = settings("red")
    third["data"] = {"size": "xl"}
    sandbox.server_side_apply(resource(third), manager="helm")
    mine = settings("blue")
    mine["data"]["size"] = "s"

    with pytest.raises(FieldConflictError) as caught:
        sandbox.apply(resource(mine))

    assert caught.value.conflicts == ((".data.color", "other-tool"), (".data.size", "helm"))
    assert "field managers 'helm', 'other-tool'" in str(caught.value)
    assert sandbox.apply(resource(mine, force=True)).action is ChangeAction.CONFIGURED
