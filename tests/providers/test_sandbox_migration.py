"""A sandbox database an older gitwave made (schema 1: no digest column) is
migrated when next opened, and a plan over it still shows every change: the
digests the migration writes are those of the objects as stored then, a
writer that replaces an object's JSON without its digest never leaves the old
digest behind, and an app's keys read from the new index are its objects.
Real sandbox, real `gitwave` processes, SQLite as it is on disk."""

from __future__ import annotations

import copy
import json
import os
import sqlite3
import threading
from pathlib import Path

from gitwave.engine import plan_memo
from gitwave.engine.model import LABEL_APP, Resource, ResourceKey
from gitwave.providers.sandbox import SandboxProvider
from gitwave.providers.sandbox.schema import text_digest
from tests.tui.test_cli_plan_fresh import changed_tasks, config_map_repo, git_in, gitwave_run

NAMESPACE = "old"
COUNT = plan_memo.MIN_OBJECTS + 20  # enough objects for the plan memo
SECRET = ResourceKey("", "Secret", NAMESPACE, "db")


def _env(tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "GITWAVE_STATE": str(tmp_path / "state"),
        "GITWAVE_CACHE": str(tmp_path / "cache"),
        "GITWAVE_SANDBOX_ROLLOUT": "0",
        "NO_COLOR": "1",
    }


def _as_schema_1(database: Path) -> None:
    """Make ``database`` what gitwave's schema 1 was: no digest column (nor its
    trigger), the app index without the ids, user_version 1."""
    with sqlite3.connect(database) as db:
        db.execute("DROP TRIGGER objects_digest_stale")
        db.execute("DROP INDEX objects_app_ids")
        db.execute("ALTER TABLE objects DROP COLUMN digest")
        db.execute("CREATE INDEX objects_app ON objects(app) WHERE app IS NOT NULL")
        db.execute("PRAGMA user_version=1")
    db.close()


def _stored(database: Path) -> dict[str, tuple[str, str]]:
    """Each object's id: (stored JSON, stored digest)."""
    with sqlite3.connect(database) as db:
        rows = db.execute("SELECT id, manifest, digest FROM objects").fetchall()
        version = db.execute("PRAGMA user_version").fetchone()[0]
    db.close()
    assert version == 2
    return {row_id: (text, digest) for row_id, text, digest in rows}


def _with_secret(repo: Path) -> None:
    (repo / "secret.yaml").write_text(
        f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\n  namespace: {NAMESPACE}\n"
        "stringData:\n  password: hunter2\n"
    )
    git_in(repo, "add", "-A")
    git_in(repo, "commit", "-qm", "a secret")


def test_an_old_sandbox_is_migrated_and_a_plan_shows_the_edit_made_before(
    tmp_path: Path,
) -> None:
    repo = config_map_repo(tmp_path / "repo", NAMESPACE, COUNT)
    _with_secret(repo)
    env = _env(tmp_path)
    state = tmp_path / "state"
    gitwave_run(env, "sync", str(repo))
    for _ in range(2):  # the plan memo kept: every object's live digest
        assert changed_tasks(gitwave_run(env, "plan", str(repo), "-o", "json")) == {}
    # An edit made live by the older gitwave, whose database has no digests.
    with SandboxProvider(state, rollout_seconds=0.0) as sandbox:
        drifted = ResourceKey("", "ConfigMap", NAMESPACE, "cfg-7")
        live = sandbox.observe(drifted)
        assert live is not None
        edited = copy.deepcopy(live.manifest)
        edited["data"]["n"] = "edited live"
        sandbox.replace_live(drifted, edited)
    _as_schema_1(state / "sandbox.db")

    plan = gitwave_run(env, "plan", str(repo), "-o", "json", code=1)  # 1: changes to sync

    assert changed_tasks(plan) == {
        f"/ConfigMap/{NAMESPACE}/cfg-7": ("update", [("data.n", "edited live", "7")]),
    }
    stored = _stored(state / "sandbox.db")
    assert stored[str(SECRET)][1] == "", "no digest stands for a Secret's values"
    for row_id, (text, digest) in stored.items():
        if row_id != str(SECRET):
            assert digest == text_digest(text), row_id
    # The next plan reads the digests the migration wrote.
    assert changed_tasks(
        gitwave_run(env, "plan", str(repo), "-o", "json", code=1)
    ) == changed_tasks(plan)


