"""Which ``-o`` forms each verb prints, checked before the verb runs.

Every verb that prints a result prints it as one JSON or YAML document with
``-o json|yaml``; list-like verbs also take kubectl's ``-o wide`` (more
columns) and ``-o name`` (one name a line, for scripts). A form a verb cannot
print is refused before anything is done, as kubectl refuses a printer it has
no match for, never silently ignored. docs/cli-output.md has the same table;
tests/tui/test_cli_output_forms.py holds the two together.
"""

from __future__ import annotations

# Every verb takes these (table is the default).
DATA_FORMS = ("table", "json", "yaml")

# Verbs that print more: keyed by the verb's function name (``LazyVerb.name``).
EXTRA_FORMS: dict[str, tuple[str, ...]] = {
    "cmd_status": ("wide", "name"),
    "cmd_sandbox_get": ("wide", "name"),
    "cmd_history": ("wide", "name"),
    "cmd_cluster_list": ("wide", "name"),
    "cmd_events": ("wide",),
}

# Verbs with no result to print as data, and why: -o json|yaml is refused.
NO_DATA: dict[str, str] = {
    "cmd_tui": "it is an interactive screen",
    "cmd_completion": "it prints a shell script",
    "cmd_complete": "it prints completions for the shell, one a line",
    "cmd_sandbox_aws_exec": "the command it runs prints what it prints",
    "cmd_controller": "it runs until stopped; --log-format json gives JSON logs",
    "cmd_bootstrap": "it installs gitwave and says what it committed and synced, as flux bootstrap",
}


def forms_of(verb_function: str) -> tuple[str, ...]:
    """The ``-o`` values the verb whose function is named ``verb_function`` takes."""
    if verb_function in NO_DATA:
        return ("table",)
    return DATA_FORMS + EXTRA_FORMS.get(verb_function, ())


def refusal(verb: str, verb_function: str, output: str) -> tuple[str, str] | None:
    """(what is wrong, a hint) when ``gitwave VERB -o OUTPUT`` cannot be printed; else None."""
    forms = forms_of(verb_function)
    if output in forms:
        return None
    why = NO_DATA.get(verb_function)
    if why is not None:
        return (
            f"`gitwave {verb}` has no {output} output: {why}",
            "drop -o",
        )
    return (
        f'unable to match a printer suitable for the output format "{output}" '
        f"in `gitwave {verb}`, allowed formats are: {','.join(sorted(forms))}",
        f"-o wide and -o name are for list verbs: {', '.join(_listing())}",
    )


def _listing() -> list[str]:
    names = {
        "cmd_status": "status",
        "cmd_sandbox_get": "sandbox get",
        "cmd_history": "history",
        "cmd_cluster_list": "cluster list",
        "cmd_events": "events (wide)",
    }
    return [names[f] for f in EXTRA_FORMS]
