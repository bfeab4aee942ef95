"""The `gitwave` command line.

Verbs follow kubectl/argocd/flux habits: ``-o table|json|yaml``, ``--context``,
``plan`` exiting 1 when there are changes (like ``kubectl diff``). The CLI
computes nothing itself: it calls the engine and renders its values.

Exit codes: 0 success (``plan``: no changes); 1 ``plan`` found changes or a
sync failed; 2 bad input or a refused operation; 3 an unexpected failure.
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from gitwave.compositions import Composed
from gitwave.engine import operations
from gitwave.engine.app_pipeline import composite_status, desired_of
from gitwave.engine.apps import AppSpec, implicit_app, render_app
from gitwave.engine.errors import GitwaveError, ValidationError
from gitwave.engine.graph import to_dot
from gitwave.engine.loop_store import LoopStore
from gitwave.engine.mask import mask_secret_manifest
from gitwave.engine.model import (
    Action,
    ChangeAction,
    HealthCode,
    Live,
    Plan,
    ResourceKey,
    SyncStatus,
)
from gitwave.engine.operations import SyncRequest
from gitwave.engine.plan_report import plan_to_dict
from gitwave.engine.provider import Provider
from gitwave.engine.store import Store, TimelineWriter
from gitwave.engine.sync import SyncResult, Targets
from gitwave.providers.aws import AwsTarget
from gitwave.providers.sandbox import SandboxProvider, default_state_dir
from gitwave.tui.kinds import parse_kind_name
from gitwave.tui.output import Progress, age, dump, paint, table, use_color
from gitwave.tui.plan_text import format_plan
from gitwave.tui.targets import build_targets

EXIT_OK = 0
EXIT_CHANGES = 1
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_BUG = 3


@dataclass
class Context:
    """What every verb needs, built once from the global flags."""

    args: argparse.Namespace
    state_dir: Path
    output: str
    color: bool
    _targets: Targets | None = None
    _store: Store | None = None
    _sandbox: SandboxProvider | None = None
    _aws: AwsTarget | None = None
    _timeline: TimelineWriter | None = None
    _kube: Any = None

    @property
    def sandbox(self) -> SandboxProvider:
        if self._sandbox is None:
            rollout = float(os.environ.get("GITWAVE_SANDBOX_ROLLOUT", "1.0"))
            self._sandbox = SandboxProvider(self.state_dir, rollout_seconds=rollout)
        return self._sandbox

    @property
    def targets(self) -> Targets:
        if self._targets is None:
            kube_side: Provider
            target = self.args.target or "sandbox"
            if self.args.context:
                target = f"kube:{self.args.context}"
            if target == "sandbox":
                kube_side = self.sandbox
            elif target == "kube" or target.startswith("kube:"):
                from gitwave.providers.kubernetes import KubernetesProvider

                self._kube = KubernetesProvider.from_kubeconfig(
                    context=target.partition(":")[2] or None,
                    kubeconfig=self.args.kubeconfig,
                    allow_exec_plugins=self.args.allow_exec_plugins,
                )
                kube_side = self._kube
            else:
                raise ValidationError(
                    f"--target {target}",
                    "unknown target",
                    hint="use sandbox (the default), kube (the current context) or kube:CONTEXT",
                )
            # The emulator stands in for AWS only on the sandbox: against a real
            # cluster, cloud kinds go to real AWS (or a ProviderConfig's endpoint).
            providers, self._aws = build_targets(
                state_dir=self.state_dir, kube_side=kube_side, embedded_aws=target == "sandbox"
            )
            self._targets = Targets(providers)
        return self._targets

    @property
    def timeline(self) -> TimelineWriter:
        """The event sink into the store, batched (a commit per event is slower
        than a sync of thousands of objects)."""
        if self._timeline is None:
            self._timeline = TimelineWriter(self.store)
        return self._timeline

    def close(self) -> None:
        if self._timeline is not None:
            self._timeline.close()
        if self._aws is not None:
            self._aws.close()
        if self._kube is not None:
            self._kube.close()

    @property
    def target_name(self) -> str:
        return self.targets.description

    @property
    def store(self) -> Store:
        if self._store is None:
            self._store = Store(self.state_dir / "gitwave.db")
        return self._store

    def out(self, text: str = "") -> None:
        print(text)

    def paint(self, text: str, color: str) -> str:
        return paint(text, color, enabled=self.color)


# -- helpers ---------------------------------------------------------------------------


def _apps(ctx: Context) -> list[AppSpec]:
    """The apps under PATH in sync order, filtered by ``--app``."""
    return operations.select_apps(
        ctx.args.path,
        revision=getattr(ctx.args, "revision", None),
        only=getattr(ctx.args, "app", None) or (),
    )


def sync_request(ctx: Context, *, dry_run: bool = False) -> SyncRequest:
    """What the command's flags ask of a sync."""
    prune = True if getattr(ctx.args, "prune", False) else None
    return SyncRequest(
        prune=prune,
        dry_run=dry_run,
        wave_timeout_s=getattr(ctx.args, "timeout", None),
        parallelism=getattr(ctx.args, "parallel", 8),
    )


