"""Promotion and drift triage from the Application screen: the dialogs, and
the flows that show the Git change (a dry run of ``engine.promotion`` or
``engine.triage``) in the usual confirmation before anything is written.

- ``P`` on an app named ``APP-ENV``: asks the environment to promote to, shows
  the edits, the Git diff and the manifests the target would see, and commits
  on a new branch once confirmed (as ``gitwave promote``);
- ``t`` on an app (or a selected object): the first drifted field, and a
  choice of revert (the usual sync of that object, with its own
  confirmation), ignore or accept (the Git diff, then the commit).

The flows run as workers of the App (``push_screen_wait``); engine calls run
in thread workers (``GitwaveApp._engine``). Nothing is written in read-only mode.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static

from gitwave.engine import operations
from gitwave.engine.apps import AppSpec
from gitwave.engine.drift import DriftedField
from gitwave.engine.model import ResourceKey
from gitwave.engine.promotion import Promotion, PromotionRequest, promote
from gitwave.engine.triage import Decision, TriageRequest, git_change
from gitwave.engine.triage_fields import drift_of
from gitwave.tui.screens.modals import ConfirmScreen

if TYPE_CHECKING:
    from gitwave.tui.app import GitwaveApp

__all__ = ["EnvironmentScreen", "TriageScreen", "promote_flow", "triage_flow"]

READ_ONLY = "read-only: promotion and triage write to Git and are off"


class EnvironmentScreen(ModalScreen[str | None]):
    """Asks which environment to promote to (enter), or cancels (escape)."""

    DEFAULT_CSS = """
    EnvironmentScreen { align: center middle; }
    EnvironmentScreen > Vertical {
        width: 64; height: auto; border: thick $primary; background: $panel; padding: 0 1;
    }
    """
    BINDINGS = [Binding("escape", "cancel", "cancel")]

    def __init__(self, app_name: str, source: str, suggested: str = "") -> None:
        super().__init__()
        self.app_name = app_name
        self.source = source
        self.suggested = suggested

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(f"Promote {self.app_name} from {self.source} to:")
            yield Input(value=self.suggested, placeholder="environment", id="env")

    def on_mount(self) -> None:
        self.query_one("#env", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.dismiss(event.value.strip() or None)

    def action_cancel(self) -> None:
        self.dismiss(None)


class TriageScreen(ModalScreen[Decision | None]):
    """A drifted field and what to do with it: r revert, i ignore, a accept."""

    DEFAULT_CSS = """
    TriageScreen { align: center middle; }
    TriageScreen > Vertical {
        width: 90%; max-width: 110; height: auto; border: thick $warning;
        background: $panel; padding: 0 1;
    }
    """
    BINDINGS = [
        Binding("r", "choose('revert')", "revert"),
        Binding("i", "choose('ignore')", "ignore"),
        Binding("a", "choose('accept')", "accept"),
        Binding("escape,n", "choose('')", "cancel"),
    ]

    def __init__(self, field: DriftedField, others: int) -> None:
        super().__init__()
        self.field = field
        self.others = others

    def compose(self) -> ComposeResult:
        more = f" ({self.others} more drifted fields)" if self.others else ""
        with Vertical():
            yield Label(f"Drift: {self.field.describe}{more}", id="field")
            yield Static(
                "r  revert: sync the object back to Git\n"
                "i  ignore: commit an ignoreDifferences rule for this field\n"
                "a  accept: commit the live value into Git\n"
                "esc  cancel",
                markup=False,
            )

    def action_choose(self, what: str) -> None:
        self.dismiss(Decision(what) if what else None)


def _loader(app: GitwaveApp) -> Callable[[str], Sequence[AppSpec]]:
    controller = app.controller

    def load(location: str) -> Sequence[AppSpec]:
        return operations.select_apps(
            location, allow_local_repos=controller.allow_local_repos, clusters=controller.fleet
        )

    return load


def promotion_body(done: Promotion) -> str:
    """What the confirmation shows: the edits, the Git diff, the manifests' diff."""
    lines = [edit.describe for edit in done.edits]
    lines += ["", "Git diff:", done.file_diff.rstrip("\n"), ""]
    lines += [f"manifests {done.target.app.name} would see:"]
    lines += [done.manifest_diff.rstrip("\n") or "(no change in the rendered manifests)"]
    return "\n".join(lines)


