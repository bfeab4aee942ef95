"""Field paths: diff paths and Crossplane fieldPaths read by one scanner, JSON
pointers, and reading, writing and removing a field by path."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import pytest

from gitwave.engine.fieldpath import (
    MISSING_FIELD,
    FieldPath,
    FieldPathError,
    delete_field,
    format_path,
    get_field,
    parse_diff_path,
    parse_path,
    parse_pointer,
    set_field,
    to_pointer,
    without_paths,
)

# --- text --------------------------------------------------------------------------------


@dataclass(frozen=True)
class DiffPathCase:
    reason: str
    segments: FieldPath
    text: str
    pointer: str


DIFF_PATH_CASES = [
    DiffPathCase("a plain field", ("spec", "replicas"), "spec.replicas", "/spec/replicas"),
    DiffPathCase(
        "a list index",
        ("spec", "containers", 0, "image"),
        "spec.containers[0].image",
        "/spec/containers/0/image",
    ),
    DiffPathCase(
        "a key with dots and a slash is quoted",
        ("metadata", "labels", "app.kubernetes.io/name"),
        'metadata.labels["app.kubernetes.io/name"]',
        "/metadata/labels/app.kubernetes.io~1name",
    ),
    DiffPathCase(
        "a quote inside a quoted key",
        ("data", 'say "hi"'),
        'data["say \\"hi\\""]',
        '/data/say "hi"',
    ),
    DiffPathCase("a dash in a plain key", ("data", "max-size"), "data.max-size", "/data/max-size"),
    DiffPathCase("a tilde", ("data", "a~b"), 'data["a~b"]', "/data/a~0b"),
    DiffPathCase("an index first", (0, "name"), "[0].name", "/0/name"),
]


@pytest.mark.parametrize("case", DIFF_PATH_CASES, ids=lambda c: c.reason)
def test_diff_paths_format_parse_back_and_become_pointers(case: DiffPathCase) -> None:
    assert format_path(case.segments) == case.text
    assert parse_diff_path(case.text) == case.segments
    # Every diff path is a Crossplane fieldPath with the same segments.
    assert parse_path(case.text) == case.segments
    assert to_pointer(case.text) == case.pointer
    assert to_pointer(case.segments) == case.pointer


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("spec.forProvider.tags[0].value", ("spec", "forProvider", "tags", 0, "value")),
        (
            "metadata.annotations[crossplane.io/external-name]",
            ("metadata", "annotations", "crossplane.io/external-name"),
        ),
        ('spec.parameters["size"]', ("spec", "parameters", "size")),
        ("spec.parameters['a.b']", ("spec", "parameters", "a.b")),
        ("spec.parameters[ 'a.b' ]", ("spec", "parameters", "a.b")),
        ("a[0][1]", ("a", 0, 1)),
        ("a[ 2 ]", ("a", 2)),
        ("a[0]b", ("a", 0, "b")),
        ("spec.some/key", ("spec", "some/key")),
    ],
)
def test_crossplane_field_paths(text: str, want: FieldPath) -> None:
    assert parse_path(text) == want
    assert parse_path(format_path(want)) == want


@pytest.mark.parametrize(
    "text", ["", "  ", "a..b", "a.", ".a", "a[0", "a[]", "a[*]", 'a["open]', "a['open"]
)
def test_malformed_crossplane_paths(text: str) -> None:
    with pytest.raises(FieldPathError):
        parse_path(text)


@pytest.mark.parametrize(
    "text", ["spec..replicas", "spec[x]", "[0", 'data["open', "a[0]b", "a[ 0 ]", "a.", "1a"]
)
def test_text_that_format_path_does_not_write_is_no_diff_path(text: str) -> None:
    with pytest.raises(ValueError, match="not a field path"):
        parse_diff_path(text)


def test_the_empty_diff_path_is_the_whole_object() -> None:
    assert parse_diff_path("") == ()
    assert to_pointer("") == ""


@pytest.mark.parametrize(
    ("pointer", "want"),
    [
        ("", ()),
        ("/", ("",)),
        ("/spec/replicas", ("spec", "replicas")),
        ("/metadata/annotations/a~1b", ("metadata", "annotations", "a/b")),
        ("/data/a~0b", ("data", "a~b")),
        ("/data/~01", ("data", "~1")),
    ],
)
def test_parse_pointer(pointer: str, want: tuple[str, ...]) -> None:
    assert parse_pointer(pointer) == want


@pytest.mark.parametrize("pointer", ["spec/replicas", "/data/a~2"])
def test_text_that_is_no_pointer_is_refused(pointer: str) -> None:
    with pytest.raises(FieldPathError, match="is not a JSON pointer"):
        parse_pointer(pointer)


# --- objects -----------------------------------------------------------------------------


def sample() -> dict[str, Any]:
    return {
        "metadata": {"name": "web", "labels": {"app.kubernetes.io/name": "web"}},
        "spec": {"replicas": 3, "containers": [{"name": "web", "image": "web:1"}], "x": 5},
    }


@pytest.mark.parametrize(
    ("path", "want"),
    [
        ("spec.containers[0].image", "web:1"),
        (("spec", "containers", 0, "image"), "web:1"),
        ('metadata.labels["app.kubernetes.io/name"]', "web"),
        ("metadata.labels[app.kubernetes.io/name]", "web"),
        ("spec.containers[1]", MISSING_FIELD),
        ("spec.x.y", MISSING_FIELD),
        ("spec.nothing", MISSING_FIELD),
    ],
)
def test_get_field(path: Any, want: Any) -> None:
    assert get_field(sample(), path) == want


def test_set_field_creates_maps_and_lists_on_the_way() -> None:
    obj: dict[str, Any] = {}
    set_field(obj, "spec.tags[1].value", "a")
    assert obj == {"spec": {"tags": [None, {"value": "a"}]}}


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("spec.x.y", "cannot set spec.x.y: spec.x holds a int, not an object or list"),
        ("spec.replicas[0]", "cannot set spec.replicas[0]: spec.replicas holds a int"),
        ("spec.containers.name", "cannot set spec.containers.name: spec.containers is not an"),
    ],
)
def test_set_field_refuses_to_step_through_the_wrong_thing(path: str, message: str) -> None:
    with pytest.raises(FieldPathError, match=message.replace("[", r"\[").replace("]", r"\]")):
        set_field(sample(), path, 1)


def test_set_field_with_overwrite_replaces_what_is_in_the_way() -> None:
    obj = sample()
    set_field(obj, ("spec", "x", "y"), 1, overwrite=True)
    set_field(obj, ("spec", "containers", "name"), "n", overwrite=True)
    assert obj["spec"]["x"] == {"y": 1}
    assert obj["spec"]["containers"] == {"name": "n"}


def test_delete_field() -> None:
    obj = sample()
    delete_field(obj, "spec.containers[0]")
    delete_field(obj, 'metadata.labels["app.kubernetes.io/name"]')
    delete_field(obj, "spec.absent.deeper")
    assert obj == {
        "metadata": {"name": "web", "labels": {}},
        "spec": {"replicas": 3, "x": 5, "containers": []},
    }


def test_delete_field_can_prune_the_maps_it_empties() -> None:
    obj = {"metadata": {"name": "a", "labels": {"x": "1"}}, "spec": {"a": {"b": {"c": 1}}}}
    delete_field(obj, ("metadata", "labels", "x"), prune_empty=True)
    delete_field(obj, ("spec", "a", "b", "c"), prune_empty=True)
    assert obj == {"metadata": {"name": "a"}}


def _containers(*names: str) -> list[dict[str, str]]:
    return [{"name": n, "image": f"{n}:1"} for n in names]


@dataclass(frozen=True)
class WithoutCase:
    reason: str
    paths: tuple[str, ...]
    want_spec: dict[str, Any]
    want_labels: dict[str, str]


LABELS = {"app.kubernetes.io/name": "web"}
FULL_SPEC = {"replicas": 3, "containers": _containers("a", "b", "c"), "x": 5}

WITHOUT_CASES = [
    WithoutCase("nothing", (), FULL_SPEC, LABELS),
    WithoutCase(
        "a field and the whole-object path (which removes nothing)",
        ("spec.replicas", ""),
        {"containers": _containers("a", "b", "c"), "x": 5},
        LABELS,
    ),
    WithoutCase(
        "two items of one list, the higher index first",
        ("spec.containers[0]", "spec.containers[2]"),
        {"replicas": 3, "containers": _containers("b"), "x": 5},
        LABELS,
    ),
    WithoutCase(
        "an item and a field of a later one",
        ("spec.containers[0]", "spec.containers[1].image"),
        {"replicas": 3, "containers": [{"name": "b"}, *_containers("c")], "x": 5},
        LABELS,
    ),
    WithoutCase("a quoted key", ('metadata.labels["app.kubernetes.io/name"]',), FULL_SPEC, {}),
    WithoutCase(
        "paths that lead nowhere",
        ("spec.containers[9]", "spec.replicas.x", "status.a"),
        FULL_SPEC,
        LABELS,
    ),
]


@pytest.mark.parametrize("case", WITHOUT_CASES, ids=lambda c: c.reason)
def test_without_paths_leaves_out_the_fields_a_paused_heal_must_not_touch(
    case: WithoutCase,
) -> None:
    manifest = sample()
    manifest["spec"]["containers"] = _containers("a", "b", "c")
    before = copy.deepcopy(manifest)

    got = without_paths(manifest, case.paths)

    assert got["spec"] == case.want_spec
    assert got["metadata"]["labels"] == case.want_labels
    assert manifest == before, "the input is not changed"
