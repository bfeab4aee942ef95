"""Secrets stay secret on the gitwave host (issue 10 item 6): a tool's error
never quotes a secret input, the state is readable by its owner only, and the
sandbox keeps Secrets encrypted at rest. Driven through the `gitwave` command
line on the sandbox, as a user runs it; what is checked is what a user (or
anyone reading the state directory) could see."""

from __future__ import annotations

import base64
import json
import re
import sqlite3
import stat
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

from gitwave.engine.events import Event, EventKind
from gitwave.engine.loop_store import LoopStore
from gitwave.engine.model import ResourceKey
from gitwave.engine.store import Store
from gitwave.providers.sandbox import SandboxProvider
from tests.tui.cli_support import run

SECRET = "hunter2-SECRET-xyz"
FORMS = (SECRET, base64.b64encode(SECRET.encode()).decode())
DB_SECRET = ResourceKey("", "Secret", "shop", "db")

NAMESPACE = """\
apiVersion: v1
kind: Namespace
metadata:
  name: shop
"""


@pytest.fixture(autouse=True)
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "state"
    monkeypatch.setenv("GITWAVE_STATE", str(path))
    monkeypatch.setenv("GITWAVE_SANDBOX_ROLLOUT", "0")
    monkeypatch.setenv("GITWAVE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("NO_COLOR", "1")
    return path


def write_app(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return root


def state_files(state: Path) -> list[Path]:
    return sorted(p for p in state.rglob("*") if p.is_file())


def assert_nowhere(state: Path, *texts: str) -> None:
    """No form of the secret in ``texts`` nor in the raw bytes of any state file."""
    for text in texts:
        for form in FORMS:
            assert form not in text, text
    files = state_files(state)
    assert any(p.name == "gitwave.db" for p in files)
    for path in files:
        raw = path.read_bytes()
        for form in FORMS:
            assert form.encode() not in raw, path


# --- (a) tool errors --------------------------------------------------------------------


@dataclass(frozen=True)
class ToolCase:
    reason: str
    files: dict[str, str]
    where: str  # the file the error names
    fix: str  # what the error says to fix


TOOL_CASES = [
    ToolCase(
        "a secretGenerator literal without key= that kustomize quotes back",
        {
            "namespace.yaml": NAMESPACE,
            "kustomization.yaml": f"""\
                namespace: shop
                resources: [namespace.yaml]
                secretGenerator:
                - name: db
                  literals:
                  - {SECRET}
                """,
        },
        "kustomization.yaml: kustomize failed",
        "expected key=value",
    ),
    ToolCase(
        "a chart whose validation prints a value from values.yaml",
        {
            "Chart.yaml": "apiVersion: v2\nname: db\nversion: 0.1.0\n",
            "values.yaml": f"db:\n  password: {SECRET}\n",
            "templates/secret.yaml": """\
                {{- if lt (len .Values.db.password) 40 }}
                {{- $password := .Values.db.password }}
                {{- fail (printf "db.password %s is shorter than 40 characters" $password) }}
                {{- end }}
                """,
        },
        "Chart.yaml: helm template failed",
        "is shorter than 40 characters",
    ),
]


@pytest.mark.parametrize("case", TOOL_CASES, ids=lambda c: c.reason)
def test_a_failing_render_tool_never_shows_a_secret_input(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, state: Path, case: ToolCase
) -> None:
    app = write_app(tmp_path / "db", case.files)

    code, out, err = run(capsys, "sync", str(app))
    history_code, history, _ = run(capsys, "history", "db", "-o", "json")

    assert code != 0
    assert case.where in err and case.fix in err, err
    assert "***" in err
    assert history_code == 0
    (entry,) = json.loads(history)
    assert entry["result"] == "Error"
    assert case.where in entry["message"] and case.fix in entry["message"]
    assert_nowhere(state, out, err, history)
    with SandboxProvider(state) as sandbox:
        assert sandbox.observe(DB_SECRET) is None, "nothing was applied"


def test_a_failed_apply_next_to_a_generated_secret_never_shows_its_value(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, state: Path
) -> None:
    """The render succeeds; the sandbox refuses one Secret (data that is not
    base64) while the generated one is applied."""
    app = write_app(
        tmp_path / "db",
        {
            "namespace.yaml": NAMESPACE,
            "raw.yaml": f"""\
                apiVersion: v1
                kind: Secret
                metadata:
                  name: raw
                data:
                  password: {SECRET}!
                """,
            "kustomization.yaml": f"""\
                namespace: shop
                resources: [namespace.yaml, raw.yaml]
                secretGenerator:
                - name: db
                  literals:
                  - password={SECRET}
                  options:
                    disableNameSuffixHash: true
                """,
        },
    )

    code, out, err = run(capsys, "sync", str(app))
    _, history, _ = run(capsys, "history", "db", "-o", "json")
    _, events, _ = run(capsys, "events", "db", "-o", "json")
    _, live, _ = run(capsys, "sandbox", "get", "secrets", "-n", "shop", "-o", "yaml")

    assert code == 1
    assert "Secret/shop/raw: data.password: illegal base64 data" in out + err
    (entry,) = json.loads(history)
    assert entry["result"] == "Failed"
    with SandboxProvider(state) as sandbox:
        applied = sandbox.observe(DB_SECRET)
    assert applied is not None
    assert applied.manifest["data"] == {"password": FORMS[1]}, "the sandbox still has the value"
    assert_nowhere(state, out, err, history, events, live)


# --- (b) private state ------------------------------------------------------------------


def test_state_is_private_after_a_sync(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, state: Path
) -> None:
    """The state directory is 0700 (tightened when it was made more open
    before) and every file in it 0600: the history, the sandbox, their WAL
    files and the sandbox's key."""
    state.mkdir(mode=0o755)
    state.chmod(0o755)
    app = write_app(tmp_path / "db", {"all.yaml": NAMESPACE + _secret_yaml()})

    code, out, _ = run(capsys, "sync", str(app))
    history = Store(state / "gitwave.db")
    with SandboxProvider(state):  # both open: their -wal and -shm files exist
        modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in state_files(state)}
    history.close()

    assert code == 0, out
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    assert {"gitwave.db", "gitwave.db-wal", "sandbox.db", "sandbox.db-wal", "sandbox.key"} <= set(
        modes
    )
    assert modes == dict.fromkeys(modes, 0o600)


def test_a_shared_sticky_state_directory_is_left_as_is_with_private_files(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """`--state` pointed at a shared directory like /tmp: gitwave never makes
    it 0700 (that would lock everyone else out); its own files are 0600."""
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)
    app = write_app(tmp_path / "db", {"all.yaml": NAMESPACE})

    code, out, _ = run(capsys, "--state", str(shared), "sync", str(app))

    assert code == 0, out
    assert stat.S_IMODE(shared.stat().st_mode) == 0o1777
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in state_files(shared)}
    assert "gitwave.db" in modes and modes == dict.fromkeys(modes, 0o600)