def _short(revision: str) -> str:
    return revision[:7] if revision else "-"


def _masked_live(live: Live) -> dict[str, Any]:
    if live.key.kind == "Secret" and live.key.group == "":
        return mask_secret_manifest(live.manifest)
    return live.manifest


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


_ACTION_COLOR = {
    ChangeAction.CREATED: "green",
    ChangeAction.CONFIGURED: "yellow",
    ChangeAction.DELETED: "red",
    ChangeAction.FAILED: "red",
    ChangeAction.UNCHANGED: "dim",
    ChangeAction.SKIPPED: "dim",
}


def _result_dict(result: SyncResult) -> dict[str, Any]:
    return {
        "app": result.app,
        "revision": result.revision,
        "phase": result.phase.value,
        "message": result.message,
        "health": result.health.code.value,
        "dryRun": result.dry_run,
        "durationSeconds": round(result.finished - result.started, 3),
        "resources": [
            {"key": e.key.display, "action": e.action.value, "message": e.message}
            for e in result.changeset.entries
        ],
        "hooks": [k.display for k in result.hooks_run],
    }


def _print_result(ctx: Context, plan: Plan, result: SyncResult) -> None:
    wave_of = _wave_labels(plan)
    by_wave: dict[str, list[str]] = {}
    for entry in result.changeset.entries:
        label = wave_of(entry.key)
        action = ctx.paint(entry.action.value.ljust(10), _ACTION_COLOR.get(entry.action, ""))
        line = f"  {action} {entry.key.display}"
        if entry.message and entry.action in (ChangeAction.FAILED, ChangeAction.SKIPPED):
            line += f"  ({entry.message})"
        by_wave.setdefault(label, []).append(line)
    order = {w.label: i for i, w in reversed(list(enumerate(plan.waves)))}
    for label in sorted(by_wave, key=lambda lb: order.get(lb, len(order))):
        ctx.out(ctx.paint(label, "bold"))
        for line in by_wave[label]:
            ctx.out(line)
    counts = result.changeset.counts()
    summary = ", ".join(
        f"{counts[a]} {a.value}"
        for a in (
            ChangeAction.CREATED,
            ChangeAction.CONFIGURED,
            ChangeAction.UNCHANGED,
            ChangeAction.DELETED,
            ChangeAction.FAILED,
        )
    )
    status = ctx.paint(result.phase.value, "green" if result.ok else "red")
    took = result.finished - result.started
    ctx.out(
        f"{result.app}: {status} in {took:.1f}s ({summary}); health {result.health.code.value}"
        + ("" if result.ok else f"\n  {result.message}")
    )


# -- verbs -----------------------------------------------------------------------------


def cmd_render(ctx: Context) -> int:
    docs = []
    for app in _apps(ctx):
        state_resources = _render(app)
        for resource in state_resources:
            manifest = resource.manifest
            if resource.is_secret:
                manifest = mask_secret_manifest(manifest)
            docs.append(manifest)
    if ctx.output == "json":
        ctx.out(dump({"apiVersion": "v1", "kind": "List", "items": docs}, "json"))
    else:
        ctx.out(dump(docs, "yaml-stream").rstrip())
    return EXIT_OK


