"""Crossplane v1 Compositions whose resource templates have no ``name``.

In ``apiextensions.crossplane.io/v1`` a template's name is optional, all or
none. gitwave names an unnamed template ``<kind>-<index>`` (lower-cased base
kind, index in the list), which is what Crossplane's conversion to a Pipeline
Composition names it, and refuses a mix as Crossplane's validation does.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import pytest

from gitwave.compositions import compose
from gitwave.engine.errors import ValidationError
from gitwave.engine.model import ResourceKey
from tests.compositions.support import composition, fixture, xapp


def unnamed(kind: str, api_version: str = "things.example.org/v1", **base: Any) -> dict[str, Any]:
    return {
        "base": {"apiVersion": api_version, "kind": kind, "spec": {"forProvider": {}}, **base},
        "patches": [
            {
                "type": "FromCompositeFieldPath",
                "fromFieldPath": "spec.parameters.region",
                "toFieldPath": "spec.forProvider.region",
            }
        ],
    }


TEMPLATES = [
    unnamed("Bucket", "s3.aws.crossplane.io/v1beta1"),
    unnamed("Queue", "sqs.aws.crossplane.io/v1beta1"),
    unnamed("Bucket", "s3.aws.crossplane.io/v1beta1"),
]


def test_unnamed_templates_compose_under_kind_and_index_names() -> None:
    result = compose(
        [
            *fixture("open-xrd.yaml"),
            composition(copy.deepcopy(TEMPLATES)),
            xapp({"region": "eu-west-1"}),
        ]
    )

    assert [r.key for r in result.resources] == [
        ResourceKey("s3.aws.crossplane.io", "Bucket", "", "demo-bucket-0"),
        ResourceKey("sqs.aws.crossplane.io", "Queue", "", "demo-queue-1"),
        ResourceKey("s3.aws.crossplane.io", "Bucket", "", "demo-bucket-2"),
    ]
    names = [r.annotations["crossplane.io/composition-resource-name"] for r in result.resources]
    assert names == ["bucket-0", "queue-1", "bucket-2"]
    assert all(r.manifest["spec"]["forProvider"]["region"] == "eu-west-1" for r in result.resources)
    assert [r.name for r in result.composites[0].status.resources] == names


def test_the_names_stay_the_same_from_one_render_to_the_next() -> None:
    def keys() -> list[ResourceKey]:
        inputs = [
            *fixture("open-xrd.yaml"),
            composition(copy.deepcopy(TEMPLATES)),
            xapp({"region": "eu-west-1"}),
        ]
        return [r.key for r in compose(inputs).resources]

    assert keys() == keys()


def test_an_unnamed_template_in_a_pipeline_of_patch_and_transform() -> None:
    (pipeline,) = fixture("pipeline.yaml")
    step = pipeline.manifest["spec"]["pipeline"][0]
    del step["input"]["resources"][0]["name"]
    pipeline.manifest["spec"]["pipeline"] = [step]

    result = compose([*fixture("open-xrd.yaml"), pipeline, xapp({"region": "eu-west-1"})])

    assert [r.key.display for r in result.resources] == ["Bucket/demo-bucket-0"]


@dataclass
class MixCase:
    reason: str
    templates: list[dict[str, Any]]
    want: str


MIX_CASES = [
    MixCase(
        "named first, then unnamed",
        [{"name": "a", **unnamed("Bucket")}, unnamed("Queue")],
        "spec.resources[1].name: cannot mix named and anonymous resources",
    ),
    MixCase(
        "unnamed first, then named",
        [unnamed("Bucket"), {"name": "b", **unnamed("Queue")}],
        "spec.resources[1].name: cannot mix named and anonymous resources",
    ),
    MixCase(
        "unnamed without a base kind",
        [{"patches": []}],
        "spec.resources[0] has no name and no base kind to name it by",
    ),
]


@pytest.mark.parametrize("case", MIX_CASES, ids=lambda c: c.reason)
def test_mixing_named_and_unnamed_is_refused_naming_the_composition(case: MixCase) -> None:
    with pytest.raises(ValidationError) as caught:
        compose([*fixture("open-xrd.yaml"), composition(case.templates), xapp()])

    message = str(caught.value)
    assert case.want in message
    assert "Composition/xapps (composition.yaml:1)" in message


def test_a_mix_inside_a_pipeline_input_names_the_step() -> None:
    (pipeline,) = fixture("pipeline.yaml")
    step = pipeline.manifest["spec"]["pipeline"][0]
    second = copy.deepcopy(step["input"]["resources"][0])
    del second["name"]
    step["input"]["resources"].append(second)
    pipeline.manifest["spec"]["pipeline"] = [step]

    with pytest.raises(ValidationError) as caught:
        compose([*fixture("open-xrd.yaml"), pipeline, xapp()])

    message = str(caught.value)
    assert "step patch-and-transform" in message
    assert "resources[1].name: cannot mix named and anonymous resources" in message
