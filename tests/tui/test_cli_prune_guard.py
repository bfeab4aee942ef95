"""The prune guard (issue 15 item 4), through the command line on the sandbox:
a sync that prunes past the app's prune limit or deletes a stateful object is
refused, nothing applied or deleted, until ``--confirm-prune``; ``plan`` shows
the blast radius."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from tests.tui.cli_support import run, sandbox_state


@pytest.fixture(autouse=True)
def sandbox_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return sandbox_state(tmp_path, monkeypatch)


def config_map(name: str) -> str:
    return f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {name}, namespace: default}}\n"


def live_config_maps(capsys: pytest.CaptureFixture[str]) -> str:
    code, out, _ = run(capsys, "sandbox", "get", "configmap", "-n", "default")
    assert code == 0
    return out


def four_objects(tmp_path: Path) -> Path:
    app = tmp_path / "app"
    app.mkdir()
    for name in ("a", "b", "c", "d"):
        (app / f"{name}.yaml").write_text(config_map(f"cm-{name}"))
    return app


def test_pruning_half_the_app_is_refused_until_confirmed(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    app = four_objects(tmp_path)
    assert run(capsys, "sync", str(app))[0] == 0
    (app / "c.yaml").unlink()
    (app / "d.yaml").unlink()
    (app / "e.yaml").write_text(config_map("cm-e"))

    code, out, err = run(capsys, "plan", str(app), "--prune")
    assert code == 1, err
    assert "blast radius: 2 of 4 objects pruned (50%, limit 25%)" in out
    assert "  - ConfigMap/default/cm-c" in out and "  - ConfigMap/default/cm-d" in out
    assert "guard: a sync stops here" in out and "--confirm-prune" in out

    code, out, err = run(capsys, "sync", str(app), "--prune")
    assert code == 2, out
    assert "refusing to sync app app: prune of 2 of 4 objects (50%) exceeds the prune " in err
    assert "limit of 25%; nothing applied or deleted" in err
    assert "--confirm-prune" in err
    live = live_config_maps(capsys)
    assert "cm-c" in live and "cm-d" in live, "nothing deleted"
    assert "cm-e" not in live, "nothing applied either"

    code, out, err = run(capsys, "sync", str(app), "--prune", "--confirm-prune")
    assert code == 0, err
    live = live_config_maps(capsys)
    assert "cm-c" not in live and "cm-d" not in live and "cm-e" in live


def test_one_removed_object_of_a_small_app_is_no_mass_deletion(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    app = four_objects(tmp_path)
    assert run(capsys, "sync", str(app))[0] == 0
    (app / "d.yaml").unlink()
    code, _, err = run(capsys, "sync", str(app), "--prune")
    assert code == 0, err
    assert "cm-d" not in live_config_maps(capsys)


def test_a_stateful_object_is_refused_even_as_one_of_twenty(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    app = tmp_path / "app"
    app.mkdir()
    for n in range(19):
        (app / f"cm{n}.yaml").write_text(config_map(f"cm-{n}"))
    # Prune=true: PVCs are otherwise never pruned at all (engine.ownership).
    (app / "claim.yaml").write_text(
        "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata:\n  name: data\n"
        "  namespace: default\n  annotations:\n    argocd.argoproj.io/sync-options: Prune=true\n"
        "spec:\n  accessModes: [ReadWriteOnce]\n  resources:\n    requests:\n      storage: 1Gi\n"
    )
    assert run(capsys, "sync", str(app))[0] == 0
    (app / "claim.yaml").unlink()

    code, out, err = run(capsys, "plan", str(app), "--prune", "-o", "json")
    assert code == 1, err
    blast = json.loads(out)[0]["blastRadius"]
    assert blast["pruned"] == ["/PersistentVolumeClaim/default/data"]
    assert blast["inventory"] == 20 and blast["percent"] == 5.0
    assert blast["stateful"] == ["/PersistentVolumeClaim/default/data"]
    assert blast["guarded"] is True

    code, out, err = run(capsys, "sync", str(app), "--prune")
    assert code == 2, out
    assert "prune deletes stateful PersistentVolumeClaim/default/data" in err
    _, live, _ = run(capsys, "sandbox", "get", "pvc", "-n", "default")
    assert "data" in live

    assert run(capsys, "sync", str(app), "--prune", "--confirm-prune")[0] == 0
    _, live, _ = run(capsys, "sandbox", "get", "pvc", "-n", "default")
    assert "data" not in live


def application(tmp_path: Path, annotations: dict[str, str]) -> Path:
    """An Argo CD Application (in ``tmp_path/app.yaml``) over four_objects' directory."""
    four_objects(tmp_path)
    doc = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": "shop", "annotations": annotations},
        "spec": {
            "source": {"repoURL": str(tmp_path), "path": "app"},
            "destination": {"namespace": "default"},
            "syncPolicy": {"automated": {"prune": True}},
        },
    }
    path = tmp_path / "app.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


