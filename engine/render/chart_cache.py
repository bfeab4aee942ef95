"""The chart cache (see ``engine.render.charts``): each archive unpacked under
its digest, and a ``pins`` directory recording which digest an exact
(repository, chart, version) resolved to, so a second render of an exact
version asks no server."""

from __future__ import annotations

import hashlib
import io
import os
import re
import shutil
import tarfile
import tempfile
from pathlib import Path

import yaml

from gitwave.engine.errors import RenderError
from gitwave.engine.model import SourceRef
from gitwave.engine.render.chart_ref import ChartRef, FetchedChart, chart_where
from gitwave.engine.source import redact_url

_EXACT_VERSION = re.compile(r"^v?\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.+-]*)?$")


def chart_cache_dir() -> Path:
    """``$GITWAVE_CACHE/charts``, else ``$XDG_CACHE_HOME/gitwave/charts``, else ``~/.cache/…``."""
    if os.environ.get("GITWAVE_CACHE"):
        return Path(os.environ["GITWAVE_CACHE"]) / "charts"
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "gitwave" / "charts"


def exact_version(version: str) -> str:
    """``version`` when it names one version (not a range), without a leading v."""
    text = version.strip()
    return text.removeprefix("v") if _EXACT_VERSION.match(text) else ""


def _pin_file(cache: Path, repo_url: str, name: str, version: str) -> Path:
    key = hashlib.sha256(f"{repo_url.rstrip('/')}\n{name}\n{version}".encode()).hexdigest()
    return cache / "pins" / key


def pinned_chart(cache: Path, repo_url: str, name: str, version: str) -> FetchedChart | None:
    try:
        digest = _pin_file(cache, repo_url, name, version).read_text(encoding="utf-8").strip()
    except OSError:
        return None
    if not re.fullmatch(r"[0-9a-f]{64}", digest) or not (cache / digest).is_dir():
        return None
    return unpacked_chart(cache, digest, name, version, repo_url)


def pin_chart(cache: Path, repo_url: str, name: str, version: str, digest: str) -> None:
    path = _pin_file(cache, repo_url, name, version)
    path.parent.mkdir(parents=True, exist_ok=True)
    _write_atomic(path, digest.encode())


def unpacked_chart(cache: Path, digest: str, name: str, version: str, url: str) -> FetchedChart:
    root = cache / digest
    directory = root / name
    if not (directory / "Chart.yaml").is_file():
        found = [p.parent for p in root.glob("*/Chart.yaml")]
        if len(found) != 1:
            raise RenderError(SourceRef(url), f"cached chart {digest[:12]} holds no single chart")
        directory = found[0]
    return FetchedChart(directory, name, version, digest, redact_url(url))


def store_chart(
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
                chart_where(ref), f"chart {redact_url(url)}: not a chart archive: {err}"
            ) from None
        try:
            staging.rename(final)
        except OSError:  # another process unpacked it first
            shutil.rmtree(staging, ignore_errors=True)
    return unpacked_chart(cache, digest, ref.name, version, url)


def chart_meta(data: bytes, ref: ChartRef) -> tuple[str, str]:
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
        raise RenderError(
            chart_where(ref), f"chart {ref.display}: not a chart archive: {err}"
        ) from None
    raise RenderError(chart_where(ref), f"chart {ref.display}: the archive holds no Chart.yaml")


def _write_atomic(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(prefix=".pin-", dir=path.parent)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.replace(tmp, path)
