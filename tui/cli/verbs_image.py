"""``gitwave image scan|update PATH``: Flux's image automation from the command line.

``scan`` is ``flux get images all`` without a cluster: each ImageRepository's
tags as the registry lists them now and each ImagePolicy's latest image.
``update`` runs every ImageUpdateAutomation under PATH once: it prints the
chosen tags, the diff of the marked lines and the commit it pushed
(``--dry-run``: the diff only). Exit 1 when a repository, policy or
automation failed; the failure names it and the registry URL.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from gitwave.engine.cluster_secrets import secret_strings
from gitwave.engine.errors import GitwaveError, ValidationError
from gitwave.engine.images import (
    AutomationResult,
    ImageObjects,
    ScanReport,
    load_image_objects,
    run_automation,
    scan,
    secret_credentials,
)
from gitwave.engine.images.loop import ImageAutomationLoop
from gitwave.engine.model import ResourceKey
from gitwave.engine.source_git import find_repo_root, remote_urls
from gitwave.engine.source_url import allowed_local_repos, local_path
from gitwave.tui.cli.context import EXIT_FAILED, EXIT_OK, Context
from gitwave.tui.cli.output import dump, table


def _objects(ctx: Context) -> tuple[Path, ImageObjects]:
    directory = Path(ctx.args.path).expanduser()
    if not directory.is_dir():
        raise ValidationError(ctx.args.path, "not a directory")
    return directory, load_image_objects(directory)


def _reader(ctx: Context) -> Any:
    def read_secret(namespace: str, name: str) -> Mapping[str, str] | None:
        key = ResourceKey("", "Secret", namespace, name)
        live = ctx.targets.for_kind("v1", "Secret").observe(key)
        return None if live is None else secret_strings(live.manifest, f"Secret/{namespace}/{name}")

    return read_secret


def scan_report(ctx: Context, objects: ImageObjects) -> ScanReport:
    """Scan with credentials from the target's Secrets (read only when a secretRef asks)."""
    return scan(objects, credentials=secret_credentials(_reader(ctx)))


def _scan_dict(report: ScanReport) -> dict[str, Any]:
    return {
        "imageRepositories": [
            {
                "namespace": r.repository.ref.namespace,
                "name": r.repository.ref.name,
                "image": r.repository.image.canonical,
                "tags": list(r.tags),
                "ready": not r.error,
                "message": r.error or f"successful scan: found {len(r.tags)} tags",
            }
            for r in report.repositories
        ],
        "imagePolicies": [
            {
                "namespace": p.policy.ref.namespace,
                "name": p.policy.ref.name,
                "latestImage": f"{p.latest.name}:{p.latest.tag}" if p.latest else "",
                "ready": not p.error,
                "message": p.error
                or f"Latest image tag for {p.latest.name} resolved to {p.latest.tag}"
                if p.latest
                else p.error,
            }
            for p in report.policies
        ],
    }


def _print_scan(ctx: Context, report: ScanReport) -> None:
    data = _scan_dict(report)
    ctx.out(
        table(
            ["namespace", "name", "image", "tags", "ready", "message"],
            [
                [
                    r["namespace"],
                    f"imagerepository/{r['name']}",
                    r["image"],
                    len(r["tags"]),
                    str(r["ready"]),
                    r["message"],
                ]
                for r in data["imageRepositories"]
            ],
        )
    )
    ctx.out()
    ctx.out(
        table(
            ["namespace", "name", "latest image", "ready", "message"],
            [
                [
                    p["namespace"],
                    f"imagepolicy/{p['name']}",
                    p["latestImage"],
                    str(p["ready"]),
                    p["message"],
                ]
                for p in data["imagePolicies"]
            ],
        )
    )


def cmd_image_scan(ctx: Context) -> int:
    _directory, objects = _objects(ctx)
    report = scan_report(ctx, objects)
    if ctx.output in ("json", "yaml"):
        sys.stdout.write(dump(_scan_dict(report), ctx.output) + "\n")
    else:
        _print_scan(ctx, report)
    for problem in [r.error for r in report.repositories] + [p.error for p in report.policies]:
        if problem:
            ctx.err(ctx.paint(f"error: {problem}", "red"))
    return EXIT_OK if report.ok else EXIT_FAILED


def allowed_repos(directory: Path, extra: tuple[str, ...]) -> tuple[Path, ...]:
    """Host directories a GitRepository's url may name: the repository PATH is in,
    its remotes that are local directories, and the operator's allowances."""
    found = list(allowed_local_repos(extra))
    root = find_repo_root(directory.resolve())
    if root is not None:
        found.append(root.resolve())
        for url in remote_urls(root):
            path = local_path(url)
            if path is not None:
                found.append(path.resolve())
    return tuple(found)


