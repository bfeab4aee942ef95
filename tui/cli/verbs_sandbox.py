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

from gitwave.engine.apps.namespaces import DEFAULT_NAMESPACE
from gitwave.engine.errors import GitwaveError, ValidationError
from gitwave.engine.mask import mask_secret_manifest
from gitwave.engine.model import LABEL_APP, Live, ResourceKey
from gitwave.providers.sandbox.kinds import CRD_KIND
from gitwave.tui.cli.context import EXIT_FAILED, EXIT_OK, Context
from gitwave.tui.cli.kind_aliases import ServedKind, UnknownKindError, resolve_kind
from gitwave.tui.cli.output import dump, table
from gitwave.tui.formatting import age_of_timestamp


def _served_kind(ctx: Context, text: str) -> ServedKind:
    """The kind ``text`` names (``deploy``, ``widgets``), as the sandbox serves it."""
    return resolve_kind(text, (live.manifest for live in ctx.sandbox.list(kind=CRD_KIND)))


def _namespace_for(ctx: Context, served: ServedKind) -> str:
    """``-n`` (default ``default``) for a namespaced kind; "" for a cluster-scoped
    one, whatever ``-n`` says (kubectl ignores it there too)."""
    if not served.namespaced:
        return ""
    return str(ctx.args.namespace or DEFAULT_NAMESPACE)


def _resource_text(ctx: Context) -> str:
    """``KIND/NAME`` from ``deploy/web`` or kubectl's other form ``deploy web``."""
    text: str = ctx.args.resource or ""
    name = getattr(ctx.args, "name", None)
    if not name:
        return text
    if "/" in text:
        raise ValidationError(
            f"{text} {name}",
            "there is no need to specify a resource type as a separate argument when "
            "passing arguments in resource/name form",
            hint=f"{text}, or {text.partition('/')[0]} {name}",
        )
    return f"{text}/{name}"


def _sandbox_key(ctx: Context, text: str) -> ResourceKey:
    kind_text, _, name = text.partition("/")
    if not name:
        raise ValidationError(text, "expected KIND/NAME, e.g. deployment/guestbook-ui")
    served = _served_kind(ctx, kind_text)
    return ResourceKey(served.group, served.kind, _namespace_for(ctx, served), name)


def _masked_live(live: Live) -> dict[str, Any]:
    if live.key.kind == "Secret" and live.key.group == "":
        return mask_secret_manifest(live.manifest)
    return live.manifest


def cmd_sandbox_get(ctx: Context) -> int:
    """List live objects, as ``kubectl get``: exit 1 for a kind the sandbox does
    not serve or a named object that is not there."""
    sandbox = ctx.sandbox
    kind: str | None = None
    name: str | None = None
    namespace: str | None = None if ctx.args.all_namespaces else ctx.args.namespace or "default"
    if ctx.args.resource:
        kind_text, _, parsed_name = _resource_text(ctx).partition("/")
        try:
            served = _served_kind(ctx, kind_text)
        except UnknownKindError as exc:
            return _failed(ctx, exc)
        kind, name = served.kind, parsed_name or None
        if not served.namespaced:
            namespace = None  # -n means nothing to a cluster-scoped kind
    selector = ctx.args.selector
    items = sorted(
        (
            live
            for live in sandbox.list(kind=kind, namespace=namespace)
            if (name is None or live.key.name == name)
            and (selector is None or selector.matches(_labels(live)))
        ),
        key=lambda live: (live.key.namespace, live.key.kind, live.key.name),
    )
    if name and not items:
        where = f" in namespace {namespace}" if namespace else ""
        return _failed(ctx, GitwaveError(f"{kind} {name!r} not found{where}"))
    if ctx.output in ("json", "yaml"):
        docs = [_masked_live(live) for live in items]
        value: Any = docs[0] if name and len(docs) == 1 else {"kind": "List", "items": docs}
        ctx.out(dump(value, ctx.output))
        return EXIT_OK
    if ctx.output == "name":
        for live in items:  # as `kubectl get -o name`: deployment.apps/web, configmap/settings
            ctx.out(kubectl_name(live.key))
        return EXIT_OK
    if not items:
        ctx.err("No resources found.")  # on stderr, as kubectl: a pipe reads nothing
        return EXIT_OK
    now = ctx.clock()
    wide = ctx.output == "wide"
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
        + (_wide_cells(live) if wide else [])
        for live in items
    ]
    headers = ["namespace", "kind", "name", "health", "age"]
    ctx.out(table(headers + (["app", "images", "labels"] if wide else []), rows))
    return EXIT_OK


def _labels(live: Live) -> dict[str, str]:
    labels = (live.manifest.get("metadata") or {}).get("labels") or {}
    return {str(k): str(v) for k, v in labels.items()}


def kubectl_name(key: ResourceKey) -> str:
    """``deployment.apps/web``, ``configmap/settings``: an object as ``kubectl get -o
    name`` prints it (the core group has no suffix)."""
    kind = key.kind.lower()
    return f"{kind}.{key.group}/{key.name}" if key.group else f"{kind}/{key.name}"


