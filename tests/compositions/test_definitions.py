"""XRDs (schema validation and defaults), claims, and choosing a Composition."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import pytest

from gitwave.compositions import compose
from gitwave.compositions.definitions import parse_xrd
from gitwave.compositions.model import LABEL_CLAIM_NAME, LABEL_CLAIM_NAMESPACE, LABEL_COMPOSITE
from gitwave.engine.errors import ValidationError
from gitwave.engine.model import Resource
from tests.compositions.support import composition, fixture, resource, thing, xapp


def queue(
    parameters: dict[str, Any], *, kind: str = "XQueue", version: str = "v1", **meta: Any
) -> Resource:
    manifest = {
        "apiVersion": f"example.org/{version}",
        "kind": kind,
        "metadata": {"name": "orders", **meta},
        "spec": {"parameters": parameters},
    }
    return resource(manifest, file="queue.yaml", line=7)


def composed_queue(parameters: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    result = compose([*fixture("strict-xrd.yaml"), queue(parameters, **kwargs)])
    (only,) = [r for r in result.resources if r.key.kind == "Queue"]
    return only.manifest


def test_schema_defaults_are_applied_before_patching() -> None:
    manifest = composed_queue({"region": "eu-west-1"})

    assert manifest["spec"]["forProvider"] == {
        "region": "eu-west-1",
        "messageRetentionPeriod": 4 * 86400,
        # deadLetter defaults to {}, then its own properties are defaulted.
        "redrivePolicy": {"maxReceiveCount": 5},
    }


def test_defaults_walk_into_lists_and_defaults_just_set() -> None:
    xrd = next(r for r in fixture("strict-xrd.yaml") if r.key.kind == "CompositeResourceDefinition")
    schema = parse_xrd(xrd).schema("v1")
    given = {
        "apiVersion": "example.org/v1",
        "kind": "XQueue",
        "metadata": {"name": "q"},
        "spec": {"parameters": {"region": "x", "consumers": [{"name": "a"}, {"weight": 3}]}},
    }
    before = copy.deepcopy(given)

    defaulted = schema.default(given)

    assert defaulted["spec"]["parameters"] == {
        "region": "x",
        "tier": "standard",
        "retentionDays": 4,
        "deadLetter": {"enabled": False, "maxReceives": 5},
        "consumers": [{"name": "a", "weight": 1}, {"weight": 3}],
    }
    assert given == before  # the input is never changed


@dataclass
class Case:
    reason: str
    parameters: dict[str, Any]
    want: str | None  # the error text, or None when valid


CASES = [
    Case("a valid XR", {"region": "eu"}, None),
    Case(
        "a string where an integer belongs",
        {"region": "eu", "retentionDays": "ten"},
        "spec.parameters.retentionDays: 'ten' is not of type 'integer'",
    ),
    Case(
        "a value outside the enum",
        {"region": "eu", "tier": "lifo"},
        "spec.parameters.tier: 'lifo' is not one of ['standard', 'fifo']",
    ),
    Case("a missing required field", {}, "spec.parameters: 'region' is a required property"),
    Case(
        "below the minimum",
        {"region": "eu", "retentionDays": 0},
        "spec.parameters.retentionDays: 0 is less than the minimum of 1",
    ),
    Case(
        "an unknown (misspelt) field",
        {"region": "eu", "retentionDay": 3},
        "spec.parameters: Additional properties are not allowed ('retentionDay' was unexpected)",
    ),
    Case("nullable allows null", {"region": "eu", "description": None}, None),
    Case(
        "nullable still checks the type",
        {"region": "eu", "description": 5},
        "spec.parameters.description: 5 is not of type 'string', 'null'",
    ),
    Case("int-or-string takes an integer", {"region": "eu", "port": 80}, None),
    Case("int-or-string takes a string", {"region": "eu", "port": "http"}, None),
    Case(
        "int-or-string refuses a boolean",
        {"region": "eu", "port": True},
        "spec.parameters.port: True is not valid under any of the given schemas",
    ),
    Case(
        "additionalProperties types the values of a map",
        {"region": "eu", "labels": {"team": 1}},
        "spec.parameters.labels.team: 1 is not of type 'string'",
    ),
    Case("preserve-unknown-fields takes anything", {"region": "eu", "extra": {"a": [1]}}, None),
    Case(
        "list items are checked with their index",
        {"region": "eu", "consumers": [{"name": "a"}, {"name": 2}]},
        "spec.parameters.consumers[1].name: 2 is not of type 'string'",
    ),
    Case(
        "every problem is reported, sorted by path",
        {"region": 1, "tier": "x"},
        "spec.parameters.region: 1 is not of type 'string'; spec.parameters.tier: 'x' is not one "
        "of ['standard', 'fifo']",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.reason)
def test_xr_validation(case: Case) -> None:
    resources = [*fixture("strict-xrd.yaml"), queue(case.parameters)]

    if case.want is None:
        assert any(r.key.kind == "Queue" for r in compose(resources).resources)
        return
    with pytest.raises(ValidationError) as raised:
        compose(resources)
    assert str(raised.value) == f"XQueue/orders (queue.yaml:7): {case.want}"


def test_crossplane_standard_spec_fields_are_allowed() -> None:
    xr = queue({"region": "eu"})
    xr.manifest["spec"]["writeConnectionSecretToRef"] = {"name": "s", "namespace": "default"}
    xr.manifest["spec"]["compositionRef"] = {"name": "xqueues"}

    assert compose([*fixture("strict-xrd.yaml"), xr]).composites[0].composition == "xqueues"


def test_an_unknown_version_names_the_versions() -> None:
    with pytest.raises(
        ValidationError,
        match=r"apiVersion example.org/v2 is not a version of "
        r"xqueues.example.org \(versions: example.org/v1\)",
    ):
        compose([*fixture("strict-xrd.yaml"), queue({"region": "eu"}, version="v2")])


def test_a_claim_is_validated_and_labels_its_composed_resources() -> None:
    claim = queue({"region": "eu"}, kind="Queue", namespace="team-a")

    result = compose([*fixture("strict-xrd.yaml"), claim])

    (queue_mr,) = [
        r for r in result.resources if r.key.kind == "Queue" and r.key.group != "example.org"
    ]
    assert queue_mr.labels == {
        LABEL_COMPOSITE: "orders",
        LABEL_CLAIM_NAME: "orders",
        LABEL_CLAIM_NAMESPACE: "team-a",
    }
    # A managed resource is cluster-scoped even when its claim is namespaced.
    assert queue_mr.key.namespace == ""
    assert result.composites[0].key.display == "Queue/team-a/orders"


def test_xrd_without_a_referenceable_version() -> None:
    xrd = fixture("open-xrd.yaml")[0]
    manifest = copy.deepcopy(xrd.manifest)
    manifest["spec"]["versions"] = [
        {"name": "v1", "served": True, "referenceable": False},
        {"name": "v2", "served": True, "referenceable": False},
    ]

    with pytest.raises(ValidationError, match="exactly one version must be referenceable, found 0"):
        compose([resource(manifest, file="xrd.yaml")])


def test_two_xrds_for_one_kind() -> None:
    xrd = fixture("open-xrd.yaml")[0]
    other = copy.deepcopy(xrd.manifest)
    other["metadata"]["name"] = "xapps-again.example.org"

    with pytest.raises(ValidationError, match=r"defines XApp\.example\.org, which "):
        compose([xrd, resource(other, file="again.yaml")])


# --- choosing a Composition ------------------------------------------------------------


def region_thing(value: str) -> dict[str, Any]:
    template = thing()
    template["base"]["spec"]["forProvider"]["flavour"] = value
    return template


@dataclass
class SelectCase:
    reason: str
    spec: dict[str, Any]
    compositions: list[Resource]
    want: str  # the Composition chosen, or the error


AWS = composition([region_thing("aws")], name="on-aws", labels={"provider": "aws"})
GCP = composition([region_thing("gcp")], name="on-gcp", labels={"provider": "gcp"})
OTHER_KIND = composition([region_thing("x")], name="for-queues", kind="XQueue")

SELECT_CASES = [
    SelectCase("the only Composition for the type", {}, [AWS, OTHER_KIND], "on-aws"),
    SelectCase("compositionRef.name", {"compositionRef": {"name": "on-gcp"}}, [AWS, GCP], "on-gcp"),
    SelectCase(
        "compositionSelector.matchLabels",
        {"compositionSelector": {"matchLabels": {"provider": "gcp"}}},
        [AWS, GCP],
        "on-gcp",
    ),
    SelectCase(
        "several candidates and no choice",
        {},
        [AWS, GCP],
        "several Compositions match type XApp.example.org: on-aws, on-gcp",
    ),
    SelectCase(
        "a selector nothing matches",
        {"compositionSelector": {"matchLabels": {"provider": "azure"}}},
        [AWS, GCP],
        "no Composition matches compositionSelector {'provider': 'azure'}",
    ),
    SelectCase(
        "a compositionRef to a missing Composition",
        {"compositionRef": {"name": "on-azure"}},
        [AWS],
        "Composition 'on-azure' is not in the render",
    ),
    SelectCase(
        "a compositionRef to a Composition of another type",
        {"compositionRef": {"name": "for-queues"}},
        [AWS, OTHER_KIND],
        "Composition for-queues composes XQueue.example.org, not XApp.example.org",
    ),
    SelectCase("no Composition at all", {}, [OTHER_KIND], "no Composition matches type XApp"),
]


@pytest.mark.parametrize("case", SELECT_CASES, ids=lambda c: c.reason)
def test_composition_selection(case: SelectCase) -> None:
    resources = [*fixture("open-xrd.yaml"), *case.compositions, xapp({}, **case.spec)]

    if case.want.startswith("on-"):
        result = compose(resources)
        assert result.composites[0].composition == case.want
        (made,) = [r for r in result.resources if r.key.kind == "Thing"]
        assert made.manifest["spec"]["forProvider"]["flavour"] == case.want[3:]
        return
    with pytest.raises(ValidationError) as raised:
        compose(resources)
    assert case.want in str(raised.value)
    assert str(raised.value).startswith("XApp/demo (app.yaml:3): ")


def test_definitions_and_composites_leave_the_output() -> None:
    plain = resource(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "x"}}
    )

    result = compose([*fixture("open-xrd.yaml"), AWS, xapp({}), plain])

    assert [r.key.display for r in result.resources] == ["Thing/demo-thing", "ConfigMap/x/c"]


def test_without_definitions_compose_passes_everything_through() -> None:
    plain = resource({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}})

    result = compose([plain])

    assert result.resources == (plain,)
    assert result.edges == ()
    assert result.composites == ()
