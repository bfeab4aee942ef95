"""`gitwave why APP [RESOURCE]`: what an app waits for, as a chain through the
graph to the object holding it (issue 13, "why blocked, as a chain")."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.tui.cli_support import run, sandbox_state


@pytest.fixture(autouse=True)
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return sandbox_state(tmp_path, monkeypatch)


def deployment(name: str, **annotations: str) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "annotations": annotations},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "c", "image": "x"}]},
            },
        },
    }


def test_why_names_the_chain_down_to_the_object_holding_it(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``web`` depends on ``db``, whose rollout never ends: the sync times out
    on ``db`` and never creates ``web``; `why` says web waits for db."""
    monkeypatch.setenv("GITWAVE_SANDBOX_ROLLOUT", "3600")
    app = tmp_path / "shop"
    app.mkdir()
    docs = [deployment("db"), deployment("web", **{"gitwave.dev/depends-on": "Deployment/shop/db"})]
    (app / "all.yaml").write_text(yaml.safe_dump_all(docs))
    where = ("-n", "shop", "--create-namespace")
    code, out, _ = run(capsys, "sync", str(app), *where, "--timeout", "1s")
    assert code == 1
    assert "waiting for Deployment/shop/db: Progressing" in out

    code, out, err = run(capsys, "why", str(app), *where)
    assert code == 0, err
    (line,) = out.splitlines()
    assert line.startswith("shop: Deployment/shop/web ← Deployment/shop/db: Progressing: "), line

    code, out, _ = run(capsys, "why", str(app), "deploy/db", *where)
    assert out.startswith("shop: Deployment/shop/db: Progressing: ")

    code, out, _ = run(capsys, "why", str(app), "web", *where, "-o", "json")
    (doc,) = json.loads(out)
    assert doc["app"] == "shop"
    (chain,) = doc["chains"]
    assert chain["chain"] == ["apps/Deployment/shop/web", "apps/Deployment/shop/db"]
    assert (chain["holder"], chain["health"]) == ("apps/Deployment/shop/db", "Progressing")

    code, _, err = run(capsys, "why", str(app), "cm/nothing", *where)
    assert code == 2
    assert "cm/nothing: no such object in the app" in err


def test_why_of_a_healthy_app_says_nothing_waits(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    app = tmp_path / "calm"
    app.mkdir()
    config = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}
    (app / "c.yaml").write_text(yaml.safe_dump(config))
    code, _, err = run(capsys, "sync", str(app), "-n", "calm", "--create-namespace")
    assert code == 0, err
    code, out, _ = run(capsys, "why", str(app), "-n", "calm")
    assert (code, out) == (0, "calm: nothing waits: every object is Healthy\n")
