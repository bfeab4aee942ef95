"""Verbs and flags a kubectl, argocd or flux user reaches for (issue 13, "Verbs and
flags"): version, shell completion, "did you mean", durations and numbers
checked by the parser, help with defaults, and -v/--log-format logs. The real
CLI, and real bash running the completion script."""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from gitwave.tui.cli import build_parser, main
from tests.tui.test_cli import copy_sample, run, sandbox_env  # noqa: F401  (autouse fixture)

BIN = Path(sys.executable).parent


def refused(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    """stderr of a command line the parser refuses (exit 2, as argparse exits)."""
    with pytest.raises(SystemExit) as exited:
        main(list(argv))
    assert exited.value.code == 2
    return capsys.readouterr().err


# --- version -----------------------------------------------------------------------------


def test_version_as_a_verb_as_a_flag_and_as_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "version")
    assert code == 0
    assert out.startswith("gitwave: v0.") and "python: 3.11" in out
    code, out, _ = run(capsys, "version", "-o", "json")
    assert code == 0
    doc = json.loads(out)
    assert set(doc) == {"gitwave", "python", "platform"} and doc["gitwave"].startswith("0.")
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    # The flag prints the verb's first line (as argocd prints `argocd: v2.…`), and
    # -o json keeps the bare version (docs/cli-output.md).
    flag = capsys.readouterr().out
    assert flag == f"gitwave: v{doc['gitwave']}\n"
    assert out.startswith("{") and run(capsys, "version")[1].splitlines()[0] == flag.strip()


# --- did you mean --------------------------------------------------------------------------


@dataclass(frozen=True)
class Typo:
    argv: tuple[str, ...]
    want: str


TYPOS = [
    Typo(("snyc", "."), "unknown command 'snyc' for 'gitwave'; did you mean sync?"),
    Typo(("histroy", "x"), "did you mean history?"),
    Typo(("sandbox", "gte"), "unknown command 'gte' for 'gitwave sandbox'; did you mean get?"),
    Typo(("cluster", "ls"), "unknown command 'ls' for 'gitwave cluster'; did you mean list?"),
    Typo(
        ("cluster", "zzz"), "unknown command 'zzz' for 'gitwave cluster'; commands: add, list, rm"
    ),
]


@pytest.mark.parametrize("typo", TYPOS, ids=lambda t: " ".join(t.argv))
def test_a_mistyped_verb_gets_did_you_mean(capsys: pytest.CaptureFixture[str], typo: Typo) -> None:
    err = refused(capsys, *typo.argv)
    assert typo.want in err
    assert "__complete" not in err  # the completion scripts' helper is not offered


# --- durations and numbers ------------------------------------------------------------------


@dataclass(frozen=True)
class Flag:
    argv: tuple[str, ...]
    dest: str
    want: float


DURATIONS = [
    Flag(("sync", ".", "--timeout", "90s"), "timeout", 90.0),
    Flag(("sync", ".", "--timeout", "120"), "timeout", 120.0),  # plain seconds still work
    Flag(("sync", ".", "--lock-timeout", "1m30s"), "lock_timeout", 90.0),
    Flag(("sync", "."), "lock_timeout", 300.0),
    Flag(("wait", "app", "--timeout", "5m"), "timeout", 300.0),
    Flag(("watch", "--timeout", "2m"), "timeout", 120.0),
    Flag(("watch", "--debounce", "200ms"), "debounce", 200),
    Flag(("watch", "--debounce", "75"), "debounce", 75),  # plain: milliseconds, as before
    Flag(("run", "--interval", "5m"), "interval", 300.0),
    Flag(("run", "--heal-window", "10m"), "heal_window", 600.0),
    Flag(("run",), "rollback_window", 300.0),
    Flag(("rollback", "app", "--lock-timeout", "0"), "lock_timeout", 0.0),
]


@pytest.mark.parametrize("flag", DURATIONS, ids=lambda f: " ".join(f.argv))
def test_every_time_flag_reads_durations(flag: Flag) -> None:
    assert getattr(build_parser().parse_args(list(flag.argv)), flag.dest) == flag.want


