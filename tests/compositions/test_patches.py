"""Patch types and policies of mode: Resources compositions, seen in the composed output."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from gitwave.engine.api import MISSING_FIELD, get_field
from gitwave.engine.errors import ValidationError
from gitwave.engine.model import Live, ResourceKey
from tests.compositions.support import compose_app, composed, thing

PARAMS = {
    "region": "eu-west-1",
    "size": "large",
    "tags": {"team": "shop"},
    "zones": ["a", "b"],
    "dotted.key": "yes",
}


def patch(source: str, target: str | None = None, **fields: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "FromCompositeFieldPath", "fromFieldPath": source, **fields}
    if target is not None:
        out["toFieldPath"] = target
    return out


def combine(paths: list[str], fmt: str, target: str, **fields: Any) -> dict[str, Any]:
    return {
        "type": "CombineFromComposite",
        "combine": {
            "variables": [{"fromFieldPath": p} for p in paths],
            "strategy": "string",
            "string": {"fmt": fmt},
        },
        "toFieldPath": target,
        **fields,
    }


@dataclass
class Case:
    reason: str
    patches: list[dict[str, Any]]
    want: dict[str, Any] = field(default_factory=dict)
    absent: list[str] = field(default_factory=list)
    base: dict[str, Any] | None = None
    patch_sets: list[dict[str, Any]] | None = None


CASES = [
    Case(
        "FromCompositeFieldPath copies a value",
        [patch("spec.parameters.region", "spec.forProvider.region")],
        {"spec.forProvider.region": "eu-west-1"},
    ),
    Case(
        "a patch without a type is FromCompositeFieldPath",
        [{"fromFieldPath": "spec.parameters.size", "toFieldPath": "spec.forProvider.size"}],
        {"spec.forProvider.size": "large"},
    ),
    Case(
        "toFieldPath defaults to fromFieldPath",
        [patch("spec.parameters.region")],
        {"spec.parameters.region": "eu-west-1"},
    ),
    Case(
        "objects are copied whole",
        [patch("spec.parameters.tags", "spec.forProvider.tags")],
        {"spec.forProvider.tags": {"team": "shop"}},
    ),
    Case(
        "a missing source skips an Optional patch (the default)",
        [patch("spec.parameters.nothing", "spec.forProvider.nothing")],
        absent=["spec.forProvider.nothing"],
    ),
    Case(
        "a patch from the composite's metadata",
        [patch("metadata.name", "spec.forProvider.identifier")],
        {"spec.forProvider.identifier": "demo"},
    ),
    Case(
        "an index in toFieldPath creates the list",
        [patch("spec.parameters.region", "spec.forProvider.tags[0].value")],
        {"spec.forProvider.tags": [{"value": "eu-west-1"}]},
    ),
    Case(
        "an index into an existing list",
        [patch("spec.parameters.zones[1]", "spec.forProvider.zone")],
        {"spec.forProvider.zone": "b"},
    ),
    Case(
        "a bracketed key with dots and slashes",
        [patch("metadata.name", "metadata.labels[crossplane.io/claim-name]")],
        {"metadata.labels[crossplane.io/claim-name]": "demo"},
    ),
    Case(
        "a quoted bracketed key",
        [patch('spec.parameters["dotted.key"]', "spec.forProvider.flag")],
        {"spec.forProvider.flag": "yes"},
    ),
    Case(
        "CombineFromComposite formats several fields",
        [combine(["metadata.name", "spec.parameters.region"], "%s in %s", "spec.forProvider.d")],
        {"spec.forProvider.d": "demo in eu-west-1"},
    ),
    Case(
        "CombineFromComposite with a missing variable is skipped",
        [combine(["metadata.name", "spec.parameters.nothing"], "%s-%s", "spec.forProvider.d")],
        absent=["spec.forProvider.d"],
    ),
    Case(
        "CombineFromComposite then a transform",
        [
            combine(
                ["spec.parameters.region"],
                "%s",
                "spec.forProvider.d",
                transforms=[
                    {"type": "string", "string": {"type": "Convert", "convert": "ToUpper"}}
                ],
            )
        ],
        {"spec.forProvider.d": "EU-WEST-1"},
    ),
    Case(
        "a PatchSet runs its patches in place",
        [
            {"type": "PatchSet", "patchSetName": "common"},
            patch("spec.parameters.size", "spec.forProvider.region"),
        ],
        {"spec.forProvider.region": "large", "spec.forProvider.size": "large"},
        patch_sets=[
            {
                "name": "common",
                "patches": [
                    patch("spec.parameters.region", "spec.forProvider.region"),
                    patch("spec.parameters.size", "spec.forProvider.size"),
                ],
            }
        ],
    ),
    Case(
        "Replace (the default) replaces an object",
        [patch("spec.parameters.tags", "spec.forProvider.tags")],
        {"spec.forProvider.tags": {"team": "shop"}},
        base={"tags": {"team": "base", "cost": "1"}},
    ),
    Case(
        "MergeObjects keeps the values already there",
        [
            patch(
                "spec.parameters.tags",
                "spec.forProvider.tags",
                policy={"toFieldPath": "MergeObjects"},
            )
        ],
        {"spec.forProvider.tags": {"team": "base", "cost": "1"}},
        base={"tags": {"team": "base", "cost": "1"}},
    ),
    Case(
        "ForceMergeObjects lets the patch win",
        [
            patch(
                "spec.parameters.tags",
                "spec.forProvider.tags",
                policy={"toFieldPath": "ForceMergeObjects"},
            )
        ],
        {"spec.forProvider.tags": {"team": "shop", "cost": "1"}},
        base={"tags": {"team": "base", "cost": "1"}},
    ),
    Case(
        "ForceMergeObjectsAppendArrays appends lists",
        [
            patch(
                "spec.parameters.zones",
                "spec.forProvider.zones",
                policy={"toFieldPath": "ForceMergeObjectsAppendArrays"},
            )
        ],
        {"spec.forProvider.zones": ["z", "a", "b"]},
        base={"zones": ["z"]},
    ),
    Case(
        "the older mergeOptions.keepMapValues",
        [
            patch(
                "spec.parameters.tags",
                "spec.forProvider.tags",
                policy={"mergeOptions": {"keepMapValues": True}},
            )
        ],
        {"spec.forProvider.tags": {"team": "base"}},
        base={"tags": {"team": "base"}},
    ),
    Case(
        "a composite value holding ${ stays a literal",
        [patch("spec.parameters.script", "spec.forProvider.script")],
        {"spec.forProvider.script": "echo ${HOME}"},
    ),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.reason)
def test_patch(case: Case) -> None:
    template = thing(patches=case.patches)
    if case.base:
        template["base"]["spec"]["forProvider"].update(case.base)

    result = compose_app(
        [template], {**PARAMS, "script": "echo ${HOME}"}, patch_sets=case.patch_sets
    )

    manifest = composed(result).manifest
    for path, want in case.want.items():
        assert get_field(manifest, path) == want, path
    for path in case.absent:
        assert get_field(manifest, path) is MISSING_FIELD, path


@dataclass
class ErrorCase:
    reason: str
    patches: list[dict[str, Any]]
    want: str
    patch_sets: list[dict[str, Any]] | None = None


ERROR_CASES = [
    ErrorCase(
        "Required and missing names the XR, composition, resource and path",
        [
            patch("spec.parameters.region", "spec.forProvider.region"),
            patch(
                "spec.parameters.vpc",
                "spec.forProvider.vpcId",
                policy={"fromFieldPath": "Required"},
            ),
        ],
        "XApp/demo (app.yaml:3): composition xapps: resource thing, patch 1 "
        "(FromCompositeFieldPath spec.parameters.vpc): required field spec.parameters.vpc is not "
        "set on the composite",
    ),
    ErrorCase(
        "a Required combine variable that is missing",
        [
            combine(
                ["spec.parameters.vpc"],
                "%s",
                "spec.forProvider.d",
                policy={"fromFieldPath": "Required"},
            )
        ],
        "required field spec.parameters.vpc is not set on the composite",
    ),
    ErrorCase(
        "an unknown policy",
        [patch("spec.parameters.region", policy={"fromFieldPath": "Sometimes"})],
        "policy.fromFieldPath is 'Sometimes'; use Optional or Required",
    ),
    ErrorCase(
        "an unknown toFieldPath policy",
        [patch("spec.parameters.region", policy={"toFieldPath": "Squash"})],
        "policy.toFieldPath is 'Squash'",
    ),
    ErrorCase(
        "a patch type gitwave does not run",
        [{"type": "FromEnvironmentFieldPath", "fromFieldPath": "x"}],
        "patch type 'FromEnvironmentFieldPath' is not supported",
    ),
    ErrorCase(
        "a patch set that is not defined",
        [{"type": "PatchSet", "patchSetName": "nope"}],
        "patch 0: patchSet 'nope' is not defined (defined: none)",
    ),
    ErrorCase(
        "a combine strategy other than string",
        [
            {
                "type": "CombineFromComposite",
                "combine": {"variables": [{"fromFieldPath": "metadata.name"}], "strategy": "sum"},
                "toFieldPath": "spec.x",
            }
        ],
        "combine strategy 'sum' is not supported",
    ),
    ErrorCase(
        "a format whose verbs do not fit the variables",
        [combine(["metadata.name"], "%s-%s", "spec.forProvider.d")],
        "format '%s-%s' has more verbs than the 1 value(s) given",
    ),
    ErrorCase(
        "a malformed field path",
        [patch("spec.parameters.region", "spec..region")],
        "field path 'spec..region' has an empty segment",
    ),
    ErrorCase(
        "setting a field below a string",
        [patch("spec.parameters.region", "spec.forProvider.engine.version")],
        "cannot set spec.forProvider.engine.version: spec.forProvider.engine holds a str",
    ),
    ErrorCase(
        "patches without fromFieldPath",
        [{"type": "FromCompositeFieldPath", "toFieldPath": "spec.x"}],
        "FromCompositeFieldPath needs fromFieldPath",
    ),
]


@pytest.mark.parametrize("case", ERROR_CASES, ids=lambda c: c.reason)
def test_patch_error(case: ErrorCase) -> None:
    template = thing(patches=case.patches)
    template["base"]["spec"]["forProvider"]["engine"] = "postgres"

    with pytest.raises(ValidationError) as raised:
        compose_app([template], PARAMS, patch_sets=case.patch_sets)

    assert case.want in str(raised.value)


def test_patched_objects_are_copies_not_shared_with_the_composite() -> None:
    templates = [
        thing("a", patches=[patch("spec.parameters.tags", "spec.forProvider.tags")]),
        thing(
            "b",
            patches=[
                patch("spec.parameters.tags", "spec.forProvider.tags"),
                patch("spec.parameters.region", "spec.forProvider.tags.region"),
            ],
        ),
    ]
    params = {"tags": {"team": "shop"}, "region": "eu"}

    result = compose_app(templates, params)

    by_name = {r.key.name: r.manifest for r in result.resources if r.key.kind == "Thing"}
    assert by_name["demo-a"]["spec"]["forProvider"]["tags"] == {"team": "shop"}
    assert by_name["demo-b"]["spec"]["forProvider"]["tags"] == {"team": "shop", "region": "eu"}
    assert params == {"tags": {"team": "shop"}, "region": "eu"}


# --- patches to the composite (from observed composed resources) ---------------------------

THING_KEY = ResourceKey("things.example.org", "Thing", "", "demo-thing")


@dataclass
class ToCase:
    reason: str
    patches: list[dict[str, Any]]
    live: dict[str, Any]
    want_status: dict[str, Any]
    want_warnings: tuple[str, ...] = ()


TO_CASES = [
    ToCase(
        "ToCompositeFieldPath copies an observed field into the composite's status",
        [
            {
                "type": "ToCompositeFieldPath",
                "fromFieldPath": "status.atProvider.arn",
                "toFieldPath": "status.arn",
            }
        ],
        {"status": {"atProvider": {"arn": "arn:aws:x"}}},
        {"arn": "arn:aws:x"},
    ),
    ToCase(
        "ToCompositeFieldPath with a transform",
        [
            {
                "type": "ToCompositeFieldPath",
                "fromFieldPath": "status.atProvider.port",
                "toFieldPath": "status.port",
                "transforms": [{"type": "convert", "convert": {"toType": "string"}}],
            }
        ],
        {"status": {"atProvider": {"port": 5432}}},
        {"port": "5432"},
    ),
    ToCase(
        "a field not observed yet is skipped",
        [
            {
                "type": "ToCompositeFieldPath",
                "fromFieldPath": "status.atProvider.arn",
                "toFieldPath": "status.arn",
            }
        ],
        {"status": {}},
        {},
    ),
    ToCase(
        "Required and not observed yet is a warning, not an error",
        [
            {
                "type": "ToCompositeFieldPath",
                "fromFieldPath": "status.atProvider.arn",
                "toFieldPath": "status.arn",
                "policy": {"fromFieldPath": "Required"},
            }
        ],
        {"status": {}},
        {},
        (
            "resource thing: patch 0 (ToCompositeFieldPath status.atProvider.arn): required "
            "field status.atProvider.arn is not set on the observed resource yet",
        ),
    ),
    ToCase(
        "CombineToComposite formats observed fields",
        [
            {
                "type": "CombineToComposite",
                "combine": {
                    "variables": [
                        {"fromFieldPath": "status.atProvider.host"},
                        {"fromFieldPath": "status.atProvider.port"},
                    ],
                    "strategy": "string",
                    "string": {"fmt": "%s:%d"},
                },
                "toFieldPath": "status.address",
            }
        ],
        {"status": {"atProvider": {"host": "db.local", "port": 5432}}},
        {"address": "db.local:5432"},
    ),
]


@pytest.mark.parametrize("case", TO_CASES, ids=lambda c: c.reason)
def test_to_composite_patch(case: ToCase) -> None:
    observed = {THING_KEY: Live(THING_KEY, case.live)}

    result = compose_app([thing(patches=case.patches)], PARAMS, observed=observed)

    status = result.composites[0].status
    assert dict(status.fields) == case.want_status
    assert status.warnings == case.want_warnings


def test_composite_status_feeds_from_composite_patches() -> None:
    # One resource reports its ARN to the composite; another reads it from there —
    # Crossplane's way to pass values between composed resources.
    templates = [
        thing(
            "key",
            patches=[
                {
                    "type": "ToCompositeFieldPath",
                    "fromFieldPath": "status.atProvider.arn",
                    "toFieldPath": "status.keyArn",
                }
            ],
        ),
        thing("bucket", patches=[patch("status.keyArn", "spec.forProvider.kmsKeyArn")]),
    ]
    key = ResourceKey("things.example.org", "Thing", "", "demo-key")
    observed = {key: Live(key, {"status": {"atProvider": {"arn": "arn:kms:1"}}})}

    before = compose_app(templates, PARAMS)
    after = compose_app(templates, PARAMS, observed=observed)

    def bucket(result: Any) -> dict[str, Any]:
        return next(r.manifest for r in result.resources if r.key.name == "demo-bucket")

    assert "kmsKeyArn" not in bucket(before)["spec"]["forProvider"]
    assert bucket(after)["spec"]["forProvider"]["kmsKeyArn"] == "arn:kms:1"


def test_composition_errors_leave_nothing_composed() -> None:
    good = thing("good", patches=[patch("spec.parameters.region", "spec.forProvider.region")])
    bad = thing(
        "bad",
        patches=[
            patch(
                "spec.parameters.size",
                "spec.x",
                transforms=[{"type": "math", "math": {"multiply": 2}}],
            )
        ],
    )

    with pytest.raises(ValidationError, match="resource bad, patch 0"):
        compose_app([good, bad], PARAMS)