def _result_dict(result: AutomationResult) -> dict[str, Any]:
    return {
        "namespace": result.automation.ref.namespace,
        "name": result.automation.ref.name,
        "changes": [
            {
                "file": c.file,
                "line": c.line,
                "setter": c.setter,
                "oldValue": c.old_value,
                "newValue": c.new_value,
            }
            for c in result.changes
        ],
        "message": result.message,
        "commit": result.commit,
        "pushedTo": result.pushed_to,
        "diff": result.diff,
        "error": result.error,
    }


def cmd_image_update(ctx: Context) -> int:
    directory, objects = _objects(ctx)
    wanted = set(ctx.args.automation or ())
    automations = [a for a in objects.automations if not wanted or a.ref.name in wanted]
    missing = wanted - {a.ref.name for a in automations}
    if missing:
        raise ValidationError(
            ctx.args.path, f"no ImageUpdateAutomation named {', '.join(sorted(missing))}"
        )
    if not automations:
        raise ValidationError(ctx.args.path, "no ImageUpdateAutomation found under this directory")
    report = scan_report(ctx, objects)
    allowed = allowed_repos(directory, tuple(ctx.args.allow_local_repo or ()))
    results = [
        run_automation(a, objects, report, dry_run=ctx.args.dry_run, allowed_local_repos=allowed)
        if not a.suspend
        else AutomationResult(a, error="")
        for a in automations
    ]
    problems = [p.error for p in report.policies if p.error]
    if ctx.output in ("json", "yaml"):
        sys.stdout.write(
            dump(
                {**_scan_dict(report), "automations": [_result_dict(r) for r in results]},
                ctx.output,
            )
            + "\n"
        )
    else:
        for choice in report.policies:
            latest = choice.latest
            if latest is not None:
                ctx.out(f"imagepolicy/{choice.policy.ref.name}: {latest.name}:{latest.tag}")
        for result in results:
            _print_result(ctx, result)
    for problem in problems:
        ctx.err(ctx.paint(f"error: {problem}", "red"))
    failed = bool(problems) or any(r.error for r in results)
    return EXIT_FAILED if failed else EXIT_OK


@contextmanager
def image_automation(
    ctx: Context, path: str, *, say: Callable[..., None], stop: threading.Event
) -> Iterator[None]:
    """For ``gitwave run``: the ImageUpdateAutomations under ``path`` (a local
    directory) run on their interval in a thread of their own until ``stop``."""
    directory = Path(path).expanduser()
    if not directory.is_dir():
        yield  # a Git URL: its image objects are not read (no work tree to scan)
        return
    try:
        automations = load_image_objects(directory).automations
    except GitwaveError as exc:
        say(f"image automation: {exc.message}", level="warning")
        automations = ()
    if not automations:
        yield
        return

    def report(result: AutomationResult) -> None:
        name = f"imageupdateautomation/{result.automation.ref.name}"
        if result.error:
            say(f"{name}: {result.error}", level="error")
        elif result.commit:
            changes = ", ".join(f"{c.old_value} -> {c.new_value}" for c in result.changes)
            say(f"{name}: pushed commit {result.commit[:7]} to {result.pushed_to!r}: {changes}")

    loop = ImageAutomationLoop(
        directory=directory,
        report=report,
        on_error=lambda message: say(f"image automation: {message}", level="error"),
        credentials=secret_credentials(_reader(ctx)),
        allowed_local_repos=allowed_repos(directory, ctx.allow_local_repos),
    )
    for automation in automations:
        when = "suspended" if automation.suspend else f"every {automation.interval_s:g}s"
        say(f"imageupdateautomation/{automation.ref.name}: {when}")
    thread = threading.Thread(target=loop.run, args=(stop,), name="image-automation", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=30)


def _print_result(ctx: Context, result: AutomationResult) -> None:
    name = f"imageupdateautomation/{result.automation.ref.name}"
    if result.automation.suspend:
        ctx.out(f"{name}: suspended")
        return
    if result.error:
        ctx.err(ctx.paint(f"error: {result.error}", "red"))
        if result.hint:
            ctx.err(f"hint: {result.hint}")
        return
    if not result.changes:
        ctx.out(f"{name}: no change (every marked image is up to date)")
        return
    for change in result.changes:
        ctx.out(f"{name}: {change.file}:{change.line} {change.old_value} -> {change.new_value}")
    ctx.out(result.diff.rstrip("\n"))
    if result.commit:
        ctx.out(f"{name}: pushed commit {result.commit[:7]} to branch {result.pushed_to!r}")
    else:
        ctx.out(f"{name}: dry run, nothing committed")


__all__ = ["cmd_image_scan", "cmd_image_update", "image_automation"]
