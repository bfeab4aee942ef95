"""Deleting the ProductionDatabase composite on the AWS emulator (issue 10
item 10): what uses a resource goes first, and what a refused delete still
uses is kept.

Driven through the operations layer, as `gitwave sync --prune` does, with the
real AWS provider and sandbox; a recording wrapper around the AWS provider
notes, as each delete starts, which resources moto still holds.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gitwave.engine import operations
from gitwave.engine.apps import load_apps
from gitwave.engine.model import ChangeAction, ResourceKey
from gitwave.engine.operations import Synced, SyncRequest
from gitwave.engine.router import ProviderRouter
from gitwave.engine.store import Store
from gitwave.providers.aws import AwsProvider
from tests.recording_target import RecordingTarget

from .conftest import REGION, Secrets

Boto = Callable[..., Any]
SAMPLE = Path(__file__).resolve().parents[3] / "samples" / "production-database"


def _keys(name: str) -> dict[str, ResourceKey]:
    return {
        "db": ResourceKey("rds.aws.crossplane.io", "DBInstance", "", name),
        "sg": ResourceKey("ec2.aws.crossplane.io", "SecurityGroup", "", f"{name}-sg"),
        "subnets": ResourceKey(
            "database.aws.crossplane.io", "DBSubnetGroup", "", f"{name}-subnets"
        ),
        "alarm": ResourceKey("cloudwatch.aws.crossplane.io", "MetricAlarm", "", f"{name}-alarm"),
    }


def _sample(tmp_path: Path, name: str, *, skip_final_snapshot: bool) -> Path:
    """The sample under a name of its own (moto is shared by the session)."""
    app = tmp_path / f"pdb-{name}"
    shutil.copytree(SAMPLE, app)
    for file in app.glob("*.yaml"):
        file.write_text(file.read_text().replace("shop-db", name))
    # The session's emulator seeds the sample's subnets in its own region.
    database = app / "database.yaml"
    database.write_text(
        database.read_text().replace("  parameters:\n", f"  parameters:\n    region: {REGION}\n")
    )
    if skip_final_snapshot:
        composition = app / "composition.yaml"
        text = composition.read_text()
        composition.write_text(
            text.replace(
                "storageEncrypted: true\n",
                "storageEncrypted: true\n            skipFinalSnapshot: true\n",
                1,
            )
        )
    return app


class _Moto:
    """What moto holds, asked with a plain boto3 client (not gitwave's)."""

    def __init__(self, boto: Boto, name: str) -> None:
        self.rds = boto("rds", REGION)
        self.ec2 = boto("ec2", REGION)
        self.name = name

    def has(self, key: ResourceKey) -> bool:
        if key.kind == "DBInstance":
            found = self.rds.describe_db_instances()["DBInstances"]
            return any(i["DBInstanceIdentifier"] == key.name for i in found)
        if key.kind == "DBSubnetGroup":
            found = self.rds.describe_db_subnet_groups()["DBSubnetGroups"]
            return any(g["DBSubnetGroupName"] == key.name for g in found)
        if key.kind == "SecurityGroup":
            groups = self.ec2.describe_security_groups(
                Filters=[{"Name": "group-name", "Values": [f"{self.name}-postgresql"]}]
            )["SecurityGroups"]
            return bool(groups)
        raise AssertionError(key)


def _world(
    make_provider: Callable[..., AwsProvider], secrets: Secrets, moto: _Moto, name: str
) -> tuple[ProviderRouter, RecordingTarget]:
    keys = _keys(name)
    recorder = RecordingTarget(
        make_provider(),
        watch=[keys["db"], keys["sg"], keys["subnets"]],
        present=moto.has,
        hold=keys["db"],
        release_by=[keys["sg"], keys["subnets"]],
    )
    return ProviderRouter([recorder, secrets.sandbox]), recorder


def _sync(app_dir: Path, targets: ProviderRouter, store: Store) -> Synced:
    _, (app,) = load_apps(str(app_dir))
    # Removing the database is the point: confirmed, as `--confirm-prune` does.
    request = SyncRequest(prune=True, wave_timeout_s=60, retry=False, confirm_prune=True)
    return operations.sync_app(app, targets=targets, store=store, request=request)


def _remove_the_composite(app_dir: Path) -> None:
    (app_dir / "database.yaml").unlink()
    (app_dir / "deployment.yaml").unlink()  # the shop API goes with its database


def test_removing_the_composite_deletes_the_instance_before_its_groups(
    tmp_path: Path,
    make_provider: Callable[..., AwsProvider],
    secrets: Secrets,
    boto: Boto,
    uid: str,
) -> None:
    name = f"db-{uid}"
    moto = _Moto(boto, name)
    targets, recorder = _world(make_provider, secrets, moto, name)
    store = Store(tmp_path / "state" / "gitwave.db")
    app_dir = _sample(tmp_path, name, skip_final_snapshot=True)
    created = _sync(app_dir, targets, store)
    assert created.result.ok, created.result.message
    keys = _keys(name)
    assert all(moto.has(keys[k]) for k in ("db", "sg", "subnets"))

    _remove_the_composite(app_dir)
    pruned = _sync(app_dir, targets, store)

    assert pruned.result.ok, pruned.result.message
    actions = {e.key: e.action for e in pruned.result.changeset.entries}
    for part in ("db", "sg", "subnets", "alarm"):
        assert actions[keys[part]] is ChangeAction.DELETED, (part, actions)
    for group in ("sg", "subnets"):
        call = recorder.call_for(keys[group])
        assert keys["db"] not in call.present, (
            f"{keys[group].display} was deleted while moto still had the DB instance using it"
        )
    assert not any(moto.has(keys[k]) for k in ("db", "sg", "subnets"))
    order = [c.key for c in recorder.calls]
    assert order.index(keys["alarm"]) < order.index(keys["db"]), "the alarm watches the instance"


def test_a_refused_instance_delete_keeps_the_groups_it_uses_and_says_why(
    tmp_path: Path,
    make_provider: Callable[..., AwsProvider],
    secrets: Secrets,
    boto: Boto,
    uid: str,
) -> None:
    # The sample as it is: no skipFinalSnapshot, so deleting the instance is refused.
    name = f"db-{uid}"
    moto = _Moto(boto, name)
    targets, _ = _world(make_provider, secrets, moto, name)
    store = Store(tmp_path / "state" / "gitwave.db")
    app_dir = _sample(tmp_path, name, skip_final_snapshot=False)
    assert _sync(app_dir, targets, store).result.ok

    _remove_the_composite(app_dir)
    pruned = _sync(app_dir, targets, store)

    assert not pruned.result.ok
    assert "would lose its data" in pruned.result.message
    keys = _keys(name)
    entries = {e.key: e for e in pruned.result.changeset.entries}
    assert entries[keys["db"]].action is ChangeAction.FAILED
    for group in ("sg", "subnets"):
        entry = entries[keys[group]]
        assert entry.action is ChangeAction.SKIPPED, entry
        assert f"kept: DBInstance/{name}, which uses it, could not be deleted" in entry.message
        assert moto.has(keys[group]), f"{keys[group].display} must still be in AWS"
    assert moto.has(keys["db"])
    # The history says the same.
    last = store.last(f"pdb-{name}")
    assert last is not None
    outcomes = {o.key: o for o in store.get(last.id).outcomes}
    assert outcomes[keys["sg"]].action is ChangeAction.SKIPPED
    assert "which uses it, could not be deleted" in outcomes[keys["sg"]].message