_READ_EVENTS = """
import sys
from gitwave.engine.store import Store
store = Store(__import__("pathlib").Path(sys.argv[1]))
print(len(store.events("app", limit=100)))
store.close()
"""


def test_another_process_sees_every_commit_of_a_process_with_two_connections(
    tmp_path: Path,
) -> None:
    """`gitwave run` holds the history open twice (history and loop state); a
    reader in another process (`gitwave events`, the TUI) opening and closing
    the database must see every later commit. Making the file private by
    opening it ourselves dropped SQLite's locks, so the reader's close deleted
    the WAL under the writer and its commits were never seen (ea98e5f)."""
    path = tmp_path / "state" / "gitwave.db"
    store = Store(path)
    loop = LoopStore.beside(store)

    def seen() -> int:
        found = subprocess.run(
            [sys.executable, "-c", _READ_EVENTS, str(path)],
            capture_output=True,
            text=True,
            check=True,
        )
        return int(found.stdout)

    store.record_event(Event(EventKind.SYNC_STARTED, "app", "first"))
    first = seen()
    store.record_event(Event(EventKind.SYNC_FINISHED, "app", "second"))
    second = seen()
    loop.close()
    store.close()

    assert (first, second) == (1, 2)


# --- (c) Secrets encrypted at rest ------------------------------------------------------


