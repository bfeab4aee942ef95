"""A chart in a Helm repository as an app names it (``ChartRef``), and one
fetched into the cache (``FetchedChart``); see ``engine.render.charts``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from gitwave.engine.model import SourceRef
from gitwave.engine.source import redact_url
from gitwave.engine.tls_trust import TlsTrust


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


def chart_where(ref: ChartRef) -> SourceRef:
    """Where a chart error is reported: the file (and field) that asked, else the URL."""
    return SourceRef(ref.where or redact_url(ref.repo_url))
