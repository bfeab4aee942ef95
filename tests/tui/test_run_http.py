"""`gitwave run`'s HTTP side on real parts: the Reconciler in a thread on a Git
repository in tmp_path and a real sandbox, its metrics served by the real
server on a free port and scraped over HTTP (read with prometheus_client's
own parser), and Git webhooks POSTed to it as GitHub, GitLab and Gitea sign
them. The loop polls every 10 minutes, so only a webhook can bring a new
commit in within the test's (generous) timeout."""

from __future__ import annotations

import datetime
import hashlib
import hmac
import json
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import git
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from gitwave.engine.events import Event, EventKind
from gitwave.engine.model import HealthCode, ResourceKey, SyncStatus
from gitwave.engine.reconciler import LoopOptions, Reconciler
from gitwave.engine.reconciler.metrics import LoopMetrics
from gitwave.engine.router import ProviderRouter
from gitwave.engine.store import Store
from gitwave.engine.webhook import WebhookConfig
from gitwave.providers.sandbox import SandboxProvider
from gitwave.tui.cli import main
from gitwave.tui.cli.loop_http import Address, LoopServer, WebhookEndpoint
from gitwave.tui.cli.verbs_loop import WEBHOOK_SECRET_ENV, JsonLog
from tests.loop_harness import ReconcilerThread

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "samples"
UI = ResourceKey("apps", "Deployment", "guestbook", "guestbook-ui")
SECRET = b"s3cr3t-webhook-value"
ORIGIN = "https://github.com/acme/guestbook.git"
LONG_POLL_S = 600.0  # only a webhook (or the change feed) can make the loop act in time


@pytest.fixture(autouse=True)
def _cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITWAVE_CACHE", str(tmp_path / "cache"))


class Repo:
    """A Git work tree with an Application reading it (repoURL "."), cloned
    from ``ORIGIN`` as far as gitwave can tell (its origin remote)."""

    def __init__(self, root: Path, policy: dict[str, Any]) -> None:
        self.root = root
        shutil.copytree(SAMPLES / "guestbook", root / "manifests")
        for readme in (root / "manifests").glob("*.md"):
            readme.unlink()
        app = {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "Application",
            "metadata": {"name": "guestbook"},
            "spec": {
                "source": {"repoURL": ".", "path": "manifests"},
                "destination": {"namespace": "guestbook"},
                "syncPolicy": policy,
            },
        }
        (root / "app.yaml").write_text(yaml.safe_dump(app, sort_keys=False))
        self.repo = git.Repo.init(root)
        self.repo.create_remote("origin", ORIGIN)
        self.author = git.Actor("Test", "test@example.com")
        names = [p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()]
        self.repo.index.add([n for n in names if not n.startswith(".git/")])
        self.repo.index.commit("init", author=self.author, committer=self.author)

    @property
    def branch(self) -> str:
        return self.repo.active_branch.name

    def replicas(self, count: int) -> str:
        path = self.root / "manifests" / "deployment.yaml"
        text = path.read_text()
        before = next(line for line in text.splitlines() if "replicas:" in line)
        path.write_text(text.replace(before, f"  replicas: {count}"))
        self.repo.index.add(["manifests/deployment.yaml"])
        commit = self.repo.index.commit(f"{count}", author=self.author, committer=self.author)
        return commit.hexsha


