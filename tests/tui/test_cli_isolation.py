"""One bad app fails alone (issue 10 item 16): the real CLI on the sandbox.

A repository defines a good app beside broken ones: an Application whose
path is a kustomize cycle, a Flux Kustomization with ``interval: banana`` (and
one that depends on it), and a file of app definitions that is not YAML.
``sync --app good`` works, ``sync`` syncs the good app and exits 2 naming each
bad one, ``status``/``plan`` show them errored, ``gitwave run`` keeps
reconciling the good app, and an app of apps whose child list cannot be read
prunes nothing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.tui.cli_support import commit, run, sandbox_state


@pytest.fixture(autouse=True)
def sandbox_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return sandbox_state(tmp_path, monkeypatch, own_cache=True)


def application(name: str, path: str, *, automated: bool = False) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "source": {"repoURL": ".", "path": path},
        "destination": {"namespace": name},
    }
    if automated:
        spec["syncPolicy"] = {"automated": {"prune": True}, "syncOptions": ["CreateNamespace=true"]}
    else:
        spec["syncPolicy"] = {"syncOptions": ["CreateNamespace=true"]}
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": name},
        "spec": spec,
    }


def config_map(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"k": "v"}}


FLUX = """\
apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {name: here, namespace: flux-system}
spec: {interval: 1m, url: .}
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: banana, namespace: flux-system}
spec:
  interval: banana
  path: ./good
  prune: true
  sourceRef: {kind: GitRepository, name: here}
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: after-banana, namespace: flux-system}
spec:
  interval: 1m
  path: ./good
  prune: true
  dependsOn: [{name: banana}]
  sourceRef: {kind: GitRepository, name: here}
"""


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """apps/: good (a ConfigMap), cyclic (a kustomize cycle), banana and
    after-banana (Flux, a bad interval and its dependent), broken.yaml (not YAML)."""
    root = tmp_path / "repo"
    write(root / "good" / "cm.yaml", yaml.safe_dump(config_map("good-settings")))
    write(root / "cyclic" / "a" / "kustomization.yaml", "resources: [../b]\n")
    write(root / "cyclic" / "b" / "kustomization.yaml", "resources: [../a]\n")
    write(root / "apps" / "good.yaml", yaml.safe_dump(application("good", "good")))
    write(root / "apps" / "cyclic.yaml", yaml.safe_dump(application("cyclic", "cyclic/a")))
    write(root / "apps" / "flux.yaml", FLUX)
    write(
        root / "apps" / "broken.yaml",
        "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {name: [unclosed\n",
    )
    commit(root, "init")
    return root


def sandbox_names(capsys: pytest.CaptureFixture[str], kind: str = "configmap") -> set[str]:
    code, out, _ = run(capsys, "sandbox", "get", kind, "-A", "-o", "json")
    assert code == 0
    return {item["metadata"]["name"] for item in json.loads(out)["items"]}


def test_sync_of_one_good_app_works_beside_broken_ones(
    capsys: pytest.CaptureFixture[str], repo: Path
) -> None:
    code, out, err = run(capsys, "sync", str(repo / "apps"), "--app", "good")
    assert code == 0, err
    assert "Traceback" not in out + err
    assert "good-settings" in sandbox_names(capsys)


def test_sync_of_all_apps_syncs_the_good_one_and_names_each_bad_one(
    capsys: pytest.CaptureFixture[str], repo: Path
) -> None:
    code, out, err = run(capsys, "sync", str(repo / "apps"))
    assert code == 2
    assert "Traceback" not in out + err
    assert "good-settings" in sandbox_names(capsys), "the good app was synced"
    # Each bad app is named with its error: file, and what to fix.
    assert "error: cyclic: " in err and "cycle" in err
    assert "error: banana: " in err and "spec.interval" in err and "banana" in err
    assert "error: after-banana: " in err and "spec.dependsOn: 'banana' cannot be loaded" in err
    assert "error: apps/broken.yaml: " in err and "malformed YAML" in err


def test_sync_json_lists_the_errors_beside_the_results(
    capsys: pytest.CaptureFixture[str], repo: Path
) -> None:
    code, out, _ = run(capsys, "sync", str(repo / "apps"), "-o", "json")
    assert code == 2
    docs = {doc["app"]: doc for doc in json.loads(out)}
    assert docs["good"]["phase"] == "Succeeded"
    assert "cycle" in docs["cyclic"]["error"]
    assert "spec.interval" in docs["banana"]["error"]


def test_status_and_plan_show_the_bad_apps_as_errored(
    capsys: pytest.CaptureFixture[str], repo: Path
) -> None:
    code, out, err = run(capsys, "status", str(repo / "apps"), "-o", "json")
    assert code == 2
    assert "Traceback" not in out + err
    docs = {doc["app"]: doc for doc in json.loads(out)}
    assert docs["good"]["sync"] == "OutOfSync"
    for bad in ("cyclic", "banana", "after-banana", "apps/broken.yaml"):
        assert docs[bad]["sync"] == "Unknown"
        assert docs[bad]["health"] == "Unknown"
        assert docs[bad]["error"]
    assert "spec.interval" in docs["banana"]["error"]

    code, out, err = run(capsys, "status", str(repo / "apps"))
    assert code == 2
    rows = {line.split()[0]: line for line in out.splitlines()[1:] if line.strip()}
    assert "OutOfSync" in rows["good"]
    assert "Unknown (error)" in rows["cyclic"]

    code, out, err = run(capsys, "plan", str(repo / "apps"))
    assert code == 2
    assert "good @ " in out and "+ ConfigMap/good/good-settings" in out
    assert "cyclic: error (see stderr); nothing planned" in out
    assert "error: cyclic: " in err


def test_an_app_that_follows_a_failed_one_is_skipped_the_others_are_not(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Flux dependsOn: the dependent of an app that fails at render waits;
    an unrelated app is synced."""
    root = tmp_path / "flux"
    write(root / "good" / "cm.yaml", yaml.safe_dump(config_map("good-settings")))
    write(root / "other" / "cm.yaml", yaml.safe_dump(config_map("other-settings")))
    write(root / "bad" / "cm.yaml", "kind: [\n")
    kustomizations = [
        {
            "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
            "kind": "Kustomization",
            "metadata": {"name": name, "namespace": "flux-system"},
            "spec": {
                "interval": "1m",
                "path": f"./{path}",
                "prune": True,
                "targetNamespace": "default",
                "sourceRef": {"kind": "GitRepository", "name": "here"},
                **({"dependsOn": [{"name": dep}]} if dep else {}),
            },
        }
        for name, path, dep in (("bad", "bad", ""), ("good", "good", "bad"), ("other", "other", ""))
    ]
    source = FLUX.split("---")[0]
    write(root / "apps.yaml", source + "---\n" + yaml.safe_dump_all(kustomizations))
    commit(root, "init")

    code, out, err = run(capsys, "sync", str(root))
    assert code == 2
    assert "error: bad: bad/cm.yaml:2: malformed YAML" in err
    assert "good: skipped, it follows bad, which failed" in out
    names = sandbox_names(capsys)
    assert "other-settings" in names
    assert "good-settings" not in names


