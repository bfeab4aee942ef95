"""The answers kubectl and argocd would give (issue 13, "Small truths"): the real
CLI on the sandbox, a real editor script for ``sandbox edit``."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from tests.tui.test_cli import copy_sample, run, sandbox_env  # noqa: F401  (autouse fixture)

WIDGET_CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "widgets.example.com"},
    "spec": {
        "group": "example.com",
        "scope": "Namespaced",
        "names": {
            "kind": "Widget",
            "plural": "widgets",
            "singular": "widget",
            "shortNames": ["wd"],
        },
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "x-kubernetes-preserve-unknown-fields": True,
                    }
                },
            }
        ],
    },
}
WIDGET = {
    "apiVersion": "example.com/v1",
    "kind": "Widget",
    "metadata": {"name": "w1", "namespace": "default"},
    "spec": {"size": 1},
}
READER = {
    "apiVersion": "rbac.authorization.k8s.io/v1",
    "kind": "ClusterRole",
    "metadata": {"name": "reader"},
    "rules": [],
}


def manifests(tmp_path: Path, *docs: dict[str, object]) -> Path:
    app = tmp_path / "app"
    app.mkdir()
    (app / "all.yaml").write_text(yaml.safe_dump_all(docs))
    return app


def listed(out: str) -> set[str]:
    return {item["metadata"]["name"] for item in json.loads(out)["items"]}


# --- sandbox get ---------------------------------------------------------------------------


def test_cluster_scoped_kinds_ignore_the_namespace(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert run(capsys, "sync", str(manifests(tmp_path, READER)))[0] == 0
    for argv in (("namespace",), ("ns", "-n", "elsewhere"), ("namespaces", "-A")):
        code, out, err = run(capsys, "sandbox", "get", *argv, "-o", "json")
        assert code == 0, err
        assert {"default", "kube-system"} <= listed(out), argv
    code, out, _ = run(capsys, "sandbox", "get", "namespace")
    assert "No resources found" not in out
    assert re.search(r"Namespace\s+default", out)
    code, out, _ = run(capsys, "sandbox", "get", "clusterroles", "-n", "shop", "-o", "json")
    assert code == 0 and listed(out) == {"reader"}
    code, out, _ = run(capsys, "sandbox", "get", "clusterrole/reader", "-o", "json")
    assert code == 0 and json.loads(out)["metadata"]["name"] == "reader"


def test_an_unknown_kind_fails_and_a_crd_makes_it_known(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, err = run(capsys, "sandbox", "get", "widgets")
    assert code == 1
    assert out == ""
    assert 'error: unknown resource type "widgets"' in err

    assert run(capsys, "sync", str(manifests(tmp_path, WIDGET_CRD, WIDGET)))[0] == 0
    # kubectl's spellings of a custom kind: plural, singular, short name, Kind.group.
    for spelled in ("widgets", "widget", "wd", "Widget.example.com"):
        code, out, err = run(capsys, "sandbox", "get", spelled, "-o", "json")
        assert code == 0, (spelled, err)
        assert listed(out) == {"w1"}
    code, out, err = run(capsys, "sandbox", "get", "widgets.other.org")
    assert code == 1 and "unknown resource type" in err


def test_a_missing_object_fails(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "sandbox", "get", "configmap/nope", "-n", "default")
    assert code == 1
    assert "error: ConfigMap 'nope' not found in namespace default" in err


# --- history and events of an unknown app -------------------------------------------------


def test_history_and_events_of_an_unknown_app_fail(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, err = run(capsys, "history", "nosuchapp")
    assert code == 1
    assert "error: nosuchapp: no syncs recorded" in err

    assert run(capsys, "sync", str(copy_sample("guestbook", tmp_path)))[0] == 0
    for verb in ("history", "events"):
        code, out, err = run(capsys, verb, "guestbok", "-o", "json")
        assert code == 1, verb
        assert out == ""  # no document a script could mistake for an empty history
        assert "hint: did you mean guestbook?" in err
        code, out, err = run(capsys, verb, "guestbook")
        assert code == 0, err


# --- status of a directory without manifests ----------------------------------------------


def test_status_of_an_empty_directory_says_so(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "README.md").write_text("no manifests here\n")

    code, out, err = run(capsys, "status", str(empty))
    assert code == 2
    assert "no manifests in" in err
    assert "Synced" not in out and "Healthy" not in out

    code, out, err = run(capsys, "status", str(empty), "-o", "json")
    assert code == 2
    (doc,) = json.loads(out)  # a list of apps, even for one
    assert (doc["sync"], doc["health"]) == ("Unknown", "Unknown")
    assert "no manifests in" in doc["error"]


# --- sandbox edit: an edit that cannot be saved opens the editor again -----------------------

# A real editor: round 1 breaks the YAML; later rounds run $EDIT_FIX (or nothing).
EDITOR = """\
#!/bin/sh
count="$EDIT_DIR/count"
n=$(cat "$count" 2>/dev/null || echo 0)
n=$((n + 1))
echo "$n" > "$count"
cp "$1" "$EDIT_DIR/seen.$n"
if [ "$n" = 1 ]; then
    sed -i 's/replicas: 3/replicas: [5/' "$1"
