"""``gitwave promote`` and ``gitwave drift``: the day-two verbs that write to
Git. Both present what ``engine.promotion`` and ``engine.triage`` return and
decide nothing themselves.

- ``promote APP --from ENV --to ENV``: prints the edits, the file diff and the
  diff of the manifests the target would see, then commits on a new branch
  (``--push [REMOTE]`` pushes it; ``--dry-run`` writes nothing). Exit 0 done
  (or nothing to promote), 1 refused (the source is not Synced and Healthy),
  2 bad input.
- ``drift APP``: lists the drifted fields (exit 0 none, 1 some), as ``plan``.
  With ``--revert``, ``--ignore`` or ``--accept`` it shows what it would do
  first (the Git diff, or the field it would sync back) and does it only with
  ``--yes`` or a "y" typed at a terminal, as ``argocd app delete`` asks;
  without either it exits 1 having written nothing. ``--dry-run`` only shows.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from gitwave.engine import operations
from gitwave.engine.apps import AppSpec
from gitwave.engine.drift import DriftedField
from gitwave.engine.errors import ValidationError
from gitwave.engine.promotion import Promotion, PromotionRefused, PromotionRequest, promote
from gitwave.engine.source_write import Commit
from gitwave.engine.triage import Decision, Triage, TriageRequest, git_change
from gitwave.engine.triage_fields import choose_field, drift_of
from gitwave.tui.cli.app_or_path import known_location
from gitwave.tui.cli.context import EXIT_CHANGES, EXIT_FAILED, EXIT_OK, Context
from gitwave.tui.cli.output import dump, table

__all__ = ["cmd_drift", "cmd_promote"]


def _loader(ctx: Context) -> Callable[[str], Sequence[AppSpec]]:
    def load(location: str) -> Sequence[AppSpec]:
        return operations.select_apps(
            location,
            allow_local_repos=ctx.allow_local_repos,
            clusters=ctx.fleet,
            default_namespace=ctx.default_namespace,
        )

    return load


def _commit_dict(commit: Commit | None) -> dict[str, Any] | None:
    if commit is None:
        return None
    return {"branch": commit.branch, "sha": commit.sha, "pushedTo": commit.pushed_to or None}


def _commit_lines(ctx: Context, commit: Commit | None, dry_run: bool) -> None:
    if commit is None:
        ctx.out("dry run: nothing written" if dry_run else "nothing written")
        return
    ctx.out(ctx.paint(f"committed {commit.sha[:12]} on branch {commit.branch}", "green"))
    if commit.pushed_to:
        ctx.out(f"pushed {commit.branch} to {commit.pushed_to}")


# --- promote ----------------------------------------------------------------------------


def cmd_promote(ctx: Context) -> int:
    args = ctx.args
    request = PromotionRequest(
        app=args.app_name,
        source=args.promote_from,
        target=args.promote_to,
        fields=tuple(args.field),
        keys=tuple(args.key),
        branch=args.branch,
        push_to=args.push,
        message=args.message,
        dry_run=args.dry_run,
    )
    try:
        done = promote(args.path, request, load=_loader(ctx), targets=ctx.fleet.targets_for)
    except PromotionRefused as exc:
        ctx.err(ctx.paint(f"refused: {exc}", "red"))
        if exc.hint:
            ctx.err(f"hint: {exc.hint}")
        if ctx.output in ("json", "yaml"):
            ctx.out(dump({"app": args.app_name, "refused": str(exc)}, ctx.output))
        return EXIT_FAILED
    if ctx.output in ("json", "yaml"):
        ctx.out(dump(_promotion_dict(done), ctx.output))
        return EXIT_OK
    _print_promotion(ctx, done, dry_run=args.dry_run)
    return EXIT_OK


def _promotion_dict(done: Promotion) -> dict[str, Any]:
    return {
        "app": done.app,
        "from": {"env": done.source.name, "app": done.source.app.name},
        "to": {"env": done.target.name, "app": done.target.app.name},
        "source": {
            "sync": done.source_sync.value,
            "health": done.source_health.value,
            "revision": done.source_revision,
        },
        "edits": [
            {"file": e.file, "field": e.field, "before": e.before, "after": e.after}
            for e in done.edits
        ],
        "fileDiff": done.file_diff,
        "manifestDiff": done.manifest_diff,
        "commit": _commit_dict(done.commit),
    }


def _print_promotion(ctx: Context, done: Promotion, *, dry_run: bool) -> None:
    ctx.out(
        ctx.paint(f"promote {done.app}: {done.source.name} -> {done.target.name}", "bold")
        + f"  ({done.source.app.name} is {done.source_sync.value} and "
        f"{done.source_health.value})"
    )
    if not done.edits:
        ctx.out(
            f"nothing to promote: {done.target.app.name} already has what "
            f"{done.source.app.name} has"
        )
        return
    for edit in done.edits:
        ctx.out(f"  {edit.describe}")
    ctx.out(ctx.paint("\nGit diff:", "bold"))
    ctx.out(done.file_diff.rstrip("\n"))
    ctx.out(ctx.paint(f"\nmanifests {done.target.app.name} would see:", "bold"))
    ctx.out(done.manifest_diff.rstrip("\n") or "(no change in the rendered manifests)")
    ctx.out()
    _commit_lines(ctx, done.commit, dry_run)


# --- drift ------------------------------------------------------------------------------


def _find_app(ctx: Context, name: str, path: str) -> AppSpec:
    for app in _loader(ctx)(path):
        if app.name == name:
            return app
    raise ValidationError(
        path, f"no app named {name}", hint=f"`gitwave status {path}` lists the apps there"
    )


def _field_dict(field: DriftedField) -> dict[str, Any]:
    return {
        "object": field.key.display,
        "field": field.path,
        "git": field.desired,
        "live": field.live,
        "changedBy": list(field.managers),
    }


def cmd_drift(ctx: Context) -> int:
    args = ctx.args
    # APP is a name, even where a directory of that name is (`drift hook` in the
    # directory holding hook/); one nobody synced is read from that directory.
    found = None if args.path else known_location(ctx, args.app_name, name_wins=True)
    where = args.path or (found.location if found else None)
    if where is None:
        where = args.app_name if Path(args.app_name).is_dir() else "."
    app = _find_app(ctx, args.app_name, where)
    targets = ctx.fleet.targets_for(app)
    state = operations.plan(app, ctx.sync_request(), targets=targets)
    drifted = drift_of(state)
    decision = next((d for d in Decision if getattr(args, d.value, False)), None)
    if decision is None:
        return _list_drift(ctx, app, drifted)
    field = choose_field(drifted, resource=args.resource, path=args.field)
    if decision is Decision.REVERT:
        return _revert(ctx, app, field)
    request = TriageRequest(
        decision,
        field,
        branch=args.branch,
        push_to=args.push,
        message=args.message,
        dry_run=True,
    )
    shown = git_change(state, request, targets=targets)
    confirmed = args.yes or (not args.dry_run and _asked(ctx, f"{decision.value} this field"))
    if args.dry_run or not confirmed:
        _print_triage(ctx, shown, written=False, dry_run=args.dry_run)
        return EXIT_OK if args.dry_run else EXIT_CHANGES
    real = TriageRequest(
        decision, field, branch=args.branch, push_to=args.push, message=args.message
    )
    done = git_change(state, real, targets=targets)
    _print_triage(ctx, done, written=True, dry_run=False)
    return EXIT_OK


def _asked(ctx: Context, what: str) -> bool:
    """A "y" typed at a terminal (never asked without one: scripts pass --yes)."""
    if ctx.output in ("json", "yaml") or not sys.stdin.isatty():
        return False
    sys.stderr.write(f"{what}? [y/N] ")
    sys.stderr.flush()
    return sys.stdin.readline().strip().lower() in ("y", "yes")


def _list_drift(ctx: Context, app: AppSpec, drifted: Sequence[DriftedField]) -> int:
    if ctx.output in ("json", "yaml"):
        ctx.out(dump({"app": app.name, "drift": [_field_dict(f) for f in drifted]}, ctx.output))
    elif not drifted:
        ctx.out(f"{app.name}: no drift")
    else:
        rows = [
            [f.key.display, f.path, str(f.live), str(f.desired), ", ".join(f.managers) or "?"]
            for f in drifted
        ]
        # LIVE before GIT: live → desired, as plan, the TUI's diff and run's lines write it.
        ctx.out(table(["OBJECT", "FIELD", "LIVE", "GIT", "CHANGED BY"], rows))
        ctx.out(
            "decide with: gitwave drift "
            f"{app.name} --resource KIND/NAME --field PATH --revert|--ignore|--accept"
        )
    return EXIT_CHANGES if drifted else EXIT_OK


def _print_triage(ctx: Context, done: Triage, *, written: bool, dry_run: bool) -> None:
    if ctx.output in ("json", "yaml"):
        doc = {
            "app": done.app,
            "decision": done.decision.value,
            "field": _field_dict(done.field),
            "diff": done.file_diff,
            "written": written,
            "commit": _commit_dict(done.commit),
        }
        ctx.out(dump(doc, ctx.output))
        return
    ctx.out(ctx.paint(f"{done.decision.value}: {done.field.describe}", "bold"))
    ctx.out(done.file_diff.rstrip("\n"))
    if written:
        _commit_lines(ctx, done.commit, dry_run)
    elif dry_run:
        ctx.out("dry run: nothing written")
    else:
        ctx.out("not written: pass --yes to commit it")


def _revert(ctx: Context, app: AppSpec, field: DriftedField) -> int:
    args = ctx.args
    line = f"revert: sync {field.key.display} back to Git ({field.describe})"
    confirmed = args.yes or (not args.dry_run and _asked(ctx, "sync it back"))
    if args.dry_run or not confirmed:
        if ctx.output in ("json", "yaml"):
            doc = {
                "app": app.name,
                "decision": "revert",
                "field": _field_dict(field),
                "written": False,
            }
            ctx.out(dump(doc, ctx.output))
        else:
            ctx.out(line)
            ctx.out(
                "dry run: nothing changed"
                if args.dry_run
                else "not synced: pass --yes to sync it back"
            )
        return EXIT_OK if args.dry_run else EXIT_CHANGES
    request = ctx.sync_request()
    request = _one_object(request, field)
    synced = operations.sync_app(
        app, targets=ctx.fleet.targets_for(app), store=ctx.store, request=request
    )
    ok = synced.result.ok
    if ctx.output in ("json", "yaml"):
        doc = {
            "app": app.name,
            "decision": "revert",
            "field": _field_dict(field),
            "written": ok,
            "result": operations.result_summary(synced.result),
        }
        ctx.out(dump(doc, ctx.output))
    else:
        ctx.out(line)
        ctx.out(operations.result_summary(synced.result))
    return EXIT_OK if ok else EXIT_FAILED


def _one_object(request: operations.SyncRequest, field: DriftedField) -> operations.SyncRequest:
    return dataclasses.replace(request, resource=field.key)
