"""A HelmRelease's status from what its sync did: the chart and Helm release it
rendered (``Rendered.helm_releases``), or the chart version its spec asks for
when it stopped before rendering."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from gitwave.engine.controller.helm_releases import release_status
from gitwave.engine.controller.objects import AppObject
from gitwave.engine.operations import Synced


def _asked_chart(obj: AppObject) -> tuple[str, str]:
    spec = obj.body.get("spec") or {}
    chart = ((spec.get("chart") or {}).get("spec") or {}) if isinstance(spec, Mapping) else {}
    return str(chart.get("chart") or ""), ""


def release_of(obj: AppObject) -> tuple[str, str]:
    """(name, namespace) of the Helm release ``obj`` makes, as Flux names it."""
    spec = obj.body.get("spec") or {}
    namespace = str(spec.get("targetNamespace") or obj.namespace)
    name = str(spec.get("releaseName") or "")
    if not name:
        name = f"{spec['targetNamespace']}-{obj.name}" if spec.get("targetNamespace") else obj.name
    return name, namespace


def release_failure(obj: AppObject, message: str, now: datetime) -> dict[str, Any]:
    """The status of a release that stopped before syncing (a chart not fetched,
    a malformed spec): ``Ready=False`` with the error."""
    return release_status(
        obj, result=None, error=message, chart=_asked_chart(obj), release=release_of(obj), now=now
    )


def release_result(obj: AppObject, synced: Synced, now: datetime) -> dict[str, Any]:
    """The status after a sync of the release."""
    rendered = synced.state.rendered
    infos = rendered.helm_releases if rendered is not None else ()
    if not infos:
        return release_failure(obj, "the release rendered no chart", now)
    info = infos[0]
    return release_status(
        obj,
        result=synced.result,
        error=None,
        chart=(info.chart, info.version),
        release=(info.release_name, info.release_namespace),
        now=now,
    )


__all__ = ["release_failure", "release_of", "release_result"]
