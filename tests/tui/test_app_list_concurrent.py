"""The Applications list plans its apps with the runner `gitwave sync` uses
(``engine.fleet_run``, ``--concurrent``), not one after another: a real
sandbox behind a gate that lets the first read of each app wait (at most a few
seconds) until another app is being read too, and counts how many apps are
read at once."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from gitwave.engine.model import Live, ResourceKey
from gitwave.engine.router import ProviderRouter
from gitwave.engine.store import Store
from gitwave.providers.sandbox import SandboxProvider
from gitwave.tui.app import GitwaveApp
from gitwave.tui.controller import Controller
from gitwave.tui.widgets.status import UNICODE
from tests.tui.test_app_apps import loaded, table_rows
from tests.tui.test_app_support import SIZE, commit

pytestmark = pytest.mark.anyio

APPS = ("alpha", "beta", "gamma", "delta")


class Gate:
    """The sandbox, whose first observe of each app's ConfigMap waits until
    another app's is under way too (or ``wait_s`` ran out)."""

    def __init__(self, inner: SandboxProvider, wait_s: float = 5.0) -> None:
        self._inner = inner
        self._wait_s = wait_s
        self._cond = threading.Condition()
        self._reading: set[str] = set()
        self._seen: set[str] = set()
        self.most_at_once = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    @property
    def name(self) -> str:
        return str(self._inner.name)

    def observe(self, key: ResourceKey) -> Live | None:
        with self._reading_of([key]):
            return self._inner.observe(key)

    def observe_many(self, keys: Sequence[ResourceKey]) -> Mapping[ResourceKey, Live | None]:
        with self._reading_of(keys):
            return self._inner.observe_many(keys)  # type: ignore[no-any-return]

    @contextmanager
    def _reading_of(self, keys: Sequence[ResourceKey]) -> Iterator[None]:
        apps = [k.name for k in keys if k.kind == "ConfigMap" and k.name in APPS]
        app = apps[0] if apps else ""
        if not app or app in self._seen:
            yield
            return
        with self._cond:
            self._seen.add(app)
            self._reading.add(app)
            self.most_at_once = max(self.most_at_once, len(self._reading))
            self._cond.notify_all()
            # Once two were read at once the point is made: nobody waits any more.
            self._cond.wait_for(lambda: self.most_at_once >= 2, timeout=self._wait_s)
        try:
            yield
        finally:
            with self._cond:
                self._reading.discard(app)


def repo(root: Path) -> Path:
    for app in APPS:
        (root / app).mkdir(parents=True)
        (root / app / "cm.yaml").write_text(
            f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {app}\n  namespace: default\n"
        )
    (root / "apps.yaml").write_text(
        "".join(
            f"---\napiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: {app}\n"
            f"spec:\n  source: {{repoURL: ., path: {app}}}\n"
            "  destination: {server: https://kubernetes.default.svc, namespace: default}\n"
            for app in APPS
        )
    )
    commit(root, "four apps")
    return root


async def test_the_list_plans_several_apps_at_once(tmp_path: Path) -> None:
    location = repo(tmp_path / "repo")
    state = tmp_path / "state"
    with SandboxProvider(state, rollout_seconds=0.05) as sandbox:
        gate = Gate(sandbox)
        store = Store(state / "gitwave.db")
        controller = Controller(
            str(location),
            targets=ProviderRouter([gate]),  # type: ignore[list-item]
            store=store,
            state_dir=state,
            concurrent=4,
        )
        try:
            app = GitwaveApp(controller, refresh_seconds=0, glyphs=UNICODE)
            async with app.run_test(size=SIZE) as pilot:
                screen = await loaded(pilot, app)
                rows = table_rows(screen)
            assert sorted(row[0].split()[-1] for row in rows) == sorted(APPS), rows
            assert all("OutOfSync" in " ".join(row) for row in rows), rows
            assert gate.most_at_once >= 2, "the list planned one app at a time"
        finally:
            store.close()
