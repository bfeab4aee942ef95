"""``gitwave version`` and ``gitwave completion bash|zsh|fish``: the verbs about
gitwave itself.

Completion scripts are made from the parser (every verb, nested verb and flag,
so they never fall behind it); app names come at completion time from the
history store (``gitwave __complete apps``: the apps a sync, rollback or ``run``
recorded), as kubectl completes object names by asking the server.
"""

from __future__ import annotations

import argparse
import platform
import sys
from dataclasses import dataclass

from gitwave.tui.cli.context import EXIT_OK, Context
from gitwave.tui.cli.output import dump
from gitwave.tui.cli.version import gitwave_version, version_line

# Verbs whose first argument is an app's name.
APP_VERBS = ("history", "rollback", "events", "unpin", "wait", "suspend", "resume")


def cmd_version(ctx: Context) -> int:
    """What ``kubectl version --client`` and ``argocd version --client`` print."""
    value = {
        "gitwave": gitwave_version(),
        "python": platform.python_version(),
        "platform": f"{sys.platform}/{platform.machine().lower()}",
    }
    if ctx.output in ("json", "yaml"):
        ctx.out(dump(value, ctx.output))
    else:
        ctx.out(version_line())
        ctx.out(f"python: {value['python']}")
        ctx.out(f"platform: {value['platform']}")
    return EXIT_OK


@dataclass(frozen=True, slots=True)
class _Command:
    """One verb path (``sandbox get``) as completion sees it."""

    path: str  # "" for the top level
    verbs: tuple[tuple[str, str], ...]  # (name, help) of the verbs below it
    flags: tuple[str, ...]


def _commands(parser: argparse.ArgumentParser, path: str = "") -> list[_Command]:
    verbs: list[tuple[str, str]] = []
    below: list[_Command] = []
    flags: list[str] = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {c.dest: c.help or "" for c in action._choices_actions}
            for name, sub in action.choices.items():
                if name.startswith("_"):
                    continue
                verbs.append((name, helps.get(name, "")))
                below += _commands(sub, f"{path} {name}".strip())
        else:
            flags += [f for f in action.option_strings if f.startswith("--") or len(f) == 2]
    return [_Command(path, tuple(verbs), tuple(sorted(set(flags)))), *below]


def cmd_completion(ctx: Context) -> int:
    """Print the completion script for ``ctx.args.shell``."""
    from gitwave.tui.cli.parser import build_parser  # it imports this module

    commands = _commands(build_parser())
    script = {"bash": _bash, "zsh": _zsh, "fish": _fish}[ctx.args.shell](commands)
    sys.stdout.write(script)
    return EXIT_OK


def cmd_complete(ctx: Context) -> int:
    """``gitwave __complete apps``: the app names the history store knows, one a line."""
    if ctx.args.what == "apps" and (ctx.state_dir / "gitwave.db").exists():
        for name in ctx.known_apps():
            sys.stdout.write(name + "\n")
    return EXIT_OK


def _words(items: tuple[str, ...] | list[str]) -> str:
    return " ".join(items)


def _bash(commands: list[_Command]) -> str:
    cases = []
    for command in commands:
        words = [name for name, _ in command.verbs] or []
        cases.append(
            f'        "{command.path}") verbs="{_words(words)}"; flags="{_words(command.flags)}" ;;'
        )
    apps = "|".join(APP_VERBS)
    return f"""# gitwave completion for bash: source <(gitwave completion bash)
_gitwave() {{
    local cur="${{COMP_WORDS[COMP_CWORD]}}" path="" word verbs flags found i
    for ((i = 1; i < COMP_CWORD; i++)); do
        word="${{COMP_WORDS[i]}}"
        [[ "$word" == -* ]] && continue
        _gitwave_lookup "${{path:+$path }}$word"
        if [[ -n "$found" ]]; then path="${{path:+$path }}$word"; else break; fi
    done
    _gitwave_lookup "$path"
    if [[ "$cur" == -* ]]; then
        COMPREPLY=($(compgen -W "$flags" -- "$cur"))
    elif [[ -n "$verbs" ]]; then
        COMPREPLY=($(compgen -W "$verbs" -- "$cur"))
    else
        case "$path" in
            {apps}) COMPREPLY=($(compgen -W "$(gitwave __complete apps 2>/dev/null)" -- "$cur")) ;;
            *) COMPREPLY=($(compgen -f -- "$cur")) ;;
        esac
    fi
}}
_gitwave_lookup() {{
    found=1
    case "$1" in
{chr(10).join(cases)}
        *) found=""; verbs=""; flags="" ;;
    esac
}}
complete -o filenames -F _gitwave gitwave
"""


def _zsh(commands: list[_Command]) -> str:
    cases = []
    for command in commands:
        words = [name for name, _ in command.verbs]
        cases.append(
            f'        "{command.path}") verbs=({_words(words)}); flags=({_words(command.flags)}) ;;'
        )
    apps = "|".join(APP_VERBS)
    # Not "path": zsh ties $path to $PATH.
    return f"""#compdef gitwave
# gitwave completion for zsh: gitwave completion zsh > "${{fpath[1]}}/_gitwave"
_gitwave_lookup() {{
    found=1
    case "$1" in
{chr(10).join(cases)}
        *) found=""; verbs=(); flags=() ;;
    esac
}}
_gitwave() {{
    local at="" word found i
    local -a verbs flags
    for ((i = 2; i < CURRENT; i++)); do
        word="${{words[i]}}"
        [[ "$word" == -* ]] && continue
        _gitwave_lookup "${{at:+$at }}$word"
        if [[ -n "$found" ]]; then at="${{at:+$at }}$word"; else break; fi
    done
    _gitwave_lookup "$at"
    if [[ "${{words[CURRENT]}}" == -* ]]; then
        compadd -- $flags
    elif (( ${{#verbs}} )); then
        compadd -- $verbs
    else
        case "$at" in
            {apps}) compadd -- ${{(f)"$(gitwave __complete apps 2>/dev/null)"}} ;;
            *) _files ;;
        esac
    fi
}}
compdef _gitwave gitwave
"""


def _fish(commands: list[_Command]) -> str:
    lines = ["# gitwave completion for fish: gitwave completion fish | source"]
    lines.append("complete -c gitwave -f")
    for command in commands:
        if command.path == "":
            condition = "__fish_use_subcommand"
        else:
            condition = f"__fish_seen_subcommand_from {command.path.split()[-1]}"
        for name, text in command.verbs:
            description = text.replace("'", "")
            lines.append(f"complete -c gitwave -n '{condition}' -a {name} -d '{description}'")
        for flag in command.flags:
            option = f"-l {flag[2:]}" if flag.startswith("--") else f"-s {flag[1:]}"
            lines.append(f"complete -c gitwave -n '{condition}' {option}")
    apps = " ".join(APP_VERBS)
    lines.append(
        f"complete -c gitwave -n '__fish_seen_subcommand_from {apps}' "
        "-a '(gitwave __complete apps 2>/dev/null)'"
    )
    lines.append(f"complete -c gitwave -n 'not __fish_seen_subcommand_from {apps}' -F")
    return "\n".join(lines) + "\n"
