"""The field diff under hypothesis (issue 10 item 17): an object diffed with itself
has no changes, every change names a field of the desired object holding the
desired value, flat maps differ symmetrically, and no JSON-like value, however
odd, makes ``diff_manifest`` or ``removed_fields`` raise."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from gitwave.engine.diff import diff_manifest, removed_fields
from gitwave.engine.fieldpath import MISSING_FIELD, get_field, parse_diff_path
from gitwave.engine.mask import MASK
from gitwave.engine.model import FieldOp
from tests.engine.fuzz_strategies import FAST, KEYS, SCALARS, json_values, manifests

POINTERS = st.lists(
    st.sampled_from(["/spec", "/spec/replicas", "/data", "/metadata/labels", "/x~1y", ""]),
    max_size=2,
)


@FAST
@given(manifests(), st.booleans())
def test_an_object_diffed_with_itself_has_no_changes(
    manifest: dict[str, Any], secret: bool
) -> None:
    assert diff_manifest(manifest, copy.deepcopy(manifest), is_secret=secret) == ()


@FAST
@given(manifests(), manifests(), st.booleans(), POINTERS)
def test_diff_never_raises_and_leaves_its_inputs_alone(
    desired: dict[str, Any], live: dict[str, Any], secret: bool, ignore: list[str]
) -> None:
    before = copy.deepcopy((desired, live))
    diff_manifest(desired, live, is_secret=secret, ignore=ignore)
    removed_fields(desired, live, is_secret=secret, ignore=ignore)
    assert (desired, live) == before


@FAST
@given(json_values(), json_values())
def test_any_values_under_any_field_never_raise(desired: Any, live: Any) -> None:
    for field in ("spec", "metadata", "data", "stringData"):
        for secret in (False, True):
            diff_manifest({field: desired}, {field: live}, is_secret=secret)
            removed_fields({field: desired}, {"metadata": {"managedFields": live}})


@FAST
@given(manifests(), manifests())
def test_every_change_names_a_desired_field_holding_the_desired_value(
    desired: dict[str, Any], live: dict[str, Any]
) -> None:
    for change in diff_manifest(desired, live):
        path = parse_diff_path(change.path)
        assert change.op in (FieldOp.ADD, FieldOp.REPLACE)
        assert get_field(desired, path) is not MISSING_FIELD
        assert get_field(desired, path) == change.desired


@FAST
@given(manifests(), manifests())
def test_a_secret_diff_shows_no_value(desired: dict[str, Any], live: dict[str, Any]) -> None:
    for change in diff_manifest(desired, live, is_secret=True):
        if change.path.startswith(("data", "stringData")):
            assert change.desired in (MASK, None)
            assert change.live in (MASK, None)


FLAT = st.dictionaries(KEYS, SCALARS.filter(lambda v: v is not None), max_size=6)


@FAST
@given(FLAT, FLAT)
def test_flat_maps_differ_in_the_same_fields_both_ways(
    left: dict[str, Any], right: dict[str, Any]
) -> None:
    """For fields both sides set (no quantities, no nulls), a change one way is a change
    the other way."""
    shared = set(left) & set(right)

    def changed(desired: dict[str, Any], live: dict[str, Any]) -> set[str]:
        return {c.path for c in diff_manifest({"spec": desired}, {"spec": live})}

    forward = {p for p in changed(left, right) if parse_diff_path(p)[-1] in shared}
    backward = {p for p in changed(right, left) if parse_diff_path(p)[-1] in shared}
    assert forward == backward