@dataclass(frozen=True)
class LimitCase:
    reason: str
    annotations: dict[str, str]
    flags: tuple[str, ...]
    refused: bool


LIMIT_CASES = [
    LimitCase("the default 25% stops 2 of 4", {}, (), True),
    LimitCase("the app's annotation allows 60%", {"gitwave.dev/prune-limit": "60%"}, (), False),
    LimitCase("the app's annotation without %", {"gitwave.dev/prune-limit": "50"}, (), False),
    LimitCase(
        "--prune-limit outranks the annotation",
        {"gitwave.dev/prune-limit": "60%"},
        ("--prune-limit", "10%"),
        True,
    ),
]


@pytest.mark.parametrize("case", LIMIT_CASES, ids=lambda c: c.reason)
def test_the_prune_limit_per_app_and_per_command(
    case: LimitCase, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = application(tmp_path, case.annotations)
    env = ("--allow-local-repo", str(tmp_path))
    code, _, err = run(capsys, "sync", str(path), *env)
    assert code == 0, err
    (tmp_path / "app" / "c.yaml").unlink()
    (tmp_path / "app" / "d.yaml").unlink()
    code, out, err = run(capsys, "sync", str(path), *env, *case.flags)
    live = live_config_maps(capsys)
    if case.refused:
        assert code == 2, out
        assert "refusing to sync app shop" in err
        assert "cm-c" in live
    else:
        assert code == 0, err
        assert "cm-c" not in live and "cm-d" not in live


def test_a_bad_prune_limit_annotation_names_the_app_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = application(tmp_path, {"gitwave.dev/prune-limit": "lots"})
    code, _, err = run(capsys, "plan", str(path), "--allow-local-repo", str(tmp_path))
    assert code == 2
    assert "app.yaml" in err and "gitwave.dev/prune-limit" in err and "'lots'" in err


def test_the_blast_radius_names_what_a_prune_leaves_broken(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    app = four_objects(tmp_path)
    (app / "secret.yaml").write_text(
        "apiVersion: v1\nkind: Secret\nmetadata: {name: db, namespace: default}\n"
        "stringData: {password: hunter2}\n"
    )
    (app / "deploy.yaml").write_text(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: api, namespace: default}\n"
        "spec:\n  selector: {matchLabels: {app: api}}\n  template:\n"
        "    metadata: {labels: {app: api}}\n    spec:\n      containers:\n"
        "      - name: api\n        image: nginx\n"
        "        envFrom: [{secretRef: {name: db}}]\n"
    )
    assert run(capsys, "sync", str(app))[0] == 0
    (app / "secret.yaml").unlink()
    (app / "a.yaml").unlink()
    code, out, err = run(capsys, "plan", str(app), "--prune")
    assert code == 1, err
    assert "blast radius: 2 of 6 objects pruned (33%, limit 25%)" in out
    assert "  ! Deployment/default/api left broken: uses Secret/default/db" in out
    assert "hunter2" not in out
