"""Notifications on the real loop: a Reconciler in a thread on a Git repo and
the sandbox, the Notifier as its observer (events and on_pass) and a real
HTTP receiver on 127.0.0.1."""

from __future__ import annotations

from pathlib import Path

import yaml

from gitwave.engine.events import Event, EventKind
from gitwave.engine.model import HealthCode
from gitwave.engine.notify import Notifier
from gitwave.engine.notify_load import load_notifications
from gitwave.engine.notify_send import Sender
from gitwave.engine.reconciler import LoopOptions
from gitwave.engine.router import ProviderRouter
from gitwave.providers.sandbox import SandboxProvider
from tests.engine.test_notify import Server, server, write_config  # noqa: F401 (fixture)
from tests.tui.test_run_http import LONG_POLL_S, UI, Loop, Repo, loop  # noqa: F401 (fixture)

API_KEY = "sk-live-guestbook-7f3a"


def test_the_loop_tells_deployed_then_drift_and_masks_the_apps_secrets(
    loop: Loop,  # noqa: F811 (the fixture)
    tmp_path: Path,
    server: Server,  # noqa: F811 (the fixture)
) -> None:
    repo = Repo(tmp_path / "repo", {"automated": {"selfHeal": True}})
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "api", "namespace": "guestbook"},
        "stringData": {"key": API_KEY},
    }
    (repo.root / "manifests" / "secret.yaml").write_text(yaml.safe_dump(secret))
    write_config(repo.root, server.url, alert={"eventSources": [{"kind": "*", "name": "guest*"}]})
    repo.repo.index.add(["manifests/secret.yaml", "notifications/flux.yaml", "app/db-secret.yaml"])
    head = repo.repo.index.commit("secret", author=repo.author, committer=repo.author).hexsha

    sender = Sender(sleep=lambda s: None)
    notifier = Notifier(load_notifications(repo.root), submit=sender.submit)
    reconciler = loop.launch(
        str(repo.root),
        ProviderRouter([loop.sandbox]),
        LoopOptions(interval_s=LONG_POLL_S),
        also=notifier,
        on_pass=notifier.on_pass(),
    )
    notifier.watch(reconciler.statuses, secrets=reconciler.secret_values)
    loop.wait("Healthy", lambda: loop.status() and loop.status().health is HealthCode.HEALTHY)
    server.wait_for(2)

    with SandboxProvider(tmp_path / "state", rollout_seconds=0.05) as kubectl:
        kubectl.scale(UI, 9)  # out of band
    loop.wait("the heal", lambda: loop.of(EventKind.HEAL))
    server.wait_for(3)

    assert API_KEY in reconciler.secret_values("guestbook")
    notifier(Event(EventKind.SYNC_FINISHED, "guestbook", f"Failed: bad key {API_KEY}", head))
    sender.close()
    bodies = [r.json() for r in server.received]
    told = [(b["trigger"], b["revision"]) for b in bodies]
    assert told[:3] == [
        ("on-sync-succeeded", head),
        ("on-deployed", head),
        ("on-drift-detected", head),
    ]
    assert "Deployment/guestbook/guestbook-ui" in bodies[2]["message"]
    assert bodies[-1]["message"] == "Failed: bad key ***"
    assert all(API_KEY.encode() not in r.body for r in server.received)
