"""Who owns what, as a user meets it on the command line (issue 10 items 8, 9, 12):
two apps of one name, an app that would take over another's objects, kinds
never pruned implicitly, and the objects of a child app removed from an app of
apps. Everything runs on the embedded sandbox."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from gitwave.engine.model import ANNOTATION_TRACKING_ID
from tests.tui.cli_support import git_repo, run, sandbox_state

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "samples"


@pytest.fixture(autouse=True)
def sandbox_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return sandbox_state(tmp_path, monkeypatch)


def live_objects(capsys: pytest.CaptureFixture[str]) -> dict[str, dict[str, Any]]:
    """Every live object in the sandbox by ``Kind/namespace/name``."""
    code, out, err = run(capsys, "sandbox", "get", "-A", "-o", "json")
    assert code == 0, err
    found = {}
    for item in json.loads(out)["items"]:
        meta = item["metadata"]
        found[f"{item['kind']}/{meta.get('namespace', '')}/{meta['name']}"] = item
    return found


def versions(capsys: pytest.CaptureFixture[str]) -> dict[str, str]:
    return {k: v["metadata"].get("resourceVersion", "") for k, v in live_objects(capsys).items()}


def config_map(name: str, namespace: str, value: str) -> str:
    return (
        f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  namespace: {namespace}\n"
        f"data:\n  owner: {value}\n"
    )


# --- item 8: app identity ------------------------------------------------------------


def test_two_apps_of_one_name_from_different_paths_never_touch_each_others_objects(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    repo = git_repo(
        tmp_path / "repo",
        {
            "teamx/prod/settings.yaml": config_map("teamx-settings", "default", "teamx"),
            "teamy/prod/settings.yaml": config_map("teamy-settings", "default", "teamy"),
        },
    )
    code, _, err = run(capsys, "sync", str(repo / "teamx" / "prod"))
    assert code == 0, err
    before = versions(capsys)
    assert "ConfigMap/default/teamx-settings" in before

    for verb in (["plan", "--prune"], ["sync", "--prune"]):
        code, out, err = run(capsys, verb[0], str(repo / "teamy" / "prod"), *verb[1:])
        assert code == 2, out
        assert "ConfigMap/default/teamx-settings is managed by app prod (source " in err
        assert "this app is prod (source " in err and "teamy/prod" in err
        assert "--adopt" in err
        assert versions(capsys) == before  # nothing created, updated or deleted

    code, out, err = run(capsys, "sync", str(repo / "teamy" / "prod"), "--prune", "--adopt")
    assert code == 0, err
    after = live_objects(capsys)
    assert "ConfigMap/default/teamx-settings" not in after
    owner = after["ConfigMap/default/teamy-settings"]["metadata"]["annotations"]
    assert owner[ANNOTATION_TRACKING_ID].startswith("prod@")


def test_an_app_never_takes_over_the_objects_another_app_synced(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    samples = tmp_path / "repo"
    shutil.copytree(SAMPLES / "kustomize", samples / "samples" / "kustomize")
    git_repo(samples, {})
    # --wait: the rollout settles first, so later snapshots differ only by what a sync did.
    code, _, err = run(
        capsys, "sync", str(samples / "samples" / "kustomize"), "--app", "web-production", "--wait"
    )
    assert code == 0, err
    before = live_objects(capsys)
    tracked = before["Deployment/web-production/web"]["metadata"]["annotations"]
    assert tracked[ANNOTATION_TRACKING_ID].startswith("web-production@")

    overlay = samples / "samples" / "kustomize" / "overlays" / "production"
    code, out, err = run(capsys, "sync", str(overlay))
    assert code == 2, out
    assert "is managed by app web-production (source " in err
    assert "this app is production (source " in err
    assert live_objects(capsys) == before  # nothing updated

    code, out, err = run(capsys, "sync", str(overlay), "--adopt")
    assert code == 0, err
    taken = live_objects(capsys)["Deployment/web-production/web"]["metadata"]["annotations"]
    assert taken[ANNOTATION_TRACKING_ID].startswith("production@")
    code, out, err = run(
        capsys, "plan", str(samples / "samples" / "kustomize"), "--app", "web-production"
    )
    assert code == 2 and "is managed by app production" in err


def test_objects_synced_by_an_older_gitwave_stay_the_apps_and_get_the_new_tracking_id(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = git_repo(
        tmp_path / "repo",
        {
            "prod/settings.yaml": config_map("settings", "default", "x"),
            "prod/old.yaml": config_map("old", "default", "x"),
        },
    )
    assert run(capsys, "sync", str(repo / "prod"))[0] == 0
    # What an older gitwave wrote: the tracking id without the source.
    monkeypatch.setenv("EDITOR", "sed -i s/prod@[0-9a-f]*:/prod:/")
    for name in ("settings", "old"):
        code, _, err = run(capsys, "sandbox", "edit", f"configmap/{name}", "-n", "default")
        assert code == 0, err
        annotations = live_objects(capsys)[f"ConfigMap/default/{name}"]["metadata"]["annotations"]
        assert annotations[ANNOTATION_TRACKING_ID] == f"prod:/ConfigMap:default/{name}"
    (repo / "prod" / "old.yaml").unlink()

    code, out, err = run(capsys, "plan", str(repo / "prod"), "--prune")
    assert code == 1, err
    assert (
        'metadata.annotations["gitwave.dev/tracking-id"]: prod:/ConfigMap:default/settings' in out
    )
    assert "- ConfigMap/default/old (prune)" in out

    code, out, err = run(capsys, "sync", str(repo / "prod"), "--prune")
    assert code == 0, err
    after = live_objects(capsys)
    assert "ConfigMap/default/old" not in after
    rewritten = after["ConfigMap/default/settings"]["metadata"]["annotations"]
    assert rewritten[ANNOTATION_TRACKING_ID].startswith("prod@")
    assert run(capsys, "plan", str(repo / "prod"), "--prune")[0] == 0


def test_an_object_made_by_hand_is_adopted_as_argo_cd_does(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = git_repo(
        tmp_path / "repo", {"prod/settings.yaml": config_map("settings", "default", "x")}
    )
    assert run(capsys, "sync", str(repo / "prod"))[0] == 0
    monkeypatch.setenv("EDITOR", "sed -i /gitwave.dev.tracking-id/d")
    assert run(capsys, "sandbox", "edit", "configmap/settings", "-n", "default")[0] == 0

    code, out, err = run(capsys, "plan", str(repo / "prod"))
    assert code == 1, err
    assert 'metadata.annotations["gitwave.dev/tracking-id"]: (unset) -> prod@' in out
    assert run(capsys, "sync", str(repo / "prod"))[0] == 0
    assert run(capsys, "plan", str(repo / "prod"))[0] == 0


# --- item 9: never pruned implicitly ---------------------------------------------------


def test_namespaces_and_volume_claims_are_kept_on_prune_unless_marked_prune_true(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    namespace = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: team\n"
    claim = (
        "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata:\n  name: data\n"
        "  namespace: team\nspec:\n  accessModes: [ReadWriteOnce]\n"
        "  resources:\n    requests:\n      storage: 1Gi\n"
    )
    repo = git_repo(
        tmp_path / "repo",
        {
            "app/namespace.yaml": namespace,
            "app/claim.yaml": claim,
            "app/settings.yaml": config_map("settings", "team", "x"),
        },
    )
    assert run(capsys, "sync", str(repo / "app"))[0] == 0
    for name in ("namespace.yaml", "claim.yaml", "settings.yaml"):
        (repo / "app" / name).unlink()
    (repo / "app" / "other.yaml").write_text(config_map("other", "default", "x"))

    code, out, err = run(capsys, "plan", str(repo / "app"), "--prune")
    assert code == 1, err
    assert "- ConfigMap/team/settings (prune)" in out
    assert (
        "kept: Namespace/team (Namespaces are not pruned implicitly: deleting one deletes "
        "everything in it; add the sync option Prune=true to the object, or "
        "PruneProtectedKinds=true to the app)"
    ) in out
    assert "kept: PersistentVolumeClaim/team/data (PersistentVolumeClaims are not" in out

    code, out, err = run(capsys, "sync", str(repo / "app"), "--prune")
    assert code == 0, err
    after = live_objects(capsys)
    assert "ConfigMap/team/settings" not in after
    assert "Namespace//team" in after and "PersistentVolumeClaim/team/data" in after


# --- item 12: a child app removed from an app of apps ----------------------------------


def app_of_apps(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    for name in ("app-of-apps", "guestbook", "waves"):
        shutil.copytree(SAMPLES / name, repo / "samples" / name)
    return git_repo(repo, {})


def test_removing_a_child_app_prunes_its_objects_with_the_parents_prune(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    repo = app_of_apps(tmp_path)
    parent = str(repo / "samples" / "app-of-apps")
    code, out, err = run(capsys, "sync", parent)
    assert code == 0, err
    assert "Deployment/guestbook/guestbook-ui" in live_objects(capsys)
    (repo / "samples" / "app-of-apps" / "apps" / "guestbook.yaml").unlink()

    code, out, err = run(capsys, "status", parent, "-o", "json")
    assert code == 0, err
    gone = [s for s in json.loads(out) if s["app"] == "guestbook (removed from app-of-apps)"]
    assert [s["sync"] for s in gone] == ["OutOfSync"]

    code, out, err = run(capsys, "plan", parent)
    assert code == 1, err
    assert "guestbook (removed from app-of-apps) @" in out
    assert "- Deployment/guestbook/guestbook-ui (prune)" in out
    assert "kept: Namespace/guestbook (Namespaces are not pruned implicitly" in out

    # Every object of the removed child goes: past the prune guard's limit.
    assert "guard: a sync stops here" in out
    code, out, err = run(capsys, "sync", parent)
    assert code == 2, out
    assert "refusing to sync app guestbook: prune of 3 of 3 objects (100%)" in err
    assert "Deployment/guestbook/guestbook-ui" in live_objects(capsys)

    code, out, err = run(capsys, "sync", parent, "--confirm-prune")  # the parent's policy prunes
    assert code == 0, err
    after = live_objects(capsys)
    assert not [k for k in after if k.startswith(("Deployment/guestbook/", "Service/guestbook/"))]
    assert "Namespace//guestbook" in after
    assert "Deployment/shop/shop-api" in after  # the other child is untouched
    code, out, err = run(capsys, "plan", parent)
    assert code == 0, out
    assert "removed from" not in out


def test_a_child_app_without_the_finalizer_leaves_its_objects_as_argo_cd_does(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    repo = app_of_apps(tmp_path)
    child = repo / "samples" / "app-of-apps" / "apps" / "guestbook.yaml"
    child.write_text(child.read_text().replace("- resources-finalizer.argocd.argoproj.io", ""))
    child.write_text(child.read_text().replace("  finalizers:\n", ""))
    parent = str(repo / "samples" / "app-of-apps")
    assert run(capsys, "sync", parent)[0] == 0

    def guestbook() -> dict[str, str]:
        return {k: v for k, v in versions(capsys).items() if "guestbook" in k}

    before = guestbook()
    assert "Deployment/guestbook/guestbook-ui" in before
    child.unlink()

    code, out, err = run(capsys, "plan", parent)
    assert code == 0, err
    assert (
        "kept: Deployment/guestbook/guestbook-ui (app guestbook was removed from app-of-apps "
        "without Argo CD's resources-finalizer" in out
    )
    assert run(capsys, "sync", parent)[0] == 0
    assert guestbook() == before  # left running, untouched
    code, out, err = run(capsys, "plan", parent)
    assert "removed from" not in out  # forgotten once the parent synced
