"""`-o json|yaml` (issue 13, "one output contract"): every verb checked here
prints one document that parses whole (json.loads / yaml.safe_load of all of
stdout), and times are RFC 3339."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest
import yaml

from tests.tui.cli_support import run, sandbox_state

SAMPLES = Path(__file__).resolve().parents[2] / "samples"


@pytest.fixture(autouse=True)
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return sandbox_state(tmp_path, monkeypatch)


def rfc3339(text: str) -> datetime:
    assert text.endswith("Z"), text
    stamp = datetime.fromisoformat(text.replace("Z", "+00:00"))
    assert stamp.tzinfo is not None
    return stamp


def test_times_are_rfc3339_in_sync_history_and_status(
    capsys: pytest.CaptureFixture[str],
) -> None:
    guestbook = str(SAMPLES / "guestbook")
    code, out, err = run(capsys, "sync", guestbook, "-o", "json")
    assert code == 0, err
    (result,) = json.loads(out)  # a list of apps, even for one
    assert rfc3339(result["started"]) <= rfc3339(result["finished"])

    code, out, _ = run(capsys, "history", "guestbook", "-o", "yaml")
    (row,) = yaml.safe_load(out)
    assert rfc3339(row["started"]) <= rfc3339(row["finished"])

    code, out, _ = run(capsys, "status", guestbook, "-o", "json")
    assert rfc3339(json.loads(out)[0]["lastSync"]["finished"]) == rfc3339(row["finished"])


def test_verbs_that_change_something_honour_o(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "sync", str(SAMPLES / "guestbook"))
    assert code == 0, err
    scale = ("deployment/guestbook-ui", "-n", "guestbook", "--replicas", "5")
    code, out, _ = run(capsys, "sandbox", "scale", *scale, "-o", "yaml")
    assert code == 0
    scaled = yaml.safe_load(out)
    assert (scaled["kind"], scaled["spec"]["replicas"]) == ("Deployment", 5)

    code, out, _ = run(capsys, "unpin", "guestbook", "-o", "json")
    assert (code, json.loads(out)) == (0, {"app": "guestbook", "pinned": False, "unpinned": None})

    add = ("cluster", "add", "east", "--server", "https://east.example", "--sandbox")
    code, _, err = run(capsys, *add)
    assert code == 0, err
    code, out, _ = run(capsys, "cluster", "rm", "east", "-o", "json")
    assert (code, json.loads(out)) == (0, {"cluster": "east", "removed": True})
