"""What the k9s-style object views show: the live object as YAML (``y``), a
``kubectl describe``-like page (``d``) and a Pod's log (``l``).

``inspect_object`` and ``object_logs`` read the target (call them from a
worker); ``yaml_text`` and ``describe_text`` are pure. Secret values never
leave here: a Secret's ``data``/``stringData`` read ``***``
(``engine.mask``), and any text a secret value became elsewhere (a Flux
``substituteFrom``) is redacted from every line shown.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from gitwave.engine.errors import GitwaveError, ProviderError
from gitwave.engine.events import Event
from gitwave.engine.mask import (
    LAST_APPLIED_ANNOTATION,
    MASK,
    is_secret_manifest,
    mask_secret_manifest,
    redact,
    secret_values,
)
from gitwave.engine.model import Live, ResourceKey
from gitwave.engine.provider import EventReader, LogReader, TargetEvent
from gitwave.engine.router import ProviderRouter
from gitwave.engine.store import Store
from gitwave.tui.formatting import age, age_of_timestamp
from gitwave.tui.live_tree import OWNED_KINDS
from gitwave.tui.views import AppView

__all__ = [
    "LogText",
    "LogsUnavailableError",
    "ObjectInfo",
    "api_version_of",
    "describe_text",
    "inspect_object",
    "object_logs",
    "yaml_text",
]

# How many events of each source the describe page lists (kubectl lists all;
# a terminal of 24 lines cannot).
EVENT_LIMIT = 15
LOG_TAIL = 200
_VALUE_WIDTH = 100  # an annotation longer than this is cut: one line per entry


class LogsUnavailableError(GitwaveError):
    """The target keeps no container logs (the sandbox runs no containers)."""


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    """One object as the target has it now, with what is known about it.

    ``live`` is already masked. ``target_events`` is None when the target keeps
    no events (the sandbox); ``timeline`` is gitwave's own events about the
    object. ``hidden`` holds the texts secret values took, redacted from any
    line shown."""

    key: ResourceKey
    api_version: str
    live: Live | None
    target: str
    target_events: tuple[TargetEvent, ...] | None
    timeline: tuple[Event, ...]
    tree_owner: str = ""
    hidden: tuple[str, ...] = ()
    error: str = ""


@dataclass(frozen=True, slots=True)
class LogText:
    """A Pod's log as read: which Pod (and container) and the lines."""

    pod: ResourceKey
    container: str
    text: str


def api_version_of(view: AppView | None, key: ResourceKey) -> str:
    """The apiVersion to read ``key`` with: as observed, as in Git, as the kinds
    controllers create, else the group's ``v1``."""
    state = view.state if view is not None else None
    if state is not None:
        live = state.live.get(key)
        if live is not None and live.manifest.get("apiVersion"):
            return str(live.manifest["apiVersion"])
        resource = state.graph.resources.get(key)
        if resource is not None:
            return resource.api_version
    for api_version, kind in OWNED_KINDS:
        if kind == key.kind and api_version.rpartition("/")[0] == key.group:
            return api_version
    return f"{key.group}/v1" if key.group else "v1"


def hidden_texts(view: AppView | None, lives: Iterable[Live] = ()) -> tuple[str, ...]:
    """Every text a secret value of the app may show up as (see the module docstring)."""
    found: set[str] = set()
    state = view.state if view is not None else None
    if state is not None:
        for resource in state.graph.resources.values():
            found.update(resource.masked_values)
            if resource.is_secret:
                found.update(secret_values(resource.manifest))
        for live in state.live.values():
            if live is not None and is_secret_manifest(live.manifest):
                found.update(secret_values(live.manifest))
    for live in lives:
        if is_secret_manifest(live.manifest):
            found.update(secret_values(live.manifest))
    found.discard(MASK)
    return tuple(sorted(found))


def _masked(live: Live) -> Live:
    if is_secret_manifest(live.manifest):
        return Live(live.key, mask_secret_manifest(live.manifest), live.resource_version)
    return live


