"""Crossplane fidelity through the CLI (issue 12 item 6): a v1 Composition with
unnamed resources, the claim's and the composite's own connection Secrets, and
their values never printed.

The claim app (Kubernetes objects only) runs in process on the sandbox; the
ProductionDatabase sample with an AWS DBInstance runs `gitwave` in
subprocesses against the embedded moto server, as tests/tui/test_cli_cloud.py
does.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from gitwave.engine.model import ResourceKey
from gitwave.providers.sandbox import SandboxProvider
from tests.tui.cli_support import run, sandbox_state

REPO = Path(__file__).resolve().parents[2]


def shown(key: str) -> str:
    """A ``group/Kind/namespace/name`` key of ``-o json`` as errors print it."""
    return ResourceKey.parse(key).display


CLAIM_APP = REPO / "tests" / "testdata" / "compositions" / "claim-app"
SAMPLE = REPO / "samples" / "production-database"
GITWAVE = Path(sys.executable).parent / "gitwave"
FLAVOUR = "valkey-Qx19-distinct"


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return sandbox_state(tmp_path, monkeypatch)


def secret_values(state: Path, namespace: str, name: str) -> dict[str, str] | None:
    with SandboxProvider(state) as sandbox:
        live = sandbox.observe(ResourceKey("", "Secret", namespace, name))
    if live is None:
        return None
    data = live.manifest.get("data") or {}
    return {key: base64.b64decode(value).decode() for key, value in data.items()}


def test_a_claim_with_unnamed_resources_writes_its_connection_secret(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, state: Path
) -> None:
    app = tmp_path / "claim-app"
    shutil.copytree(CLAIM_APP, app)

    code, out, err = run(capsys, "sync", str(app), "-o", "json")

    assert code == 0, err
    created = [shown(r["key"]) for r in json.loads(out)[0]["resources"] if r["action"] == "created"]
    assert "ConfigMap/team/sessions-configmap-0" in created
    assert "ConfigMap/team/sessions-configmap-1" in created
    # The Secret after the ConfigMap it reads, the Deployment that reads it after it.
    assert created.index("ConfigMap/team/sessions-configmap-0") < created.index(
        "Secret/team/sessions-cache"
    )
    assert created.index("Secret/team/sessions-cache") < created.index("Deployment/team/web")
    assert secret_values(state, "team", "sessions-cache") == {
        "host": "cache.internal",
        "port": "6379",
        "flavour": "redis",
    }
    code, out, _ = run(capsys, "plan", str(app))
    assert code == 0, out
    assert "0 to create, 0 to update, 0 to prune" in out


def test_connection_secret_values_are_never_printed(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, state: Path
) -> None:
    app = tmp_path / "claim-app"
    shutil.copytree(CLAIM_APP, app)
    assert run(capsys, "sync", str(app))[0] == 0
    composition = app / "composition.yaml"
    composition.write_text(composition.read_text().replace("value: redis", f"value: {FLAVOUR}"))
    printed: list[str] = []
    for fmt in ("table", "json", "yaml"):
        code, out, err = run(capsys, "plan", str(app), "-o", fmt)
        assert code == 1, err
        printed += [out, err]
    code, out, err = run(capsys, "plan", str(app), "-o", "json")
    [task] = [
        t
        for w in json.loads(out)[0]["waves"]
        for t in w["tasks"]
        if t["action"] == "update" and t["kind"] == "Secret"
    ]
    assert [c["path"] for c in task["changes"]] == ["data.flavour"]

    code, out, err = run(capsys, "sync", str(app))
    assert code == 0, err
    printed += [out, err]
    assert secret_values(state, "team", "sessions-cache") == {
        "host": "cache.internal",
        "port": "6379",
        "flavour": FLAVOUR,
    }
    for argv in (
        ("status", str(app), "-o", "json"),
        ("status", str(app)),
        ("history", "claim-app", "-o", "json"),
        ("events", "claim-app", "-o", "json"),
        ("sandbox", "get", "secret", "-n", "team", "-o", "yaml"),
    ):
        code, out, err = run(capsys, *argv)
        assert code == 0, (argv, err)
        printed += [out, err]
    encoded = base64.b64encode(FLAVOUR.encode()).decode()
    for text in printed:
        assert FLAVOUR not in text
        assert encoded not in text


def test_the_secret_goes_when_the_claim_stops_asking_for_it(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, state: Path
) -> None:
    app = tmp_path / "claim-app"
    shutil.copytree(CLAIM_APP, app)
    assert run(capsys, "sync", str(app))[0] == 0
    claim = app / "claim.yaml"
    claim.write_text(claim.read_text().split("  writeConnectionSecretToRef:")[0])
    deployment = app / "deployment.yaml"
    deployment.unlink()

    # 2 of 5 objects: past the prune guard's default limit, hence --confirm-prune.
    code, out, err = run(capsys, "sync", str(app), "--prune", "--confirm-prune")

    assert code == 0, err
    assert "Secret/team/sessions-cache" in out
    assert secret_values(state, "team", "sessions-cache") is None


# --- the ProductionDatabase sample on the embedded AWS emulator (subprocesses) -------


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


@pytest.mark.slow  # fresh `gitwave` processes, each starting the AWS emulator
def test_the_composites_secret_copies_the_rds_instances_connection_details(
    tmp_path: Path,
) -> None:
    app = tmp_path / "production-database"
    shutil.copytree(SAMPLE, app)
    database = app / "database.yaml"
    database.write_text(
        database.read_text()
        + "  writeConnectionSecretToRef:\n    name: shop-db-connection\n    namespace: store\n"
    )
    state = tmp_path / "state"

    synced = gitwave(state, "sync", str(app), "-o", "json")

    assert synced.returncode == 0, synced.stderr
    created = [shown(r["key"]) for r in json.loads(synced.stdout)[0]["resources"]]
    assert created.index("DBInstance/shop-db") < created.index("Secret/store/shop-db-connection")
    composite = secret_values(state, "store", "shop-db-connection")
    managed = secret_values(state, "store", "shop-db-postgresql")
    assert composite is not None and managed is not None
    assert set(composite) == {"username", "password", "endpoint", "port"}
    assert composite == {k: managed[k] for k in composite}
    assert composite["endpoint"].endswith(".rds.amazonaws.com")
    printed = [synced.stdout, synced.stderr]
    plan = gitwave(state, "plan", str(app), "-o", "json")
    assert plan.returncode == 0, plan.stdout + plan.stderr
    for argv in (("status", str(app), "-o", "json"), ("history", "production-database")):
        result = gitwave(state, *argv)
        assert result.returncode == 0, result.stderr
        printed += [result.stdout, result.stderr]
    password = composite["password"]
    for text in [*printed, plan.stdout]:
        assert password not in text
        assert base64.b64encode(password.encode()).decode() not in text


# --- composite status: Synced and Ready, as Crossplane sets them -----------------------


def test_status_shows_the_claims_synced_and_ready_conditions(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, state: Path
) -> None:
    app = tmp_path / "claim-app"
    shutil.copytree(CLAIM_APP, app)
    code, out, err = run(capsys, "status", str(app))
    assert code == 0, err
    lines = out.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("NAME"))
    # Before any sync nothing is applied: Synced False, naming what is missing.
    assert lines[header].split() == ["NAME", "SYNCED", "READY", "STATUS"]
    assert lines[header + 1].split()[:3] == ["Cache/team/sessions", "False", "False"]
    assert "OutOfSync: Composed resources not applied as composed:" in lines[header + 1]

    assert run(capsys, "sync", str(app))[0] == 0
    code, out, err = run(capsys, "status", str(app))
    assert code == 0, err
    lines = out.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("NAME"))
    rows = [line.split(maxsplit=4) for line in lines[header + 1 :] if line.strip()]
    # configmap-1 has no readiness check: Crossplane's default waits for a Ready
    # condition a ConfigMap never reports, so the claim stays Creating.
    assert rows[0] == [
        "Cache/team/sessions",
        "True",
        "False",
        "Creating:",
        "Unready resources: configmap-1",
    ]
    assert rows[1][:4] == ["├─", "ConfigMap/team/sessions-configmap-0", "True", "True"]
    assert rows[2][:4] == ["├─", "ConfigMap/team/sessions-configmap-1", "True", "False"]
    assert rows[3][:4] == ["└─", "Secret/team/sessions-cache", "True", "True"]

    code, out, _ = run(capsys, "status", str(app), "-o", "json")
    [composite] = json.loads(out)[0]["composites"]
    assert shown(composite["composite"]) == "Cache/team/sessions"
    assert composite["conditions"] == [
        {"type": "Synced", "status": "True", "reason": "ReconcileSuccess"},
        {
            "type": "Ready",
            "status": "False",
            "reason": "Creating",
            "message": "Unready resources: configmap-1",
        },
    ]
    assert [r["name"] for r in composite["resources"]] == ["configmap-0", "configmap-1"]
    assert composite["connectionDetails"] == ["flavour", "host", "port"]


def test_status_says_ready_once_every_composed_resource_is(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, state: Path
) -> None:
    app = tmp_path / "claim-app"
    shutil.copytree(CLAIM_APP, app)
    composition = app / "composition.yaml"
    composition.write_text(
        composition.read_text().replace(
            "          mode: lru\n",
            "          mode: lru\n      readinessChecks:\n        - type: None\n",
        )
    )
    assert run(capsys, "sync", str(app))[0] == 0

    code, out, err = run(capsys, "status", str(app), "-o", "json")

    assert code == 0, err
    [composite] = json.loads(out)[0]["composites"]
    assert composite["ready"] is True and composite["synced"] is True
    assert composite["conditions"][1] == {"type": "Ready", "status": "True", "reason": "Available"}


# --- Upbound's provider-aws kinds ----------------------------------------------------

UPBOUND_APP = REPO / "tests" / "testdata" / "compositions" / "upbound-app"


@pytest.mark.slow  # fresh `gitwave` processes, each starting the AWS emulator
def test_a_composition_of_upbound_kinds_syncs_onto_the_aws_handlers(tmp_path: Path) -> None:
    app = tmp_path / "upbound-app"
    shutil.copytree(UPBOUND_APP, app)
    state = tmp_path / "state"

    synced = gitwave(state, "sync", str(app), "-o", "json")

    assert synced.returncode == 0, synced.stdout + synced.stderr
    created = [shown(r["key"]) for r in json.loads(synced.stdout)[0]["resources"]]
    assert created.index("SubnetGroup/shop-db-subnetgroup-0") < created.index(
        "Instance/shop-db-instance-2"
    )
    assert created.index("Instance/shop-db-instance-2") < created.index("Secret/store/shop-db-conn")
    details = secret_values(state, "store", "shop-db-conn")
    assert details is not None
    assert set(details) == {"username", "password", "address", "port", "endpoint"}
    assert details["username"] == "shopadmin"
    assert details["endpoint"] == f"{details['address']}:{details['port']}"
    plan = gitwave(state, "plan", str(app))
    assert plan.returncode == 0, plan.stdout + plan.stderr
    status = gitwave(state, "status", str(app), "-o", "json")
    [composite] = json.loads(status.stdout)[0]["composites"]
    assert composite["ready"] is True, composite
    assert [shown(r["key"]) for r in composite["resources"]] == [
        "SubnetGroup/shop-db-subnetgroup-0",
        "SecurityGroup/shop-db-securitygroup-1",
        "Instance/shop-db-instance-2",
        "MetricAlarm/shop-db-metricalarm-3",
    ]
    for text in (synced.stdout, synced.stderr, plan.stdout, status.stdout):
        assert details["password"] not in text


@pytest.mark.slow  # a fresh `gitwave` process
def test_an_upbound_kind_gitwave_does_not_map_is_refused_and_nothing_applied(
    tmp_path: Path,
) -> None:
    app = tmp_path / "upbound-app"
    shutil.copytree(UPBOUND_APP, app)
    (app / "queue.yaml").write_text(
        "apiVersion: sqs.aws.upbound.io/v1beta1\nkind: Queue\nmetadata:\n  name: orders\n"
        "spec:\n  forProvider:\n    region: us-east-1\n"
    )
    state = tmp_path / "state"

    result = gitwave(state, "sync", str(app))

    assert result.returncode == 2, result.stdout + result.stderr
    assert "Queue/orders" in result.stderr
    assert "Queue (sqs.aws.upbound.io/v1beta1) is not supported" in result.stderr
    assert "Instance.rds.aws.upbound.io/v1beta1" in result.stderr
    assert secret_values(state, "store", "shop-db-conn") is None
    listed = gitwave(state, "sandbox", "get", "namespace", "-o", "json")
    assert "store" not in {i["metadata"]["name"] for i in json.loads(listed.stdout)["items"]}