def test_an_object_rewritten_without_its_digest_shows_as_drift(tmp_path: Path) -> None:
    # A writer that knows nothing of the digest column (an older gitwave
    # sharing the state directory, a hand-made UPDATE) replaces an object's
    # JSON: its digest must not stay the one the plan memo holds as in sync.
    repo = config_map_repo(tmp_path / "repo", NAMESPACE, COUNT)
    env = _env(tmp_path)
    database = tmp_path / "state" / "sandbox.db"
    gitwave_run(env, "sync", str(repo))
    for _ in range(2):
        assert changed_tasks(gitwave_run(env, "plan", str(repo), "-o", "json")) == {}
    key = f"/ConfigMap/{NAMESPACE}/cfg-9"
    with sqlite3.connect(database) as db:
        (text,) = db.execute("SELECT manifest FROM objects WHERE id = ?", (key,)).fetchone()
        manifest = json.loads(text)
        manifest["data"]["n"] = "rewritten"
        db.execute(
            "UPDATE objects SET manifest = ? WHERE id = ?",
            (json.dumps(manifest, separators=(",", ":")), key),
        )
    db.close()

    plan = gitwave_run(env, "plan", str(repo), "-o", "json", code=1)

    assert changed_tasks(plan) == {key: ("update", [("data.n", "rewritten", "9")])}


def test_two_processes_opening_an_old_sandbox_at_once_migrate_it_once(tmp_path: Path) -> None:
    state = tmp_path / "state"
    with SandboxProvider(state, rollout_seconds=0.0) as sandbox:
        sandbox.apply(_namespace())
        sandbox.apply(_config_map("a", app="one"))
        sandbox.apply(_config_map("b", app="one"))
    _as_schema_1(state / "sandbox.db")
    errors: list[BaseException] = []

    def open_and_read() -> None:
        try:
            with SandboxProvider(state, rollout_seconds=0.0) as other:
                assert sorted(k.name for k in other.tracked_keys("one")) == ["a", "b"]
        except BaseException as exc:  # reported below, with the thread's traceback
            errors.append(exc)

    threads = [threading.Thread(target=open_and_read) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    stored = _stored(state / "sandbox.db")
    assert all(digest == text_digest(text) for text, digest in stored.values())


def test_tracked_keys_name_objects_another_process_wrote_after_a_read(tmp_path: Path) -> None:
    # tracked_keys answers from the keys observe_many was asked for where it
    # can: an object created, or relabelled, by another process after that
    # read is still listed, and one deleted is not.
    state = tmp_path / "state"
    with SandboxProvider(state, rollout_seconds=0.0) as writer:
        writer.apply(_namespace())
        for name in ("a", "b", "c"):
            writer.apply(_config_map(name, app="one"))
        with SandboxProvider(state, rollout_seconds=0.0) as planner:
            desired = [ResourceKey("", "ConfigMap", NAMESPACE, n) for n in ("a", "b", "c")]
            assert all(live is not None for live in planner.observe_many(desired).values())
            writer.apply(_config_map("d", app="one"))  # created live by another source
            writer.apply(_config_map("c", app="two"))  # taken by another app
            writer.delete(desired[0])

            tracked = planner.tracked_keys("one")

    assert [k.name for k in tracked] == ["b", "d"]
    assert tracked == sorted(tracked)


def _namespace() -> Resource:
    manifest = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}}
    return Resource(ResourceKey.of(manifest), "v1", manifest)


def _config_map(name: str, *, app: str) -> Resource:
    manifest = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": NAMESPACE, "labels": {LABEL_APP: app}},
        "data": {"n": name},
    }
    return Resource(ResourceKey.of(manifest), "v1", manifest)
