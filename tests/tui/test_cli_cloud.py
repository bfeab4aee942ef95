"""The ProductionDatabase sample end to end: one graph of cloud and Kubernetes
objects, synced onto the sandbox with AWS kinds on the embedded emulator.

The CLI runs in subprocesses: the emulator keeps moto's state in the process
that runs it, and each `gitwave` invocation is a process of its own, as for a
user.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from gitwave.engine.model import ResourceKey


def shown(key: str) -> str:
    """A ``group/Kind/namespace/name`` key of ``-o json`` as errors print it."""
    return ResourceKey.parse(key).display


REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "samples" / "production-database"
GITWAVE = Path(sys.executable).parent / "gitwave"

# Every step is a fresh `gitwave` process that starts the AWS emulator: about
# a minute for the module on 2 idle cores. `make test` runs it; `make test-fast` does not.
pytestmark = pytest.mark.slow


def gitwave(state: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "GITWAVE_STATE": str(state),
        "GITWAVE_SANDBOX_ROLLOUT": "0.05",
        "NO_COLOR": "1",
    }
    return subprocess.run(
        [str(GITWAVE), *argv], capture_output=True, text=True, env=env, check=False, timeout=240
    )


@pytest.fixture(scope="module")
def synced(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, object]]:
    state = tmp_path_factory.mktemp("state")
    result = gitwave(state, "sync", str(SAMPLE), "-o", "json")
    assert result.returncode == 0, result.stderr
    (doc,) = json.loads(result.stdout)  # a list of apps, even for one
    return state, doc


def test_one_sync_brings_up_cloud_and_kubernetes_in_dependency_order(
    synced: tuple[Path, dict[str, object]],
) -> None:
    _, result = synced
    assert result["phase"] == "Succeeded"
    created = [
        shown(r["key"])
        for r in result["resources"]  # type: ignore[attr-defined]
        if r["action"] == "created"
    ]
    for first, then in [
        ("DBSubnetGroup/shop-db-subnets", "DBInstance/shop-db"),
        ("SecurityGroup/shop-db-sg", "DBInstance/shop-db"),
        ("DBInstance/shop-db", "ConfigMap/store/shop-db-endpoint"),
        ("DBInstance/shop-db", "Deployment/store/api"),
        ("ConfigMap/store/shop-db-endpoint", "Deployment/store/api"),
    ]:
        assert created.index(first) < created.index(then), (first, then, created)


def test_outputs_say_aws_is_the_embedded_emulator_and_plan_is_clean(
    synced: tuple[Path, dict[str, object]],
) -> None:
    state, _ = synced
    result = gitwave(state, "plan", str(SAMPLE))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "AWS: embedded emulator" in result.stdout


def test_connection_secret_written_and_password_never_printed(
    synced: tuple[Path, dict[str, object]],
) -> None:
    state, _ = synced
    result = gitwave(
        state, "sandbox", "get", "secret/shop-db-postgresql", "-n", "store", "-o", "json"
    )
    assert result.returncode == 0, result.stderr
    secret = json.loads(result.stdout)
    assert set(secret["data"]) >= {"endpoint", "port", "username", "password"}
    assert set(secret["data"].values()) == {"***"}


def test_graph_shows_cloud_and_kubernetes_nodes_in_one_dag(
    synced: tuple[Path, dict[str, object]],
) -> None:
    state, _ = synced
    result = gitwave(state, "graph", str(SAMPLE), "-o", "json")
    assert result.returncode == 0, result.stderr
    (graph,) = json.loads(result.stdout)  # one document: a list of apps
    edges = {(shown(u), shown(v)) for u, v in graph["edges"]}
    assert ("DBInstance/shop-db", "Deployment/store/api") in edges
    assert ("Namespace/store", "Deployment/store/api") in edges


def test_cloud_drift_is_shown_and_healed(tmp_path: Path) -> None:
    state = tmp_path / "state"
    assert gitwave(state, "sync", str(SAMPLE)).returncode == 0
    # Someone changes the instance class in the console: here, straight
    # through boto3 against the emulator restored from gitwave's snapshot.
    script = f"""