@dataclass
class Loop(ReconcilerThread):
    store: Store
    sandbox: SandboxProvider
    events: list[Event] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None
    reconciler: Reconciler | None = None
    errors: list[BaseException] = field(default_factory=list)
    servers: list[LoopServer] = field(default_factory=list)
    metrics: LoopMetrics = field(default_factory=LoopMetrics)

    def lines(self) -> list[str]:
        return [f"{e.kind.value} {e.app}: {e.message}" for e in self.events]

    def start(self, root: Path, *, webhooks: WebhookConfig | None = None) -> LoopServer:
        """The loop on ``root`` with its metrics (and webhooks) served on a free port."""
        router = ProviderRouter([self.sandbox])
        self.metrics.time([router])
        reconciler = self.launch(
            str(root),
            router,
            LoopOptions(interval_s=LONG_POLL_S),
            also=self.metrics,
            on_pass=self.metrics.on_pass,
        )
        self.metrics.watch(reconciler.statuses, reconciler.queue_depth)
        endpoint = None
        if webhooks is not None:
            endpoint = WebhookEndpoint(
                config=webhooks, trigger=reconciler.refresh, metrics=self.metrics
            )
        server = LoopServer(Address("127.0.0.1", 0), metrics=self.metrics, webhooks=endpoint)
        self.servers.append(server)
        return server

    def status(self) -> Any:
        assert self.reconciler is not None
        return next((s for s in self.reconciler.statuses() if s.app == "guestbook"), None)

    def synced(self, sha: str) -> bool:
        return any(
            r.revision == sha and r.result == "Succeeded" for r in self.store.history("guestbook")
        )

    def close(self) -> None:
        for server in self.servers:
            server.close()
        self.stop.set()
        if self.thread is not None:
            self.thread.join(10)
            assert not self.thread.is_alive(), "the loop did not stop"


@pytest.fixture
def loop(tmp_path: Path) -> Iterator[Loop]:
    store = Store(tmp_path / "state" / "gitwave.db")
    with SandboxProvider(tmp_path / "state", rollout_seconds=0.05) as sandbox:
        running = Loop(store, sandbox)
        yield running
        running.close()
    store.close()


Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(server: LoopServer) -> Samples:
    """Every sample of a scrape over HTTP: (name, labels) → value."""
    with urllib.request.urlopen(f"{server.url}/metrics", timeout=10) as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain")
        text = response.read().decode()
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def total(samples: Samples, name: str, **labels: str) -> float:
    """The sum of ``name`` over every series carrying ``labels``."""
    wanted = set(labels.items())
    return sum(v for (n, got), v in samples.items() if n == name and wanted <= got)


# --- metrics ------------------------------------------------------------------------------


def test_metrics_after_a_sync_a_drift_and_a_heal(loop: Loop, tmp_path: Path) -> None:
    Repo(tmp_path / "repo", {"automated": {"selfHeal": True}})
    server = loop.start(tmp_path / "repo")
    loop.wait("the first sync", lambda: loop.store.history("guestbook"))
    loop.wait("Healthy", lambda: loop.status() and loop.status().health is HealthCode.HEALTHY)

    synced = scrape(server)
    assert value(synced, "gitwave_syncs_total", app="guestbook", result="Succeeded") == 1
    assert (
        value(synced, "gitwave_sync_duration_seconds_count", app="guestbook", result="Succeeded")
        == 1
    )
    assert (
        value(synced, "gitwave_sync_duration_seconds_sum", app="guestbook", result="Succeeded") > 0
    )
    assert value(synced, "gitwave_app_sync_status", app="guestbook", sync_status="Synced") == 1
    assert value(synced, "gitwave_app_sync_status", app="guestbook", sync_status="OutOfSync") == 0
    assert value(synced, "gitwave_app_health_status", app="guestbook", health_status="Healthy") == 1
    assert total(synced, "gitwave_app_health_status", app="guestbook") == 1  # one state at a time
    assert value(synced, "gitwave_reconcile_loop_duration_seconds_count") >= 1
    # The 4 objects of the guestbook were applied through the sandbox, each call timed.
    applies = total(
        synced,
        "gitwave_target_request_duration_seconds_count",
        cluster="in-cluster",
        target="sandbox",
        operation="apply",
    )
    assert applies >= 4
    assert total(synced, "gitwave_target_request_duration_seconds_count", operation="changes") > 0
    assert value(synced, "gitwave_drift_detected_total", app="guestbook") == 0
    assert ("gitwave_queue_depth", frozenset()) in synced

    with SandboxProvider(tmp_path / "state", rollout_seconds=0.05) as kubectl:
        kubectl.scale(UI, 9)  # out of band, as another process
    loop.wait("the heal", lambda: loop.of(EventKind.HEAL))
    loop.wait("Synced again", lambda: loop.status().sync is SyncStatus.SYNCED)

    healed = scrape(server)
    assert value(healed, "gitwave_drift_detected_total", app="guestbook") == 1
    assert value(healed, "gitwave_heals_total", app="guestbook", result="healed") == 1
    assert value(healed, "gitwave_heals_total", app="guestbook", result="failed") == 0
    # A heal is a sync too.
    assert value(healed, "gitwave_syncs_total", app="guestbook", result="Succeeded") == 2
    assert value(healed, "gitwave_app_sync_status", app="guestbook", sync_status="Synced") == 1
    # No label carries a revision or a message: only names and closed sets.
    labels = {label_value for (_, got) in healed for _, label_value in got}
    assert not any(len(v) == 40 and all(c in "0123456789abcdef" for c in v) for v in labels)


