"""Policies and normalised values through a whole sync on the AWS emulator
(issue 10 item 11): an orphaned resource leaves the inventory at once, an
observe-only one is Synced once observed, and a value AWS normalises is no
drift after a successful sync.

Driven through the operations layer as `gitwave plan` / `gitwave sync` do,
with the real AWS provider and sandbox.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from gitwave.engine import operations
from gitwave.engine.apps import load_apps
from gitwave.engine.model import Action, ChangeAction, SyncStatus
from gitwave.engine.operations import AppState, Synced, SyncRequest
from gitwave.engine.plan_report import format_plan, plan_to_dict
from gitwave.engine.router import ProviderRouter
from gitwave.engine.store import Store
from gitwave.providers.aws import TAG_APP, AwsProvider

from .conftest import REGION, Secrets

Boto = Callable[..., Any]


def _queue(name: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "sqs.aws.crossplane.io/v1beta1",
        "kind": "Queue",
        "metadata": {"name": name},
        "spec": {"forProvider": {"region": REGION, "visibilityTimeout": 30}, **spec},
    }


class _App:
    """An app directory on disk, synced through the operations layer."""

    def __init__(self, tmp_path: Path, name: str, targets: ProviderRouter) -> None:
        self.dir = tmp_path / name
        self.dir.mkdir()
        self.name = name
        self.targets = targets
        self.store = Store(tmp_path / "state" / "gitwave.db")

    def write(self, file: str, manifest: dict[str, Any]) -> None:
        (self.dir / file).write_text(yaml.safe_dump(manifest))

    def plan(self) -> AppState:
        _, (app,) = load_apps(str(self.dir))
        return operations.plan(app, SyncRequest(prune=True), targets=self.targets)

    def sync(self, *, wave_timeout_s: float = 300) -> Synced:
        _, (app,) = load_apps(str(self.dir))
        request = SyncRequest(prune=True, wave_timeout_s=wave_timeout_s, retry=False)
        return operations.sync_app(app, targets=self.targets, store=self.store, request=request)


def _targets(make_provider: Callable[..., AwsProvider], secrets: Secrets) -> ProviderRouter:
    return ProviderRouter([make_provider(), secrets.sandbox])


def _changes(state: AppState) -> list[str]:
    return [
        f"{t.key.display} {t.action.value} {[c.path for c in t.changes]}"
        for t in state.plan.tasks()
        if t.action is not Action.NONE
    ]


def test_an_orphaned_resource_leaves_the_inventory_at_once(
    tmp_path: Path,
    make_provider: Callable[..., AwsProvider],
    secrets: Secrets,
    boto: Boto,
    uid: str,
) -> None:
    app = _App(tmp_path, f"orphans-{uid}", _targets(make_provider, secrets))
    kept, stays = f"kept-{uid}", f"stays-{uid}"
    app.write("kept.yaml", _queue(kept, deletionPolicy="Orphan"))
    app.write("stays.yaml", _queue(stays))
    assert app.sync().result.ok

    (app.dir / "kept.yaml").unlink()
    planned = app.plan()
    text = format_plan(planned.plan)
    assert f"Queue/{kept} (prune: orphaned, deletionPolicy is Orphan)" in text
    pruned = [
        t for w in plan_to_dict(planned.plan)["waves"] for t in w["tasks"] if t["name"] == kept
    ]
    assert pruned[0]["action"] == "prune" and pruned[0]["orphan"] == "deletionPolicy is Orphan"

    # A short wave timeout: the prune must not wait for an object it keeps.
    synced = app.sync(wave_timeout_s=5)

    assert synced.result.ok, synced.result.message
    entry = next(e for e in synced.result.changeset.entries if e.key.name == kept)
    assert entry.action is ChangeAction.ORPHANED
    assert "left in AWS: deletionPolicy is Orphan" in entry.message
    last = app.store.last(app.name)
    assert last is not None
    [outcome] = [o for o in app.store.get(last.id).outcomes if o.key.name == kept]
    assert outcome.action is ChangeAction.ORPHANED
    # Still in AWS, no longer gitwave's: the next plan has nothing to prune.
    url = boto("sqs").get_queue_url(QueueName=kept)["QueueUrl"]
    assert TAG_APP not in boto("sqs").list_queue_tags(QueueUrl=url).get("Tags", {})
    after = app.plan()
    assert _changes(after) == []
    assert SyncStatus.of_plan(after.plan) is SyncStatus.SYNCED


def test_an_observe_only_resource_is_synced_once_observed_and_never_written(
    tmp_path: Path,
    make_provider: Callable[..., AwsProvider],
    secrets: Secrets,
    boto: Boto,
    uid: str,
) -> None:
    name = f"watched-{uid}"
    url = boto("sqs").create_queue(QueueName=name, Attributes={"VisibilityTimeout": "7"})[
        "QueueUrl"
    ]
    app = _App(tmp_path, f"observe-{uid}", _targets(make_provider, secrets))
    observed = _queue(name, managementPolicies=["Observe"])
    observed["metadata"]["annotations"] = {"crossplane.io/external-name": name}
    app.write("queue.yaml", observed)

    before = app.plan()
    assert _changes(before) == [], "Git's values for an observe-only resource are no drift"
    assert SyncStatus.of_plan(before.plan) is SyncStatus.SYNCED
    synced = app.sync()
    assert synced.result.ok, synced.result.message
    after = app.plan()
    assert SyncStatus.of_plan(after.plan) is SyncStatus.SYNCED
    assert operations.app_health(after, targets=app.targets).code.value == "Healthy"
    attributes = boto("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["All"])
    assert attributes["Attributes"]["VisibilityTimeout"] == "7", "never applied"


def test_values_aws_normalises_are_no_drift_after_a_sync(
    tmp_path: Path,
    make_provider: Callable[..., AwsProvider],
    secrets: Secrets,
    boto: Boto,
    uid: str,
) -> None:
    name = f"windows-{uid}"
    app = _App(tmp_path, f"rds-{uid}", _targets(make_provider, secrets))
    app.write(
        "db.yaml",
        {
            "apiVersion": "rds.aws.crossplane.io/v1alpha1",
            "kind": "DBInstance",
            "metadata": {"name": name},
            "spec": {
                "forProvider": {
                    "region": REGION,
                    "engine": "postgres",
                    "engineVersion": "16",
                    "dbInstanceClass": "db.t3.micro",
                    "masterUsername": "shop",
                    "allocatedStorage": 20,
                    "autogeneratePassword": True,
                    "skipFinalSnapshot": True,
                    "preferredMaintenanceWindow": "Mon:03:00-Mon:04:00",
                    # AWS lists tags in its own order.
                    "tags": [{"key": "team", "value": "orders"}, {"key": "env", "value": "prod"}],
                },
                "writeConnectionSecretToRef": {"name": f"{name}-conn", "namespace": "shop"},
            },
        },
    )
    synced = app.sync()
    assert synced.result.ok, synced.result.message
    instance = boto("rds").describe_db_instances(DBInstanceIdentifier=name)["DBInstances"][0]
    assert instance["PreferredMaintenanceWindow"] == "mon:03:00-mon:04:00", "AWS lower-cases it"

    after = app.plan()
    assert _changes(after) == []
    assert SyncStatus.of_plan(after.plan) is SyncStatus.SYNCED
    again = app.sync()
    db = next(e for e in again.result.changeset.entries if e.key.name == name)
    assert db.action is ChangeAction.UNCHANGED, "nothing is sent to AWS again"

    # A real change in the window is still drift, shown as AWS has it.
    boto("rds").modify_db_instance(
        DBInstanceIdentifier=name,
        PreferredMaintenanceWindow="tue:05:00-tue:06:00",
        ApplyImmediately=True,
    )
    drifted = app.plan()
    assert _changes(drifted) == [
        f"DBInstance/{name} update ['spec.forProvider.preferredMaintenanceWindow']"
    ]
