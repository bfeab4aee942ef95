"""The command palette (``:`` or Ctrl+P): every verb for every app, typed as
an operator says it (``sync guestbook``, ``history shop``), as k9s's ``:``
takes a resource and argocd a verb and an app.

It replaces Textual's own entries (theme, screenshot, maximize, keys): an
operator over SSH needs none of them, and ``?`` lists every key.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, cast

from textual.command import DiscoveryHit, Hit, Hits, Provider

from gitwave.tui.screens.messages import PauseRequested, SyncRequested

if TYPE_CHECKING:
    from gitwave.tui.app import GitwaveApp


@dataclass(frozen=True, slots=True)
class PaletteCommand:
    """One entry: what the operator types and reads, and what it does."""

    title: str
    help: str
    run: Callable[[], object]


# (verb, help, changes the target): the order the palette lists an app's verbs in.
VERBS = (
    ("open", "the app's live tree and waves", False),
    ("sync", "choose options, review the plan, then sync", True),
    ("diff", "desired vs live, whole app", False),
    ("history", "past syncs", False),
    ("rollback", "pick a history entry to roll back to", True),
    ("events", "the app's events, live", False),
    ("pause", "pause or resume auto-sync (asks first)", True),
)


def app_commands(gw: GitwaveApp, current: str | None) -> Iterator[PaletteCommand]:
    """Every verb for every app, the current app's first; controls left out
    in read-only mode. Then ``help`` and ``quit``."""
    names = [spec.name for spec in gw.controller.cached_apps()]
    if current is not None and current in names:
        names.remove(current)
        names.insert(0, current)
    elif current is not None:
        names.insert(0, current)
    actions: dict[str, Callable[[str], object]] = {
        "open": gw.open_app,
        "sync": lambda name: gw.post_message(SyncRequested(name)),
        "diff": gw.open_diff,
        "history": gw.open_history,
        # A rollback needs an entry: the history screen is where one is chosen (R).
        "rollback": gw.open_history,
        "events": gw.open_events,
        "pause": lambda name: gw.post_message(PauseRequested(name)),
    }
    for name in names:
        for verb, help_text, control in VERBS:
            if control and gw.read_only:
                continue
            yield PaletteCommand(f"{verb} {name}", help_text, partial(actions[verb], name))
    yield PaletteCommand("help", "every key of every screen", gw.action_help)
    yield PaletteCommand("quit", "leave gitwave", gw.exit)


class AppCommands(Provider):
    """The palette's only provider (``GitwaveApp.COMMANDS``)."""

    def _commands(self) -> list[PaletteCommand]:
        gw = cast("GitwaveApp", self.app)
        return list(app_commands(gw, gw.current_app_name(self.screen)))

    async def discover(self) -> Hits:
        for command in self._commands():
            yield DiscoveryHit(command.title, command.run, help=command.help)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for command in self._commands():
            score = matcher.match(command.title)
            if score > 0:
                yield Hit(
                    score,
                    matcher.highlight(command.title),
                    command.run,
                    command.title,
                    command.help,
                )