def test_queue_depth_counts_the_apps_waiting_for_a_pass(loop: Loop, tmp_path: Path) -> None:
    Repo(tmp_path / "repo", {"automated": {}})
    reconciler = Reconciler(
        str(tmp_path / "repo"),
        targets=ProviderRouter([loop.sandbox]),
        store=loop.store,
        sink=loop.metrics,
        options=LoopOptions(interval_s=LONG_POLL_S),
        on_pass=loop.metrics.on_pass,
    )
    loop.metrics.watch(reconciler.statuses, reconciler.queue_depth)
    server = LoopServer(Address("127.0.0.1", 0), metrics=loop.metrics)
    loop.servers.append(server)
    reconciler.start()

    before = scrape(server)
    reconciler.step()  # this test's thread runs the pass: nothing else moves
    after = scrape(server)

    assert value(before, "gitwave_queue_depth") == 1
    assert value(before, "gitwave_reconcile_loop_duration_seconds_count") == 0
    assert value(after, "gitwave_queue_depth") == 0
    assert value(after, "gitwave_reconcile_loop_duration_seconds_count") == 1
    assert value(after, "gitwave_syncs_total", app="guestbook", result="Succeeded") == 1


# --- webhooks -----------------------------------------------------------------------------


def github(body: bytes, secret: bytes) -> dict[str, str]:
    signature = hmac.new(secret, body, hashlib.sha256).hexdigest()
    return {"X-GitHub-Event": "push", "X-Hub-Signature-256": f"sha256={signature}"}


def gitea(body: bytes, secret: bytes) -> dict[str, str]:
    signature = hmac.new(secret, body, hashlib.sha256).hexdigest()
    # Gitea sends GitHub's event header too; its own signature header is the one read.
    return {"X-Gitea-Event": "push", "X-GitHub-Event": "push", "X-Gitea-Signature": signature}


def gitlab(body: bytes, secret: bytes) -> dict[str, str]:
    return {"X-Gitlab-Event": "Push Hook", "X-Gitlab-Token": secret.decode()}


def github_payload(branch: str, sha: str, name: str = "acme/guestbook") -> dict[str, Any]:
    return {
        "ref": f"refs/heads/{branch}",
        "after": sha,
        "repository": {
            "clone_url": f"https://github.com/{name}.git",
            "ssh_url": f"git@github.com:{name}.git",
            "html_url": f"https://github.com/{name}",
            "default_branch": branch,
        },
    }


def gitlab_payload(branch: str, sha: str, name: str = "acme/guestbook") -> dict[str, Any]:
    return {
        "object_kind": "push",
        "ref": f"refs/heads/{branch}",
        "checkout_sha": sha,
        "project": {
            "git_http_url": f"https://github.com/{name}.git",
            "git_ssh_url": f"git@github.com:{name}.git",
            "default_branch": branch,
        },
    }


@dataclass(frozen=True)
class ForgeCase:
    forge: str
    headers: Callable[[bytes, bytes], dict[str, str]]
    payload: Callable[..., dict[str, Any]]


FORGES = [
    ForgeCase("github", github, github_payload),
    ForgeCase("gitlab", gitlab, gitlab_payload),
    ForgeCase("gitea", gitea, github_payload),  # Gitea's push payload has GitHub's shape
]


