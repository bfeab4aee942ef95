"""``${var}`` expansion as Flux's post-build substitution (its envsubst fork) does it, strict."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from gitwave.engine.render.envsubst import Expansion, SubstitutionError, expand

VARS = {"a": "Hello", "n": "3", "empty": "", "path": "a/b/c.txt"}


@dataclass(frozen=True)
class Case:
    reason: str
    given: str
    want: str


CASES = [
    Case("a plain variable", "x ${a} y", "x Hello y"),
    Case("$$ escapes the expression", "$${a}", "${a}"),
    Case("$$ then an expression", "$$${a}", "$Hello"),
    Case("a lone dollar stays", "cost $5 and $", "cost $5 and $"),
    Case("$$ is one dollar anywhere", "echo $$HOME", "echo $HOME"),
    Case("a bare $var is never expanded", "$a", "$a"),
    Case(":= default when unset", "${nope:=dflt}", "dflt"),
    Case(":= keeps a set value", "${a:=dflt}", "Hello"),
    Case(":- default when empty", "${empty:-dflt}", "dflt"),
    Case("= default", "${nope=d}", "d"),
    Case("a default holding a variable", "${nope:=x-${a}}", "x-Hello"),
    Case("length", "${#a}", "5"),
    Case("upper first", "${empty^}${a^}", "Hello"),
    Case("upper all", "${a^^}", "HELLO"),
    Case("lower all", "${a,,}", "hello"),
    Case("substring", "${a:1:3}", "ell"),
    Case("substring to the end", "${a:2}", "llo"),
    Case("negative length drops from the end", "${a:1:-1}", "ell"),
    Case("an offset that is no number keeps the value", "${a: -3}", "Hello"),
    Case("replace first", "${a/l/L}", "HeLlo"),
    Case("replace all", "${a//l/L}", "HeLLo"),
    Case("replace prefix", "${a/#H/J}", "Jello"),
    Case("replace suffix", "${a/%o/0}", "Hell0"),
    Case("escaped slash in a pattern", "${path//\\//-}", "a-b-c.txt"),
    Case("trim shortest prefix", "${path#*/}", "b/c.txt"),
    Case("glob star stops at a slash", "${path##*/}", "b/c.txt"),
    Case("trim shortest suffix", "${path%.*}", "a/b/c"),
    Case("trim longest suffix", "${a%%l*}", "He"),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.reason)
def test_expand(case: Case) -> None:
    assert expand(case.given, VARS.get) == case.want


@pytest.mark.parametrize(
    ("given", "message", "variable"),
    [
        ("${nope}", "variable not set: 'nope'", "nope"),
        ("${nope^^}", "variable not set: 'nope'", "nope"),
        ("${#nope}", "variable not set: 'nope'", "nope"),
        ("${a-x}", "missing closing brace", ""),
        ("${}", "unable to parse variable name", ""),
        ("${a", "missing closing brace", ""),
        ("${a:=x", "missing closing brace", ""),
    ],
)
def test_errors(given: str, message: str, variable: str) -> None:
    with pytest.raises(SubstitutionError) as caught:
        expand(given, VARS.get)
    assert message in str(caught.value)
    assert caught.value.variable == variable


def test_tainted_outputs_are_collected() -> None:
    """What a secret-sourced variable became, transformed or not, is reported for masking."""
    state = Expansion(tainted=frozenset({"a"}))
    assert expand("u:${a^^}:${n}", VARS.get, state) == "u:HELLO:3"
    assert state.tainted_output == {"Hello", "HELLO"}
