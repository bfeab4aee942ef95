"""Chart fetching: a chart from a Helm repository (HTTP index or OCI) → a chart
directory on disk, cached by digest.

``fetch_chart`` is what a Flux HelmRelease and an Argo CD ``spec.source.chart``
use. From an HTTP repository it reads ``index.yaml``, picks the newest version
the constraint allows (``engine.apps.semver``: ``>=1.0.0 <2.0.0``, ``1.2.x``,
``~1.2``, ``*``), downloads the archive and checks it against the index's
sha256 digest. From an OCI reference (``oci://host/path``) the real ``helm
pull`` does the registry protocol; its arguments are ``--option=value`` pairs
and the reference comes after ``--``, so nothing read from Git is a flag.

The cache (``$GITWAVE_CACHE/charts``, else ``~/.cache/gitwave/charts``) keeps
each archive unpacked under its digest, and a small ``pins`` directory records
which digest an exact (repository, chart, version) resolved to, so a second
render of an exact version asks no server. A repository index is kept in
memory for ``INDEX_TTL_S`` (``forget_indexes`` drops them). A chart that cannot be fetched is
a RenderError naming the URL: never an empty render, so nothing is pruned.

The parts: ``chart_ref`` (the values), ``chart_http`` (HTTP repositories),
``chart_cache`` (the cache); OCI registries are here.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import tempfile
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

from gitwave.engine.errors import RenderError
from gitwave.engine.render.chart_cache import (
    chart_cache_dir,
    chart_meta,
    exact_version,
    pin_chart,
    pinned_chart,
    store_chart,
)
from gitwave.engine.render.chart_http import fetch_http, forget_indexes
from gitwave.engine.render.chart_ref import ChartRef, FetchedChart, chart_where
from gitwave.engine.render.tools import find_binary, run_tool
from gitwave.engine.render.values import ChartSource
from gitwave.engine.source import Checkout, redact_url
from gitwave.engine.tls_trust import TlsFiles

_CHART_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_OCI_REF = re.compile(r"^oci://[A-Za-z0-9.-]+(?::\d+)?(?:/[A-Za-z0-9._/-]+)?$")


def fetch_chart(ref: ChartRef, *, cache_dir: Path | None = None) -> FetchedChart:
    """The chart ``ref`` names, unpacked in the cache (fetched only when not cached).

    Raises RenderError naming ``ref.where`` and the URL when the repository or
    the chart cannot be read, no version matches, or the digest differs.
    """
    cache = cache_dir if cache_dir is not None else chart_cache_dir()
    if not _CHART_NAME.match(ref.name):
        raise RenderError(chart_where(ref), f"chart name {ref.name!r} is not valid")
    if ref.is_oci:
        return _fetch_oci(ref, cache)
    scheme = urllib.parse.urlsplit(ref.repo_url).scheme.lower()
    if scheme not in ("http", "https"):
        raise RenderError(
            chart_where(ref),
            f"chart repository {redact_url(ref.repo_url)!r} is not an http(s):// or oci:// URL",
        )
    return fetch_http(ref, cache)


def fetched_chart_checkout(source: ChartSource, *, where: str) -> Checkout:
    """The chart ``source`` names, fetched (or cached), as a checkout of its
    directory (its digest the revision). RenderError as ``fetch_chart``."""
    chart = fetch_chart(ChartRef(source.repo_url, source.chart, source.version, where=where))
    return Checkout(root=chart.directory, revision=chart.digest, dirty=False, url=chart.url)


# --- OCI registries -----------------------------------------------------------


def _fetch_oci(ref: ChartRef, cache: Path) -> FetchedChart:
    base = ref.repo_url.rstrip("/")
    reference = f"{base}/{ref.name}"
    if not _OCI_REF.match(reference):
        raise RenderError(chart_where(ref), f"OCI reference {redact_url(reference)!r} is not valid")
    exact = exact_version(ref.version)
    if exact:
        pinned = pinned_chart(cache, base, ref.name, exact)
        if pinned is not None:
            return pinned
    helm = find_binary("helm")
    if helm is None:
        raise RenderError(chart_where(ref), "helm is needed to pull OCI charts and is not on PATH")
    with (
        tempfile.TemporaryDirectory(prefix="gitwave-pull-") as tmp,
        _tls_files(ref) as tls,
    ):
        command = [helm, "pull", f"--destination={tmp}"]
        if ref.version:
            command.append(f"--version={ref.version}")
        if ref.insecure or (_is_loopback(reference) and ref.tls is None):
            # Flux's ``spec.insecure``; a registry on this host is plain HTTP, as Docker
            # assumes, unless the source gives TLS material.
            command.append("--plain-http")
        # gitwave's own private files (never a value from Git) as --opt=value.
        if tls is not None and tls.ca_file is not None:
            command.append(f"--ca-file={tls.ca_file}")
        if tls is not None and tls.cert_file is not None and tls.key_file is not None:
            command += [f"--cert-file={tls.cert_file}", f"--key-file={tls.key_file}"]
        command += ["--", reference]
        run_tool(
            command,
            tool="helm pull",
            where=ref.where or reference,
            cwd=tmp,
            hide_dirs=(tmp,),
            on_failure=lambda failure: RenderError(
                chart_where(ref),
                f"cannot fetch chart {redact_url(reference)}: "
                + ("; ".join(failure.stderr_lines[:3]) or f"exit {failure.returncode}"),
            ),
        )
        archives = sorted(Path(tmp).glob("*.tgz"))
        if len(archives) != 1:
            raise RenderError(
                chart_where(ref), f"helm pull {redact_url(reference)} gave no archive"
            )
        data = archives[0].read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    _, version = chart_meta(data, ref)
    chart = store_chart(cache, data, digest, ref, version, reference)
    pin_chart(cache, base, ref.name, version, digest)
    return chart


@contextlib.contextmanager
def _tls_files(ref: ChartRef) -> Iterator[TlsFiles | None]:
    if ref.tls is None:
        yield None
        return
    with ref.tls.files() as written:
        yield written


def _is_loopback(reference: str) -> bool:
    host = urllib.parse.urlsplit(reference).hostname or ""
    return host in ("localhost", "127.0.0.1", "::1")


__all__ = [
    "ChartRef",
    "FetchedChart",
    "chart_cache_dir",
    "fetch_chart",
    "fetched_chart_checkout",
    "forget_indexes",
]
