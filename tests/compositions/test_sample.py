"""samples/production-database: rendered by the real Render stage, composed, ordered."""

from __future__ import annotations

import base64
import copy
import time

import pytest

from gitwave.compositions import compose, resolve, unresolved
from gitwave.engine.graph import build_graph
from gitwave.engine.model import Dependency, DependencyReason, Live, Resource, ResourceKey
from gitwave.engine.render import render
from gitwave.engine.source import Checkout
from tests.compositions.support import SAMPLE

SG = ResourceKey("ec2.aws.crossplane.io", "SecurityGroup", "", "shop-db-sg")
SUBNETS = ResourceKey("database.aws.crossplane.io", "DBSubnetGroup", "", "shop-db-subnets")
DB = ResourceKey("rds.aws.crossplane.io", "DBInstance", "", "shop-db")
ALARM = ResourceKey("cloudwatch.aws.crossplane.io", "MetricAlarm", "", "shop-db-alarm")
ENDPOINT = ResourceKey("", "ConfigMap", "store", "shop-db-endpoint")
API = ResourceKey("apps", "Deployment", "store", "api")
NAMESPACE = ResourceKey("", "Namespace", "", "store")
CONNECTION = ResourceKey("", "Secret", "store", "shop-db-postgresql")


def rendered() -> tuple[Resource, ...]:
    return render(Checkout(SAMPLE, "", False, str(SAMPLE)), ".").resources


def test_the_sample_composes_to_the_expected_resources_and_edges() -> None:
    result = compose(rendered())

    assert [r.key for r in result.resources] == [SG, SUBNETS, DB, ALARM, ENDPOINT, API, NAMESPACE]
    assert set(result.edges) == {
        Dependency(SG, DB),  # ${sg.status.atProvider.securityGroupID}
        Dependency(SUBNETS, DB),  # ${subnets.metadata.name}
        Dependency(DB, ALARM),  # ${db.status.atProvider.dbInstanceIdentifier}
        Dependency(DB, ENDPOINT),  # ${db.status.atProvider.endpoint.address}
        # The DBInstance writes the connection Secret the Deployment reads.
        Dependency(DB, CONNECTION, DependencyReason.CONNECTION_SECRET),
    }
    graph = build_graph(result.resources, extra_edges=result.edges)
    assert set(graph.dag.edges) >= {
        (SG, DB),
        (SUBNETS, DB),
        (DB, ALARM),
        (DB, ENDPOINT),
        (DB, API),  # the Deployment reads the connection Secret the DBInstance writes
        (NAMESPACE, DB),  # the connection Secret goes into namespace store
    }
    (node,) = result.composites
    assert node.key == ResourceKey("platform.gitwave.dev", "ProductionDatabase", "", "shop-db")
    assert node.definition == "productiondatabases.platform.gitwave.dev"
    assert node.composition == "production-database-aws"
    assert node.composed == (SG, SUBNETS, DB, ALARM, ENDPOINT)
    assert str(node.source) == "database.yaml:2"


def test_the_dbinstance_has_crossplanes_shape() -> None:
    db = next(r for r in compose(rendered()).resources if r.key == DB)

    assert db.api_version == "rds.aws.crossplane.io/v1alpha1"
    assert db.manifest["spec"] == {
        "forProvider": {
            "engine": "postgres",
            "masterUsername": "shopadmin",
            "autogeneratePassword": True,
            "masterUserPasswordSecretRef": {
                "key": "password",
                "name": "shop-db-master",
                "namespace": "store",
            },
            "storageEncrypted": True,
            "backupRetentionPeriod": 7,
            "vpcSecurityGroupIDs": ["${sg.status.atProvider.securityGroupID}"],
            "dbSubnetGroupName": "${subnets.metadata.name}",
            "region": "us-east-1",
            "dbInstanceClass": "db.t3.medium",
            "allocatedStorage": 50,
            "engineVersion": "16.4",
        },
        "providerConfigRef": {"name": "default"},
        "writeConnectionSecretToRef": {"name": "shop-db-postgresql", "namespace": "store"},
    }
    assert db.labels == {"crossplane.io/composite": "shop-db"}
    assert db.annotations["crossplane.io/external-name"] == "shop-db"
    assert db.annotations["gitwave.dev/composite"] == "ProductionDatabase/shop-db"
    assert unresolved(db) == {"sg", "subnets"}