BAD_NUMBERS = [
    (("sync", ".", "--parallel", "0"), "argument --parallel: must be at least 1, not 0"),
    (("sync", ".", "--timeout", "-5"), "argument --timeout: '-5': a duration cannot be negative"),
    (("sync", ".", "--timeout", "5 min"), "argument --timeout: '5 min' is not a duration"),
    (("wait", "app", "--timeout=-1m"), "a duration cannot be negative"),
    (("sync", ".", "--lock-timeout", "-1"), "a duration cannot be negative"),
    (("run", "--interval", "0s"), "argument --interval: '0s': must be more than zero"),
    (("run", "--heal-limit", "0"), "argument --heal-limit: must be at least 1, not 0"),
    (("watch", "--parallel", "-2"), "argument --parallel: must be at least 1, not -2"),
    (("history", "app", "--limit", "0"), "argument --limit: must be at least 1, not 0"),
    (("events", "app", "--limit", "ten"), "argument --limit: 'ten' is not a whole number"),
    (("rollback", "app", "-1"), "argument ID: must be at least 0, not -1"),
    (
        ("sandbox", "scale", "deploy/x", "--replicas", "-1"),
        "argument --replicas: must be at least 0, not -1",
    ),
]


@pytest.mark.parametrize(
    "argv,want", BAD_NUMBERS, ids=lambda v: " ".join(v) if isinstance(v, tuple) else ""
)
def test_bad_numbers_and_durations_are_refused_clearly(
    capsys: pytest.CaptureFixture[str], argv: tuple[str, ...], want: str
) -> None:
    assert want in refused(capsys, *argv)


def _options(
    parser: argparse.ArgumentParser, path: str = "gitwave"
) -> list[tuple[str, argparse.Action]]:
    found: list[tuple[str, argparse.Action]] = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                if not name.startswith("_"):
                    found += _options(sub, f"{path} {name}")
        elif action.option_strings and action.dest != "help" and action.dest != "version":
            found.append((path, action))
    return found


def test_every_option_has_help_and_says_its_default() -> None:
    options = _options(build_parser())
    assert len(options) > 200
    missing = [f"{path} {a.option_strings[0]}" for path, a in options if not a.help]
    assert missing == []
    formatter = argparse.ArgumentParser(formatter_class=build_parser().formatter_class)
    silent = [
        f"{path} {a.option_strings[0]}"
        for path, a in options
        if a.default not in (None, False, argparse.SUPPRESS)
        and "default" not in (formatter._get_formatter()._get_help_string(a) or "")
    ]
    assert silent == []


def test_help_shows_defaults(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["sync", "--help"])
    out = capsys.readouterr().out
    assert "objects applied at once (default: 8)" in " ".join(out.split())
    assert "(default: 5m)" in out  # --lock-timeout, as a duration


# --- logs --------------------------------------------------------------------------------


