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
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import re
import shutil
import ssl
import tarfile
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from gitwave.engine.errors import RenderError
from gitwave.engine.model import SourceRef
from gitwave.engine.render.tools import find_binary, run_tool
from gitwave.engine.render.values import ChartSource
from gitwave.engine.source import Checkout, redact_url
from gitwave.engine.tls_trust import TlsFiles, TlsTrust

FETCH_TIMEOUT_S = 60.0
# A chart archive or index larger than this is refused (a chart is kilobytes).
MAX_DOWNLOAD_BYTES = 64 * 1024 * 1024
_EXACT_VERSION = re.compile(r"^v?\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.+-]*)?$")
_CHART_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_OCI_REF = re.compile(r"^oci://[A-Za-z0-9.-]+(?::\d+)?(?:/[A-Za-z0-9._/-]+)?$")


@dataclass(frozen=True)
class ChartRef:
    """A chart in a Helm repository, as a HelmRelease or Application names it.

    ``repo_url`` is ``https://…`` (an index) or ``oci://…`` (a registry path
    the chart name is appended to); ``version`` a semver constraint ("" or
    ``*``: the newest release); ``where`` the file (and field) that asked, for errors.
    """

    repo_url: str
    name: str
    version: str = ""
    where: str = ""
    insecure: bool = False  # OCI over plain HTTP (Flux's ``spec.insecure``)
    # The source's certSecretRef: a CA to trust (and a client certificate);
    # an OCI registry on this host is then asked over HTTPS.
    tls: TlsTrust | None = None

    @property
    def is_oci(self) -> bool:
        return self.repo_url.startswith("oci://")

    @property
    def display(self) -> str:
        """``URL chart@version`` without credentials, for messages."""
        return f"{redact_url(self.repo_url)} {self.name}@{self.version or '*'}"


@dataclass(frozen=True)
class FetchedChart:
    """A chart unpacked in the cache: its directory, name, version and digest."""

    directory: Path
    name: str
    version: str
    digest: str  # sha256 of the archive, hex
    url: str  # where the archive came from (no credentials)

    @property
    def label(self) -> str:
        """``name-version``: how documents rendered from it are named."""
        return f"{self.name}-{self.version}"


def chart_cache_dir() -> Path:
    """``$GITWAVE_CACHE/charts``, else ``$XDG_CACHE_HOME/gitwave/charts``, else ``~/.cache/…``."""
    if os.environ.get("GITWAVE_CACHE"):
        return Path(os.environ["GITWAVE_CACHE"]) / "charts"
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "gitwave" / "charts"


def fetch_chart(ref: ChartRef, *, cache_dir: Path | None = None) -> FetchedChart:
    """The chart ``ref`` names, unpacked in the cache (fetched only when not cached).

    Raises RenderError naming ``ref.where`` and the URL when the repository or
    the chart cannot be read, no version matches, or the digest differs.
    """
    cache = cache_dir if cache_dir is not None else chart_cache_dir()
    if not _CHART_NAME.match(ref.name):
        raise RenderError(_where(ref), f"chart name {ref.name!r} is not valid")
    if ref.is_oci:
        return _fetch_oci(ref, cache)
    scheme = urllib.parse.urlsplit(ref.repo_url).scheme.lower()
    if scheme not in ("http", "https"):
        raise RenderError(
            _where(ref),
            f"chart repository {redact_url(ref.repo_url)!r} is not an http(s):// or oci:// URL",
        )
    return _fetch_http(ref, cache)


def fetched_chart_checkout(source: ChartSource, *, where: str) -> Checkout:
    """The chart ``source`` names, fetched (or cached), as a checkout of its
    directory (its digest the revision). RenderError as ``fetch_chart``."""
    chart = fetch_chart(ChartRef(source.repo_url, source.chart, source.version, where=where))
    return Checkout(root=chart.directory, revision=chart.digest, dirty=False, url=chart.url)


def forget_indexes() -> None:
    """Drop the repository indexes read in this process (tests; a long-running loop)."""
    with _INDEX_LOCK:
        _INDEXES.clear()


# --- HTTP repositories --------------------------------------------------------

