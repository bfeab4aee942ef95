"""A hard refresh (``argocd.argoproj.io/refresh: hard``) renders anew.

Argo CD's hard refresh drops its manifest cache; within ``rendered_afresh()``
``render`` does not reuse a cached render (in memory or on disk) and puts the
new one in its place. The checkout claims one commit throughout while its
file changes underneath, so only a render made anew can show the change.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from gitwave.engine.render import clear_render_cache, render
from gitwave.engine.render.afresh import rendered_afresh, renders_afresh
from gitwave.engine.source import Checkout


def settings(root: Path, value: str) -> None:
    (root / "cm.yaml").write_text(
        f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\ndata:\n  value: {value}\n"
    )


def value(checkout: Checkout) -> str:
    return str(render(checkout, ".").resources[0].manifest["data"]["value"])


def test_a_hard_refresh_renders_anew_and_replaces_the_cached_render(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITWAVE_CACHE", str(tmp_path / "cache"))
    clear_render_cache()
    root = tmp_path / "repo"
    root.mkdir()
    settings(root, "one")
    checkout = Checkout(root=root, revision="a" * 40, dirty=False, url="")
    assert value(checkout) == "one"
    settings(root, "two")
    assert value(checkout) == "one"  # the cached render of that commit
    with rendered_afresh():
        assert renders_afresh()
        assert value(checkout) == "two"
    assert not renders_afresh()
    assert value(checkout) == "two"  # the new render replaced the cached one
    clear_render_cache()
    assert value(checkout) == "two"  # on disk too
    with rendered_afresh(False):  # a normal refresh: the cache as usual
        settings(root, "three")
        assert value(checkout) == "two"