def test_an_app_of_apps_whose_child_list_cannot_be_read_prunes_nothing(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    root = tmp_path / "aoa"
    write(root / "children" / "one.yaml", yaml.safe_dump(application("one", "one", automated=True)))
    write(root / "one" / "cm.yaml", yaml.safe_dump(config_map("one-settings")))
    write(root / "parent.yaml", yaml.safe_dump(application("parent", "children", automated=True)))
    commit(root, "init")
    code, _, err = run(capsys, "sync", str(root), "--prune")
    assert code == 0, err
    assert "one-settings" in sandbox_names(capsys)

    # The child list becomes unreadable: the parent is reported, nothing is pruned.
    (root / "children" / "one.yaml").write_text("apiVersion: argoproj.io/v1alpha1\nkind: [\n")
    commit(root, "break the child list")
    code, out, err = run(capsys, "sync", str(root), "--prune")
    assert code == 2
    assert "error: parent: " in err and "children/one.yaml" in err
    assert "Traceback" not in out + err
    assert "one-settings" in sandbox_names(capsys), "nothing is pruned on a partial view"
    code, out, _ = run(capsys, "history", "one", "-o", "json")
    assert [r["result"] for r in json.loads(out)] == ["Succeeded"]


# --- gitwave run: the good app is reconciled, the bad ones reported ----------------------


@pytest.fixture
def loop_process(tmp_path: Path) -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)


@pytest.mark.slow  # `gitwave run` in a subprocess
def test_run_keeps_reconciling_the_good_app_and_reports_the_bad_ones(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    repo: Path,
    loop_process: list[subprocess.Popen[str]],
) -> None:
    (repo / "apps" / "good.yaml").write_text(
        yaml.safe_dump(application("good", "good", automated=True))
    )
    commit(repo, "automate good")
    proc = subprocess.Popen(
        [sys.executable, "-m", "gitwave.tui.cli", "run", str(repo / "apps"), "--interval", "1s"],
        cwd=tmp_path,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    loop_process.append(proc)
    deadline = time.monotonic() + 60
    while "good-settings" not in sandbox_names(capsys):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the good app was never synced"
        time.sleep(0.2)
    # Several polls later it still runs: no crash loop.
    time.sleep(2.5)
    assert proc.poll() is None
    proc.terminate()
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "Traceback" not in out + err
    for bad in ("cyclic", "banana", "after-banana", "apps/broken.yaml"):
        line = next(line for line in out.splitlines() if f" {bad}: app definition: error: " in line)
        assert "nothing is synced or pruned" in line
    _, out, _ = run(capsys, "events", "banana", "-o", "json")
    assert any("spec.interval" in e["message"] for e in json.loads(out))


def test_a_malformed_sibling_in_an_app_of_apps_is_not_taken_for_a_removed_child(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """The parent still holds one child, so a child missing from its render would
    be pruned (Argo CD's resources-finalizer); one that is there but unreadable
    must not be: the parent's child list is partial."""
    root = tmp_path / "aoa"
    for name in ("one", "two"):
        child = application(name, name, automated=True)
        child["metadata"]["finalizers"] = ["resources-finalizer.argocd.argoproj.io"]
        write(root / "children" / f"{name}.yaml", yaml.safe_dump(child))
        write(root / name / "cm.yaml", yaml.safe_dump(config_map(f"{name}-settings")))
    write(root / "parent.yaml", yaml.safe_dump(application("parent", "children", automated=True)))
    commit(root, "init")
    code, _, err = run(capsys, "sync", str(root), "--prune")
    assert code == 0, err
    assert {"one-settings", "two-settings"} <= sandbox_names(capsys)

    two = root / "children" / "two.yaml"
    two.write_text(two.read_text().replace("path: two", "path: ../outside"))
    commit(root, "break one child")
    code, out, err = run(capsys, "sync", str(root), "--prune")
    assert code == 2
    assert "error: parent: " in err and "children/two.yaml" in err
    assert "removed from parent" not in out + err
    names = sandbox_names(capsys)
    assert {"one-settings", "two-settings"} <= names, "nothing is pruned on a partial view"