def _render(app: AppSpec) -> tuple[Any, ...]:
    return render_app(app).resources


def cmd_graph(ctx: Context) -> int:
    for app in _apps(ctx):
        graph = desired_of(_render(app)).graph
        if ctx.args.dot:
            ctx.out(to_dot(graph))
            continue
        if ctx.output in ("json", "yaml"):
            value = {
                "app": app.name,
                "stages": [
                    {"stage": stage.label, "resources": [k.display for k in stage.keys]}
                    for stage in graph.stages
                ],
                "edges": sorted([u.display, v.display] for u, v in graph.dag.edges),
            }
            ctx.out(dump(value, ctx.output))
            continue
        ctx.out(ctx.paint(f"{app.name}: {len(graph.resources)} resources", "bold"))
        for stage in graph.stages:
            ctx.out(f"{stage.label}")
            for key in stage.keys:
                deps = graph.dependencies_of(key)
                after = f"  (after {', '.join(d.display for d in deps)})" if deps else ""
                ctx.out(f"  {key.display}{after}")
    return EXIT_OK


def cmd_plan(ctx: Context) -> int:
    changed = False
    docs = []
    for app in _apps(ctx):
        state = operations.plan(app, sync_request(ctx), targets=ctx.targets)
        changed = changed or state.plan.has_changes
        if ctx.output in ("json", "yaml"):
            docs.append(plan_to_dict(state.plan))
        else:
            header = f"{app.name} @ {_short(state.plan.revision)} -> {ctx.target_name}"
            ctx.out(ctx.paint(header, "bold"))
            ctx.out(format_plan(state.plan, color=ctx.color).rstrip())
    if docs:
        ctx.out(dump(docs if len(docs) > 1 else docs[0], ctx.output))
    return EXIT_CHANGES if changed else EXIT_OK


def cmd_sync(ctx: Context) -> int:
    progress = Progress(enabled=None if ctx.output == "table" else False)
    failed = False
    docs = []
    for app in _apps(ctx):
        if failed:
            ctx.out(f"{app.name}: skipped, an app it follows failed")
            continue
        synced = operations.sync_app(
            app,
            targets=ctx.targets,
            store=ctx.store,
            request=sync_request(ctx, dry_run=ctx.args.dry_run),
            sink=_both(progress, ctx.timeline if not ctx.args.dry_run else None),
        )
        state, result = synced.state, synced.result
        progress.clear()
        if ctx.output in ("json", "yaml"):
            docs.append(_result_dict(result))
        else:
            header = f"{app.name} @ {_short(result.revision)} -> {ctx.target_name}"
            ctx.out(ctx.paint(header, "bold") + (" (dry run)" if result.dry_run else ""))
            _print_result(ctx, state.plan, result)
        failed = failed or not result.ok
    if docs:
        ctx.out(dump(docs if len(docs) > 1 else docs[0], ctx.output))
    return EXIT_FAILED if failed else EXIT_OK


def _both(*sinks: Callable[[Any], None] | None) -> Callable[[Any], None]:
    active = [s for s in sinks if s is not None]

    def sink(event: Any) -> None:
        for one in active:
            one(event)

    return sink


