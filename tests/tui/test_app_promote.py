"""Promotion and drift triage from the Application screen, with the Pilot:
the key, the dialog, the Git diff in the confirmation, then the commit on a
new branch of a real repository; against a real SandboxProvider."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import git
import pytest

from gitwave.engine.model import ResourceKey
from gitwave.engine.operations import sync_app
from gitwave.tui.screens.git_change import EnvironmentScreen, TriageScreen
from gitwave.tui.screens.modals import ConfirmScreen
from tests.tui.test_app_support import (
    SAMPLES,
    SIZE,
    Env,
    commit,
    drawn,
    make_env,
    notified,
    screen_text,
    until,
)
from tests.tui.test_app_sync import open_app

pytestmark = pytest.mark.anyio

WEB = ResourceKey("apps", "Deployment", "web-staging", "web")


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    """The kustomize sample as a repository of its own, web-staging synced."""
    root = tmp_path / "repo"
    shutil.copytree(SAMPLES / "kustomize", root)
    apps = root / "apps.yaml"
    apps.write_text(apps.read_text().replace("samples/kustomize/", ""))
    commit(root, "Add the environments")
    built = make_env(tmp_path, root)
    staging = built.controller.app("web-staging")
    synced = sync_app(
        staging, targets=built.controller.fleet.targets_for(staging), store=built.store
    )
    assert synced.result.ok
    yield built
    built.close()


def branch_file(root: Path, branch: str, path: str) -> str:
    return str(git.Repo(root).git.show(f"{branch}:{path}"))


async def test_promote_shows_the_diffs_then_commits(env: Env) -> None:
    app = env.app(open_app="web-staging")
    async with app.run_test(size=SIZE) as pilot:
        await open_app(pilot, app)
        await pilot.press("P")
        await until(pilot, lambda: isinstance(app.screen, EnvironmentScreen))
        for key in "production":
            await pilot.press(key)
        await pilot.press("enter")
        await until(pilot, lambda: drawn(app, ConfirmScreen), what="the confirmation")
        text = screen_text(app)
        assert "Promote web from staging to production?" in text
        assert "images[nginx].newTag: 1.27" in text
        assert '+    newTag: "1.26"' in text
        for _ in range(12):  # down to the rendered manifests
            await pilot.press("j")
        # The production Application pins nginx:1.27.3 (spec.source.kustomize.images):
        # the overlay's tag changes, what production renders does not.
        await until(
            pilot,
            lambda: "(no change in the rendered manifests)" in screen_text(app),
            what="the manifests' diff",
        )
        assert "manifests web-production would see:" in screen_text(app)
        assert not [h for h in git.Repo(env.location).heads if h.name.startswith("gitwave/")]
        await pilot.press("y")
        await until(pilot, lambda: notified(app, "committed"), what="the commit")
    branch = "gitwave/promote-web-staging-to-production"
    assert 'newTag: "1.26"' in branch_file(
        env.location, branch, "overlays/production/kustomization.yaml"
    )


async def test_accept_drift_from_the_screen(env: Env) -> None:
    env.sandbox.scale(WEB, 7)
    app = env.app(open_app="web-staging")
    async with app.run_test(size=SIZE) as pilot:
        await open_app(pilot, app)
        await pilot.press("t")
        await until(pilot, lambda: drawn(app, TriageScreen), what="the triage dialog")
        assert "spec.replicas: 7 → 2 (by kubectl)" in screen_text(app)
        await pilot.press("a")
        await until(pilot, lambda: drawn(app, ConfirmScreen), what="the confirmation")
        assert "+    count: 7" in screen_text(app)
        await pilot.press("y")
        await until(pilot, lambda: notified(app, "committed"), what="the commit")
    text = branch_file(
        env.location,
        "gitwave/drift-accept-web-staging-deployment-web",
        "overlays/staging/kustomization.yaml",
    )
    assert "count: 7" in text


async def test_read_only_writes_nothing(env: Env) -> None:
    env.sandbox.scale(WEB, 7)
    app = env.app(open_app="web-staging", read_only=True)
    async with app.run_test(size=SIZE) as pilot:
        await open_app(pilot, app)
        await pilot.press("t")
        await pilot.press("P")
        await pilot.pause(0.2)
        assert not isinstance(app.screen, TriageScreen | EnvironmentScreen)
    assert not [h for h in git.Repo(env.location).heads if h.name.startswith("gitwave/")]