def test_the_graph_orders_groups_then_database_then_its_consumers() -> None:
    result = compose(rendered())

    graph = build_graph(result.resources, extra_edges=result.edges)

    assert [[k.display for k in stage.keys] for stage in graph.stages] == [
        ["Namespace/store", "DBSubnetGroup/shop-db-subnets", "SecurityGroup/shop-db-sg"],
        ["DBInstance/shop-db"],
        ["ConfigMap/store/shop-db-endpoint", "MetricAlarm/shop-db-alarm"],
        ["Deployment/store/api"],
    ]


def live(key: ResourceKey, manifest: dict[str, object]) -> Live:
    return Live(key, {"metadata": {"name": key.name}, **manifest})


def test_resolve_and_status_once_the_database_is_up() -> None:
    result = compose(rendered())
    objects = {
        SG: {"status": {"atProvider": {"securityGroupID": "sg-0123"}}},
        SUBNETS: {"status": {"atProvider": {"state": "Complete"}}},
        DB: {
            "status": {
                "atProvider": {
                    "dbInstanceStatus": "available",
                    "dbInstanceIdentifier": "shop-db",
                    "endpoint": {
                        "address": "shop-db.abc.eu-west-1.rds.amazonaws.com",
                        "port": 5432,
                    },
                }
            }
        },
        ALARM: {"status": {"conditions": [{"type": "Ready", "status": "True"}]}},
        ENDPOINT: {},
        CONNECTION: {"data": {"password": base64.b64encode(b"generated-pw").decode()}},
    }
    observed = {key: live(key, value) for key, value in objects.items()}

    def lookup(key: ResourceKey) -> dict[str, object] | None:
        found = observed.get(key)
        return found.manifest if found else None

    by_key = {r.key: r for r in result.resources}
    db = resolve(by_key[DB], lookup=lookup)
    endpoint = resolve(by_key[ENDPOINT], lookup=lookup)
    status = compose(rendered(), observed=observed).composites[0].status

    assert db.manifest["spec"]["forProvider"]["vpcSecurityGroupIDs"] == ["sg-0123"]
    assert db.manifest["spec"]["forProvider"]["dbSubnetGroupName"] == "shop-db-subnets"
    assert endpoint.manifest["data"] == {
        "host": "shop-db.abc.eu-west-1.rds.amazonaws.com",
        "port": "5432",
        "url": "postgres://shop-db.abc.eu-west-1.rds.amazonaws.com:5432/shop",
    }
    assert status.ready, status.message
    assert dict(status.fields) == {
        "endpoint": "shop-db.abc.eu-west-1.rds.amazonaws.com",
        "state": "available",
    }
    assert dict(status.connection_details) == {"password": b"generated-pw"}
    assert "generated-pw" not in repr(status)


@pytest.mark.slow  # a large input, timed
def test_composing_1000_databases_takes_well_under_a_second() -> None:
    sample = [r for r in rendered() if r.key.kind != "Deployment"]
    xr = next(r for r in sample if r.key.kind == "ProductionDatabase")
    definitions = [r for r in sample if r is not xr and r.key.kind != "Namespace"]
    composition = next(r for r in definitions if r.key.kind == "Composition")
    six = copy.deepcopy(composition.manifest)  # a sixth resource: a storage alarm
    storage_alarm = copy.deepcopy(six["spec"]["resources"][3])
    storage_alarm["name"] = "storage-alarm"
    storage_alarm["base"]["spec"]["forProvider"]["metricName"] = "FreeStorageSpace"
    six["spec"]["resources"].append(storage_alarm)
    definitions = [
        Resource(r.key, r.api_version, six, r.source) if r is composition else r
        for r in definitions
    ]
    xrs = []
    for i in range(1000):
        manifest = copy.deepcopy(xr.manifest)
        manifest["metadata"]["name"] = f"db-{i}"
        key = ResourceKey(xr.key.group, xr.key.kind, "", f"db-{i}")
        xrs.append(Resource(key, xr.api_version, manifest, xr.source))

    timings = []
    for _ in range(3):
        # CPU time, not wall time: other test runs on the machine must not fail this one.
        start = time.process_time()
        result = compose([*definitions, *xrs])
        timings.append(time.process_time() - start)

    assert len(result.resources) == 6000
    assert len(result.composites) == 1000
    # Measured about 0.5 s on the 2-core build machine; the bound leaves room for load.
    assert min(timings) < 1.5, timings