# A repository index is kept this long in memory: a long-running ``gitwave run``
# sees a new chart version within it, one command reads each index once.
INDEX_TTL_S = 300.0
_INDEXES: dict[str, tuple[float, dict[str, Any]]] = {}
_INDEX_LOCK = threading.Lock()


def _fetch_http(ref: ChartRef, cache: Path) -> FetchedChart:
    exact = _exact(ref.version)
    if exact:
        pinned = _pinned(cache, ref.repo_url, ref.name, exact)
        if pinned is not None:
            return pinned
    index = _index(ref)
    entries = index.get("entries")
    versions = entries.get(ref.name) if isinstance(entries, dict) else None
    if not isinstance(versions, list) or not versions:
        raise RenderError(
            _where(ref),
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
        raise RenderError(_where(ref), f"chart version {ref.version!r}: {err}") from None
    if chosen is None:
        raise RenderError(
            _where(ref),
            f"no version of chart {ref.name!r} in {redact_url(ref.repo_url)} matches "
            f"{ref.version or '*'!r} (versions: {', '.join(sorted(by_version)) or 'none'})",
        )
    entry = by_version[chosen]
    urls = entry.get("urls")
    if not isinstance(urls, list) or not urls or not isinstance(urls[0], str):
        raise RenderError(_where(ref), f"chart {ref.name} {chosen}: the index lists no URL")
    url = urllib.parse.urljoin(ref.repo_url.rstrip("/") + "/", urls[0])
    want = str(entry.get("digest") or "").lower()
    if want and (cache / want).is_dir():
        chart = _unpacked(cache, want, ref.name, chosen, url)
        _pin(cache, ref.repo_url, ref.name, chosen, want)
        return chart
    if urllib.parse.urlsplit(url).scheme.lower() not in ("http", "https"):
        raise RenderError(_where(ref), f"chart URL {redact_url(url)!r} is not http(s)")
    data = _download(url, ref)
    digest = hashlib.sha256(data).hexdigest()
    if want and digest != want:
        raise RenderError(
            _where(ref),
            f"chart {redact_url(url)}: digest sha256:{digest} differs from the index's "
            f"sha256:{want}",
            hint="the repository changed the archive under the same version; refusing it",
        )
    chart = _store(cache, data, digest, ref, chosen, url)
    _pin(cache, ref.repo_url, ref.name, chosen, digest)
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
        raise RenderError(_where(ref), f"{redact_url(url)}: not a Helm index: {err}") from None
    if not isinstance(index, dict):
        raise RenderError(_where(ref), f"{redact_url(url)}: not a Helm repository index")
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
            _where(ref),
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
            _where(ref), f"cannot fetch chart {ref.name!r}: {redact_url(url)}: HTTP {err.code}"
        ) from None
    except (urllib.error.URLError, OSError) as err:
        reason = getattr(err, "reason", err)
        raise RenderError(
            _where(ref), f"cannot fetch chart {ref.name!r}: {redact_url(url)}: {reason}"
        ) from None
    if len(data) > MAX_DOWNLOAD_BYTES:
        raise RenderError(_where(ref), f"{redact_url(url)}: larger than {MAX_DOWNLOAD_BYTES} bytes")
    return data


# --- OCI registries -----------------------------------------------------------


def _fetch_oci(ref: ChartRef, cache: Path) -> FetchedChart:
    base = ref.repo_url.rstrip("/")
    reference = f"{base}/{ref.name}"
    if not _OCI_REF.match(reference):
        raise RenderError(_where(ref), f"OCI reference {redact_url(reference)!r} is not valid")
    exact = _exact(ref.version)
    if exact:
        pinned = _pinned(cache, base, ref.name, exact)
        if pinned is not None:
            return pinned
    helm = find_binary("helm")
    if helm is None:
        raise RenderError(_where(ref), "helm is needed to pull OCI charts and is not on PATH")
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
                _where(ref),
                f"cannot fetch chart {redact_url(reference)}: "
                + ("; ".join(failure.stderr_lines[:3]) or f"exit {failure.returncode}"),
            ),
        )
        archives = sorted(Path(tmp).glob("*.tgz"))
        if len(archives) != 1:
            raise RenderError(_where(ref), f"helm pull {redact_url(reference)} gave no archive")
        data = archives[0].read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    _, version = _chart_meta(data, ref)
    chart = _store(cache, data, digest, ref, version, reference)
    _pin(cache, base, ref.name, version, digest)
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


