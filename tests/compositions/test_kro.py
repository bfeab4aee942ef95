"""kro ResourceGraphDefinitions: SimpleSchema, includeWhen, references, readyWhen, status."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from gitwave.compositions import ANNOTATION_REFERENCES, compose, resolve
from gitwave.engine.errors import ValidationError
from gitwave.engine.graph import build_graph
from gitwave.engine.model import Dependency, Live, Resource, ResourceKey
from tests.compositions.support import fixture, resource

DEPLOYMENT = ResourceKey("apps", "Deployment", "shop", "web")
SERVICE = ResourceKey("", "Service", "shop", "web")
SETTINGS = ResourceKey("", "ConfigMap", "shop", "web-settings")
INGRESS = ResourceKey("networking.k8s.io", "Ingress", "shop", "web")


def webapp(spec: dict[str, Any], *, api_version: str = "kro.run/v1alpha1") -> Resource:
    manifest = {
        "apiVersion": api_version,
        "kind": "WebApp",
        "metadata": {"name": "storefront", "namespace": "shop"},
        "spec": spec,
    }
    return resource(manifest, file="webapp.yaml", line=2)


def by_key(result: Any) -> dict[ResourceKey, Resource]:
    return {r.key: r for r in result.resources}


def test_an_instance_composes_its_graph() -> None:
    result = compose([*fixture("kro.yaml"), webapp({"name": "web"})])

    made = by_key(result)
    assert list(made) == [DEPLOYMENT, SERVICE, SETTINGS]  # no ingress unless enabled
    deployment = made[DEPLOYMENT].manifest
    assert deployment["spec"]["replicas"] == 2  # the SimpleSchema default, as an integer
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.27"
    assert made[DEPLOYMENT].labels == {
        "kro.run/instance-name": "storefront",
        "kro.run/resource-graph-definition-name": "webapp",
        "kro.run/instance-namespace": "shop",
    }
    assert made[DEPLOYMENT].annotations["gitwave.dev/composite"] == "WebApp/shop/storefront"
    assert made[SERVICE].manifest["spec"]["selector"] == "${deployment.spec.selector.matchLabels}"
    assert made[SERVICE].annotations[ANNOTATION_REFERENCES] == f"deployment={DEPLOYMENT}"
    assert set(result.edges) == {Dependency(DEPLOYMENT, SERVICE), Dependency(SERVICE, SETTINGS)}
    node = result.composites[0]
    assert (node.definition, node.composition, node.composed) == (
        "webapp",
        "",
        (DEPLOYMENT, SERVICE, SETTINGS),
    )


def test_include_when_adds_the_ingress_after_the_service() -> None:
    result = compose([*fixture("kro.yaml"), webapp({"name": "web", "ingress": {"enabled": True}})])

    graph = build_graph(result.resources, extra_edges=result.edges)

    assert [[k.display for k in stage.keys] for stage in graph.stages] == [
        ["Deployment/shop/web"],
        ["Service/shop/web"],
        ["ConfigMap/shop/web-settings", "Ingress/shop/web"],
    ]


def test_a_resource_reading_an_excluded_one_is_excluded_too() -> None:
    rgd = fixture("kro.yaml")[0]
    manifest = copy.deepcopy(rgd.manifest)
    manifest["spec"]["resources"][1]["includeWhen"] = ["${schema.spec.replicas > 5}"]

    result = compose([resource(manifest, file="rgd.yaml"), webapp({"name": "web"})])

    # No Service: then neither the ConfigMap nor the Ingress that read it.
    assert list(by_key(result)) == [DEPLOYMENT]


def test_late_values_resolve_from_the_live_service() -> None:
    result = compose([*fixture("kro.yaml"), webapp({"name": "web"})])
    live = {SERVICE: {"spec": {"clusterIP": "10.0.0.7"}}}

    settings = resolve(by_key(result)[SETTINGS], lookup=live.get)

    assert settings.manifest["data"] == {"backend": "http://10.0.0.7:80"}


def test_status_uses_ready_when_and_fills_schema_status() -> None:
    observed = {
        DEPLOYMENT: Live(DEPLOYMENT, {"spec": {"replicas": 2}, "status": {"availableReplicas": 1}}),
        SERVICE: Live(SERVICE, {"spec": {"clusterIP": "10.0.0.7"}}),
        SETTINGS: None,
    }

    status = compose([*fixture("kro.yaml"), webapp({"name": "web"})], observed=observed)
    node = status.composites[0].status

    assert [(r.name, r.ready, r.reason) for r in node.resources] == [
        (
            "deployment",
            False,
            "readyWhen ${deployment.status.availableReplicas == deployment.spec.replicas} "
            "is not true",
        ),
        ("service", True, ""),
        ("settings", False, "not created yet"),
    ]
    assert dict(node.fields) == {"availableReplicas": 1, "address": "10.0.0.7"}


@pytest.mark.parametrize(
    ("spec", "api_version", "want"),
    [
        ({}, "kro.run/v1alpha1", "spec: 'name' is a required property"),
        (
            {"name": "web", "replicas": "two"},
            "kro.run/v1alpha1",
            "spec.replicas: 'two' is not of type",
        ),
        (
            {"name": "web", "replicas": 0},
            "kro.run/v1alpha1",
            "spec.replicas: 0 is less than the minimum",
        ),
        (
            {"name": "web"},
            "kro.run/v1",
            "apiVersion is kro.run/v1, webapp defines kro.run/v1alpha1",
        ),
    ],
    ids=["required", "type", "minimum", "version"],
)
def test_invalid_instances(spec: dict[str, Any], api_version: str, want: str) -> None:
    with pytest.raises(ValidationError) as raised:
        compose([*fixture("kro.yaml"), webapp(spec, api_version=api_version)])

    assert str(raised.value).startswith("WebApp/shop/storefront (webapp.yaml:2): ")
    assert want in str(raised.value)


@pytest.mark.parametrize(
    ("change", "want"),
    [
        (
            lambda spec: spec["resources"][0].update(id="Deployment"),
            "id 'Deployment' must be lowerCamelCase",
        ),
        (
            lambda spec: spec["schema"]["spec"].update(size="strin"),
            "spec.schema: spec.size: unknown type 'strin'",
        ),
        (
            lambda spec: spec["resources"][2].update(includeWhen=["${service.spec.x}"]),
            "includeWhen '${service.spec.x}' may only read schema",
        ),
        (
            lambda spec: spec["resources"][0]["template"]["metadata"].pop("name"),
            "resource deployment: the template sets no metadata.name",
        ),
    ],
    ids=["id", "schema type", "includeWhen reads a resource", "no name"],
)
def test_bad_graph_definitions(change: Any, want: str) -> None:
    manifest = copy.deepcopy(fixture("kro.yaml")[0].manifest)
    change(manifest["spec"])

    with pytest.raises(ValidationError) as raised:
        compose([resource(manifest, file="rgd.yaml"), webapp({"name": "web"})])

    assert want in str(raised.value)