elif [ -n "$EDIT_FIX" ]; then
    sed -i "$EDIT_FIX" "$1"
fi
"""


@pytest.fixture
def editor(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    rounds = tmp_path / "rounds"
    rounds.mkdir()
    script = tmp_path / "editor.sh"
    script.write_text(EDITOR)
    script.chmod(0o755)
    monkeypatch.setenv("EDITOR", str(script))
    monkeypatch.setenv("EDIT_DIR", str(rounds))
    return rounds


def test_invalid_yaml_reopens_the_editor_with_the_error_on_top(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    editor: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app = copy_sample("guestbook", tmp_path)
    assert run(capsys, "sync", str(app))[0] == 0
    monkeypatch.setenv("EDIT_FIX", "s/replicas: \\[5/replicas: 5/")

    code, out, err = run(capsys, "sandbox", "edit", "deployment/guestbook-ui", "-n", "guestbook")

    assert code == 0, err
    assert "deployment.apps/guestbook-ui edited" in out  # as kubectl says it
    second = (editor / "seen.2").read_text()
    assert second.startswith("# Edit the object below")
    header = second[: second.index("\napiVersion:")]
    assert "# The edit could not be saved:" in header
    assert re.search(r"# .*line \d+", header), header  # where the YAML broke
    assert "replicas: [5" in second  # the edit is kept, not lost
    code, out, _ = run(capsys, "plan", str(app))
    assert code == 1
    assert "spec.replicas: 5 -> 3" in out


def test_saving_the_broken_edit_unchanged_gives_up_and_keeps_it(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, editor: Path
) -> None:
    app = copy_sample("guestbook", tmp_path)
    assert run(capsys, "sync", str(app))[0] == 0

    code, _, err = run(capsys, "sandbox", "edit", "deployment/guestbook-ui", "-n", "guestbook")

    assert code == 1
    assert (editor / "count").read_text().strip() == "2"
    match = re.search(r"no valid changes were saved; your edit is in (\S+)", err)
    assert match, err
    kept = Path(match.group(1))
    assert "replicas: [5" in kept.read_text()
    kept.unlink()
    assert run(capsys, "plan", str(app))[0] == 0  # the live object is untouched


# --- --target where a verb has none ------------------------------------------------------------


@dataclass(frozen=True)
class TargetCase:
    argv: tuple[str, ...]
    flag: str


TARGET_CASES = [
    TargetCase(("history", "guestbook", "--target", "kube:foo"), "--target kube:foo"),
    TargetCase(("events", "guestbook", "--context", "foo"), "--context foo"),
    TargetCase(("sandbox", "get", "ns", "--target", "kube"), "--target kube"),
    TargetCase(
        ("sandbox", "scale", "deploy/x", "--replicas", "1", "--context", "c"), "--context c"
    ),
    TargetCase(("seal", "--fetch-cert", "--kubeconfig", "/dev/null"), "--kubeconfig /dev/null"),
]


@pytest.mark.parametrize("case", TARGET_CASES, ids=lambda c: " ".join(c.argv[:2]))
def test_a_target_given_to_a_verb_without_one_is_refused(
    capsys: pytest.CaptureFixture[str], case: TargetCase
) -> None:
    code, out, err = run(capsys, *case.argv)
    assert code == 2
    assert out == ""
    assert f"error: {case.flag}: `gitwave {case.argv[0]}" in err
    assert "does not use a target" in err


def test_the_sandbox_named_as_target_is_no_contradiction(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, _, err = run(capsys, "sandbox", "get", "ns", "--target", "sandbox")
    assert code == 0, err