def cmd_status(ctx: Context) -> int:
    pins = LoopStore.beside(ctx.store)
    rows = []
    docs = []
    trees: list[list[str]] = []
    for app in _apps(ctx):
        state = operations.plan(app, sync_request(ctx), targets=ctx.targets)
        by_key = operations.resource_healths(state, targets=ctx.targets)
        healths = [by_key.get(key) for key in state.live if not state.graph.is_hook(key)]
        health = operations.app_health(state, targets=ctx.targets).code
        sync_status = SyncStatus.of_plan(state.plan).value
        pin = pins.pin_of(app.name)
        if pin is not None:
            # A rollback holds the app: auto-sync skips the newer commit.
            sync_status += f" (pinned to {_short(pin.revision)}, skipping {_short(pin.skipped)})"
        last = ctx.store.last(app.name)
        last_text = f"{last.result} {age(last.finished)} ago" if last else "never"
        rows.append([app.name, sync_status, health.value, _short(state.plan.revision), last_text])
        composed = composite_status(state, targets=ctx.targets)
        tree_lines, composites = _composite_tree(composed) if composed else ([], [])
        if tree_lines:
            trees.append(tree_lines)
        docs.append(
            {
                "app": app.name,
                "composites": composites,
                "sync": sync_status.split(" ")[0],
                "pin": None
                if pin is None
                else {"revision": pin.revision, "skipped": pin.skipped, "reason": pin.reason},
                "health": health.value,
                "revision": state.plan.revision,
                "lastSync": None
                if last is None
                else {"id": last.id, "result": last.result, "finished": last.finished},
                "resources": [
                    {
                        "key": key.display,
                        "health": (h.code.value if h else HealthCode.MISSING.value),
                    }
                    for key, h in zip(
                        [k for k in state.live if not state.graph.is_hook(k)], healths, strict=True
                    )
                ],
            }
        )
    if ctx.output in ("json", "yaml"):
        ctx.out(dump(docs if len(docs) > 1 else docs[0], ctx.output))
    else:
        ctx.out(table(["app", "sync", "health", "revision", "last sync"], rows))
        for lines in trees:
            ctx.out()
            ctx.out("\n".join(lines))
    return EXIT_OK


def _composite_tree(composed: Composed) -> tuple[list[str], list[dict[str, Any]]]:
    """Each composite with its composed resources, as text lines and as data."""
    lines: list[str] = []
    docs: list[dict[str, Any]] = []
    for node in composed.composites:
        status = node.status
        state = "Ready" if status.ready else "NotReady"
        via = node.composition or node.definition
        lines.append(f"{node.key.display} ({via})  {state}")
        rows = status.resources
        for i, row in enumerate(rows):
            branch = "└─" if i == len(rows) - 1 else "├─"
            mark = "Ready" if row.ready else f"NotReady: {row.reason}"
            lines.append(f"  {branch} {row.key.display}  {mark}")
        docs.append(
            {
                "composite": node.key.display,
                "composition": node.composition,
                "ready": status.ready,
                "resources": [
                    {"key": r.key.display, "ready": r.ready, "reason": r.reason} for r in rows
                ],
                "connectionDetails": sorted(status.connection_details),
            }
        )
    return lines, docs


def cmd_history(ctx: Context) -> int:
    records = ctx.store.history(ctx.args.app_name, limit=ctx.args.limit)
    if ctx.output in ("json", "yaml"):
        value = [
            {
                "id": r.id,
                "revision": r.revision,
                "source": r.source,
                "started": r.started,
                "finished": r.finished,
                "who": r.who,
                "result": r.result,
                "message": r.message,
                "prune": r.prune,
                "rollbackOf": r.rollback_of,
            }
            for r in records
        ]
        ctx.out(dump(value, ctx.output))
        return EXIT_OK
    if not records:
        ctx.out(f"no syncs recorded for {ctx.args.app_name}")
        return EXIT_OK
    rows = [
        [
            r.id,
            _short(r.revision),
            time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(r.started)),
            r.who,
            r.result + (f" (rollback of #{r.rollback_of})" if r.rollback_of else ""),
            r.source,
        ]
        for r in records
    ]
    ctx.out(table(["id", "revision", "started", "who", "result", "source"], rows))
    return EXIT_OK


def cmd_rollback(ctx: Context) -> int:
    name = ctx.args.app_name
    sync_id = ctx.args.id
    if sync_id is None:
        candidates = [r for r in ctx.store.history(name, limit=100) if r.result == "Succeeded"]
        if len(candidates) < 2:
            raise ValidationError(
                f"app {name}",
                "no earlier successful sync to roll back to",
                hint=f"`gitwave history {name}` lists the entries; pass an ID",
            )
        sync_id = candidates[1].id
    app = implicit_app(name)
    synced = operations.rollback(
        app,
        sync_id,
        targets=ctx.targets,
        store=ctx.store,
        request=sync_request(ctx, dry_run=ctx.args.dry_run),
        sink=_both(Progress(), ctx.timeline if not ctx.args.dry_run else None),
    )
    plan, result = synced.plan, synced.result
    if ctx.output in ("json", "yaml"):
        ctx.out(
            dump(
                {
                    "app": name,
                    "rolledBackTo": sync_id,
                    "phase": result.phase.value,
                    "message": result.message,
                },
                ctx.output,
            )
        )
    else:
        ctx.out(ctx.paint(f"{name}: rolling back to #{sync_id} @ {_short(plan.revision)}", "bold"))
        ctx.out("  Secrets keep their live contents (secret values are never recorded).")
        _print_result(ctx, plan, result)
    return EXIT_OK if result.ok else EXIT_FAILED


