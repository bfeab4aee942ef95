"""What the history holds, as values: a sync's row (``SyncRecord``), what it
did to each object (``ResourceOutcome``), the results beside the sync phases
(``RUNNING``, ``INTERRUPTED``) and who ran it (``current_user``). The tables
they are read from and written to are ``engine.store``'s.
"""

from __future__ import annotations

from dataclasses import dataclass

from gitwave.engine.model import ChangeAction, ResourceKey

# History results beside the sync phases (Succeeded, Failed, ...): a sync being
# carried out, and one whose process died before it wrote its end.
RUNNING = "Running"
INTERRUPTED = "Interrupted"


@dataclass(frozen=True, slots=True)
class ResourceOutcome:
    key: ResourceKey
    action: ChangeAction
    message: str = ""


@dataclass(frozen=True, slots=True)
class SyncRecord:
    """One row of `gitwave history`."""

    id: int
    app: str
    revision: str
    source: str
    started: float
    finished: float
    who: str
    result: str
    message: str
    dry_run: bool
    prune: bool
    rollback_of: int | None
    outcomes: tuple[ResourceOutcome, ...] = ()
    # The tracking owner of the synced objects (``name@source``; "" before it was recorded).
    owner: str = ""
    content_digest: str = ""
    # Where it applied: ``cluster/namespace`` (``in-cluster``: the current target).
    destination: str = ""

    @property
    def interrupted(self) -> bool:
        """True for a sync whose process stopped before it ended (a kill, a crash)."""
        return self.result == INTERRUPTED


def current_user() -> str:
    """``user@host`` — who ran a sync, for the history."""
    import getpass  # with termios, for a sync only: `gitwave status` records nothing

    from gitwave.engine.lock_names import hostname

    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{user}@{hostname()}"