def test_verbose_logs_go_to_stderr_as_json_lines(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert run(capsys, "sync", str(copy_sample("guestbook", tmp_path)))[0] == 0

    code, out, err = run(capsys, "history", "guestbook", "-o", "json")
    assert code == 0 and err == ""  # quiet by default
    code, out, err = run(capsys, "-v", "--log-format", "json", "history", "guestbook", "-o", "json")
    assert code == 0
    assert json.loads(out)[0]["result"] == "Succeeded"  # stdout stays one document
    [line] = [json.loads(line) for line in err.splitlines()]
    assert line["level"] == "info" and line["logger"] == "gitwave.cli"
    assert line["message"].startswith("gitwave history: state ")
    assert line["time"].endswith("Z") and "T" in line["time"]
    code, out, err = run(capsys, "history", "guestbook", "--verbose")
    assert err.startswith("INFO gitwave.cli: gitwave history")


# --- completion ------------------------------------------------------------------------------


def complete_in_bash(script: str, *words: str) -> list[str]:
    """What real bash offers after ``words`` (the last one is being typed)."""
    probe = (
        'source /dev/stdin; COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); '
        '_gitwave; printf "%s\\n" "${COMPREPLY[@]}"'
    )
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    result = subprocess.run(
        ["bash", "-c", probe, "bash", "gitwave", *words],
        input=script,
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    return [line for line in result.stdout.splitlines() if line]


def test_bash_completes_verbs_flags_and_known_apps(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, script, _ = run(capsys, "completion", "bash")
    assert code == 0
    assert complete_in_bash(script, "sy") == ["sync"]
    assert complete_in_bash(script, "sandbox", "g") == ["get"]
    assert complete_in_bash(script, "sync", "--par") == ["--parallel"]
    assert "--all-namespaces" in complete_in_bash(script, "sandbox", "get", "--")
    assert complete_in_bash(script, "--state", "/somewhere", "ver") == ["version"]
    assert complete_in_bash(script, "history", "") == []  # nothing synced yet

    assert run(capsys, "sync", str(copy_sample("guestbook", tmp_path)))[0] == 0
    assert complete_in_bash(script, "history", "gu") == ["guestbook"]
    assert complete_in_bash(script, "rollback", "") == ["guestbook"]


def test_completion_offers_a_flags_values_and_the_resource_types_not_files(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`-o <TAB>` and `sandbox get <TAB>` listed the files of the directory;
    kubectl completes the output formats and the server's resource types."""
    (tmp_path / "notes.txt").write_text("a file completion must not offer here\n")
    monkeypatch.chdir(tmp_path)
    script = run(capsys, "completion", "bash")[1]

    assert complete_in_bash(script, "status", "-o", "") == ["table", "json", "yaml", "wide", "name"]
    assert complete_in_bash(script, "sync", "--output", "y") == ["yaml"]
    assert complete_in_bash(script, "-o", "j") == ["json"]
    assert complete_in_bash(script, "sync", "--log-format", "") == ["text", "json"]
    assert complete_in_bash(script, "sandbox", "get", "deploy") == ["deployments"]
    assert "configmaps" in complete_in_bash(script, "sandbox", "get", "")
    assert complete_in_bash(script, "completion", "") == ["bash", "zsh", "fish"]
    assert complete_in_bash(script, "sync", "no") == ["notes.txt"]  # a PATH: files still

    fish = run(capsys, "completion", "fish")[1]
    assert "-l output -x -a 'table json yaml wide name'" in fish
    zsh = run(capsys, "completion", "zsh")[1]
    assert '*"|--output") values=(table json yaml wide name) ;;' in zsh


def test_zsh_and_fish_scripts_name_every_verb_and_the_app_hook(
    capsys: pytest.CaptureFixture[str],
) -> None:
    verbs = [a for a in build_parser()._subparsers._group_actions[0].choices if a[0] != "_"]
    code, zsh, _ = run(capsys, "completion", "zsh")
    assert code == 0 and zsh.startswith("#compdef gitwave")
    code, fish, _ = run(capsys, "completion", "fish")
    assert code == 0
    for verb in verbs:
        assert re.search(rf"verbs=\([^)]*\b{verb}\b", zsh), verb
        assert f"-a {verb} -d" in fish
    for script in (zsh, fish):
        assert "gitwave __complete apps" in script
    assert "complete -c gitwave -n '__fish_seen_subcommand_from get' -l all-namespaces" in fish


# --- positional arguments in --help --------------------------------------------------------


def _positionals_without_help(parser: argparse.ArgumentParser, path: str) -> list[str]:
    found: list[str] = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found += _positionals_without_help(sub, f"{path} {name}")
        elif not action.option_strings and not action.help:
            found.append(f"{path} {action.metavar or action.dest}")
    return found


def test_every_positional_argument_is_explained_in_help(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # APP and PATH say what they take, in every verb (as kubectl's NAME does).
    assert _positionals_without_help(build_parser(), "gitwave") == []
    with pytest.raises(SystemExit):
        main(["rollback", "--help"])
    usage = capsys.readouterr().out
    positional = usage.split("positional arguments:")[1].split("options:")[0]
    assert "APP" in positional and "the app's name, as status and history show it" in positional
