"""What ``kubectl describe`` and ``kubectl logs`` read besides the object: the
core/v1 Events about an object and a Pod's log (``EventReader``, ``LogReader``).

Both are plain reads through the rate-limited transport, never cached: the TUI
asks for them when an operator opens a view, and wants them fresh.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from gitwave.engine.api import TargetEvent
from gitwave.engine.errors import ProviderError
from gitwave.engine.model import ResourceKey

from .transport import HttpError, Transport


def _path_part(text: str) -> str:
    # Names come from the target and Git: never let one add a path segment.
    return quote(text, safe="")


def _event_time(item: dict[str, Any]) -> str:
    series = item.get("series") or {}
    return str(
        item.get("lastTimestamp")
        or series.get("lastObservedTime")
        or item.get("eventTime")
        or item.get("firstTimestamp")
        or (item.get("metadata") or {}).get("creationTimestamp")
        or ""
    )


def _as_event(item: dict[str, Any]) -> TargetEvent:
    source = item.get("source") or {}
    reporter = str(source.get("component") or item.get("reportingComponent") or "")
    series = item.get("series") or {}
    count = int(item.get("count") or series.get("count") or 1)
    return TargetEvent(
        type=str(item.get("type") or ""),
        reason=str(item.get("reason") or ""),
        message=str(item.get("message") or "").strip(),
        count=count,
        last_seen=_event_time(item),
        source=reporter,
    )


def object_events(transport: Transport, key: ResourceKey, *, limit: int) -> list[TargetEvent]:
    """The newest ``limit`` Events whose involvedObject is ``key``, oldest first
    (``kubectl describe``'s Events section; ``kubectl events --for``)."""
    selector = f"involvedObject.name={key.name},involvedObject.kind={key.kind}"
    if key.namespace:
        path = f"/api/v1/namespaces/{_path_part(key.namespace)}/events"
    else:
        path = "/api/v1/events"  # a cluster-scoped object's events may be in any namespace
        selector += ",involvedObject.namespace="
    try:
        _, body = transport.request("GET", path, query=(("fieldSelector", selector),))
    except HttpError as exc:
        raise ProviderError(key, f"cannot list its events: {exc}") from None
    items = [i for i in (body or {}).get("items") or [] if isinstance(i, dict)]
    events = sorted((_as_event(i) for i in items), key=lambda e: e.last_seen)
    return events[-limit:] if limit > 0 else []


def pod_logs(
    transport: Transport, namespace: str, name: str, *, container: str | None, tail: int
) -> str:
    """The last ``tail`` lines of a Pod's container (``kubectl logs --tail``)."""
    path = f"/api/v1/namespaces/{_path_part(namespace)}/pods/{_path_part(name)}/log"
    query: list[tuple[str, str]] = [("tailLines", str(max(tail, 1)))]
    if container:
        query.append(("container", container))
    try:
        return transport.request_text(path, query=tuple(query))
    except HttpError as exc:
        key = ResourceKey("", "Pod", namespace, name)
        raise ProviderError(key, f"cannot read its log: {exc.message or exc}") from None