def _secret_yaml(name: str = "db") -> str:
    return f"""\
---
apiVersion: v1
kind: Secret
metadata:
  name: {name}
  namespace: shop
stringData:
  password: {SECRET}
---
apiVersion: v1
kind: Secret
metadata:
  name: {name}-data
  namespace: shop
data:
  token: {FORMS[1]}
"""


def test_synced_secrets_are_encrypted_at_rest_and_still_diffed_and_healed(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, state: Path
) -> None:
    app = write_app(tmp_path / "db", {"all.yaml": NAMESPACE + _secret_yaml()})
    outputs: list[str] = []

    def cli(*argv: str) -> tuple[int, str]:
        code, out, err = run(capsys, *argv)
        outputs.extend((out, err))
        return code, out

    synced, _ = cli("sync", str(app))
    clean, plan_clean = cli("plan", str(app))
    status_code, status = cli("status", str(app))
    _, live = cli("sandbox", "get", "secrets", "-n", "shop", "-o", "yaml")
    # Drift: someone else changes the Secret's value live.
    with SandboxProvider(state) as sandbox:
        observed = sandbox.observe(DB_SECRET)
        assert observed is not None
        edited = {**observed.manifest, "data": {"password": base64.b64encode(b"other").decode()}}
        sandbox.replace_live(DB_SECRET, edited)
    drifted, plan_drift = cli("plan", str(app))
    diff_code, diff = cli("diff", str(app))
    healed, _ = cli("sync", str(app))
    with SandboxProvider(state) as sandbox:
        after = sandbox.observe(DB_SECRET)

    assert (synced, clean, status_code) == (0, 0, 0)
    assert "0 to update" in plan_clean and "Synced" in status
    assert "password: '***'" in live
    assert drifted == 1 and "1 to update" in plan_drift
    assert diff_code == 1 and "Secret/shop/db" in diff and "***" in diff
    assert healed == 0
    assert after is not None and after.manifest["data"] == {"password": FORMS[1]}
    assert_nowhere(state, *outputs)
    assert stat.S_IMODE((state / "sandbox.key").stat().st_mode) == 0o600


def test_secrets_stored_before_encryption_are_sealed_on_open(
    tmp_path: Path, state: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A sandbox from an older gitwave holds Secrets in plain JSON: they read
    back as they were and are encrypted when the sandbox is next opened."""
    app = write_app(tmp_path / "db", {"all.yaml": NAMESPACE + _secret_yaml()})
    assert run(capsys, "sync", str(app))[0] == 0
    with SandboxProvider(state) as sandbox:
        before = sandbox.observe(DB_SECRET)
    assert before is not None
    with sqlite3.connect(state / "sandbox.db") as db:
        db.execute(
            "UPDATE objects SET manifest = ? WHERE id = ?",
            (json.dumps(before.manifest), str(DB_SECRET)),
        )
    db.close()

    with SandboxProvider(state) as sandbox:
        after = sandbox.observe(DB_SECRET)
    _checkpoint(state / "sandbox.db")

    assert after is not None and after.manifest["data"] == before.manifest["data"]
    assert_nowhere(state)


def test_a_missing_key_is_a_clear_error_not_garbage(
    tmp_path: Path, state: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    app = write_app(tmp_path / "db", {"all.yaml": NAMESPACE + _secret_yaml()})
    assert run(capsys, "sync", str(app))[0] == 0
    (state / "sandbox.key").unlink()

    code, out, err = run(capsys, "plan", str(app))

    assert code != 0
    assert re.search(
        r"/Secret/shop/db(-data)? is stored encrypted but the key file sandbox.key "
        r"is missing",
        err,
    ), err
    assert "restore it, or start from an empty state directory" in err
    assert_nowhere(state, out, err)


def _checkpoint(path: Path) -> None:
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