# -- sandbox ---------------------------------------------------------------------------


def _sandbox_key(ctx: Context, text: str) -> ResourceKey:
    group, kind, name = parse_kind_name(text)
    if not name:
        raise ValidationError(text, "expected KIND/NAME, e.g. deployment/guestbook-ui")
    namespace = ctx.args.namespace if kind not in ("Namespace",) else ""
    return ResourceKey(group, kind, namespace or "", name)


def cmd_sandbox_get(ctx: Context) -> int:
    sandbox = ctx.sandbox
    kind: str | None = None
    name: str | None = None
    if ctx.args.resource:
        _, kind, parsed_name = parse_kind_name(ctx.args.resource)
        name = parsed_name or None
    namespace = None if ctx.args.all_namespaces else ctx.args.namespace
    items = sorted(
        (
            live
            for live in sandbox.list(kind=kind, namespace=namespace)
            if (name is None or live.key.name == name)
        ),
        key=lambda live: (live.key.namespace, live.key.kind, live.key.name),
    )
    if name and not items:
        raise ValidationError(
            ctx.args.resource, f"not found in the sandbox (namespace {namespace})"
        )
    if ctx.output in ("json", "yaml"):
        docs = [_masked_live(live) for live in items]
        value: Any = docs[0] if name and len(docs) == 1 else {"kind": "List", "items": docs}
        ctx.out(dump(value, ctx.output))
        return EXIT_OK
    rows = []
    for live in items:
        meta = live.manifest.get("metadata", {})
        created = meta.get("creationTimestamp", "")
        rows.append(
            [
                live.key.namespace or "-",
                live.key.kind,
                live.key.name,
                sandbox.health(live).code.value,
                _age_of(created),
            ]
        )
    ctx.out(
        table(["namespace", "kind", "name", "health", "age"], rows)
        if rows
        else "No resources found."
    )
    return EXIT_OK


def _age_of(timestamp: str) -> str:
    if not timestamp:
        return "-"
    try:
        parsed = time.mktime(time.strptime(timestamp, "%Y-%m-%dT%H:%M:%SZ")) - time.timezone
    except ValueError:
        return "-"
    return age(parsed)


def cmd_sandbox_scale(ctx: Context) -> int:
    key = _sandbox_key(ctx, ctx.args.resource)
    ctx.sandbox.scale(key, ctx.args.replicas)
    ctx.out(f"{key.kind.lower()}.{key.group or 'core'}/{key.name} scaled")
    return EXIT_OK


def cmd_sandbox_edit(ctx: Context) -> int:
    key = _sandbox_key(ctx, ctx.args.resource)
    if key.kind == "Secret" and key.group == "":
        raise ValidationError(
            key.display, "editing Secrets is refused: gitwave never shows secret values"
        )
    live = ctx.sandbox.observe(key)
    if live is None:
        raise ValidationError(key.display, "not found in the sandbox")
    original = yaml.safe_dump(live.manifest, sort_keys=False)
    editor = os.environ.get("KUBE_EDITOR") or os.environ.get("EDITOR") or "vi"
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as handle:
        handle.write(original)
        path = handle.name
    try:
        subprocess.run([*shlex.split(editor), path], check=True)
        edited = Path(path).read_text()
    except (OSError, subprocess.CalledProcessError) as exc:
        raise GitwaveError(f"editor {editor!r} failed: {exc}", hint="set EDITOR") from exc
    finally:
        Path(path).unlink(missing_ok=True)
    if edited == original:
        ctx.out("Edit cancelled, no changes made.")
        return EXIT_OK
    try:
        manifest = yaml.safe_load(edited)
    except yaml.YAMLError as exc:
        raise ValidationError(key.display, f"edited YAML is invalid: {exc}") from exc
    ctx.sandbox.replace_live(key, manifest)
    ctx.out(f"{key.kind.lower()}/{key.name} edited")
    return EXIT_OK


