"""Bad input gets an error naming file and field, exit 2, never a traceback
(issue 10 item 17): the real CLI on the sandbox (and its embedded AWS emulator).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from gitwave.engine import operations
from tests.tui.cli_support import run, sandbox_state


@pytest.fixture(autouse=True)
def sandbox_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return sandbox_state(tmp_path, monkeypatch)


# A good object beside the bad one: nothing of the app may be applied.
GOOD = """\
apiVersion: v1
kind: ConfigMap
metadata: {name: beside, namespace: default}
data: {k: v}
---
"""


def config_map(body: str) -> str:
    return (
        GOOD
        + "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: bad\n  namespace: default\n"
        + body
    )


@dataclass(frozen=True)
class Case:
    reason: str
    manifest: str
    want: tuple[str, ...]  # every one of these in stderr


CASES = [
    Case(
        "labels as a list",
        config_map("  labels: [x]\ndata: {k: v}\n"),
        ("bad.yaml:6", "ConfigMap/default/bad", "metadata.labels", "not a list"),
    ),
    Case(
        "a label value that is a number",
        config_map("  labels: {tier: 1}\n"),
        ("bad.yaml:6", "ConfigMap/default/bad", "metadata.labels['tier']", "quote it"),
    ),
    Case(
        "annotations as a string",
        config_map("  annotations: nope\n"),
        ("ConfigMap/default/bad", "metadata.annotations", "not a str"),
    ),
    Case(
        "ConfigMap data as a list",
        config_map("data: [1, 2]\n"),
        ("bad.yaml:6", "ConfigMap/default/bad", "data must be a map", "not a list"),
    ),
    Case(
        "Secret stringData with a nested map",
        GOOD + "apiVersion: v1\nkind: Secret\nmetadata: {name: s, namespace: default}\n"
        "stringData: {password: {nested: hunter2}}\n",
        ("Secret/default/s", "stringData['password'] must be a string"),
    ),
    Case(
        "nesting deeper than 600",
        config_map("data: {k: v}\nextra: " + "[" * 700 + "]" * 700 + "\n"),
        ("bad.yaml:", "nested more than 100 levels deep", "GITWAVE_MAX_DEPTH"),
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.reason for c in CASES])
@pytest.mark.parametrize("verb", ["sync", "plan"])
def test_malformed_fields_are_refused_naming_file_object_and_field(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, case: Case, verb: str
) -> None:
    app = tmp_path / "app"
    app.mkdir()
    (app / "bad.yaml").write_text(case.manifest)
    code, out, err = run(capsys, verb, str(app))
    assert code == 2, err
    assert "Traceback" not in out + err
    for text in case.want:
        assert text in err
    assert "hunter2" not in out + err
    code, out, _ = run(capsys, "sandbox", "get", "configmap", "-A", "-o", "json")
    assert "beside" not in {i["metadata"]["name"] for i in json.loads(out)["items"]}
    code, out, err = run(capsys, "history", "app", "-o", "json")
    if verb == "plan":  # a plan records nothing: no app of that name was ever synced
        assert code == 1 and "no syncs recorded" in err
    else:
        assert all(record["result"] != "Succeeded" for record in json.loads(out))


def test_a_file_that_is_not_a_directory_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    for verb in ("sync", "plan", "status", "render"):
        code, out, err = run(capsys, verb, "/dev/null")
        assert code == 2
        assert "Traceback" not in out + err
        assert "error: /dev/null: not a directory or a regular file" in err


def test_a_depth_limit_python_cannot_honour_is_refused_naming_the_variable(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = tmp_path / "app"
    app.mkdir()
    (app / "bad.yaml").write_text(config_map("data: {k: v}\nextra: " + "[" * 700 + "]" * 700))
    monkeypatch.setenv("GITWAVE_MAX_DEPTH", "100000")
    code, out, err = run(capsys, "sync", str(app))
    assert code == 2
    assert "Traceback" not in out + err
    assert "GITWAVE_MAX_DEPTH: 100000 is over the most gitwave can check safely (300)" in err
    monkeypatch.setenv("GITWAVE_MAX_DEPTH", "300")
    code, out, err = run(capsys, "sync", str(app))
    assert code == 2
    assert "nested more than 300 levels deep" in err


QUEUE = """\
apiVersion: sqs.aws.crossplane.io/v1beta1
kind: Queue
metadata:
  name: orders
spec:
  forProvider:
    region: us-east-1
    visibilityTimeout: "abc"
