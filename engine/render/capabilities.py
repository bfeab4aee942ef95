"""What the target cluster tells a Helm chart about itself: its Kubernetes
release (``.Capabilities.KubeVersion``) and the API versions it serves
(``.Capabilities.APIVersions``).

Flux's helm-controller renders with the cluster's discovery and Argo CD with
the destination's API versions, so a chart guarded by
``.Capabilities.APIVersions.Has "monitoring.coreos.com/v1"`` renders its
ServiceMonitor only where that API is served. gitwave asks the target lazily,
once per block, and only when a chart is rendered.
"""

from __future__ import annotations

import contextlib
import contextvars
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

# ``v1``, ``apps/v1``, ``apps/v1/Deployment``, ``monitoring.coreos.com/v1/ServiceMonitor``:
# nothing that could read as a flag or hold a separator helm would split on.
_API_VERSION = re.compile(r"^[a-z0-9]([a-z0-9.-]*[a-z0-9])?(/[a-z0-9]+)?(/[A-Za-z][A-Za-z0-9]*)?$")


@dataclass
class _Asked:
    """One block's answers, asked at most once each (renders run in threads)."""

    kube_version: Callable[[], str]
    api_versions: Callable[[], tuple[str, ...]]
    lock: threading.Lock = field(default_factory=threading.Lock)
    answers: dict[str, object] = field(default_factory=dict)

    def get(self, what: str, ask: Callable[[], object]) -> object:
        with self.lock:
            if what not in self.answers:
                self.answers[what] = ask()
            return self.answers[what]


_current: contextvars.ContextVar[_Asked | None] = contextvars.ContextVar(
    "gitwave_target_capabilities", default=None
)


@contextlib.contextmanager
def target_capabilities(
    kube_version: Callable[[], str], api_versions: Callable[[], tuple[str, ...]]
) -> Iterator[None]:
    """Charts rendered inside the block see what ``kube_version()`` (``1.33``;
    "": unknown) and ``api_versions()`` (``group/version`` and
    ``group/version/Kind``; () unknown) say; each is asked at most once."""
    token = _current.set(_Asked(kube_version, api_versions))
    try:
        yield
    finally:
        _current.reset(token)


def target_kube_version() -> str:
    """The target's ``major.minor``, or "" outside a block or when it cannot say."""
    asked = _current.get()
    if asked is None:
        return ""
    found = asked.get("kube_version", asked.kube_version)
    return found if isinstance(found, str) else ""


def target_api_versions() -> tuple[str, ...]:
    """The API versions the target serves, sorted, each safe to pass as
    ``--api-versions=``; () outside a block or when the target cannot say
    (helm then knows only the built-in ones of its own release)."""
    asked = _current.get()
    if asked is None:
        return ()
    found = asked.get("api_versions", lambda: valid_api_versions(asked.api_versions()))
    return found if isinstance(found, tuple) else ()


def valid_api_versions(versions: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """``versions`` without those that are no API version (a leading ``-``, a
    comma, a space), deduplicated and sorted."""
    return tuple(sorted({v for v in versions if _API_VERSION.match(v)}))


__all__ = [
    "target_api_versions",
    "target_capabilities",
    "target_kube_version",
    "valid_api_versions",
]
