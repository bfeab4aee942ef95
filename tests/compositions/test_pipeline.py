"""mode: Pipeline — composition functions from a FunctionRegistry, and the built-in one."""

from __future__ import annotations

from typing import Any

import pytest

from gitwave.compositions import (
    FunctionError,
    FunctionRegistry,
    FunctionRequest,
    FunctionResponse,
    FunctionResult,
    Ready,
    Severity,
    compose,
)
from gitwave.compositions.registry import BUILTIN_FUNCTIONS
from gitwave.engine.errors import ValidationError
from gitwave.engine.model import Live, ResourceKey
from tests.compositions.support import fixture, resource, xapp

BUCKET = ResourceKey("s3.aws.crossplane.io", "Bucket", "", "demo-bucket")


def tag(request: FunctionRequest) -> FunctionResponse:
    """A test function: labels every desired resource with its input's tag."""
    desired = request.desired
    for entry in desired["resources"].values():
        labels = entry["resource"].setdefault("metadata", {}).setdefault("labels", {})
        labels["team"] = request.input["tag"]
    return FunctionResponse(desired=desired, context={**request.context, "tagged": True})


def pipeline(app: Any, **functions: Any) -> Any:
    registry = FunctionRegistry({"function-tag": tag, **functions})
    return compose([*fixture("open-xrd.yaml"), *fixture("pipeline.yaml"), app], functions=registry)


def test_pipeline_runs_patch_and_transform_then_a_registered_function() -> None:
    result = pipeline(xapp({"region": "eu-west-1", "acl": "public"}))

    (bucket,) = result.resources
    assert bucket.key == BUCKET
    assert bucket.manifest["spec"] == {"forProvider": {"region": "eu-west-1", "acl": "public-read"}}
    assert bucket.labels == {"crossplane.io/composite": "demo", "team": "team-a"}
    assert result.composites[0].composition == "xapps-pipeline"


def test_each_step_sees_the_previous_desired_state_and_context() -> None:
    seen: list[tuple[list[str], dict[str, Any]]] = []

    def spy(request: FunctionRequest) -> FunctionResponse:
        seen.append((sorted(request.desired["resources"]), dict(request.context)))
        return FunctionResponse(desired=request.desired, context=request.context)

    composition = fixture("pipeline.yaml")[0]
    composition.manifest["spec"]["pipeline"].append(
        {"step": "spy", "functionRef": {"name": "function-spy"}}
    )
    registry = FunctionRegistry({"function-tag": tag, "function-spy": spy})

    compose([*fixture("open-xrd.yaml"), composition, xapp({"acl": "private"})], functions=registry)

    assert seen == [(["bucket"], {"tagged": True})]


def test_a_function_cannot_change_what_the_next_composite_sees() -> None:
    def vandal(request: FunctionRequest) -> FunctionResponse:
        request.input["tag"] += "-x"
        request.observed["composite"]["resource"]["spec"]["parameters"]["acl"] = "public"
        return tag(request)

    two = [xapp({"acl": "private"}, name="one"), xapp({"acl": "private"}, name="two")]
    composition = fixture("pipeline.yaml")
    registry = FunctionRegistry({"function-tag": vandal})
    result = compose([*fixture("open-xrd.yaml"), *composition, *two], functions=registry)

    # Each run got its own copy of the input: the tag grew once per composite, not twice.
    assert [r.labels["team"] for r in result.resources] == ["team-a-x", "team-a-x"]
    assert composition[0].manifest["spec"]["pipeline"][1]["input"] == {"tag": "team-a"}
    assert [x.manifest["spec"]["parameters"] for x in two] == [{"acl": "private"}] * 2


def test_a_function_may_add_resources() -> None:
    def add_topic(request: FunctionRequest) -> FunctionResponse:
        desired = request.desired
        desired["resources"]["topic"] = {
            "resource": {"apiVersion": "sns.aws.crossplane.io/v1beta1", "kind": "Topic"},
            "ready": "READY_UNSPECIFIED",
        }
        return FunctionResponse(desired=desired)

    result = pipeline(xapp({"acl": "private"}), **{"function-tag": add_topic})

    assert [r.key.display for r in result.resources] == ["Bucket/demo-bucket", "Topic/demo-topic"]


def test_an_unknown_function_names_the_composition_step_and_registered_functions() -> None:
    with pytest.raises(ValidationError) as raised:
        compose(
            [*fixture("open-xrd.yaml"), *fixture("pipeline.yaml")],
            functions=FunctionRegistry({"function-auto-ready": tag}),
        )

    assert str(raised.value) == (
        "Composition/xapps-pipeline (pipeline.yaml:3): pipeline step 'tag-everything' uses "
        "function 'function-tag', which is not registered (registered: "
        "crossplane-contrib-function-patch-and-transform, function-auto-ready, "
        "function-patch-and-transform)"
    )


