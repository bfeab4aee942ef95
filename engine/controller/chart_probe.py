"""Which chart version a Stalled HelmRelease's range picks now.

helm-controller v2 counts a release's failures per (generation, chart
version, values): a new chart published in the HelmRepository that matches
``spec.chart.spec.version`` (``1.x``, ``>=1.0.0``) resets the count, so a
release Stalled by ``RetriesExceeded`` is tried again with it, without a
spec change. A Stalled release is never rendered here, so this asks the
repository's index directly, at most once per the release's interval
(``Retries`` keeps the answers).

Only ``spec.chart.spec`` with a ``HelmRepository`` source (http(s) index or
oci://) without a client certificate is probed; any other source (a
``chartRef``, a GitRepository, a certSecretRef), or a repository that cannot
be read, answers None: the release stays Stalled until its spec changes or a
``--reset``/``--force`` request, as before.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from gitwave.engine.controller.objects import AppObject
from gitwave.engine.errors import GitwaveError
from gitwave.engine.render.chart_ref import ChartRef
from gitwave.engine.render.charts import fetch_chart

log = logging.getLogger("gitwave.controller")


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _repository(
    sources: Sequence[Mapping[str, Any]], namespace: str, name: str
) -> Mapping[str, Any] | None:
    for source in sources:
        meta = _mapping(source.get("metadata"))
        if (
            source.get("kind") == "HelmRepository"
            and meta.get("name") == name
            and meta.get("namespace") == namespace
        ):
            return source
    return None


def chart_version_now(obj: AppObject, sources: Sequence[Mapping[str, Any]]) -> str | None:
    """The version ``obj``'s chart range picks in its HelmRepository now; None
    when it cannot be told (see the module's note)."""
    spec = _mapping(obj.body.get("spec"))
    chart = _mapping(_mapping(spec.get("chart")).get("spec"))
    ref = _mapping(chart.get("sourceRef"))
    name = chart.get("chart")
    if spec.get("chartRef") or ref.get("kind") != "HelmRepository" or not isinstance(name, str):
        return None
    repository = _repository(
        sources, str(ref.get("namespace") or obj.namespace), str(ref.get("name") or "")
    )
    repo_spec = _mapping((repository or {}).get("spec"))
    url = repo_spec.get("url")
    if not isinstance(url, str) or repo_spec.get("certSecretRef"):
        return None
    version = chart.get("version")
    try:
        fetched = fetch_chart(
            ChartRef(
                url,
                name,
                version if isinstance(version, str) and version else "*",
                where=obj.app_id,
                insecure=repo_spec.get("insecure") is True,
            )
        )
    except GitwaveError as error:  # the repository unreachable: no news
        log.info("%s: its chart's versions could not be read: %s", obj.app_id, error)
        return None
    return fetched.version


__all__ = ["chart_version_now"]