def _wide_cells(live: Live) -> list[str]:
    """-o wide: the app that manages the object, its containers' images (workloads
    and pods, as kubectl's wide columns show them) and its labels."""
    labels = _labels(live)
    spec = live.manifest.get("spec")
    spec = spec if isinstance(spec, dict) else {}
    template = spec.get("template")
    if isinstance(template, dict) and isinstance(template.get("spec"), dict):
        spec = template["spec"]  # a workload: its pod template
    containers = spec.get("containers")
    images = [
        str(c.get("image", ""))
        for c in (containers if isinstance(containers, list) else [])
        if isinstance(c, dict)
    ]
    shown = ",".join(f"{k}={v}" for k, v in sorted(labels.items()))
    return [labels.get(LABEL_APP, "-"), ",".join(images) or "-", shown or "-"]


def _failed(ctx: Context, error: GitwaveError) -> int:
    """``error`` on stderr, exit 1: what kubectl does for an unknown type or a missing object."""
    ctx.err(f"error: {error}")
    if error.hint:
        ctx.err(f"hint: {error.hint}")
    return EXIT_FAILED


def cmd_sandbox_scale(ctx: Context) -> int:
    key = _sandbox_key(ctx, _resource_text(ctx))
    ctx.sandbox.scale(key, ctx.args.replicas)
    name = kubectl_name(key)  # deployment.apps/web scaled, as kubectl says it
    if ctx.output in ("json", "yaml"):
        # As `kubectl scale -o json`: the object as it is now.
        live = ctx.sandbox.observe(key)
        ctx.out(dump(dict(live.manifest) if live is not None else {}, ctx.output))
    else:
        ctx.out(f"{name} scaled")
    return EXIT_OK


# Above the object in the editor; every line of it starts with '#'.
_EDIT_HEADER = """\
# Edit the object below and save to apply it to the sandbox. Comment lines at the
# top are dropped; saving an empty file cancels the edit. When the object cannot be
# saved, this file opens again with the reason here.
#
"""


def _comment(text: str) -> str:
    return "".join(f"# {line}".rstrip() + "\n" for line in text.splitlines())


def _without_header(text: str) -> str:
    """``text`` without the comment lines (and blank lines) it starts with."""
    lines = text.splitlines(keepends=True)
    while lines and (lines[0].lstrip().startswith("#") or not lines[0].strip()):
        lines.pop(0)
    return "".join(lines)


def _run_editor(editor: str, path: Path) -> str:
    try:
        subprocess.run([*shlex.split(editor), str(path)], check=True)
        return path.read_text()
    except (OSError, subprocess.CalledProcessError) as exc:
        raise GitwaveError(f"editor {editor!r} failed: {exc}", hint="set EDITOR") from exc


def _save_edit(ctx: Context, key: ResourceKey, text: str) -> None:
    """Parse the edited ``text`` and replace the live object; raises GitwaveError
    (or YAMLError) saying why it cannot be saved."""
    manifest = yaml.safe_load(text)
    if not isinstance(manifest, dict):
        raise ValidationError(key.display, "the edited object must be a YAML mapping")
    ctx.sandbox.replace_live(key, manifest)


def cmd_sandbox_edit(ctx: Context) -> int:
    """Edit a live object in $KUBE_EDITOR or $EDITOR, as ``kubectl edit``: an edit
    that cannot be saved (invalid YAML, a refused change) opens the editor again
    with the error at the top; saving it unchanged then gives up, keeping the file."""
    key = _sandbox_key(ctx, _resource_text(ctx))
    if key.kind == "Secret" and key.group == "":
        raise ValidationError(
            key.display, "editing Secrets is refused: gitwave never shows secret values"
        )
    live = ctx.sandbox.observe(key)
    if live is None:
        raise ValidationError(key.display, "not found in the sandbox")
    original = yaml.safe_dump(live.manifest, sort_keys=False)
    editor = os.environ.get("KUBE_EDITOR") or os.environ.get("EDITOR") or "vi"
    # Created private (0600); written and read again on every round below.
    handle, name = tempfile.mkstemp(prefix="gitwave-edit-", suffix=".yaml")
    os.close(handle)
    path = Path(name)
    keep = False
    body, error = original, ""
    try:
        while True:
            reason = f"# The edit could not be saved:\n{_comment(error)}#\n" if error else ""
            path.write_text(_EDIT_HEADER + reason + body)
            edited = _run_editor(editor, path)
            text = _without_header(edited)
            if not text.strip():
                ctx.out("Edit cancelled, saved file was empty.")
                return EXIT_OK
            if text == original:
                ctx.out("Edit cancelled, no changes made.")
                return EXIT_OK
            if error and text == body:  # saved as it was shown with the error: give up
                keep = True
                ctx.err(f"error: {error}")
                ctx.err(f"Edit cancelled, no valid changes were saved; your edit is in {path}")
                return EXIT_FAILED
            try:
                # The whole file, so that a YAML error's line is the line in the editor.
                _save_edit(ctx, key, edited)
            except (yaml.YAMLError, GitwaveError) as exc:
                body, error = text, str(exc).replace('"<unicode string>"', str(path))
                continue
            if ctx.output in ("json", "yaml"):  # as `kubectl edit -o json`: the object saved
                saved = ctx.sandbox.observe(key)
                ctx.out(dump(dict(saved.manifest) if saved is not None else {}, ctx.output))
            else:
                ctx.out(f"{kubectl_name(key)} edited")
            return EXIT_OK
    finally:
        if not keep:
            path.unlink(missing_ok=True)
