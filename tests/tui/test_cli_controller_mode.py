"""``--controller`` as the command line reads it, before any cluster is reached:
the flags it refuses, the verbs that take ``--context`` only with it, and
``status`` without a path. (Against a controller: tests/e2e/test_kube_controller_cli.py.)"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.tui.cli_support import run, sandbox_state


@dataclass
class Case:
    reason: str
    argv: tuple[str, ...]
    message: str


REFUSED = [
    Case(
        "a dry run is the controller's to do",
        ("sync", "--controller", "shop", "--dry-run"),
        "--dry-run: is not taken with --controller",
    ),
    Case(
        "one object only is not an operation the objects can ask for",
        ("sync", "--controller", "shop", "--resource", "cm/settings"),
        "--resource: is not taken with --controller",
    ),
    Case(
        "rollback --dry-run",
        ("rollback", "--controller", "shop", "1", "--dry-run"),
        "--dry-run: is not taken with --controller",
    ),
    Case(
        "events --follow",
        ("events", "--controller", "shop", "--follow"),
        "--follow: is not taken with --controller",
    ),
    Case(
        "the sandbox runs no controller",
        ("status", "--controller", "--target", "sandbox"),
        "--controller talks to a cluster's gitwave controller",
    ),
    Case(
        "status needs a path without --controller",
        ("status",),
        "the following arguments are required: path",
    ),
]


@pytest.mark.parametrize("case", REFUSED, ids=lambda c: c.reason)
def test_refused_before_reaching_a_cluster(
    case: Case,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sandbox_state(tmp_path, monkeypatch)
    code, _, err = run(capsys, *case.argv)
    assert code == 2
    assert case.message in err


def test_suspend_takes_a_context_only_with_controller(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sandbox_state(tmp_path, monkeypatch)
    code, _, err = run(capsys, "suspend", "shop", "--context", "prod")
    assert code == 2 and "does not use a target" in err
    missing = tmp_path / "no-kubeconfig"
    code, _, err = run(
        capsys, "suspend", "shop", "--controller", "--context", "prod", f"--kubeconfig={missing}"
    )
    # Past the target check, it goes for the cluster (here: a kubeconfig that is not there).
    assert code == 2
    assert "does not use a target" not in err and "error:" in err


@pytest.mark.parametrize(
    "argv",
    [("refresh", "shop"), ("status", "--controller", "shop"), ("sync", "--controller", "shop")],
    ids=lambda argv: argv[0],
)
def test_an_unreachable_cluster_is_named_not_taken_for_a_bug(
    argv: tuple[str, ...],
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sandbox_state(tmp_path, monkeypatch)
    # A port bound but not listening: every connection to it is refused.
    with socket.socket() as bound:
        bound.bind(("127.0.0.1", 0))
        port = bound.getsockname()[1]
        kubeconfig = tmp_path / "kubeconfig"
        kubeconfig.write_text(
            "apiVersion: v1\nkind: Config\n"
            f"clusters: [{{name: c, cluster: {{server: 'https://127.0.0.1:{port}'}}}}]\n"
            "contexts: [{name: edge, context: {cluster: c, user: u}}]\n"
            "users: [{name: u, user: {token: t}}]\ncurrent-context: edge\n"
        )
        code, _, err = run(capsys, *argv, f"--kubeconfig={kubeconfig}", "--context", "edge")
    assert code == 2
    assert f"context edge unreachable: https://127.0.0.1:{port}: connection refused" in err
    assert "internal error" not in err