"""


@pytest.mark.parametrize("verb", ["sync", "plan"])
def test_a_queue_field_of_the_wrong_type_is_refused_before_any_aws_call(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, verb: str
) -> None:
    app = tmp_path / "app"
    app.mkdir()
    (app / "queue.yaml").write_text(GOOD + QUEUE)
    code, out, err = run(capsys, verb, str(app))
    assert code == 2
    assert "Traceback" not in out + err
    assert (
        "Queue/orders: spec.forProvider.visibilityTimeout must be a whole number, not 'abc' "
        "(at queue.yaml:6)" in err
    )
    code, out, _ = run(capsys, "sandbox", "get", "configmap", "-A", "-o", "json")
    assert "beside" not in {i["metadata"]["name"] for i in json.loads(out)["items"]}


@pytest.mark.slow  # fresh `gitwave` processes: the embedded emulator starts once per process
def test_a_refused_queue_is_not_created(tmp_path: Path, sandbox_env: Path) -> None:
    app = tmp_path / "app"
    app.mkdir()
    (app / "queue.yaml").write_text(GOOD + QUEUE)
    env = {**os.environ, "GITWAVE_STATE": str(sandbox_env), "NO_COLOR": "1"}

    def gitwave(*argv: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "gitwave.tui.cli", *argv]
        return subprocess.run(command, capture_output=True, text=True, env=env, timeout=240)

    refused = gitwave("sync", str(app))
    assert refused.returncode == 2
    assert "visibilityTimeout must be a whole number" in refused.stderr
    (app / "queue.yaml").write_text(GOOD + QUEUE.replace('"abc"', "30"))
    fixed = gitwave("plan", str(app))
    assert fixed.returncode == 1, fixed.stderr
    assert "+ Queue/orders" in fixed.stdout, "the refused sync created no queue"
    assert "+ ConfigMap/default/beside" in fixed.stdout


@pytest.mark.parametrize(
    ("field", "value", "want"),
    [
        ("fifoQueue", '"yes"', "spec.forProvider.fifoQueue must be a boolean, not 'yes'"),
        ("delaySeconds", "1.5", "spec.forProvider.delaySeconds must be a whole number, not 1.5"),
        ("maximumMessageSize", "true", "maximumMessageSize must be a whole number, not True"),
    ],
)
def test_other_queue_fields_are_typed_too(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, field: str, value: str, want: str
) -> None:
    app = tmp_path / "app"
    app.mkdir()
    (app / "queue.yaml").write_text(QUEUE.replace('visibilityTimeout: "abc"', f"{field}: {value}"))
    code, _, err = run(capsys, "plan", str(app))
    assert code == 2
    assert want in err


def test_an_unexpected_failure_is_one_line_exit_3_without_its_text(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The last resort for a gitwave bug: no traceback, and not the exception's
    text either (it may quote a Secret's value)."""

    def broken(*args: object, **kwargs: object) -> None:
        raise ValueError("invalid literal for int(): 's3cr3t-value'")

    monkeypatch.setattr(operations, "select_app_set", broken)
    code, out, err = run(capsys, "plan", str(tmp_path))
    assert code == 3
    assert "Traceback" not in out + err
    assert "s3cr3t-value" not in out + err
    assert "error: internal error (ValueError at tests/tui/test_cli_errors.py:" in err
    assert "GITWAVE_DEBUG=1" in err


def test_a_symlink_loop_in_an_app_is_an_error_naming_it(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    app = tmp_path / "app"
    app.mkdir()
    (app / "cm.yaml").write_text(GOOD)
    (app / "loop").symlink_to("loop")
    code, out, err = run(capsys, "sync", str(app))
    assert code == 2
    assert "Traceback" not in out + err
    assert "error: app: loop: symlink loop" in err


def test_yaml_keys_that_are_not_strings_become_strings_as_kubectl_makes_them(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    app = tmp_path / "app"
    app.mkdir()
    (app / "cm.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: keys, namespace: default}\n"
        "data: {1: one, true: 'yes', 2.5: half}\n"
    )
    code, out, err = run(capsys, "sync", str(app))
    assert code == 0, err
    code, out, _ = run(capsys, "sandbox", "get", "configmap/keys", "-n", "default", "-o", "json")
    assert json.loads(out)["data"] == {"1": "one", "true": "yes", "2.5": "half"}
    (app / "cm.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: keys, namespace: default}\n"
        "data: {null: x}\n"
    )
    code, out, err = run(capsys, "plan", str(app))
    assert code == 2
    assert "cm.yaml:4: malformed YAML: a null map key" in err
