"""Field paths under hypothesis (issue 10 item 17): what ``format_path`` writes
reads back to the same segments, JSON pointers round-trip, ``set_field`` then
``get_field`` returns the value, and any text either parses or raises
FieldPathError, never another exception."""

from __future__ import annotations

import contextlib
import copy
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gitwave.engine.fieldpath import (
    MISSING_FIELD,
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
from tests.engine.fuzz_strategies import FAST, PATHS, json_values

# Text that looks like a path: the characters the scanner cares about, and others.
PATH_TEXT = st.text(alphabet=st.sampled_from("ab.[]\"'\\ 0123*/~\x00é"), max_size=16) | st.text(
    max_size=16
)


@FAST
@given(PATHS)
def test_a_formatted_path_reads_back_to_its_segments(path: tuple[Any, ...]) -> None:
    text = format_path(path)
    assert parse_diff_path(text) == path
    if path:
        assert parse_path(text) == path


@FAST
@given(PATHS)
def test_a_pointer_reads_back_to_the_segments_as_text(path: tuple[Any, ...]) -> None:
    assert parse_pointer(to_pointer(path)) == tuple(str(s) for s in path)


@FAST
@given(PATH_TEXT)
def test_any_text_parses_or_raises_field_path_error(text: str) -> None:
    for parse in (parse_path, parse_diff_path, parse_pointer):
        with contextlib.suppress(FieldPathError):
            parse(text)


@FAST
@given(json_values(), PATH_TEXT)
def test_reading_any_value_at_any_path_never_raises_another_error(value: Any, text: str) -> None:
    with contextlib.suppress(FieldPathError):
        get_field(value, text)


@FAST
@given(st.lists(st.one_of(st.text(max_size=6), st.integers(0, 20)), max_size=6), json_values(5))
def test_set_then_get_returns_the_value_and_delete_removes_it(
    segments: list[Any], value: Any
) -> None:
    path = ("root", *segments)
    obj: dict[str, Any] = {}
    set_field(obj, path, value)
    assert get_field(obj, path) == value
    delete_field(obj, path)
    if segments and isinstance(segments[-1], str):
        assert get_field(obj, path) is MISSING_FIELD


@FAST
@given(json_values(), st.lists(st.one_of(st.text(max_size=6), st.integers(0, 20)), max_size=5))
def test_setting_into_any_object_sets_or_raises_field_path_error(
    value: Any, segments: list[Any]
) -> None:
    obj = {"root": value}
    before = copy.deepcopy(obj)
    try:
        set_field(obj, ("root", *segments), "x")
    except FieldPathError:
        return
    for overwrite in (True,):
        again = copy.deepcopy(before)
        set_field(again, ("root", *segments), "x", overwrite=overwrite)
        assert get_field(again, ("root", *segments)) == "x"


@FAST
@given(json_values(), st.lists(PATH_TEXT, max_size=3))
def test_without_paths_leaves_its_input_alone(value: Any, paths: list[str]) -> None:
    manifest = {"spec": value}
    before = copy.deepcopy(manifest)
    with contextlib.suppress(FieldPathError):
        without_paths(manifest, paths)
    assert manifest == before


def test_a_huge_list_index_is_refused_not_allocated() -> None:
    """A path from Git (a composition patch's toFieldPath) must not make gitwave
    allocate a list of a billion nulls."""
    obj: dict[str, Any] = {}
    with pytest.raises(FieldPathError, match=r"index 1000000000 is past the end.* at most"):
        set_field(obj, "spec.items[1000000000]", "x")
    assert obj == {}