async def promote_flow(app: GitwaveApp, name: str, target: str | None = None) -> None:
    """Ask the target environment, show the dry run, commit once confirmed."""
    if app.read_only:
        app.notify(READ_ONLY, severity="warning")
        return
    base, dash, source = name.rpartition("-")
    if not dash or not base:
        app.notify(
            f"{name}: the TUI promotes apps named APP-ENV; use gitwave promote with paths",
            severity="warning",
        )
        return
    if target is None:
        target = await app.push_screen_wait(EnvironmentScreen(base, source))
        if not target:
            return
    request = PromotionRequest(base, source, target, dry_run=True)
    controller = app.controller
    try:
        dry = await app._engine(
            promote,
            controller.location,
            request,
            load=_loader(app),
            targets=controller.fleet.targets_for,
        )
    except Exception as exc:
        app._report(exc, "promotion")
        return
    if not dry.edits:
        app.notify(f"nothing to promote: {dry.target.app.name} already has what {name} has")
        return
    question = f"Promote {base} from {source} to {target}? (a commit on a new branch)"
    confirm = ConfirmScreen(question, promotion_body(dry), yes="Commit")
    if not await app.push_screen_wait(confirm):
        app.notify(f"{base}: promotion cancelled; nothing written")
        return
    try:
        done = await app._engine(
            promote,
            controller.location,
            PromotionRequest(base, source, target),
            load=_loader(app),
            targets=controller.fleet.targets_for,
        )
    except Exception as exc:
        app._report(exc, "promotion")
        return
    if done.commit is not None:
        app.notify(
            f"committed {done.commit.sha[:12]} on branch {done.commit.branch}", title="promote"
        )


async def triage_flow(app: GitwaveApp, name: str, key: ResourceKey | None) -> None:
    """The first drifted field (of ``key`` when given), the choice, then the change."""
    if app.read_only:
        app.notify(READ_ONLY, severity="warning")
        return
    view = app.controller.last_view(name)
    state = view.state if view is not None else None
    if state is None:
        app.notify(f"{name}: not planned yet", severity="warning")
        return
    drifted = [f for f in drift_of(state) if key is None or f.key == key]
    if not drifted:
        what = key.display if key is not None else name
        app.notify(f"{what}: no drifted field")
        return
    field = drifted[0]
    decision = await app.push_screen_wait(TriageScreen(field, len(drifted) - 1))
    if decision is None:
        return
    if decision is Decision.REVERT:
        app.sync_flow(name, field.key)  # the usual plan and confirmation of one object
        return
    targets = app.controller.fleet.targets_for(state.app)
    try:
        dry = await app._engine(
            git_change, state, TriageRequest(decision, field, dry_run=True), targets=targets
        )
    except Exception as exc:
        app._report(exc, decision.value)
        return
    question = f"{decision.value.capitalize()} {field.describe}? (a commit on a new branch)"
    confirm = ConfirmScreen(question, dry.file_diff, yes="Commit")
    if not await app.push_screen_wait(confirm):
        app.notify(f"{name}: {decision.value} cancelled; nothing written")
        return
    try:
        done = await app._engine(git_change, state, TriageRequest(decision, field), targets=targets)
    except Exception as exc:
        app._report(exc, decision.value)
        return
    if done.commit is not None:
        app.notify(
            f"committed {done.commit.sha[:12]} on branch {done.commit.branch}",
            title=decision.value,
        )
