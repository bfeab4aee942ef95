"""`main` builds only the typed verb's parser (`build_parser(verb)`): it must be
the same grammar as the full parser's, help and defaults included, for every verb."""

from __future__ import annotations

import argparse

import pytest

from gitwave.tui.cli import main
from gitwave.tui.cli.parser import build_parser

FULL = build_parser()


def _verbs(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _grammar(parser: argparse.ArgumentParser) -> list[object]:
    """Everything a user meets of ``parser`` and the verbs under it."""
    found: list[object] = [parser.format_help(), parser.get_default("func")]
    for action in parser._actions:
        found.append((action.option_strings, action.dest, action.default, action.nargs))
    for name, sub in _verbs(parser).items():
        found += [name, *_grammar(sub)]
    return found


@pytest.mark.parametrize("verb", sorted(_verbs(FULL)))
def test_one_verb_parser_is_that_verb_of_the_full_parser(verb: str) -> None:
    only = build_parser(verb)
    built = _verbs(only)
    # The others were not built (a verb's aliases name the same parser).
    assert {id(p) for p in built.values()} == {id(built[verb])}
    assert len(built) < len(_verbs(FULL))
    assert _grammar(_verbs(only)[verb]) == _grammar(_verbs(FULL)[verb])


@pytest.mark.parametrize(
    "argv",
    [
        ("status", "samples/guestbook", "-o", "wide"),
        ("sync", ".", "--prune", "--timeout", "5m", "--parallel", "3"),
        ("sandbox", "get", "deploy", "-n", "web", "-o", "json"),
        ("run", "--interval", "30s", "--heal-limit", "2"),
        ("status", "--controller", "-A", "--context", "prod"),
    ],
    ids=lambda argv: " ".join(argv),
)
def test_a_command_line_parses_the_same(argv: tuple[str, ...]) -> None:
    assert build_parser(argv[0]).parse_args(argv) == FULL.parse_args(argv)


@pytest.mark.parametrize("first", ["plna", "-o", "--state"])
def test_no_verb_first_gets_every_verb(first: str) -> None:
    # A mistyped verb is answered with "did you mean", a flag first parses as before.
    assert list(_verbs(build_parser(first))) == list(_verbs(FULL))


def test_a_mistyped_verb_still_says_what_was_meant(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["stauts", "."])
    assert exited.value.code == 2
    assert "did you mean status?" in capsys.readouterr().err
