"""compose() as a stage: naming and placing composed resources, nesting, collisions, purity."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import pytest

from gitwave.compositions import compose, is_composed
from gitwave.engine.api import FieldPathError, format_path, parse_path
from gitwave.engine.errors import ValidationError
from gitwave.engine.graph import build_graph
from gitwave.engine.model import Dependency, DependencyReason, ResourceKey
from tests.compositions.support import compose_app, composition, fixture, resource, thing, xapp


def template(name: str, api_version: str, kind: str, **base: Any) -> dict[str, Any]:
    return {"name": name, "base": {"apiVersion": api_version, "kind": kind, **base}}


@dataclass
class PlaceCase:
    reason: str
    template: dict[str, Any]
    want: str  # the composed key, Kind/ns/name
    namespace: str = ""  # of the composite (a claim)


PLACE_CASES = [
    PlaceCase("<composite>-<resource name> by default", thing("db"), "Thing/demo-db"),
    PlaceCase(
        "a resource name made DNS-safe",
        thing("Big_DB"),
        "Thing/demo-big-db",
    ),
    PlaceCase(
        "the template's own name wins",
        template("db", "v1", "ConfigMap", metadata={"name": "settings", "namespace": "x"}),
        "ConfigMap/x/settings",
    ),
    PlaceCase(
        "crossplane.io/external-name names it when there is no name",
        template(
            "db",
            "rds.aws.crossplane.io/v1alpha1",
            "DBInstance",
            metadata={"annotations": {"crossplane.io/external-name": "orders-db"}},
        ),
        "DBInstance/orders-db",
    ),
    PlaceCase(
        "a managed resource is cluster-scoped even from a claim",
        template("db", "rds.aws.crossplane.io/v1alpha1", "DBInstance", metadata={"namespace": "x"}),
        "DBInstance/demo-db",
        namespace="team-a",
    ),
    PlaceCase(
        "a namespaced managed resource of Crossplane v2 keeps a namespace",
        template("db", "rds.aws.m.upbound.io/v1beta1", "Instance"),
        "Instance/team-a/demo-db",
        namespace="team-a",
    ),
    PlaceCase(
        "a Kubernetes object takes the claim's namespace",
        template("cfg", "v1", "ConfigMap"),
        "ConfigMap/team-a/demo-cfg",
        namespace="team-a",
    ),
    PlaceCase(
        "a cluster-scoped Kubernetes kind drops a namespace",
        template("ns", "v1", "Namespace", metadata={"name": "apps", "namespace": "x"}),
        "Namespace/apps",
        namespace="team-a",
    ),
]


@pytest.mark.parametrize("case", PLACE_CASES, ids=lambda c: c.reason)
def test_composed_resources_are_named_and_placed(case: PlaceCase) -> None:
    kind = "App" if case.namespace else "XApp"
    app = xapp({}, namespace=case.namespace, kind=kind)

    result = compose([*fixture("open-xrd.yaml"), composition([case.template]), app])

    (made,) = result.resources
    assert made.key.display == case.want
    assert made.manifest["metadata"]["name"] == made.key.name
    assert made.manifest["metadata"].get("namespace", "") == made.key.namespace
    assert made.annotations["crossplane.io/composition-resource-name"] == case.template["name"]
    assert is_composed(made)
    assert made.source == app.source


def test_nested_composites_are_composed_in_turn() -> None:
    # An XApp composes an XQueue (another XRD's kind), which composes an SQS Queue.
    nested = template(
        "queue",
        "example.org/v1",
        "XQueue",
        spec={"parameters": {"region": "eu-west-1"}},
    )
    resources = [
        *fixture("open-xrd.yaml"),
        *fixture("strict-xrd.yaml"),
        composition([nested, thing("db")]),
        xapp({}),
    ]

    result = compose(resources)

    outer, inner = result.composites
    assert [r.key.display for r in result.resources] == ["Queue/demo-queue-queue", "Thing/demo-db"]
    assert outer.composed == (inner.key, ResourceKey("things.example.org", "Thing", "", "demo-db"))
    assert inner.key.display == "XQueue/demo-queue"
    assert inner.composed == (
        ResourceKey("sqs.aws.crossplane.io", "Queue", "", "demo-queue-queue"),
    )
    assert result.owner_of(inner.composed[0]) is inner
    assert result.composite(outer.key) is outer


def test_a_composite_that_composes_its_own_kind_is_refused() -> None:
    loop = template("again", "example.org/v1", "XApp", spec={"parameters": {}})

    with pytest.raises(ValidationError, match="composites nest deeper than 8 levels"):
        compose([*fixture("open-xrd.yaml"), composition([loop]), xapp({})])


def test_two_composites_composing_the_same_object() -> None:
    fixed = template("cfg", "v1", "ConfigMap", metadata={"name": "shared", "namespace": "x"})

    with pytest.raises(ValidationError) as raised:
        compose(
            [
                *fixture("open-xrd.yaml"),
                composition([fixed]),
                xapp({}, name="one"),
                xapp({}, name="two"),
            ]
        )

    assert str(raised.value) == (
        "ConfigMap/x/shared (app.yaml:3): composes ConfigMap/x/shared, which the composite "
        "XApp/one (app.yaml:3) has too"
    )


def test_a_composed_object_colliding_with_one_from_git() -> None:
    fixed = template("cfg", "v1", "ConfigMap", metadata={"name": "shared", "namespace": "x"})
    from_git = resource(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "shared", "namespace": "x"}},
        file="cm.yaml",
    )

    with pytest.raises(ValidationError, match=r"which cm.yaml:1|ConfigMap/x/shared \(cm.yaml:1\)"):
        compose_app([fixed], extra=[from_git])


def test_compose_is_deterministic_and_leaves_its_input_alone() -> None:
    resources = [*fixture("open-xrd.yaml"), composition([thing("a"), thing("b")]), xapp({"x": 1})]
    before = copy.deepcopy([r.manifest for r in resources])

    first, second = compose(resources), compose(resources)

    assert [r.manifest for r in first.resources] == [r.manifest for r in second.resources]
    assert first.edges == second.edges
    assert [r.manifest for r in resources] == before


def test_workloads_reading_a_connection_secret_wait_for_its_writer() -> None:
    db = thing("db")
    db["base"]["spec"]["writeConnectionSecretToRef"] = {"name": "db-conn", "namespace": "apps"}
    job = resource(
        {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {"name": "migrate", "namespace": "apps"},
            "spec": {
                "template": {
                    "spec": {
                        "containers": [
                            {"name": "m", "envFrom": [{"secretRef": {"name": "db-conn"}}]}
                        ]
                    }
                }
            },
        }
    )
    namespace = resource({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "apps"}})

    result = compose_app([db], extra=[job, namespace])

    writer = ResourceKey("things.example.org", "Thing", "", "demo-db")
    secret = ResourceKey("", "Secret", "apps", "db-conn")
    assert result.edges == (Dependency(writer, secret, DependencyReason.CONNECTION_SECRET),)
    graph = build_graph(result.resources, extra_edges=result.edges)
    assert set(graph.dag.edges) == {
        (writer, job.key),
        (namespace.key, writer),
        (namespace.key, job.key),
    }


def test_a_connection_secret_edge_never_points_to_an_earlier_wave() -> None:
    db = thing("db")
    db["base"]["spec"]["writeConnectionSecretToRef"] = {"name": "db-conn", "namespace": "apps"}
    early = resource(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": "early",
                "namespace": "apps",
                "annotations": {"argocd.argoproj.io/sync-wave": "-1"},
            },
            "spec": {
                "containers": [{"name": "c", "envFrom": [{"secretRef": {"name": "db-conn"}}]}]
            },
        }
    )

    result = compose_app([db], extra=[early])

    graph = build_graph(result.resources, extra_edges=result.edges)  # no "runs later" error
    assert list(graph.dag.edges) == []


@pytest.mark.parametrize(
    ("path", "want"),
    [
        ("spec.forProvider.tags[0].value", ("spec", "forProvider", "tags", 0, "value")),
        (
            "metadata.labels[crossplane.io/claim-name]",
            ("metadata", "labels", "crossplane.io/claim-name"),
        ),
        ('spec.parameters["size"]', ("spec", "parameters", "size")),
        ("spec.parameters['a.b']", ("spec", "parameters", "a.b")),
        ("a[0][1]", ("a", 0, 1)),
    ],
)
def test_field_paths(path: str, want: tuple[Any, ...]) -> None:
    assert parse_path(path) == want
    assert parse_path(format_path(want)) == want


@pytest.mark.parametrize("path", ["", "a..b", "a.", ".a", "a[0", "a[]", "a[*]"])
def test_malformed_field_paths(path: str) -> None:
    with pytest.raises(FieldPathError):
        parse_path(path)