# --- the cache ----------------------------------------------------------------


def _exact(version: str) -> str:
    """``version`` when it names one version (not a range), without a leading v."""
    text = version.strip()
    return text.removeprefix("v") if _EXACT_VERSION.match(text) else ""


def _pin_file(cache: Path, repo_url: str, name: str, version: str) -> Path:
    key = hashlib.sha256(f"{repo_url.rstrip('/')}\n{name}\n{version}".encode()).hexdigest()
    return cache / "pins" / key


def _pinned(cache: Path, repo_url: str, name: str, version: str) -> FetchedChart | None:
    try:
        digest = _pin_file(cache, repo_url, name, version).read_text(encoding="utf-8").strip()
    except OSError:
        return None
    if not re.fullmatch(r"[0-9a-f]{64}", digest) or not (cache / digest).is_dir():
        return None
    return _unpacked(cache, digest, name, version, repo_url)


def _pin(cache: Path, repo_url: str, name: str, version: str, digest: str) -> None:
    path = _pin_file(cache, repo_url, name, version)
    path.parent.mkdir(parents=True, exist_ok=True)
    _write_atomic(path, digest.encode())


def _unpacked(cache: Path, digest: str, name: str, version: str, url: str) -> FetchedChart:
    root = cache / digest
    directory = root / name
    if not (directory / "Chart.yaml").is_file():
        found = [p.parent for p in root.glob("*/Chart.yaml")]
        if len(found) != 1:
            raise RenderError(SourceRef(url), f"cached chart {digest[:12]} holds no single chart")
        directory = found[0]
    return FetchedChart(directory, name, version, digest, redact_url(url))


def _store(
    cache: Path, data: bytes, digest: str, ref: ChartRef, version: str, url: str
) -> FetchedChart:
    """Unpack ``data`` under ``cache/digest`` (atomically: a half-written chart is never seen)."""
    final = cache / digest
    if not final.is_dir():
        cache.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".unpack-", dir=cache))
        try:
            with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
                # The ``data`` filter refuses absolute paths, ``..``, links out and devices.
                archive.extractall(staging, filter="data")
        except (tarfile.TarError, OSError) as err:
            shutil.rmtree(staging, ignore_errors=True)
            raise RenderError(
                _where(ref), f"chart {redact_url(url)}: not a chart archive: {err}"
            ) from None
        try:
            staging.rename(final)
        except OSError:  # another process unpacked it first
            shutil.rmtree(staging, ignore_errors=True)
    return _unpacked(cache, digest, ref.name, version, url)


def _chart_meta(data: bytes, ref: ChartRef) -> tuple[str, str]:
    """(name, version) from the archive's Chart.yaml."""
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
            for member in archive.getmembers():
                parts = member.name.split("/")
                if len(parts) == 2 and parts[1] == "Chart.yaml" and member.isfile():
                    handle = archive.extractfile(member)
                    meta = yaml.safe_load(handle.read()) if handle else None
                    if isinstance(meta, dict):
                        return str(meta.get("name", ref.name)), str(meta.get("version", ""))
    except (tarfile.TarError, yaml.YAMLError) as err:
        raise RenderError(_where(ref), f"chart {ref.display}: not a chart archive: {err}") from None
    raise RenderError(_where(ref), f"chart {ref.display}: the archive holds no Chart.yaml")


def _write_atomic(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(prefix=".pin-", dir=path.parent)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.replace(tmp, path)


def _where(ref: ChartRef) -> SourceRef:
    return SourceRef(ref.where or redact_url(ref.repo_url))


__all__ = [
    "ChartRef",
    "FetchedChart",
    "chart_cache_dir",
    "fetch_chart",
    "fetched_chart_checkout",
    "forget_indexes",
]
