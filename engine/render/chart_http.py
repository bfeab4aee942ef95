"""Charts from HTTP Helm repositories (see ``engine.render.charts``): the
index read (and kept in memory a while), the newest version the constraint
allows picked, the archive downloaded and checked against the index's digest."""

from __future__ import annotations

import hashlib
import ssl
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import yaml

from gitwave.engine.errors import RenderError
from gitwave.engine.render.chart_cache import (
    exact_version,
    pin_chart,
    pinned_chart,
    store_chart,
    unpacked_chart,
)
from gitwave.engine.render.chart_ref import ChartRef, FetchedChart, chart_where
from gitwave.engine.source import redact_url

FETCH_TIMEOUT_S = 60.0
# A chart archive or index larger than this is refused (a chart is kilobytes).
MAX_DOWNLOAD_BYTES = 64 * 1024 * 1024
# A repository index is kept this long in memory: a long-running ``gitwave run``
# sees a new chart version within it, one command reads each index once.
INDEX_TTL_S = 300.0
_INDEXES: dict[str, tuple[float, dict[str, Any]]] = {}
_INDEX_LOCK = threading.Lock()


def forget_indexes() -> None:
    """Drop the repository indexes read in this process (tests; a long-running loop)."""
    with _INDEX_LOCK:
        _INDEXES.clear()


def fetch_http(ref: ChartRef, cache: Path) -> FetchedChart:
    exact = exact_version(ref.version)
    if exact:
        pinned = pinned_chart(cache, ref.repo_url, ref.name, exact)
        if pinned is not None:
            return pinned
    index = _index(ref)
    entries = index.get("entries")
    versions = entries.get(ref.name) if isinstance(entries, dict) else None
    if not isinstance(versions, list) or not versions:
        raise RenderError(
            chart_where(ref),
            f"chart {ref.name!r} is not in the index of {redact_url(ref.repo_url)}",
        )
    by_version = {
        str(entry.get("version")): entry
        for entry in versions
        if isinstance(entry, dict) and entry.get("version") is not None
    }
    # Imported here: ``engine.apps`` imports the render stage (a cycle at import time).
    from gitwave.engine.apps.semver import pick_semver

    try:
        chosen = pick_semver(ref.version or "*", by_version)
    except ValueError as err:
        raise RenderError(chart_where(ref), f"chart version {ref.version!r}: {err}") from None
    if chosen is None:
        raise RenderError(
            chart_where(ref),
            f"no version of chart {ref.name!r} in {redact_url(ref.repo_url)} matches "
            f"{ref.version or '*'!r} (versions: {', '.join(sorted(by_version)) or 'none'})",
        )
    entry = by_version[chosen]
    urls = entry.get("urls")
    if not isinstance(urls, list) or not urls or not isinstance(urls[0], str):
        raise RenderError(chart_where(ref), f"chart {ref.name} {chosen}: the index lists no URL")
    url = urllib.parse.urljoin(ref.repo_url.rstrip("/") + "/", urls[0])
    want = str(entry.get("digest") or "").lower()
    if want and (cache / want).is_dir():
        chart = unpacked_chart(cache, want, ref.name, chosen, url)
        pin_chart(cache, ref.repo_url, ref.name, chosen, want)
        return chart
    if urllib.parse.urlsplit(url).scheme.lower() not in ("http", "https"):
        raise RenderError(chart_where(ref), f"chart URL {redact_url(url)!r} is not http(s)")
    data = _download(url, ref)
    digest = hashlib.sha256(data).hexdigest()
    if want and digest != want:
        raise RenderError(
            chart_where(ref),
            f"chart {redact_url(url)}: digest sha256:{digest} differs from the index's "
            f"sha256:{want}",
            hint="the repository changed the archive under the same version; refusing it",
        )
    chart = store_chart(cache, data, digest, ref, chosen, url)
    pin_chart(cache, ref.repo_url, ref.name, chosen, digest)
    return chart


def _index(ref: ChartRef) -> dict[str, Any]:
    url = ref.repo_url.rstrip("/") + "/index.yaml"
    now = time.monotonic()
    with _INDEX_LOCK:
        found = _INDEXES.get(url)
    if found is not None and now - found[0] < INDEX_TTL_S:
        return found[1]
    data = _download(url, ref)
    try:
        index = yaml.load(data, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError as err:
        raise RenderError(chart_where(ref), f"{redact_url(url)}: not a Helm index: {err}") from None
    if not isinstance(index, dict):
        raise RenderError(chart_where(ref), f"{redact_url(url)}: not a Helm repository index")
    with _INDEX_LOCK:
        _INDEXES[url] = (now, index)
    return index


def _context(ref: ChartRef) -> ssl.SSLContext | None:
    if ref.tls is None:
        return None
    try:
        return ref.tls.ssl_context()
    except (ssl.SSLError, ValueError) as err:
        raise RenderError(
            chart_where(ref),
            f"{redact_url(ref.repo_url)}: spec.certSecretRef: the certificate or key "
            f"cannot be loaded: {err}",
        ) from None


def _download(url: str, ref: ChartRef) -> bytes:
    request = urllib.request.Request(url, headers={"User-Agent": "gitwave"})
    context = _context(ref)
    try:
        with urllib.request.urlopen(request, timeout=FETCH_TIMEOUT_S, context=context) as response:
            data: bytes = response.read(MAX_DOWNLOAD_BYTES + 1)
    except urllib.error.HTTPError as err:
        raise RenderError(
            chart_where(ref), f"cannot fetch chart {ref.name!r}: {redact_url(url)}: HTTP {err.code}"
        ) from None
    except (urllib.error.URLError, OSError) as err:
        reason = getattr(err, "reason", err)
        raise RenderError(
            chart_where(ref), f"cannot fetch chart {ref.name!r}: {redact_url(url)}: {reason}"
        ) from None
    if len(data) > MAX_DOWNLOAD_BYTES:
        raise RenderError(
            chart_where(ref), f"{redact_url(url)}: larger than {MAX_DOWNLOAD_BYTES} bytes"
        )
    return data
