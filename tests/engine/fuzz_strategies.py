"""Hypothesis strategies the fuzz tests share: JSON-like values, manifests, field paths."""

from __future__ import annotations

from typing import Any

from hypothesis import settings
from hypothesis import strategies as st

# Modest example counts keep the suite fast; the `slow` tests ask for more.
FAST = settings(max_examples=150, deadline=None)
SLOW = settings(max_examples=300, deadline=None)

# Keys as people write them, and odd ones: dots, slashes, quotes, brackets,
# backslashes, spaces, unicode, the empty string.
KEYS = st.one_of(
    st.sampled_from(
        [
            "spec",
            "metadata",
            "name",
            "labels",
            "app.kubernetes.io/name",
            "a.b",
            'q"uote',
            "back\\slash",
            "[0]",
            "x]y",
            " sp ace",
            "",
            "~0~1",
            "ü",
            "*",
        ]
    ),
    st.text(min_size=0, max_size=8),
)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**40), max_value=2**40),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
    st.sampled_from(["500m", "1Gi", "0.5", "1", "true", "null", "~", "ENC[x]"]),
)


# YAML keys need not be strings: `1: a`, `true: b`, `null: c`, `1.5: d`.
YAML_KEYS = st.one_of(
    KEYS, st.integers(-3, 3), st.booleans(), st.none(), st.floats(allow_nan=False)
)


def json_values(
    max_leaves: int = 25, *, keys: st.SearchStrategy[Any] = KEYS
) -> st.SearchStrategy[Any]:
    """Any value a parsed manifest may hold: scalars, lists and maps (string keys
    unless ``keys`` says otherwise)."""
    return st.recursive(
        SCALARS,
        lambda children: st.one_of(
            st.lists(children, max_size=4),
            st.dictionaries(keys, children, max_size=4),
        ),
        max_leaves=max_leaves,
    )


def yaml_values(max_leaves: int = 25) -> st.SearchStrategy[Any]:
    """What YAML parses to: ``json_values`` with keys of any scalar type."""
    return json_values(max_leaves, keys=YAML_KEYS)


def manifests() -> st.SearchStrategy[dict[str, Any]]:
    """Object-shaped dicts: the usual top-level fields with any values, plus others."""
    return st.fixed_dictionaries(
        {},
        optional={
            "apiVersion": st.one_of(st.sampled_from(["v1", "apps/v1"]), json_values(3)),
            "kind": st.one_of(st.sampled_from(["ConfigMap", "Secret", "Deployment"]), SCALARS),
            "metadata": st.one_of(
                st.fixed_dictionaries(
                    {},
                    optional={
                        "name": st.one_of(st.just("x"), SCALARS),
                        "labels": json_values(5),
                        "annotations": json_values(5),
                        "managedFields": json_values(8),
                    },
                ),
                json_values(5),
            ),
            "spec": json_values(),
            "data": json_values(8),
            "stringData": json_values(8),
            "status": json_values(5),
        },
    )


SEGMENTS = st.one_of(KEYS, st.integers(min_value=0, max_value=40))
PATHS = st.lists(SEGMENTS, max_size=6).map(tuple)
