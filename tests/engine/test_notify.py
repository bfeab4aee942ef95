"""Notifications on real parts: Flux Provider/Alert/Secret files in a directory
read as-is, the Notifier fed the events the sync emits, and a real HTTP server
on 127.0.0.1 receiving the POSTs from the background sender."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from gitwave.engine.errors import GitwaveError
from gitwave.engine.events import Event, EventKind
from gitwave.engine.model import HealthCode, ResourceKey, SyncStatus
from gitwave.engine.notify import Notifier
from gitwave.engine.notify_load import load_notifications
from gitwave.engine.notify_manifests import encode_secret_value
from gitwave.engine.notify_send import Sender
from gitwave.engine.reconciler.state import AppStatus
from gitwave.tui.cli.loop_notify import start_notifications

REV = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
TOKEN = "hmac-key-do-not-show"
DB_PASSWORD = "hunter2-db-password"


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Server:
    """A webhook receiver: answers each POST with the next scripted status
    (200 once the script is used up) and keeps what it received."""

    url: str
    statuses: list[int]
    received: list[Received] = field(default_factory=list)
    answered: list[int] = field(default_factory=list)
    got: threading.Condition = field(default_factory=threading.Condition)

    def wait_for(self, count: int, timeout_s: float = 10.0) -> list[Received]:
        with self.got:
            self.got.wait_for(lambda: len(self.received) >= count, timeout_s)
        return list(self.received)


@pytest.fixture
def server() -> Iterator[Server]:
    state: list[Server] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            this = state[0]
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            # Recorded before the answer goes out: the sender's next try (a
            # thread of its own here) may otherwise be recorded first.
            with this.got:
                status = this.statuses.pop(0) if this.statuses else 200
                this.answered.append(status)
                if status == 200:
                    this.received.append(Received(self.path, dict(self.headers), body))
                this.got.notify_all()
            self.send_response(status)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.append(Server(f"http://127.0.0.1:{http.server_address[1]}", []))
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    yield state[0]
    http.shutdown()
    http.server_close()


def write_config(
    root: Path, url: str, *, kind: str = "generic", alert: dict[str, Any] | None = None
) -> None:
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "webhook", "namespace": "flux-system"},
        "data": {
            "address": encode_secret_value(url + "/hook"),
            "token": encode_secret_value(TOKEN),
        },
    }
    provider = {
        "apiVersion": "notification.toolkit.fluxcd.io/v1beta3",
        "kind": "Provider",
        "metadata": {"name": "ops", "namespace": "flux-system"},
        "spec": {"type": kind, "channel": "#deploys", "secretRef": {"name": "webhook"}},
    }
    spec = {
        "providerRef": {"name": "ops"},
        "eventSeverity": "info",
        "eventSources": [{"kind": "Kustomization", "name": "*"}],
        "summary": "shop in production",
    }
    spec.update(alert or {})
    alert_doc = {
        "apiVersion": "notification.toolkit.fluxcd.io/v1beta3",
        "kind": "Alert",
        "metadata": {"name": "all", "namespace": "flux-system"},
        "spec": spec,
    }
    app_secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "db", "namespace": "shop"},
        "stringData": {"password": DB_PASSWORD},
    }
    (root / "notifications").mkdir(parents=True, exist_ok=True)
    (root / "notifications" / "flux.yaml").write_text(
        yaml.safe_dump_all([secret, provider, alert_doc], sort_keys=False)
    )
    (root / "app").mkdir(exist_ok=True)
    (root / "app" / "db-secret.yaml").write_text(yaml.safe_dump(app_secret))


def notifier_for(
    root: Path, *, delays: list[float] | None = None, statuses: Any = None
) -> tuple[Notifier, Sender]:
    config = load_notifications(root)
    sender = Sender(backoff_s=0.5, sleep=(delays.append if delays is not None else lambda s: None))
    return Notifier(config, submit=sender.submit, statuses=statuses), sender


def sync_finished(app: str, message: str, revision: str = REV) -> Event:
    return Event(EventKind.SYNC_FINISHED, app, message, revision=revision, time=1_700_000_000.0)


def test_a_sync_failure_posts_one_on_sync_failed_payload(tmp_path: Path, server: Server) -> None:
    write_config(tmp_path, server.url)
    notifier, sender = notifier_for(tmp_path)
    notifier(Event(EventKind.SYNC_STARTED, "shop", revision=REV))
    notifier(sync_finished("shop", "Failed: Deployment/shop/web: image pull refused"))
    assert sender.flush(10)
    sender.close()
    [post] = server.wait_for(1)
    assert server.received == [post]
    assert post.path == "/hook"  # the Secret's address won over no spec.address
    body = post.json()
    assert body["trigger"] == "on-sync-failed"
    assert body["app"] == "shop"
    assert body["revision"] == REV
    assert body["message"] == "Failed: Deployment/shop/web: image pull refused"
    assert body["severity"] == "error"
    assert body["reason"] == "SyncFailed"
    assert body["involvedObject"]["name"] == "shop"
    assert body["metadata"] == {"revision": REV, "summary": "shop in production"}
    assert body["timestamp"] == "2023-11-14T22:13:20Z"


def test_exclusion_list_filters_and_error_severity_drops_successes(
    tmp_path: Path, server: Server
) -> None:
    write_config(
        tmp_path,
        server.url,
        alert={"eventSeverity": "error", "exclusionList": [r"image pull"]},
    )
    notifier, sender = notifier_for(tmp_path)
    notifier(sync_finished("shop", "Failed: Deployment/shop/web: image pull refused"))
    notifier(sync_finished("shop", "Succeeded: 3 applied"))
    notifier(sync_finished("shop", "Error: target unreachable"))
    sender.close()
    [post] = server.wait_for(1)
    assert post.json()["message"] == "Error: target unreachable"
    assert sender.stats().sent == 1


def test_inclusion_list_and_event_sources_pick_apps(tmp_path: Path, server: Server) -> None:
    write_config(
        tmp_path,
        server.url,
        alert={
            "eventSources": [{"kind": "Application", "name": "shop-*"}],
            "inclusionList": ["^on-sync-failed"],
        },
    )
    notifier, sender = notifier_for(tmp_path)
    notifier(sync_finished("billing", "Failed: nope"))
    notifier(sync_finished("shop-eu", "Succeeded: ok"))
    notifier(sync_finished("shop-eu", "Failed: quota"))
    sender.close()
    assert [r.json()["app"] for r in server.received] == ["shop-eu"]
    assert server.received[0].json()["message"] == "Failed: quota"


def test_a_500_is_retried_with_backoff_then_delivered(tmp_path: Path, server: Server) -> None:
    write_config(tmp_path, server.url)
    server.statuses = [500, 503]
    delays: list[float] = []
    notifier, sender = notifier_for(tmp_path, delays=delays)
    notifier(sync_finished("shop", "Failed: boom"))
    sender.close()
    assert server.answered == [500, 503, 200]
    assert [r.json()["message"] for r in server.received] == ["Failed: boom"]
    assert delays == [0.5, 1.0]  # exponential: the second wait twice the first
    stats = sender.stats()
    assert (stats.sent, stats.retried, stats.failed) == (1, 2, 0)


def test_a_4xx_is_not_retried_and_the_sender_goes_on(tmp_path: Path, server: Server) -> None:
    write_config(tmp_path, server.url)
    server.statuses = [400]
    notifier, sender = notifier_for(tmp_path)
    notifier(sync_finished("shop", "Failed: first"))
    notifier(sync_finished("shop", "Failed: second"))
    sender.close()
    assert server.answered == [400, 200]
    assert [r.json()["message"] for r in server.received] == ["Failed: second"]
    assert sender.stats().failed == 1


def test_a_secret_value_in_an_error_is_masked(tmp_path: Path, server: Server) -> None:
    write_config(tmp_path, server.url)
    notifier, sender = notifier_for(tmp_path)
    notifier(
        sync_finished("shop", f"Failed: env DB_PASSWORD={DB_PASSWORD} rejected; token {TOKEN}")
    )
    sender.close()
    [post] = server.wait_for(1)
    assert DB_PASSWORD.encode() not in post.body
    assert TOKEN.encode() not in post.body
    assert post.json()["message"] == "Failed: env DB_PASSWORD=*** rejected; token ***"


def test_generic_hmac_signs_the_body_with_the_token(tmp_path: Path, server: Server) -> None:
    write_config(tmp_path, server.url, kind="generic-hmac")
    notifier, sender = notifier_for(tmp_path)
    notifier(sync_finished("shop", "Failed: boom"))
    sender.close()
    [post] = server.wait_for(1)
    expected = hmac.new(TOKEN.encode(), post.body, hashlib.sha256).hexdigest()
    assert post.headers["X-Signature"] == f"sha256={expected}"
    forged = hmac.new(b"other", post.body, hashlib.sha256).hexdigest()
    assert post.headers["X-Signature"] != f"sha256={forged}"


def test_slack_gets_an_incoming_webhook_message(tmp_path: Path, server: Server) -> None:
    write_config(tmp_path, server.url, kind="slack")
    notifier, sender = notifier_for(tmp_path)
    notifier(sync_finished("shop", "Failed: boom"))
    sender.close()
    [post] = server.wait_for(1)
    body = post.json()
    assert body["channel"] == "#deploys"
    assert body["text"] == "shop: on-sync-failed — Failed: boom"
    [attachment] = body["attachments"]
    assert attachment["color"] == "danger"
    assert {"title": "revision", "value": REV, "short": False} in attachment["fields"]


def test_drift_deployed_degraded_and_out_of_sync_for_longer_than_n(
    tmp_path: Path, server: Server
) -> None:
    write_config(tmp_path, server.url)
    alert_file = tmp_path / "notifications" / "flux.yaml"
    docs = list(yaml.safe_load_all(alert_file.read_text()))
    docs[2]["metadata"]["annotations"] = {"notifications.gitwave.io/out-of-sync-after": "10m"}
    alert_file.write_text(yaml.safe_dump_all(docs, sort_keys=False))
    now: list[AppStatus] = []
    notifier, sender = notifier_for(tmp_path, statuses=lambda: list(now))

    def state(sync: SyncStatus, health: HealthCode, message: str = "") -> None:
        now[:] = [AppStatus("shop", REV, sync, health, True, True, message=message)]

    web = ResourceKey("apps", "Deployment", "shop", "web")
    notifier(Event(EventKind.DRIFT_DETECTED, "shop", "spec.replicas", REV, resource=web))
    notifier(Event(EventKind.DRIFT_DETECTED, "shop", "spec.replicas", REV, resource=web))
    notifier(sync_finished("shop", "Succeeded: 1 applied"))
    state(SyncStatus.SYNCED, HealthCode.PROGRESSING)
    notifier.tick(1000.0)  # not healthy yet: not deployed
    state(SyncStatus.SYNCED, HealthCode.HEALTHY)
    notifier.tick(1001.0)
    notifier.tick(1002.0)  # once per revision
    state(SyncStatus.SYNCED, HealthCode.DEGRADED, "web: CrashLoopBackOff")
    notifier.tick(1003.0)
    notifier.tick(1004.0)  # once per spell
    state(SyncStatus.OUT_OF_SYNC, HealthCode.DEGRADED)
    notifier.tick(2000.0)
    notifier.tick(2000.0 + 599)  # not 10 minutes yet
    notifier.tick(2000.0 + 600)
    notifier.tick(2000.0 + 900)  # once per spell
    sender.close()
    triggers = [(r.json()["trigger"], r.json()["message"]) for r in server.received]
    assert triggers == [
        ("on-drift-detected", "Deployment/shop/web: spec.replicas"),
        ("on-sync-succeeded", "1 applied"),
        ("on-deployed", "deployed 4b825dc, synced and healthy"),
        ("on-health-degraded", "health is Degraded: web: CrashLoopBackOff"),
        ("on-out-of-sync", "OutOfSync for 600s"),
    ]


def test_a_full_queue_drops_instead_of_blocking(tmp_path: Path, server: Server) -> None:
    write_config(tmp_path, server.url)
    config = load_notifications(tmp_path)
    gate = threading.Event()

    def slow_post(item: object) -> None:
        gate.wait(10)

    sender = Sender(post=slow_post, maxsize=2)  # type: ignore[arg-type]
    notifier = Notifier(config, submit=sender.submit)
    for i in range(6):
        notifier(sync_finished("shop", f"Failed: {i}"))  # returns at once
    gate.set()
    sender.close()
    stats = sender.stats()
    assert stats.dropped >= 3
    assert stats.sent + stats.dropped == 6


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"providerRef": {"name": "missing"}}, "providerRef 'missing' is not a Provider"),
        ({"eventSeverity": "warning"}, "eventSeverity 'warning' is not info or error"),
        ({"exclusionList": ["("]}, "exclusionList[0] is not a regex"),
    ],
)
def test_a_bad_alert_names_file_line_and_object(
    tmp_path: Path, change: dict[str, Any], error: str
) -> None:
    write_config(tmp_path, "http://127.0.0.1:9", alert=change)
    with pytest.raises(GitwaveError) as caught:
        load_notifications(tmp_path)
    text = str(caught.value)
    assert "notifications/flux.yaml:" in text
    assert "Alert/flux-system/all" in text
    assert error in text
    assert TOKEN not in text


def test_a_missing_secret_is_named_and_no_value_is_shown(tmp_path: Path) -> None:
    write_config(tmp_path, "http://127.0.0.1:9")
    path = tmp_path / "notifications" / "flux.yaml"
    docs = list(yaml.safe_load_all(path.read_text()))
    docs[1]["spec"]["secretRef"]["name"] = "nope"
    path.write_text(yaml.safe_dump_all(docs, sort_keys=False))
    with pytest.raises(GitwaveError, match=r"secretRef 'nope' is not a Secret"):
        load_notifications(tmp_path)


def test_provider_repr_hides_the_address_and_token(tmp_path: Path) -> None:
    write_config(tmp_path, "http://127.0.0.1:9")
    config = load_notifications(tmp_path)
    shown = repr(config)
    assert TOKEN not in shown and "127.0.0.1:9" not in shown and DB_PASSWORD not in shown


def test_gitwave_run_posts_the_sync_and_deploy_of_its_first_commit(
    tmp_path: Path, server: Server
) -> None:
    """The whole wiring: `gitwave run` on a Git repo holding an Application and
    Flux's Provider/Alert, a sandbox target, our receiver getting the posts."""
    from tests.tui.test_run_http import Repo

    repo = Repo(tmp_path / "repo", {"automated": {}})
    write_config(repo.root, server.url, alert={"eventSources": [{"kind": "*", "name": "*"}]})
    repo.repo.index.add(["notifications/flux.yaml", "app/db-secret.yaml"])
    head = repo.repo.index.commit("alerts", author=repo.author, committer=repo.author).hexsha
    env = {
        **os.environ,
        "GITWAVE_STATE": str(tmp_path / "state"),
        "GITWAVE_CACHE": str(tmp_path / "cache"),
        "GITWAVE_SANDBOX_ROLLOUT": "0.05",
        "PYTHONUNBUFFERED": "1",
        "NO_COLOR": "1",
    }
    argv = [sys.executable, "-m", "gitwave.tui.cli", "run", "repo", "--interval", "10m"]
    proc = subprocess.Popen(
        argv, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        got = server.wait_for(2, timeout_s=60)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
    out = (proc.stdout.read() if proc.stdout else "") + (proc.stderr.read() if proc.stderr else "")
    bodies = [r.json() for r in got]
    assert [(b["trigger"], b["app"], b["revision"]) for b in bodies[:2]] == [
        ("on-sync-succeeded", "guestbook", head),
        ("on-deployed", "guestbook", head),
    ], out
    assert "notifications: Alert/flux-system/all → Provider/ops (generic)" in out
    assert TOKEN not in out and server.url not in out


def test_gitwave_run_refuses_a_bad_alert_before_anything_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from gitwave.tui.cli import main
    from tests.tui.test_run_http import Repo

    repo = Repo(tmp_path / "repo", {"automated": {}})
    write_config(repo.root, "http://127.0.0.1:9", alert={"eventSeverity": "warning"})
    monkeypatch.setenv("GITWAVE_STATE", str(tmp_path / "state"))
    monkeypatch.setenv("GITWAVE_CACHE", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    assert main(["run", "repo", "--interval", "10m"]) == 2
    out, err = capsys.readouterr()
    assert "notifications/flux.yaml:" in err and "Alert/flux-system/all" in err
    assert "eventSeverity 'warning' is not info or error" in err
    assert TOKEN not in err + out
    assert "guestbook" not in out + err  # no app was loaded, let alone synced


def test_argo_cd_notifications_configmap_posts_its_template(tmp_path: Path, server: Server) -> None:
    cm = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "argocd-notifications-cm", "namespace": "argocd"},
        "data": {
            "service.webhook.ops": yaml.safe_dump(
                {
                    "url": server.url,
                    "headers": [{"name": "Authorization", "value": "Bearer $ops-token"}],
                }
            ),
            "template.app-sync-failed": yaml.safe_dump(
                {
                    "webhook": {
                        "ops": {
                            "method": "POST",
                            "path": "/argo",
                            "body": '{"name": "{{.app.metadata.name}}", '
                            '"rev": "{{ .app.status.sync.revision }}", '
                            '"msg": "{{.app.status.operationState.message}}"}',
                        }
                    }
                }
            ),
            "trigger.on-sync-failed": yaml.safe_dump(
                [
                    {
                        "when": "app.status.operationState.phase in ['Error', 'Failed']",
                        "send": ["app-sync-failed"],
                    }
                ]
            ),
            "subscriptions": yaml.safe_dump(
                [{"recipients": ["ops"], "triggers": ["on-sync-failed"]}]
            ),
        },
    }
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "argocd-notifications-secret", "namespace": "argocd"},
        "stringData": {"ops-token": TOKEN},
    }
    (tmp_path / "argocd.yaml").write_text(yaml.safe_dump_all([cm, secret]))
    said: list[str] = []
    started = start_notifications(str(tmp_path), say=lambda m, **_: said.append(m))
    assert started is not None  # gitwave run notifies with the ConfigMap alone
    started[1].close()
    assert said == ["notifications: on-sync-failed → app-sync-failed → webhook ops"]
    notifier, sender = notifier_for(tmp_path)
    notifier(sync_finished("shop", "Succeeded: fine"))
    notifier(sync_finished("shop", f'Failed: "quoted" {TOKEN}'))
    sender.close()
    [post] = server.wait_for(1)
    assert server.received == [post]
    assert post.path == "/argo"
    assert post.headers["Authorization"] == f"Bearer {TOKEN}"
    assert post.json() == {"name": "shop", "rev": REV, "msg": 'Failed: "quoted" ***'}


def test_argo_cd_a_missing_secret_key_is_named_without_values(tmp_path: Path) -> None:
    cm = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "argocd-notifications-cm", "namespace": "argocd"},
        "data": {
            "service.webhook.ops": "url: https://hooks.example.com/$hook-path\n",
            "subscriptions": "- {recipients: [ops], triggers: [on-sync-failed]}\n",
        },
    }
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "argocd-notifications-secret", "namespace": "argocd"},
        "stringData": {"other": TOKEN},
    }
    (tmp_path / "argocd.yaml").write_text(yaml.safe_dump_all([cm, secret]))
    with pytest.raises(GitwaveError) as caught:
        load_notifications(tmp_path)
    text = str(caught.value)
    assert text.startswith("argocd.yaml:1: ConfigMap/argocd/argocd-notifications-cm: $hook-path")
    assert "argocd-notifications-secret" in text and TOKEN not in text