def test_a_fatal_result_stops_the_composition() -> None:
    def refuse(request: FunctionRequest) -> FunctionResponse:
        return FunctionResponse(
            desired=request.desired,
            results=(FunctionResult(Severity.FATAL, "acl must not be public", resource="bucket"),),
        )

    with pytest.raises(ValidationError) as raised:
        pipeline(xapp({"acl": "public"}), **{"function-tag": refuse})

    assert str(raised.value) == (
        "XApp/demo (app.yaml:3): composition xapps-pipeline, step tag-everything "
        "(resource bucket): acl must not be public"
    )


@pytest.mark.parametrize(
    ("function", "want"),
    [
        (
            lambda request: (_ for _ in ()).throw(FunctionError("no tag given")),
            "composition xapps-pipeline, step tag-everything: no tag given",
        ),
        (
            lambda request: 1 / 0,
            "step tag-everything: function function-tag failed: ZeroDivisionError: "
            "division by zero",
        ),
        (lambda request: {"resources": {}}, "did not return a FunctionResponse"),
        (
            lambda request: FunctionResponse(desired={"resources": {"x": {"resource": {}}}}),
            "desired resource 'x' has no resource with a kind",
        ),
    ],
    ids=["FunctionError", "a crash", "not a response", "a resource without kind"],
)
def test_function_failures_name_the_xr_composition_and_step(function: Any, want: str) -> None:
    with pytest.raises(ValidationError) as raised:
        pipeline(xapp({"acl": "private"}), **{"function-tag": function})

    assert want in str(raised.value)
    assert str(raised.value).startswith("XApp/demo (app.yaml:3): ")


def test_builtin_function_errors_name_the_step_resource_and_patch() -> None:
    with pytest.raises(ValidationError) as raised:
        pipeline(xapp({"acl": "world-writable"}))

    assert str(raised.value) == (
        "XApp/demo (app.yaml:3): composition xapps-pipeline, step patch-and-transform: "
        "resource bucket, patch 1 (FromCompositeFieldPath spec.parameters.acl): transform 0 "
        "(map): key 'world-writable' is not in the map (keys: 'private', 'public')"
    )


def test_readiness_and_connection_details_a_function_reports() -> None:
    def report(request: FunctionRequest) -> FunctionResponse:
        desired = request.desired
        observed = request.observed_resource("bucket")
        if observed is not None:
            desired["resources"]["bucket"]["ready"] = Ready.of(True).value
            desired["composite"]["connectionDetails"]["endpoint"] = b"https://bucket"
            desired["composite"]["resource"]["status"] = {"arn": observed["status"]["arn"]}
        return FunctionResponse(desired=desired)

    observed = {BUCKET: Live(BUCKET, {"status": {"arn": "arn:s3:1"}})}
    registry = FunctionRegistry({"function-tag": report})
    result = compose(
        [*fixture("open-xrd.yaml"), *fixture("pipeline.yaml"), xapp({"acl": "private"})],
        functions=registry,
        observed=observed,
    )

    status = result.composites[0].status
    assert status.ready
    assert dict(status.fields) == {"arn": "arn:s3:1"}
    assert dict(status.connection_details) == {"endpoint": b"https://bucket"}


def test_the_builtin_alone_runs_a_crossplane_pipeline() -> None:
    composition = fixture("pipeline.yaml")[0]
    del composition.manifest["spec"]["pipeline"][1]

    result = compose([*fixture("open-xrd.yaml"), composition, xapp({"acl": "private"})])

    assert [r.key for r in result.resources] == [BUCKET]


def test_registries() -> None:
    installed = FunctionRegistry.installed()
    bare = FunctionRegistry({"f": tag}, builtins=False)

    assert set(BUILTIN_FUNCTIONS) <= set(installed.names)
    assert installed.get("function-patch-and-transform") is not None
    assert installed.is_builtin("function-patch-and-transform")
    assert bare.names == ("f",)
    assert bare.get("function-patch-and-transform") is None
    assert not bare.is_builtin("f")


def test_a_pipeline_step_without_a_function() -> None:
    composition = fixture("pipeline.yaml")[0]
    del composition.manifest["spec"]["pipeline"][1]["functionRef"]

    with pytest.raises(ValidationError, match=r"spec.pipeline\[1\].functionRef.name is missing"):
        compose([resource(composition.manifest, file="pipeline.yaml")])