def inspect_object(
    view: AppView | None,
    key: ResourceKey,
    *,
    targets: ProviderRouter,
    store: Store,
    app_name: str,
) -> ObjectInfo:
    """Read ``key`` from its target now, with its events. A failed read is in
    ``error``, not raised: the page still shows what is known."""
    api_version = api_version_of(view, key)
    owner = view.owner_of(key) if view is not None else None
    tree_owner = owner.key.display if owner is not None and owner.key != key else ""
    timeline = tuple(e for e in store.events(app_name, limit=5000) if e.resource == key)
    try:
        provider = targets.for_kind(api_version, key.kind)
        live = provider.observe(key)
        events: tuple[TargetEvent, ...] | None = None
        if targets.offers(provider, EventReader):
            reader: Any = provider
            events = tuple(reader.object_events(key, limit=EVENT_LIMIT))
    except GitwaveError as exc:
        return ObjectInfo(
            key,
            api_version,
            None,
            "",
            None,
            timeline[-EVENT_LIMIT:],
            tree_owner,
            hidden_texts(view),
            error=str(exc),
        )
    return ObjectInfo(
        key=key,
        api_version=api_version,
        live=_masked(live) if live is not None else None,
        target=provider.name,
        target_events=events,
        timeline=timeline[-EVENT_LIMIT:],
        tree_owner=tree_owner,
        hidden=hidden_texts(view, [live] if live is not None else []),
    )


def pod_of(view: AppView | None, key: ResourceKey) -> ResourceKey | None:
    """``key`` when it is a Pod, else the first Pod it owns in the live tree
    (a Deployment's logs are its Pods' logs, as ``kubectl logs deploy/x``)."""
    if key.kind == "Pod" and key.group == "":
        return key
    node = view.node(key) if view is not None else None
    if node is None:
        return None
    return next((n.key for n in node.walk() if n.key.kind == "Pod" and n.key.group == ""), None)


def object_logs(
    view: AppView | None,
    key: ResourceKey,
    *,
    targets: ProviderRouter,
    tail: int = LOG_TAIL,
) -> LogText:
    """The last ``tail`` lines of the Pod ``key`` is or owns.

    Raises LogsUnavailableError when the target keeps no logs (never faked),
    ValidationError-like GitwaveError when there is no Pod, ProviderError from
    the target."""
    pod = pod_of(view, key)
    if pod is None:
        raise LogsUnavailableError(f"{key.display} runs no Pod: select a Pod to read its logs")
    provider = targets.for_kind("v1", "Pod")
    if not targets.offers(provider, LogReader):
        raise LogsUnavailableError(
            f"logs are not available on the {provider.name} target: "
            "it simulates Pods and runs no containers"
        )
    live = provider.observe(pod)
    if live is None:
        raise ProviderError(pod, "not found")
    spec = live.manifest.get("spec") or {}
    containers = [c.get("name", "") for c in spec.get("containers") or [] if isinstance(c, dict)]
    container = str(containers[0]) if containers else ""
    reader: Any = provider
    text = reader.pod_logs(pod.namespace, pod.name, container=container or None, tail=tail)
    return LogText(pod, container, redact(str(text), hidden_texts(view, [live])))


# -- the pages -------------------------------------------------------------------


def shown_manifest(live: Live) -> dict[str, Any]:
    """The live manifest as the YAML view shows it: Secrets masked, and without
    ``metadata.managedFields`` (kubectl and k9s hide them by default)."""
    manifest = dict(_masked(live).manifest)
    meta = manifest.get("metadata")
    if isinstance(meta, dict) and "managedFields" in meta:
        manifest["metadata"] = {k: v for k, v in meta.items() if k != "managedFields"}
    return manifest


def yaml_text(info: ObjectInfo) -> str:
    """``kubectl get -o yaml`` of the object, masked; a line saying why when there is none."""
    if info.live is None:
        return f"# {info.key.display}: " + (info.error or "not found on the target") + "\n"
    text = yaml.safe_dump(shown_manifest(info.live), sort_keys=False, allow_unicode=True)
    return redact(text, info.hidden)


