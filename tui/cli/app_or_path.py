"""APP or PATH, the same way in every verb taking a PATH (issue 13): a name that
is no path on disk but an app a ``sync`` or ``run`` found is read from where it
was found (``engine.app_locations``), as ``argocd app get APP`` knows its app.
``gitwave status guestbook`` then works from any directory."""

from __future__ import annotations

import difflib
from pathlib import Path

from gitwave.engine.app_locations import AppLocation, AppLocations
from gitwave.engine.errors import ValidationError
from gitwave.engine.source_url import is_remote
from gitwave.tui.cli.context import Context


def known_location(ctx: Context, given: str, *, name_wins: bool = False) -> AppLocation | None:
    """Where app ``given`` was last synced from, when ``given`` is no path or URL
    (with ``name_wins``, also when a path of that name exists: a verb taking an
    APP only, as ``drift``)."""
    if not given or is_remote(given) or (Path(given).exists() and not name_wins):
        return None
    locations = AppLocations.beside(ctx.store)
    try:
        return locations.location_of(given)
    finally:
        locations.close()


def resolve_app_name(ctx: Context) -> None:
    """``ctx.args.path`` as a location: an app's name is replaced by where it was
    last found, with ``--app NAME`` (and its ``--revision`` unless one is given).
    A name nothing knows is left as is (the verb says the path does not exist),
    with a hint naming close app names."""
    args = ctx.args
    given = getattr(args, "path", None)
    if given is None or getattr(args, "controller_mode", False) or not hasattr(args, "revision"):
        return
    found = known_location(ctx, given)
    if found is None:
        if not is_remote(given) and not Path(given).exists() and "/" not in given:
            _no_such_app_or_path(ctx, given)
        return
    if args.app and args.app != [given]:
        raise ValidationError(
            f"--app {','.join(args.app)}",
            f"is taken with a PATH, not with the app name {given!r}",
            hint=f"gitwave {args.verb} {found.location} --app {','.join(args.app)}",
        )
    args.path = found.location
    args.app = [given]
    if args.revision is None and found.revision:
        args.revision = found.revision


def _no_such_app_or_path(ctx: Context, given: str) -> None:
    known = ctx.known_apps()
    if given in known:  # synced before where it was recorded (or by the TUI)
        raise ValidationError(
            given,
            "no such file or directory; an app of that name was synced, from a place not recorded",
            hint=f"give its PATH once: gitwave sync PATH (then `gitwave {ctx.args.verb} "
            f"{given}` works from anywhere)",
        )
    close = difflib.get_close_matches(given, known, n=3)
    hint = "a directory, a Git URL, an Application file, or the name of an app synced before"
    if close:
        hint = f"did you mean {' or '.join(close)}? ({hint})"
    raise ValidationError(given, "no such file or directory, and no app of that name", hint=hint)


def remember_found(ctx: Context, apps: list[str], *, location: str, revision: str | None) -> None:
    """Record where ``sync`` or ``run`` found ``apps`` (for ``resolve_app_name``)."""
    if not apps:
        return
    locations = AppLocations.beside(ctx.store)
    try:
        locations.remember(apps, location=location, revision=revision)
    finally:
        locations.close()


# Verbs whose APP means one app by name (history and events take a PATH of
# their own, promote's APP is a name without its environment suffix).
_ONE_APP_VERBS = frozenset({"rollback", "suspend", "resume", "unpin", "rollout", "drift"})


def resolve_path_as_app(ctx: Context) -> None:
    """A verb naming one APP given a PATH instead (``gitwave suspend samples/guestbook``):
    the one app defined there, as ``sync PATH`` would find it; several apps there
    are refused, naming them. An app name the store knows wins over a path."""
    args = ctx.args
    given = getattr(args, "app_name", None)
    if args.verb not in _ONE_APP_VERBS or not given or getattr(args, "controller_mode", False):
        return
    if not (is_remote(given) or Path(given).exists()) or given in ctx.known_apps():
        return
    from gitwave.engine import operations  # only when a PATH was given

    chosen = operations.select_app_set(
        given,
        allow_local_repos=ctx.allow_local_repos,
        clusters=ctx.fleet,
        default_namespace=ctx.default_namespace,
    )
    names = [entry.name for entry in chosen]
    if len(names) != 1:
        verb = " ".join(v for v in (args.verb, getattr(args, "rollout_verb", None)) if v)
        raise ValidationError(
            given,
            f"defines {len(names)} apps ({', '.join(names) or 'none'}): "
            f"`gitwave {verb}` works on one",
            hint=f"name one: gitwave {verb} {names[0]}" if names else "",
        )
    args.app_name = names[0]
    if getattr(args, "path", "") is None:  # drift: read the app where it was named
        args.path = given
