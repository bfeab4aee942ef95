"""``gitwave sandbox get|scale|edit``: look at or change the embedded sandbox by
hand, kubectl-style (``deploy/web``, ``-n``, ``-A``), e.g. to make drift."""

from __future__ import annotations

import os
import shlex
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import yaml

from gitwave.engine.errors import GitwaveError, ValidationError
from gitwave.engine.mask import mask_secret_manifest
from gitwave.engine.model import Live, ResourceKey
from gitwave.tui.cli.context import EXIT_OK, Context
from gitwave.tui.cli.kind_aliases import parse_kind_name
from gitwave.tui.cli.output import dump, table
from gitwave.tui.formatting import age_of_timestamp


def _sandbox_key(ctx: Context, text: str) -> ResourceKey:
    group, kind, name = parse_kind_name(text)
    if not name:
        raise ValidationError(text, "expected KIND/NAME, e.g. deployment/guestbook-ui")
    namespace = ctx.args.namespace if kind not in ("Namespace",) else ""
    return ResourceKey(group, kind, namespace or "", name)


def _masked_live(live: Live) -> dict[str, Any]:
    if live.key.kind == "Secret" and live.key.group == "":
        return mask_secret_manifest(live.manifest)
    return live.manifest


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
    if not items:
        ctx.out("No resources found.")
        return EXIT_OK
    now = ctx.clock()
    rows = [
        [
            live.key.namespace or "-",
            live.key.kind,
            live.key.name,
            sandbox.health(live).code.value,
            age_of_timestamp(
                live.manifest.get("metadata", {}).get("creationTimestamp", ""), now=now
            ),
        ]
        for live in items
    ]
    ctx.out(table(["namespace", "kind", "name", "health", "age"], rows))
    return EXIT_OK


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
