"""Renders not read from the render cache: Argo CD's hard refresh.

``argocd app get --hard-refresh`` (the ``argocd.argoproj.io/refresh: hard``
annotation) makes Argo CD's repo-server generate the manifests again instead
of serving its manifest cache. Within ``rendered_afresh()`` (the controller's
worker, for one app) ``render`` does the same: it renders, then puts the new
render in the cache in place of the old one. A context variable, as
``source_refs.shared_refs``: it holds for the thread (and context) that set it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_AFRESH: ContextVar[bool] = ContextVar("gitwave_render_afresh", default=False)


@contextmanager
def rendered_afresh(afresh: bool = True) -> Iterator[None]:
    """Within it (when ``afresh``), cached renders are not reused."""
    token = _AFRESH.set(afresh or _AFRESH.get())
    try:
        yield
    finally:
        _AFRESH.reset(token)


def renders_afresh() -> bool:
    """True within ``rendered_afresh()``."""
    return _AFRESH.get()


__all__ = ["rendered_afresh", "renders_afresh"]