# -- tui -------------------------------------------------------------------------------


def cmd_tui(ctx: Context) -> int:
    # Imported here: the other verbs start without loading Textual.
    from gitwave.tui.app import GitwaveApp
    from gitwave.tui.controller import Controller

    if getattr(ctx.args, "no_color", False):
        os.environ["NO_COLOR"] = "1"
    controller = Controller(
        ctx.args.path, targets=ctx.targets, store=ctx.store, state_dir=ctx.state_dir
    )
    if ctx.args.app:
        controller.app(ctx.args.app)  # an unknown name fails here, before the screen opens
    if ctx.args.watch and ctx.args.read_only:
        raise ValidationError(
            "--watch", "watch mode applies every save; it cannot run with --read-only"
        )
    GitwaveApp(
        controller,
        read_only=ctx.args.read_only,
        open_app=ctx.args.app,
        watch_path=ctx.args.path if ctx.args.watch else None,
    ).run()
    return EXIT_OK


# -- parser ----------------------------------------------------------------------------


def _common() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--state",
        metavar="DIR",
        help="state directory of the sandbox and the history (default: $GITWAVE_STATE, "
        "else ~/.local/state/gitwave)",
        default=argparse.SUPPRESS,
    )
    common.add_argument(
        "--target",
        help="where to reconcile: sandbox (default), kube (current context) or kube:CONTEXT",
        default=argparse.SUPPRESS,
    )
    common.add_argument(
        "--context",
        help="kubeconfig context (same as --target kube:CONTEXT)",
        default=argparse.SUPPRESS,
    )
    common.add_argument(
        "--kubeconfig",
        metavar="FILE",
        help="kubeconfig file(s) (default: $KUBECONFIG, else ~/.kube/config)",
        default=argparse.SUPPRESS,
    )
    common.add_argument(
        "--allow-exec-plugins",
        action="store_true",
        help="allow a kubeconfig exec credential plugin to run (refused by default)",
        default=argparse.SUPPRESS,
    )
    common.add_argument(
        "-o",
        "--output",
        choices=["table", "json", "yaml"],
        default=argparse.SUPPRESS,
        help="output format (default: table)",
    )
    common.add_argument("--no-color", action="store_true", default=argparse.SUPPRESS)
    return common


def _path_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "path", help="a directory, a Git repository (URL or path) or an Application file"
    )
    parser.add_argument("--app", action="append", help="only this app (repeatable)")
    parser.add_argument("--revision", help="Git branch, tag or commit to read (default: HEAD)")


