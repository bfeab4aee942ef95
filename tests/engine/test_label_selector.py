"""Label selectors as kubectl -l writes them (engine.label_selector): what
matches, and what is refused with apimachinery's wording."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from gitwave.engine.label_selector import SelectorError, parse_selector

PROD_WEB = {"env": "prod", "tier": "web", "team": "shop", "replicas": "3"}


@dataclass(frozen=True)
class Match:
    reason: str
    selector: str
    labels: dict[str, str]
    want: bool


MATCHES = [
    Match("equality", "env=prod", PROD_WEB, True),
    Match("double equals is equals", "env==prod", PROD_WEB, True),
    Match("equality fails on another value", "env=staging", PROD_WEB, False),
    Match("equality fails on an absent key", "region=eu", PROD_WEB, False),
    Match("inequality", "env!=staging", PROD_WEB, True),
    Match("inequality holds for an absent key", "region!=eu", PROD_WEB, True),
    Match("inequality fails on the value", "env!=prod", PROD_WEB, False),
    Match("in", "env in (staging,prod)", PROD_WEB, True),
    Match("in fails outside the set", "env in (staging,dev)", PROD_WEB, False),
    Match("in fails on an absent key", "region in (eu)", PROD_WEB, False),
    Match("notin", "tier notin (db,cache)", PROD_WEB, True),
    Match("notin holds for an absent key", "region notin (eu)", PROD_WEB, True),
    Match("notin fails inside the set", "tier notin (web)", PROD_WEB, False),
    Match("exists", "team", PROD_WEB, True),
    Match("exists fails", "owner", PROD_WEB, False),
    Match("does not exist", "!owner", PROD_WEB, True),
    Match("does not exist fails", "!team", PROD_WEB, False),
    Match("all must hold", "env=prod,tier=web,!owner", PROD_WEB, True),
    Match("one failing fails all", "env=prod,tier=db", PROD_WEB, False),
    Match("spaces around operators", " env = prod , tier in ( web ) ", PROD_WEB, True),
    Match("empty selects all", "", {}, True),
    Match("greater than", "replicas>2", PROD_WEB, True),
    Match("less than", "replicas<2", PROD_WEB, False),
    Match(
        "a prefixed key",
        "app.kubernetes.io/part-of=shop",
        {"app.kubernetes.io/part-of": "shop"},
        True,
    ),
    Match("keywords as values", "mode in (in,notin)", {"mode": "in"}, True),
    Match("an empty value", "env=", {"env": ""}, True),
    Match("an empty value in a set", "env in (,prod)", {"env": ""}, True),
    Match("no labels and a negative selector", "env!=prod,!legacy", {}, True),
]


@pytest.mark.parametrize("case", MATCHES, ids=lambda c: c.reason)
def test_matches(case: Match) -> None:
    assert parse_selector(case.selector).matches(case.labels) is case.want


@dataclass(frozen=True)
class Refused:
    reason: str
    selector: str
    says: str


REFUSED = [
    Refused("in without a set", "env in", "unable to parse requirement: found '', expected: '('"),
    Refused("an unclosed set", "env in (a", "found '', expected: ',' or ')'"),
    Refused("two words in a set", "env in (a b)", "found 'b', expected: ',' or ')'"),
    Refused(
        "a missing comma", "env=prod tier=web", "found 'tier', expected: ',' or 'end of string'"
    ),
    Refused("a trailing comma", "env=prod,", "found '', expected: identifier after ','"),
    Refused("no key", "=prod", "found '=', expected: !, identifier, or 'end of string'"),
    Refused("an operator after !key", "!env=prod", "found '=', expected: ',' or 'end of string'"),
    Refused("no operator", "env prod", "found 'prod', expected: =, !=, ==, in, notin, gt, lt"),
    Refused("a bad key", "env&x=prod", 'Invalid value: "env&x": name part must consist of'),
    Refused("an upper-case prefix", "Shop.io/env=prod", "prefix part a lowercase RFC 1123"),
    Refused("a bad value", "env=prod_", 'values[0][env]: Invalid value: "prod_"'),
    Refused("a long value", "env=" + "x" * 64, "must be no more than 63 characters"),
    Refused("a non-number for >", "replicas>many", "the value must be an integer"),
    Refused("a symbol in a value", "env=~prod", 'Invalid value: "~prod"'),
]


@pytest.mark.parametrize("case", REFUSED, ids=lambda c: c.reason)
def test_refused_with_kubectls_words(case: Refused) -> None:
    with pytest.raises(SelectorError) as raised:
        parse_selector(case.selector)
    message = str(raised.value)
    assert message.startswith(f"unable to parse selector {case.selector!r}: "), message
    assert case.says in message


def test_printed_sorted_by_key_as_kubectl() -> None:
    assert str(parse_selector("tier notin (db),!legacy,env==prod")) == (
        "env=prod,!legacy,tier notin (db)"
    )
