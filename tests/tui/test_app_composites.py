"""The live tree shows a composite (here a Crossplane claim) as a node of its
own, with its Synced and Ready conditions, and its composed resources under it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from gitwave.engine.model import HealthCode, ResourceKey
from gitwave.engine.operations import sync_app
from gitwave.tui.screens.application import ApplicationScreen
from gitwave.tui.widgets.resource_tree import ResourceTree
from tests.tui.test_app_support import commit, make_env, screen_text, until

pytestmark = pytest.mark.anyio

CLAIM_APP = Path(__file__).resolve().parents[1] / "testdata" / "compositions" / "claim-app"
CLAIM = ResourceKey("example.org", "Cache", "team", "sessions")


async def test_the_claim_is_a_node_with_its_conditions_over_its_composed_resources(
    tmp_path: Path,
) -> None:
    root = tmp_path / "claim-app"
    shutil.copytree(CLAIM_APP, root)
    commit(root, "A claim")
    env = make_env(tmp_path, root)
    try:
        before = {n.key: n for n in env.controller.view("claim-app").nodes}
        assert before[CLAIM].health is not None
        assert before[CLAIM].health.code is HealthCode.PROGRESSING
        assert "Synced False" in before[CLAIM].health.message

        sync_app(env.controller.app("claim-app"), targets=env.controller.targets, store=env.store)
        view = env.controller.view("claim-app")
        roots = [n.key.display for n in view.nodes]
        assert roots == ["Namespace/team", "Cache/team/sessions", "Deployment/team/web"]
        claim = next(n for n in view.nodes if n.key == CLAIM)
        assert claim.action is None
        assert claim.health is not None
        assert str(claim.health) == (
            "Progressing: Synced True, Ready False (Creating: Unready resources: configmap-1)"
        )
        assert [c.key.display for c in claim.children] == [
            "ConfigMap/team/sessions-configmap-0",
            "ConfigMap/team/sessions-configmap-1",
            "Secret/team/sessions-cache",
        ]

        app = env.app(open_app="claim-app")
        async with app.run_test(size=(120, 30)) as pilot:
            screen = app.screen
            assert isinstance(screen, ApplicationScreen)
            await until(pilot, lambda: screen.loads > 0)
            tree = screen.query_one("#tree", ResourceTree)
            assert tree.move_to(str(CLAIM))
            # The detail line of the selected row carries both conditions.
            await until(pilot, lambda: "Synced True, Ready False" in screen_text(app))
            text = screen_text(app)
            assert "Cache sessions" in text
            assert "ConfigMap sessions-configmap-1" in text
    finally:
        env.close()