def build_parser() -> argparse.ArgumentParser:
    common = _common()
    parser = argparse.ArgumentParser(
        prog="gitwave",
        description="GitOps engine: reconcile Git into the sandbox, Kubernetes and AWS "
        "in sync waves.",
        parents=[common],
    )
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="COMMAND")

    p = verbs.add_parser("render", parents=[common], help="print the rendered manifests")
    _path_args(p)
    p.set_defaults(func=cmd_render)

    p = verbs.add_parser("graph", parents=[common], help="print the sync waves or DOT")
    _path_args(p)
    p.add_argument("--dot", action="store_true", help="print Graphviz DOT")
    p.set_defaults(func=cmd_graph)

    for name in ("plan", "diff"):
        p = verbs.add_parser(
            name,
            parents=[common],
            help="show what a sync would change; exit 1 when there are changes",
        )
        _path_args(p)
        p.add_argument("--prune", action="store_true", help="include prunes of removed objects")
        p.set_defaults(func=cmd_plan)

    p = verbs.add_parser("sync", parents=[common], help="apply the desired state wave by wave")
    _path_args(p)
    p.add_argument("--prune", action="store_true", help="delete objects removed from Git")
    p.add_argument("--dry-run", action="store_true", help="validate and show, change nothing")
    p.add_argument("--timeout", type=float, help="seconds to wait for each wave to be healthy")
    p.add_argument("--parallel", type=int, default=8, help="objects applied at once in a wave")
    p.set_defaults(func=cmd_sync)

    p = verbs.add_parser("status", parents=[common], help="sync status and health of each app")
    _path_args(p)
    p.set_defaults(func=cmd_status)

    p = verbs.add_parser("history", parents=[common], help="past syncs of an app")
    p.add_argument("app_name", metavar="APP")
    p.add_argument("--limit", type=int, default=50)
    p.set_defaults(func=cmd_history)

    p = verbs.add_parser(
        "rollback", parents=[common], help="re-apply the manifests of a history entry"
    )
    p.add_argument("app_name", metavar="APP")
    p.add_argument("id", metavar="ID", type=int, nargs="?", help="history id (default: previous)")
    p.add_argument("--prune", action="store_true", help="also delete objects not in that entry")
    p.add_argument("--dry-run", action="store_true")
    p.set_defaults(func=cmd_rollback)

    p = verbs.add_parser("tui", parents=[common], help="the terminal UI (k9s-style)")
    p.add_argument("path", nargs="?", default=".", help="as for sync (default: .)")
    p.add_argument("--app", help="open this app's screen at start")
    p.add_argument("--read-only", action="store_true", help="hide and refuse every control")
    p.add_argument(
        "--watch",
        action="store_true",
        help="follow the work tree and sync on every save, showing each cycle (as gitwave watch)",
    )
    p.set_defaults(func=cmd_tui)

    sandbox = verbs.add_parser(
        "sandbox", parents=[common], help="look at or change the embedded sandbox by hand"
    )
    sverbs = sandbox.add_subparsers(dest="sandbox_verb", required=True, metavar="COMMAND")
    s = sverbs.add_parser("get", parents=[common], help="list live objects")
    s.add_argument("resource", nargs="?", help="KIND or KIND/NAME")
    s.add_argument("-n", "--namespace", default="default")
    s.add_argument("-A", "--all-namespaces", action="store_true")
    s.set_defaults(func=cmd_sandbox_get)
    s = sverbs.add_parser("scale", parents=[common], help="change replicas out of band")
    s.add_argument("resource", help="KIND/NAME, e.g. deployment/guestbook-ui")
    s.add_argument("-n", "--namespace", default="default")
    s.add_argument("--replicas", type=int, required=True)
    s.set_defaults(func=cmd_sandbox_scale)
    s = sverbs.add_parser("edit", parents=[common], help="edit a live object in $EDITOR")
    s.add_argument("resource", help="KIND/NAME")
    s.add_argument("-n", "--namespace", default="default")
    s.set_defaults(func=cmd_sandbox_edit)

    # Verbs of the long-running modes (watch, run, events, unpin) live in their
    # own module; imported here, not at the top, because it imports this one.
    from gitwave.tui.loop_cli import register_verbs

    register_verbs(verbs, common)
    return parser


def _context(args: argparse.Namespace) -> Context:
    state = getattr(args, "state", None)
    state_dir = Path(state).expanduser() if state else default_state_dir()
    args.target = getattr(args, "target", None)
    args.context = getattr(args, "context", None)
    args.kubeconfig = getattr(args, "kubeconfig", None)
    args.allow_exec_plugins = getattr(args, "allow_exec_plugins", False)
    output = getattr(args, "output", "table")
    color = use_color(sys.stdout) and not getattr(args, "no_color", False)
    return Context(args=args, state_dir=state_dir, output=output, color=color)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    ctx = None
    try:
        ctx = _context(args)
        code: int = args.func(ctx)
        return code
    except GitwaveError as exc:
        print(f"error: {exc}", file=sys.stderr)
        if exc.hint:
            print(f"hint: {exc.hint}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return EXIT_OK
    finally:
        if ctx is not None:
            ctx.close()


if __name__ == "__main__":
    sys.exit(main())
