"""How a sync's result prints: wave by wave, a summary line, ``-o json|yaml``'s
form, and one line per app of a fleet as it finishes."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from gitwave.engine.model import Action, ChangeAction, Plan, ResourceKey
from gitwave.tui.cli.output import rfc3339

if TYPE_CHECKING:
    from rich.text import Text

    from gitwave.engine.fleet_run import Finished
    from gitwave.engine.sync import SyncResult  # the executor's: a listing never loads it
    from gitwave.tui.cli.output import Terminal


_ACTION_STYLE = {
    ChangeAction.CREATED: "green",
    ChangeAction.CONFIGURED: "yellow",
    ChangeAction.DELETED: "red",
    ChangeAction.ORPHANED: "yellow",
    ChangeAction.FAILED: "red",
    ChangeAction.UNCHANGED: "dim",
    ChangeAction.SKIPPED: "dim",
}
_SUMMARY_ACTIONS = (
    ChangeAction.CREATED,
    ChangeAction.CONFIGURED,
    ChangeAction.UNCHANGED,
    ChangeAction.DELETED,
    ChangeAction.ORPHANED,
    ChangeAction.FAILED,
)


# Outcomes whose message says what happened instead (why it failed, was kept, stays).
_SHOW_MESSAGE = (ChangeAction.FAILED, ChangeAction.SKIPPED, ChangeAction.ORPHANED)


def result_dict(result: SyncResult) -> dict[str, Any]:
    """A sync result as ``-o json|yaml`` prints it."""
    return {
        "app": result.app,
        "revision": result.revision,
        "phase": result.phase.value,
        "message": result.message,
        "health": result.health.code.value,
        "dryRun": result.dry_run,
        "started": rfc3339(result.started),
        "finished": rfc3339(result.finished),
        "durationSeconds": round(result.finished - result.started, 3),
        "resources": [
            {"key": str(e.key), "action": e.action.value, "message": e.message}
            for e in result.changeset.entries
        ],
        "hooks": [str(k) for k in result.hooks_run],
    }


def print_result(term: Terminal, plan: Plan, result: SyncResult) -> None:
    """What a sync did, wave by wave, then one summary line."""
    from rich.text import Text

    wave_of = _wave_labels(plan)
    by_wave: dict[str, list[Text]] = {}
    for entry in result.changeset.entries:
        action = term.paint(entry.action.value.ljust(10), _ACTION_STYLE.get(entry.action, ""))
        line = Text.assemble("  ", action, f" {entry.key.display}")
        note = row_note(entry.key, entry.message)
        if note and entry.action in _SHOW_MESSAGE:
            line.append(f"  ({note})")
        by_wave.setdefault(wave_of(entry.key), []).append(line)
    order = {w.label: i for i, w in reversed(list(enumerate(plan.waves)))}
    order[_CREATE_NAMESPACE] = -1  # made before the first wave
    for label in sorted(by_wave, key=lambda lb: order.get(lb, len(order))):
        term.out(term.paint(label, "bold"))
        for line in by_wave[label]:
            term.out(line)
    term.out(summary_line(term, result))


def summary_line(term: Terminal, result: SyncResult, *, phase: str = "") -> Text:
    """``guestbook: Succeeded in 1.2s (4 created, ...); health Healthy``, and
    why it failed on the next line. ``phase`` overrides the result's word
    (``Interrupted``)."""
    from rich.text import Text

    counts = result.changeset.counts()
    summary = ", ".join(
        f"{counts[a]} {a.value}"
        for a in _SUMMARY_ACTIONS
        if counts[a] or a is not ChangeAction.ORPHANED  # rare: only named when it happened
    )
    took = result.finished - result.started
    return Text.assemble(
        f"{result.app}: ",
        term.paint(phase or result.phase.value, "green" if result.ok else "red"),
        f" in {took:.1f}s ({summary}); health {result.health.code.value}",
        "" if result.ok else f"\n  {operation_message(result)}",
    )


def row_note(key: ResourceKey, message: str) -> str:
    """An object's message on its own row, as argocd's MESSAGE column: without
    the key the row names already (``Deployment/a/b is Degraded: x`` is
    ``Degraded: x``)."""
    named = f"{key.display} is "
    return message[len(named) :] if message.startswith(named) else message


def operation_message(result: SyncResult) -> str:
    """Why the sync failed, under its summary line. When that is one object's
    failure, its row said it: argocd's operation message instead, so a reason
    is printed once per object."""
    if any(
        e.action is ChangeAction.FAILED and e.message == result.message
        for e in result.changeset.entries
    ):
        return "one or more synchronization tasks completed unsuccessfully"
    return result.message


# The heading of the namespaces CreateNamespace=true made (no wave of the plan).
_CREATE_NAMESPACE = "CreateNamespace"


def _wave_labels(plan: Plan) -> Callable[[ResourceKey], str]:
    """The wave each entry belongs to; a generateName hook matches by its prefix."""
    exact = {task.key: wave.label for wave in plan.waves for task in wave.tasks}
    prefixes = [
        (task.key, wave.label)
        for wave in plan.waves
        for task in wave.tasks
        if task.action is Action.HOOK and task.key.name.endswith("-")
    ]

    def label(key: ResourceKey) -> str:
        if key in exact:
            return exact[key]
        if key.kind == "Namespace" and key.group == "":
            return _CREATE_NAMESPACE
        for prefix, wave_label in prefixes:
            same_kind = (prefix.group, prefix.kind, prefix.namespace) == (
                key.group,
                key.kind,
                key.namespace,
            )
            if same_kind and key.name.startswith(prefix.name):
                return wave_label
        return "hooks"

    return label


class HasResult(Protocol):
    """A finished sync as the report keeps it (``operations.Synced`` or the
    CLI's leaner ``SyncReport``)."""

    @property
    def result(self) -> SyncResult: ...


_Done = TypeVar("_Done", bound=HasResult)


def finished_line(done: Finished[_Done], destination: str) -> str:
    """``guestbook -> sandbox: Succeeded in 0.4s``: one app, as it finishes."""
    from gitwave.engine.fleet_run import Outcome  # a sync's printer, not a listing's

    if done.outcome is Outcome.SKIPPED:
        return f"{done.name}: skipped, it follows {done.blocked_by}, which failed"
    if done.outcome is Outcome.NOT_STARTED:
        return f"{done.name}: not started (interrupted)"
    if done.outcome is Outcome.INTERRUPTED:
        what = "interrupted"
    elif done.value is not None:
        result = done.value.result
        what = result.phase.value + (" (dry run)" if result.dry_run else "")
    else:
        what = "error (see stderr)"
    return f"{done.name} -> {destination}: {what} in {done.seconds:.1f}s"
