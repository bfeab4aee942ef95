"""Patch transforms: map, match, string, math, convert — values and errors."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from gitwave.compositions.transforms import TransformError, apply_transforms
from gitwave.engine.errors import ValidationError
from tests.compositions.support import compose_app, composed, thing


@dataclass
class Case:
    reason: str
    transforms: list[dict[str, Any]]
    given: Any
    want: Any


def string(**config: Any) -> dict[str, Any]:
    return {"type": "string", "string": config}


def convert(to_type: str, fmt: str | None = None) -> dict[str, Any]:
    config = {"toType": to_type}
    if fmt:
        config["format"] = fmt
    return {"type": "convert", "convert": config}


MAP = {"type": "map", "map": {"small": "db.t3.micro", "large": {"class": "db.r6g.large"}}}
MATCH = {
    "type": "match",
    "match": {
        "patterns": [
            {"type": "literal", "literal": "eu", "result": "eu-west-1"},
            {"type": "regexp", "regexp": "^us-", "result": "us-east-1"},
        ],
        "fallbackValue": "ap-south-1",
    },
}

CASES = [
    Case("map picks the value of the key", [MAP], "small", "db.t3.micro"),
    Case("map values may be objects", [MAP], "large", {"class": "db.r6g.large"}),
    Case("match: a literal pattern", [MATCH], "eu", "eu-west-1"),
    Case("match: a regexp pattern", [MATCH], "us-2", "us-east-1"),
    Case("match: no pattern matches → fallbackValue", [MATCH], "mars", "ap-south-1"),
    Case(
        "match: fallbackTo Input keeps the input",
        [{"type": "match", "match": {"patterns": [], "fallbackTo": "Input"}}],
        "mars",
        "mars",
    ),
    Case(
        "match: a literal never matches a number",
        [{"type": "match", "match": {"patterns": [{"literal": "1", "result": "one"}]}}],
        1,
        None,
    ),
    Case("string Format with %s", [string(type="Format", fmt="%s-db")], "shop", "shop-db"),
    Case("string Format with %d", [string(type="Format", fmt="%05d")], 42, "00042"),
    Case("string Format with %v of a bool", [string(type="Format", fmt="on=%v")], True, "on=true"),
    Case("string Format without a type (older form)", [string(fmt="x-%s")], "y", "x-y"),
    Case("Convert ToUpper", [string(type="Convert", convert="ToUpper")], "eu", "EU"),
    Case("Convert ToLower", [string(type="Convert", convert="ToLower")], "EU", "eu"),
    Case("Convert ToBase64", [string(type="Convert", convert="ToBase64")], "hi", "aGk="),
    Case("Convert FromBase64", [string(type="Convert", convert="FromBase64")], "aGk=", "hi"),
    Case(
        "Convert ToJson of an object: sorted, compact",
        [string(type="Convert", convert="ToJson")],
        {"b": 1, "a": [True, None]},
        '{"a":[true,null],"b":1}',
    ),
    Case(
        "Convert ToSha1 of a string hashes its bytes",
        [string(type="Convert", convert="ToSha1")],
        "abc",
        "a9993e364706816aba3e25717850c26c9cd0d89d",
    ),
    Case(
        "Convert ToSha256",
        [string(type="Convert", convert="ToSha256")],
        "abc",
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
    ),
    Case("TrimPrefix", [string(type="TrimPrefix", trim="arn:")], "arn:aws", "aws"),
    Case("TrimSuffix", [string(type="TrimSuffix", trim=".com")], "x.example.com", "x.example"),
    Case(
        "Regexp with a group",
        [string(type="Regexp", regexp={"match": "^eu-(.*)-[0-9]$", "group": 1})],
        "eu-west-1",
        "west",
    ),
    Case(
        "Regexp without a group gives the whole match",
        [string(type="Regexp", regexp={"match": "[0-9]+"})],
        "db-42-x",
        "42",
    ),
    Case(
        "math Multiply keeps an integer an integer",
        [{"type": "math", "math": {"type": "Multiply", "multiply": 1024}}],
        10,
        10240,
    ),
    Case(
        "math Multiply without a type (older form)",
        [{"type": "math", "math": {"multiply": 2}}],
        1.5,
        3.0,
    ),
    Case("math ClampMin", [{"type": "math", "math": {"type": "ClampMin", "clampMin": 20}}], 5, 20),
    Case(
        "math ClampMin leaves larger values",
        [{"type": "math", "math": {"type": "ClampMin", "clampMin": 20}}],
        50,
        50,
    ),
    Case("math ClampMax", [{"type": "math", "math": {"type": "ClampMax", "clampMax": 9}}], 12, 9),
    Case("convert string → int64", [convert("int64")], "42", 42),
    Case("convert int is int64", [convert("int")], "-7", -7),
    Case("convert string → float64", [convert("float64")], "0.5", 0.5),
    Case("convert string → bool", [convert("bool")], "true", True),
    Case("convert int → string", [convert("string")], 5432, "5432"),
    Case("convert float → string drops .0", [convert("string")], 80.0, "80"),
    Case("convert bool → string", [convert("string")], False, "false"),
    Case("convert int → float64", [convert("float64")], 80, 80.0),
    Case("convert float → int64 truncates", [convert("int64")], 2.9, 2),
    Case(
        "convert quantity → int64 (rounds up)", [convert("int64", "quantity")], "1.5Gi", 1610612736
    ),
    Case("convert milli quantity → float64", [convert("float64", "quantity")], "250m", 0.25),
    Case("convert quantity → int64 of 100m is 1", [convert("int64", "quantity")], "100m", 1),
    Case("convert json → object", [convert("object", "json")], '{"a": [1]}', {"a": [1]}),
    Case("convert json → array", [convert("array", "json")], "[1, 2]", [1, 2]),
    Case("convert to the same type is a no-op", [convert("string")], "x", "x"),
    Case(
        "transforms run in order",
        [MAP, string(type="Convert", convert="ToUpper")],
        "small",
        "DB.T3.MICRO",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.reason)
def test_transform(case: Case) -> None:
    assert apply_transforms(case.transforms, case.given) == case.want


@dataclass
class ErrorCase:
    reason: str
    transforms: list[dict[str, Any]]
    given: Any
    want: str


ERROR_CASES = [
    ErrorCase(
        "map of a number", [MAP], 3, "transform 0 (map): map needs a string input, got integer"
    ),
    ErrorCase("map of an unknown key", [MAP], "huge", "key 'huge' is not in the map"),
    ErrorCase(
        "math of a string",
        [{"type": "math", "math": {"type": "Multiply", "multiply": 2}}],
        "ten",
        "transform 0 (math): math needs a number input, got string",
    ),
    ErrorCase(
        "math of a bool",
        [{"type": "math", "math": {"type": "Multiply", "multiply": 2}}],
        True,
        "got boolean",
    ),
    ErrorCase(
        "the second transform fails",
        [MAP, {"type": "math", "math": {"multiply": 2}}],
        "small",
        "transform 1 (math): math needs a number input, got string",
    ),
    ErrorCase(
        "Format %d of a string", [string(type="Format", fmt="%d")], "x", "%d needs an integer"
    ),
    ErrorCase("Format with two verbs", [string(fmt="%s-%s")], "x", "more verbs than the 1 value"),
    ErrorCase(
        "ToUpper of an object",
        [string(type="Convert", convert="ToUpper")],
        {"a": 1},
        "ToUpper needs a string or scalar input, got object",
    ),
    ErrorCase(
        "FromBase64 of text that is not base64",
        [string(type="Convert", convert="FromBase64")],
        "%%%",
        "not valid base64",
    ),
    ErrorCase(
        "unknown Convert",
        [string(type="Convert", convert="ToKlingon")],
        "x",
        "string convert 'ToKlingon' is unknown",
    ),
    ErrorCase(
        "Regexp that does not match",
        [string(type="Regexp", regexp={"match": "^z"})],
        "abc",
        "does not match",
    ),
    ErrorCase(
        "Regexp group out of range",
        [string(type="Regexp", regexp={"match": "(a)", "group": 2})],
        "abc",
        "has no group 2",
    ),
    ErrorCase("convert 'ten' to int64", [convert("int64")], "ten", "cannot convert 'ten' to int64"),
    ErrorCase(
        "convert 'maybe' to bool", [convert("bool")], "maybe", "cannot convert 'maybe' to bool"
    ),
    ErrorCase(
        "convert an object to int64", [convert("int64")], {"a": 1}, "cannot convert object to"
    ),
    ErrorCase("convert an unknown type", [convert("decimal")], "1", "convert.toType is 'decimal'"),
    ErrorCase("convert a bad quantity", [convert("int64", "quantity")], "lots", "not a Kubernetes"),
    ErrorCase("convert JSON that is not JSON", [convert("object", "json")], "{", "not JSON"),
    ErrorCase(
        "convert JSON of the wrong type",
        [convert("object", "json")],
        "[1]",
        "the JSON input is array",
    ),
    ErrorCase("unknown transform type", [{"type": "reverse"}], "x", "unknown transform type"),
    ErrorCase("transform without its config", [{"type": "map"}], "x", "needs a 'map' object"),
    ErrorCase(
        "match pattern of an unknown type",
        [{"type": "match", "match": {"patterns": [{"type": "glob", "result": 1}]}}],
        "x",
        "unknown type 'glob'",
    ),
]


@pytest.mark.parametrize("case", ERROR_CASES, ids=lambda c: c.reason)
def test_transform_error(case: ErrorCase) -> None:
    with pytest.raises(TransformError) as raised:
        apply_transforms(case.transforms, case.given)
    shown = f"transform {raised.value.index} ({raised.value.kind}): {raised.value}"
    assert case.want in shown


def test_wrong_type_through_compose_names_xr_composition_resource_patch_and_transform() -> None:
    template = thing(
        "db",
        patches=[
            {"fromFieldPath": "spec.parameters.region", "toFieldPath": "spec.forProvider.region"},
            {
                "type": "FromCompositeFieldPath",
                "fromFieldPath": "spec.parameters.storage",
                "toFieldPath": "spec.forProvider.allocatedStorage",
                "transforms": [
                    {"type": "convert", "convert": {"toType": "string"}},
                    {"type": "math", "math": {"type": "Multiply", "multiply": 1024}},
                ],
            },
        ],
    )

    with pytest.raises(ValidationError) as raised:
        compose_app([template], {"region": "eu-west-1", "storage": 10})

    assert str(raised.value) == (
        "XApp/demo (app.yaml:3): composition xapps: resource db, patch 1 "
        "(FromCompositeFieldPath spec.parameters.storage): transform 1 (math): "
        "math needs a number input, got string"
    )


def test_transforms_apply_to_the_composed_resource() -> None:
    template = thing(
        patches=[
            {
                "fromFieldPath": "spec.parameters.size",
                "toFieldPath": "spec.forProvider.instanceClass",
                "transforms": [MAP],
            }
        ]
    )

    result = compose_app([template], {"size": "small"})

    assert composed(result).manifest["spec"]["forProvider"]["instanceClass"] == "db.t3.micro"
