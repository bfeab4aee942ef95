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
    # What a flag's value may be (``-o``: table json yaml wide name), as kubectl
    # completes ``-o <TAB>``; and the words its argument may be (the shells of
    # ``completion``, the resource types of ``sandbox get``), else files.
    values: tuple[tuple[str, tuple[str, ...]], ...] = ()
    arguments: tuple[str, ...] = ()


def _commands(parser: argparse.ArgumentParser, path: str = "") -> list[_Command]:
    verbs: list[tuple[str, str]] = []
    below: list[_Command] = []
    flags: list[str] = []
    values: list[tuple[str, tuple[str, ...]]] = []
    arguments: list[str] = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {c.dest: c.help or "" for c in action._choices_actions}
            for name, sub in action.choices.items():
                if name.startswith("_"):
                    continue
                verbs.append((name, helps.get(name, "")))
                below += _commands(sub, f"{path} {name}".strip())
            continue
        named = [f for f in action.option_strings if f.startswith("--") or len(f) == 2]
        flags += named
        choices = tuple(str(c) for c in action.choices or ())
        if choices and named:
            values += [(flag, choices) for flag in named]
        elif choices and not action.option_strings and not arguments:
            arguments = list(choices)
    if path == "sandbox get":
        arguments = _resource_types()
    return [
        _Command(
            path,
            tuple(verbs),
            tuple(sorted(set(flags))),
            tuple(sorted(set(values))),
            tuple(arguments),
        ),
        *below,
    ]


def _resource_types() -> list[str]:
    """The resource types ``sandbox get`` completes: kubectl's plural names of the
    kinds the sandbox serves (``deployments``), as ``kubectl get <TAB>``."""
    from gitwave.tui.cli.kind_aliases import resource_type_names

    return resource_type_names()


def _value_cases(commands: list[_Command], assign: str) -> list[str]:
    """Shell ``case`` arms over ``"PATH|FLAG"`` setting the flag's values: one arm
    for a flag whose values are the same under every verb, else one per verb."""
    where: dict[tuple[str, tuple[str, ...]], list[str]] = {}
    for command in commands:
        for flag, choices in command.values:
            where.setdefault((flag, choices), []).append(command.path)
    kinds: dict[str, int] = {}
    for flag, _ in where:
        kinds[flag] = kinds.get(flag, 0) + 1
    arms = []
    for (flag, choices), paths in sorted(where.items()):
        patterns = (
            f'*"|{flag}"' if kinds[flag] == 1 else "|".join(f'"{path}|{flag}"' for path in paths)
        )
        arms.append(f"        {patterns}) {assign.format(_words(list(choices)))} ;;")
    return arms


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
            f'        "{command.path}") verbs="{_words(words)}"; flags="{_words(command.flags)}"'
            f'; arguments="{_words(command.arguments)}" ;;'
        )
    apps = "|".join(APP_VERBS)
    values = _value_cases(commands, 'values="{}"')
    return f"""# gitwave completion for bash: source <(gitwave completion bash)
_gitwave() {{
    local cur="${{COMP_WORDS[COMP_CWORD]}}" prev="" path="" word found i
    local verbs flags arguments values
    (( COMP_CWORD > 1 )) && prev="${{COMP_WORDS[COMP_CWORD-1]}}"
    for ((i = 1; i < COMP_CWORD; i++)); do
        word="${{COMP_WORDS[i]}}"
        [[ "$word" == -* ]] && continue
        _gitwave_lookup "${{path:+$path }}$word"
        if [[ -n "$found" ]]; then path="${{path:+$path }}$word"; else break; fi
    done
    _gitwave_lookup "$path"
    _gitwave_values "$path|$prev"
    if [[ -n "$values" ]]; then
        COMPREPLY=($(compgen -W "$values" -- "$cur"))
    elif [[ "$cur" == -* ]]; then
        COMPREPLY=($(compgen -W "$flags" -- "$cur"))
    elif [[ -n "$verbs" ]]; then
        COMPREPLY=($(compgen -W "$verbs" -- "$cur"))
    elif [[ -n "$arguments" ]]; then
        COMPREPLY=($(compgen -W "$arguments" -- "$cur"))
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
        *) found=""; verbs=""; flags=""; arguments="" ;;
    esac
}}
_gitwave_values() {{
    values=""
    case "$1" in
{chr(10).join(values)}
    esac
}}
complete -o filenames -F _gitwave gitwave
"""


def _zsh(commands: list[_Command]) -> str:
    cases = []
    for command in commands:
        words = [name for name, _ in command.verbs]
        cases.append(
            f'        "{command.path}") verbs=({_words(words)}); flags=({_words(command.flags)})'
            f"; arguments=({_words(command.arguments)}) ;;"
        )
    apps = "|".join(APP_VERBS)
    values = _value_cases(commands, "values=({})")
    # Not "path": zsh ties $path to $PATH.
    return f"""#compdef gitwave
# gitwave completion for zsh: gitwave completion zsh > "${{fpath[1]}}/_gitwave"
_gitwave_lookup() {{
    found=1
    case "$1" in
{chr(10).join(cases)}
        *) found=""; verbs=(); flags=(); arguments=() ;;
    esac
}}
_gitwave_values() {{
    values=()
    case "$1" in
{chr(10).join(values)}
    esac
}}
_gitwave() {{
    local at="" word found i
    local -a verbs flags arguments values
    for ((i = 2; i < CURRENT; i++)); do
        word="${{words[i]}}"
        [[ "$word" == -* ]] && continue
        _gitwave_lookup "${{at:+$at }}$word"
        if [[ -n "$found" ]]; then at="${{at:+$at }}$word"; else break; fi
    done
    _gitwave_lookup "$at"
    _gitwave_values "$at|${{words[CURRENT-1]}}"
    if (( ${{#values}} )); then
        compadd -- $values
    elif [[ "${{words[CURRENT]}}" == -* ]]; then
        compadd -- $flags
    elif (( ${{#verbs}} )); then
        compadd -- $verbs
    elif (( ${{#arguments}} )); then
        compadd -- $arguments
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
        choices = dict(command.values)
        for flag in command.flags:
            option = f"-l {flag[2:]}" if flag.startswith("--") else f"-s {flag[1:]}"
            if flag in choices:  # -o <TAB>: its values, not files
                option += f" -x -a '{_words(list(choices[flag]))}'"
            lines.append(f"complete -c gitwave -n '{condition}' {option}")
        if command.arguments and not command.verbs:
            words = _words(list(command.arguments))
            lines.append(f"complete -c gitwave -n '{condition}' -a '{words}'")
    apps = " ".join(APP_VERBS)
    lines.append(
        f"complete -c gitwave -n '__fish_seen_subcommand_from {apps}' "
        "-a '(gitwave __complete apps 2>/dev/null)'"
    )
    lines.append(f"complete -c gitwave -n 'not __fish_seen_subcommand_from {apps}' -F")
    return "\n".join(lines) + "\n"