import boto3
from gitwave.providers.aws import embedded_moto
emulator = embedded_moto(state_dir={str(state)!r})
config = emulator.config()
rds = boto3.client("rds", region_name=config.region, endpoint_url=config.endpoint_url,
    aws_access_key_id=config.credentials.access_key_id,
    aws_secret_access_key=config.credentials.secret_access_key)
rds.modify_db_instance(DBInstanceIdentifier="shop-db", DBInstanceClass="db.t3.2xlarge",
    ApplyImmediately=True)
emulator.save()
emulator.close()
"""
    subprocess.run([sys.executable, "-c", script], check=True, capture_output=True, timeout=120)
    plan = gitwave(state, "plan", str(SAMPLE), "-o", "json")
    assert plan.returncode == 1, plan.stderr
    changed = [
        t
        for w in json.loads(plan.stdout)[0]["waves"]
        for t in w["tasks"]
        if t["action"] == "update"
    ]
    assert [t["kind"] for t in changed] == ["DBInstance"]
    assert changed[0]["changes"] == [
        {
            "path": "spec.forProvider.dbInstanceClass",
            "op": "replace",
            "live": "db.t3.2xlarge",
            "desired": "db.t3.medium",
        }
    ]
    assert gitwave(state, "sync", str(SAMPLE)).returncode == 0
    assert gitwave(state, "plan", str(SAMPLE)).returncode == 0


def test_status_shows_the_composite_as_a_tree(synced: tuple[Path, dict[str, object]]) -> None:
    state, _ = synced
    result = gitwave(state, "status", str(SAMPLE))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    root = next(i for i, line in enumerate(lines) if line.startswith("ProductionDatabase/"))
    assert lines[root].split() == ["ProductionDatabase/shop-db", "True", "True", "Available"]
    children = [line.split()[1] for line in lines[root + 1 :] if line.startswith(("├", "└"))]
    assert set(children) == {
        "SecurityGroup/shop-db-sg",
        "DBSubnetGroup/shop-db-subnets",
        "DBInstance/shop-db",
        "MetricAlarm/shop-db-alarm",
        "ConfigMap/store/shop-db-endpoint",
    }
    (data,) = json.loads(gitwave(state, "status", str(SAMPLE), "-o", "json").stdout)
    [composite] = data["composites"]
    assert composite["ready"] is True
    assert composite["conditions"] == [
        {"type": "Synced", "status": "True", "reason": "ReconcileSuccess"},
        {"type": "Ready", "status": "True", "reason": "Available"},
    ]
    assert "password" in composite["connectionDetails"]
    assert "password" not in json.dumps(composite["resources"])


def test_an_invalid_composite_is_refused_naming_the_field_and_nothing_is_applied(
    tmp_path: Path,
) -> None:
    import shutil

    app = tmp_path / "production-database"
    shutil.copytree(SAMPLE, app)
    database = app / "database.yaml"
    database.write_text(database.read_text().replace("storageGB: 50", "storageGB: fifty"))
    state = tmp_path / "state"
    result = gitwave(state, "sync", str(app))
    assert result.returncode == 2
    assert "ProductionDatabase/shop-db" in result.stderr
    assert "spec.parameters.storageGB" in result.stderr
    listed = gitwave(state, "sandbox", "get", "-A", "-o", "json")
    names = {item["metadata"]["name"] for item in json.loads(listed.stdout)["items"]}
    assert "store" not in names and "api" not in names
    assert not (state / "aws-emulator.pickle").exists()


def test_the_readme_walkthrough_syncs_the_samples_side_by_side(tmp_path: Path) -> None:
    # README: `make demo` (app of apps: guestbook, waves), then the database
    # sample into the same state. No two samples may claim one object, or the
    # second sync stops on the other app's object.
    state = tmp_path / "state"
    demo = gitwave(state, "sync", str(REPO / "samples" / "app-of-apps"))
    assert demo.returncode == 0, demo.stdout + demo.stderr
    database = gitwave(state, "sync", str(SAMPLE))
    assert database.returncode == 0, database.stdout + database.stderr


def test_an_app_on_another_cluster_gets_its_connection_secret_there(tmp_path: Path) -> None:
    """Cloud kinds go to the one AWS (the emulator); the DB's connection Secret
    lands in the app's destination cluster, as Crossplane's provider running in
    that cluster writes it, and nothing of the app in the current target."""
    state = tmp_path / "state"
    added = gitwave(state, "cluster", "add", "east", "--sandbox", "--server", EAST)
    assert added.returncode == 0, added.stderr
    repo = tmp_path / "repo"
    shutil.copytree(SAMPLE, repo / "db")
    (repo / "apps.yaml").write_text(
        "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: db\n"
        "spec:\n  source: {repoURL: ., path: db}\n"
        f"  destination: {{server: '{EAST}', namespace: store}}\n"
    )
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com"}
    env |= {"GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "init"]):
        subprocess.run(["git", *args], cwd=repo, env=env, check=True)

    synced = gitwave(state, "sync", str(repo))
    assert synced.returncode == 0, synced.stdout + synced.stderr
    assert "-> east (https://127.0.0.2:6443)" in synced.stdout

    there = gitwave(
        state, "sandbox", "get", "secret/shop-db-postgresql", "-n", "store", "--cluster", "east"
    )
    assert there.returncode == 0, there.stderr
    here = gitwave(state, "sandbox", "get", "secret/shop-db-postgresql", "-n", "store")
    assert here.returncode != 0
    assert "not found" in here.stdout + here.stderr
    status = gitwave(state, "status", str(repo), "-o", "json")
    (doc,) = json.loads(status.stdout)  # the DB read back through east's view: in sync
    assert (doc["sync"], doc["destination"]["cluster"]) == ("Synced", "east"), status.stdout


EAST = "https://127.0.0.2:6443"


def test_a_kubernetes_only_app_does_not_start_the_emulator_a_cloud_app_left_a_snapshot(
    synced: tuple[Path, dict[str, object]], tmp_path: Path
) -> None:
    """Issue 13: status of an app with no AWS object never starts the emulator,
    even in a state directory where another app's cloud objects live."""
    state, _ = synced
    assert (state / "aws-emulator.pickle").exists()
    apps = json.loads((state / "aws-emulator-apps.json").read_text())["apps"]
    assert apps == ["production-database"]  # noted when its objects were written
    guestbook = tmp_path / "guestbook"
    shutil.copytree(REPO / "samples" / "guestbook", guestbook)
    probe = (
        "import sys\n"
        "from gitwave.tui.cli import main\n"
        "code = main(sys.argv[1:])\n"
        "print('moto loaded' if 'moto' in sys.modules else 'no moto', file=sys.stderr)\n"
        "sys.exit(code)\n"
    )
    for verb in ("status", "plan"):
        result = subprocess.run(
            [sys.executable, "-c", probe, verb, str(guestbook)],
            capture_output=True,
            text=True,
            env={**os.environ, "GITWAVE_STATE": str(state), "NO_COLOR": "1"},
            check=False,
            timeout=240,
        )
        assert result.returncode in (0, 1), result.stderr
        assert result.stderr.strip().splitlines()[-1] == "no moto", (verb, result.stderr)
    # The cloud app itself still reads its objects from the snapshot.
    shown_status = gitwave(state, "status", str(SAMPLE))
    assert "DBInstance/shop-db" in shown_status.stdout


def test_cloud_objects_removed_from_git_are_still_found_to_prune(tmp_path: Path) -> None:
    """The other side of the emulator index: an app whose cloud objects all
    left Git declares none, yet its leftovers in the snapshot are found."""
    app = tmp_path / "production-database"
    shutil.copytree(SAMPLE, app)
    state = tmp_path / "state"
    assert gitwave(state, "sync", str(app)).returncode == 0
    (app / "database.yaml").unlink()
    (app / "deployment.yaml").unlink()
    result = gitwave(state, "plan", str(app), "--prune", "-o", "json")
    assert result.returncode == 1, result.stderr  # changes: the leftovers go
    assert "DBInstance" in result.stdout and "shop-db" in result.stdout