def post(
    server: LoopServer, body: bytes, headers: dict[str, str], *, path: str = "/api/webhook"
) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(
        f"{server.url}{path}",
        data=body,
        method="POST",
        headers={"Content-Type": "application/json", **headers},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def webhook_lines(loop: Loop) -> list[str]:
    return [e.message for e in loop.of(EventKind.CYCLE) if e.message.startswith("webhook:")]


@pytest.mark.parametrize("case", FORGES, ids=lambda c: c.forge)
def test_a_signed_push_syncs_the_new_commit_at_once(
    loop: Loop, tmp_path: Path, case: ForgeCase
) -> None:
    repo = Repo(tmp_path / "repo", {"automated": {}})
    server = loop.start(tmp_path / "repo", webhooks=WebhookConfig(secret=SECRET))
    loop.wait("the first sync", lambda: loop.store.history("guestbook"))
    sha = repo.replicas(5)

    body = json.dumps(case.payload(repo.branch, sha)).encode()
    status, answer = post(server, body, case.headers(body, SECRET))

    assert (status, answer) == (202, {"triggered": ["guestbook"]})
    # Polled every 10 minutes: only the webhook brings the commit in within the timeout.
    loop.wait("the pushed commit synced", lambda: loop.synced(sha), timeout=20)
    assert int(loop.sandbox.observe(UI).manifest["spec"]["replicas"]) == 5
    assert webhook_lines(loop) == [
        f"webhook: {case.forge} push to github.com/acme/guestbook {repo.branch} ({sha[:7]})"
        " → polling now"
    ]
    assert (
        value(
            scrape(server), "gitwave_webhook_requests_total", forge=case.forge, result="triggered"
        )
        == 1
    )


@dataclass(frozen=True)
class RefusedCase:
    reason: str
    headers: Callable[[bytes], dict[str, str]]
    status: int


REFUSED = [
    RefusedCase("GitHub signature made with another secret", lambda b: github(b, b"other"), 401),
    RefusedCase("Gitea signature made with another secret", lambda b: gitea(b, b"other"), 401),
    RefusedCase("GitLab token that is not the secret", lambda b: gitlab(b, b"other"), 401),
    RefusedCase("an unsigned GitHub push", lambda b: {"X-GitHub-Event": "push"}, 401),
    RefusedCase("no forge's headers at all", lambda b: {}, 400),
]


@pytest.mark.parametrize("case", REFUSED, ids=lambda c: c.reason)
def test_a_push_not_signed_with_the_secret_changes_nothing(
    loop: Loop, tmp_path: Path, case: RefusedCase
) -> None:
    repo = Repo(tmp_path / "repo", {"automated": {}})
    server = loop.start(tmp_path / "repo", webhooks=WebhookConfig(secret=SECRET))
    loop.wait("the first sync", lambda: loop.store.history("guestbook"))
    sha = repo.replicas(5)

    body = json.dumps(github_payload(repo.branch, sha)).encode()
    status, answer = post(server, body, case.headers(body))

    # A trigger is made before the answer is sent: none was.
    assert status == case.status
    assert "error" in answer and SECRET.decode() not in json.dumps(answer)
    assert webhook_lines(loop) == []
    assert not loop.synced(sha)
    assert int(loop.sandbox.observe(UI).manifest["spec"]["replicas"]) == 3


def test_a_push_to_another_repository_or_branch_triggers_nothing(
    loop: Loop, tmp_path: Path
) -> None:
    repo = Repo(tmp_path / "repo", {"automated": {}})
    server = loop.start(tmp_path / "repo", webhooks=WebhookConfig(secret=SECRET))
    loop.wait("the first sync", lambda: loop.store.history("guestbook"))

    answers = []
    for payload in (
        github_payload(repo.branch, "a" * 40, name="acme/other"),
        {**github_payload(repo.branch, "a" * 40), "ref": "refs/heads/feature"},
    ):
        body = json.dumps(payload).encode()
        answers.append(post(server, body, github(body, SECRET)))
    ping = json.dumps({"zen": "Keep it logically awesome."}).encode()
    ping_headers = {**github(ping, SECRET), "X-GitHub-Event": "ping"}
    answers.append(post(server, ping, ping_headers))

    assert [status for status, _ in answers] == [200, 200, 200]
    assert all(answer["triggered"] == [] for _, answer in answers)
    assert webhook_lines(loop) == []


def test_a_payload_over_the_limit_is_refused_unread(loop: Loop, tmp_path: Path) -> None:
    Repo(tmp_path / "repo", {"automated": {}})
    server = loop.start(tmp_path / "repo", webhooks=WebhookConfig(secret=SECRET, max_bytes=1024))
    body = b"{" + b" " * 4096 + b"}"

    status, answer = post(server, body, github(body, SECRET))

    assert status == 413
    assert answer == {"error": "payload over 1024 bytes"}
    assert webhook_lines(loop) == []


# --- the command line ------------------------------------------------------------------------


@pytest.mark.slow  # `gitwave run` in a subprocess
def test_gitwave_run_serves_metrics_takes_webhooks_and_logs_json(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "repo", {"automated": {}})
    secret_file = tmp_path / "webhook-secret"
    secret_file.write_bytes(SECRET + b"\n")  # as `echo` writes it
    env = {
        **os.environ,
        "GITWAVE_STATE": str(tmp_path / "state"),
        "GITWAVE_CACHE": str(tmp_path / "cache"),
        "GITWAVE_SANDBOX_ROLLOUT": "0.05",
        "PYTHONUNBUFFERED": "1",
        "NO_COLOR": "1",
    }
    argv = [
        sys.executable,
        "-m",
        "gitwave.tui.cli",
        "run",
        "repo",
        "--interval",
        "10m",
        "--metrics-addr",
        "127.0.0.1:0",
        "--webhook-addr",
        "127.0.0.1:0",
        "--webhook-secret-file",
        str(secret_file),
        "--log-format",
        "json",
    ]
    proc = subprocess.Popen(
        argv, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    lines: queue.Queue[str] = queue.Queue()
    seen: list[dict[str, Any]] = []

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line)

    threading.Thread(target=read, daemon=True).start()

    def wait_record(what: str, match: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                line = lines.get(timeout=0.1)
            except queue.Empty:
                assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
                continue
            record = json.loads(line)  # every line is one JSON object
            seen.append(record)
            if match(record):
                return record
        raise AssertionError(f"no log line {what}: {seen}")

    try:
        metrics_line = wait_record("naming /metrics", lambda r: "/metrics" in r["message"])
        hook_line = wait_record("naming the webhook", lambda r: "/api/webhook" in r["message"])
        metrics_url = metrics_line["message"].split(" ", 1)[1]
        hook_url = hook_line["message"].split(" ", 1)[1]
        wait_record("of the first sync", lambda r: "4 to create → Synced" in r["message"])
        sha = repo.replicas(5)
        body = json.dumps(github_payload(repo.branch, sha)).encode()
        request = urllib.request.Request(
            hook_url, data=body, method="POST", headers=github(body, SECRET)
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 202
        synced = wait_record(
            "of the pushed commit",
            lambda r: r["kind"] == "Cycle" and "Synced" in r["message"] and r["revision"] == sha,
        )
        with urllib.request.urlopen(metrics_url, timeout=10) as response:
            text = response.read().decode()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
    stderr = proc.stderr.read() if proc.stderr else ""

    assert synced["app"] == "guestbook"
    assert synced["message"].startswith(f"new commit {sha[:7]} → 1 to update → Synced in ")
    for record in seen:
        assert set(record) >= {"time", "level", "app", "revision", "kind", "message"}
        assert record["time"].endswith("Z")
        datetime.datetime.fromisoformat(record["time"].replace("Z", "+00:00"))
        assert record["level"] in ("info", "warning", "error")
    assert any(r["message"].startswith("webhook: github push to") for r in seen)
    samples = {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    assert value(samples, "gitwave_syncs_total", app="guestbook", result="Succeeded") == 2
    everything = json.dumps(seen) + text + stderr
    assert SECRET.decode() not in everything


def test_the_grafana_dashboard_reads_the_metrics_gitwave_serves() -> None:
    metrics = LoopMetrics()
    metrics.watch(list, int)  # no apps, nothing waiting: the families are there all the same
    served: set[str] = set()
    for family in metrics.registry.collect():
        suffixes = {
            "counter": ("_total",),
            "histogram": ("_bucket", "_sum", "_count"),
        }.get(family.type, ("",))
        served |= {family.name + suffix for suffix in suffixes}
    dashboard = json.loads((REPO / "docs" / "grafana-dashboard.json").read_text())
    exprs = [target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", ())]
    used = {name for expr in exprs for name in re.findall(r"gitwave_[a-z_]+", expr)}

    assert used <= served, used - served
    # Every family is on the dashboard (one of a histogram's series is enough).
    shown = {re.sub(r"_(total|bucket|sum|count)$", "", name) for name in used}
    assert {family.name for family in metrics.registry.collect()} <= shown


@dataclass(frozen=True)
class FlagCase:
    reason: str
    flags: tuple[str, ...]
    error: str


FLAG_CASES = [
    FlagCase(
        "a webhook address without a secret",
        ("--webhook-addr", "127.0.0.1:0"),
        "error: --webhook-addr: no webhook secret: every request would be refused",
    ),
    FlagCase(
        "a secret file that does not exist",
        ("--webhook-addr", "127.0.0.1:0", "--webhook-secret-file", "missing"),
        "error: --webhook-secret-file: cannot read missing: No such file or directory",
    ),
    FlagCase(
        "a metrics address without a port",
        ("--metrics-addr", "localhost"),
        "error: --metrics-addr: 'localhost' is not HOST:PORT",
    ),
    FlagCase(
        "an IPv6 address without brackets",
        ("--metrics-addr", "::1:9090"),
        "error: --metrics-addr: '::1:9090': put an IPv6 address in brackets, e.g. [::1]:9090",
    ),
]


@pytest.mark.parametrize("case", FLAG_CASES, ids=lambda c: c.reason)
def test_bad_flags_refuse_the_command_before_anything_runs(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    case: FlagCase,
) -> None:
    Repo(tmp_path / "repo", {"automated": {}})
    monkeypatch.setenv("GITWAVE_STATE", str(tmp_path / "state"))
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.delenv(WEBHOOK_SECRET_ENV, raising=False)
    monkeypatch.chdir(tmp_path)

    code = main(["run", "repo", *case.flags])

    _, err = capsys.readouterr()
    assert code == 2
    assert case.error in err, err
    store = Store(tmp_path / "state" / "gitwave.db")
    try:
        assert store.history("guestbook") == []  # nothing was synced
    finally:
        store.close()


@dataclass(frozen=True)
class LogCase:
    event: Event
    level: str


LOG_CASES = [
    LogCase(Event(EventKind.CYCLE, "web", "abc1234 → 1 to update → Synced in 0.1s"), "info"),
    LogCase(Event(EventKind.CYCLE, "web", "abc1234 → 1 to update → Failed in 0.1s"), "error"),
    LogCase(Event(EventKind.CYCLE, "web", "source: error: cannot fetch"), "error"),
    LogCase(Event(EventKind.DRIFT_DETECTED, "web", "spec.replicas: 3 → 9"), "warning"),
    LogCase(Event(EventKind.HEAL, "web", "healed: 1 to update"), "info"),
    LogCase(Event(EventKind.HEAL, "web", "heal failed: 1 to update: boom"), "error"),
    LogCase(Event(EventKind.SYNC_FINISHED, "web", "Succeeded: successfully synced"), "info"),
    LogCase(Event(EventKind.SYNC_FINISHED, "web", "Failed: one or more objects failed"), "error"),
    LogCase(Event(EventKind.RESOURCE_APPLIED, "web", "configured", resource=UI), "debug"),
    LogCase(Event(EventKind.ERROR, "web", "the API server refused it"), "error"),
]


@pytest.mark.parametrize("case", LOG_CASES, ids=lambda c: f"{c.event.kind.value}-{c.level}")
def test_json_log_lines(case: LogCase) -> None:
    written: list[str] = []
    JsonLog(written.append, level="debug")(case.event)
    JsonLog(written.append, level="info")(case.event)

    records = [json.loads(line) for line in written]
    # Below the level: left out.
    assert len(records) == (1 if case.level == "debug" else 2)
    record = records[0]
    assert record["level"] == case.level
    assert (record["app"], record["kind"], record["message"]) == (
        "web",
        case.event.kind.value,
        case.event.message,
    )
    stamp = datetime.datetime.fromisoformat(record["time"].replace("Z", "+00:00"))
    assert abs(stamp.timestamp() - case.event.time) < 0.001
    assert record.get("resource", "") == (
        case.event.resource.display if case.event.resource else ""
    )