def _cut(text: str, width: int = _VALUE_WIDTH) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _pairs(title: str, values: Any) -> list[str]:
    if not isinstance(values, dict) or not values:
        return [f"{title:<14}<none>"]
    lines = []
    for index, (name, value) in enumerate(sorted(values.items())):
        head = title if index == 0 else ""
        lines.append(f"{head:<14}{name}={_cut(value)}")
    return lines


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], indent: str = "  ") -> list[str]:
    widths = [max(len(header[i]), *(len(r[i]) for r in rows)) for i in range(len(header) - 1)]

    def line(cells: Sequence[str]) -> str:
        head = "  ".join(c.ljust(w) for c, w in zip(cells[:-1], widths, strict=False))
        return (indent + head + "  " + cells[-1]).rstrip()

    return [line(header), *(line(r) for r in rows)]


def _owner_lines(meta: dict[str, Any], tree_owner: str) -> list[str]:
    refs = [r for r in meta.get("ownerReferences") or [] if isinstance(r, dict)]
    if refs:
        controller = next((r for r in refs if r.get("controller")), refs[0])
        return [f"Controlled By: {controller.get('kind', '')}/{controller.get('name', '')}"]
    if tree_owner:
        return [f"{'Owned By:':<14}{tree_owner}"]
    return []


def describe_text(
    info: ObjectInfo,
    *,
    now: float,
    health: str = "",
    sync: str = "",
) -> str:
    """``kubectl describe`` of the object: identity, labels, annotations
    (masked), owner, conditions, the target's events and gitwave's own."""
    key = info.key
    lines = [
        f"{'Name:':<14}{key.name}",
        f"{'Namespace:':<14}{key.namespace or '<cluster-scoped>'}",
        f"{'Kind:':<14}{key.kind} ({info.api_version})",
    ]
    if sync:
        lines.append(f"{'Sync:':<14}{sync}")
    if health:
        lines.append(f"{'Health:':<14}{health}")
    live = info.live
    if live is None:
        lines.append(f"{'Live:':<14}" + (info.error or "not found on the target"))
        meta: dict[str, Any] = {}
    else:
        meta = dict(live.manifest.get("metadata") or {})
        created = str(meta.get("creationTimestamp") or "")
        if created:
            lines.append(f"{'Created:':<14}{created} ({age_of_timestamp(created, now=now)} ago)")
        lines += _pairs("Labels:", meta.get("labels"))
        annotations = dict(meta.get("annotations") or {})
        if LAST_APPLIED_ANNOTATION in annotations:
            # kubectl describe leaves it out too: it repeats the whole object.
            annotations[LAST_APPLIED_ANNOTATION] = "(last applied configuration, not shown)"
        lines += _pairs("Annotations:", annotations)
    lines += _owner_lines(meta, info.tree_owner)
    status = (live.manifest.get("status") if live is not None else None) or {}
    conditions = [c for c in status.get("conditions") or [] if isinstance(c, dict)]
    lines.append("Conditions:")
    if conditions:
        rows = [
            (
                str(c.get("type", "")),
                str(c.get("status", "")),
                str(c.get("reason", "") or ""),
                age_of_timestamp(str(c.get("lastTransitionTime") or ""), now=now),
                _cut(c.get("message", "") or "", 80),
            )
            for c in conditions
        ]
        lines += _table(("TYPE", "STATUS", "REASON", "AGE", "MESSAGE"), rows)
    else:
        lines.append("  <none>")
    target = info.target or "target"
    if info.target_events is None:
        lines.append(f"Events ({target}):  the {target} target keeps no events")
    else:
        lines.append(f"Events ({target}):")
        if info.target_events:
            event_rows = [
                (
                    e.type,
                    e.reason,
                    age_of_timestamp(e.last_seen, now=now),
                    f"x{e.count}" if e.count > 1 else "",
                    e.source,
                    _cut(e.message, 100),
                )
                for e in info.target_events
            ]
            lines += _table(("TYPE", "REASON", "AGE", "COUNT", "FROM", "MESSAGE"), event_rows)
        else:
            lines.append("  <none>")
    lines.append("Gitwave events:")
    if info.timeline:
        timeline_rows = [
            (age(now - e.time), e.kind.value, _cut(e.message, 100)) for e in info.timeline
        ]
        lines += _table(("AGE", "EVENT", "MESSAGE"), timeline_rows)
    else:
        lines.append("  <none>")
    return redact("\n".join(lines) + "\n", info.hidden)
