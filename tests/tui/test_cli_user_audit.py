"""What a kubectl/argocd user tripped on in issue 13's audit (notes/audit13-findings.md).

Each test runs `gitwave` as that user typed it: a real process where the pipe
matters, the CLI's ``main()`` otherwise, on the sandbox of the test's own state.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from gitwave.engine.store import Store
from tests.tui.cli_support import run, sandbox_state

CONFIG_MAP = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  greeting: hello
"""


@pytest.fixture(autouse=True)
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return sandbox_state(tmp_path, monkeypatch, own_cache=True)


def plain_app(root: Path) -> Path:
    """A directory of one ConfigMap naming no namespace (it goes to `default`)."""
    root.mkdir(parents=True)
    (root / "settings.yaml").write_text(CONFIG_MAP)
    return root


def history_results(state: Path, app: str) -> list[str]:
    store = Store(state / "gitwave.db")
    try:
        return [record.result for record in store.history(app, running=True)]
    finally:
        store.close()


@pytest.mark.slow  # a `gitwave` process
def test_a_sync_whose_reader_went_away_still_finishes_and_is_recorded(
    tmp_path: Path, state: Path
) -> None:
    """`gitwave sync shop | head -1`: the reader is gone before the first line.
    The sync still applies everything and is recorded Succeeded, exit 0, and no
    "internal error" (it was exit 3, a sync recorded as Error)."""
    app = plain_app(tmp_path / "shop")
    read_end, write_end = os.pipe()
    os.close(read_end)  # gone before gitwave writes anything: every write is EPIPE
    try:
        done = subprocess.run(
            [sys.executable, "-m", "gitwave.tui.cli", "sync", str(app)],
            cwd=tmp_path,
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
            check=False,
        )
    finally:
        os.close(write_end)

    assert "internal error" not in done.stderr
    assert done.returncode == 0, done.stderr
    assert history_results(state, "shop") == ["Succeeded"]


@pytest.mark.parametrize("verb", ["plan", "sync"])
def test_an_empty_directory_is_no_app_to_plan_or_sync(
    tmp_path: Path, state: Path, capsys: pytest.CaptureFixture[str], verb: str
) -> None:
    """As `status` says of it (and `kubectl apply -f` of an empty directory):
    no manifests, exit 2, nothing recorded; plan said "0 to create" and exit 0,
    sync "Succeeded ... health Healthy"."""
    empty = tmp_path / "empty"
    empty.mkdir()

    code, out, err = run(capsys, verb, str(empty))

    assert code == 2, out + err
    assert f"no manifests in {empty}" in err
    assert "Succeeded" not in out and "Healthy" not in out
    assert history_results(state, "empty") == []


def test_status_plan_and_sync_agree_on_an_empty_directory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    codes = {verb: run(capsys, verb, str(empty))[0] for verb in ("status", "plan", "sync")}
    assert codes == {"status": 2, "plan": 2, "sync": 2}


@pytest.mark.parametrize("verb", ["history", "events"])
def test_an_app_name_with_a_selector_is_refused_not_ignored(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], verb: str
) -> None:
    """`history shop -l team=a` printed shop's whole history, -l dropped (status
    shop -l filters); kubectl's `get NAME -l` refuses the pair."""
    app = plain_app(tmp_path / "shop")
    assert run(capsys, "sync", str(app))[0] == 0

    code, out, err = run(capsys, verb, "shop", "-l", "team=a")

    assert code == 2, out + err
    assert out == ""
    assert "an app name cannot be provided when a selector is specified" in err
    assert run(capsys, verb, "shop")[0] == 0  # without -l: as before


def test_drift_takes_an_app_name_where_a_directory_of_that_name_is(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`drift shop` run beside shop/ said ".: no app named shop" (it read the
    current directory); status, history, wait... take the name there."""
    app = plain_app(tmp_path / "shop")
    assert run(capsys, "sync", str(app))[0] == 0
    monkeypatch.chdir(tmp_path)

    code, out, err = run(capsys, "drift", "shop")

    assert code == 0, out + err
    assert out.strip() == "shop: no drift"


DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: nginx:1.25}]
"""


def test_sandbox_verbs_take_kubectls_kind_name_form(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`sandbox get deploy web` (kubectl's other form) said "unrecognized
    arguments: web"; `sandbox scale deployment web` likewise."""
    app = plain_app(tmp_path / "shop")
    (app / "web.yaml").write_text(DEPLOYMENT)
    assert run(capsys, "sync", str(app))[0] == 0

    assert run(capsys, "sandbox", "get", "deploy", "web", "-o", "name")[:2] == (
        0,
        "deployment.apps/web\n",
    )
    assert run(capsys, "sandbox", "get", "cm", "nosuch")[0] == 1
    code, out, err = run(capsys, "sandbox", "scale", "deployment", "web", "--replicas", "3")
    assert code == 0, out + err
    _, out, _ = run(capsys, "sandbox", "get", "deploy/web", "-o", "json")
    assert '"replicas": 3' in out
    code, _, err = run(capsys, "sandbox", "get", "deploy/web", "web")
    assert code == 2 and "resource/name form" in err


def test_status_says_an_app_is_suspended(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`gitwave suspend shop` then `status shop` showed nothing of it; `flux get`
    has a SUSPENDED column."""
    app = plain_app(tmp_path / "shop")
    assert run(capsys, "sync", str(app))[0] == 0
    assert run(capsys, "suspend", "shop")[0] == 0

    out = run(capsys, "status", "shop")[1]
    assert "Synced (suspended)" in out
    assert '"suspended": true' in run(capsys, "status", "shop", "-o", "json")[1]

    assert run(capsys, "resume", "shop")[0] == 0
    out = run(capsys, "status", "shop")[1]
    assert "suspended" not in out


def test_render_o_yaml_is_one_document_as_o_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`render -o yaml` printed the same YAML stream as no -o (two documents for
    two objects) while -o json printed a List; docs/cli-output.md: a List."""
    import yaml

    app = plain_app(tmp_path / "shop")
    (app / "web.yaml").write_text(DEPLOYMENT)

    code, out, err = run(capsys, "render", str(app), "-o", "yaml")

    assert code == 0, err
    (doc,) = list(yaml.safe_load_all(out))
    assert doc["kind"] == "List"
    assert [item["kind"] for item in doc["items"]] == ["ConfigMap", "Deployment"]
    stream = list(yaml.safe_load_all(run(capsys, "render", str(app))[1]))
    assert [d["kind"] for d in stream] == ["ConfigMap", "Deployment"]  # the default: a stream


@pytest.mark.parametrize(
    ("argv", "help_line"),
    [
        (("sync", ".", "--parallel", "0"), "See 'gitwave sync --help' for help and examples."),
        (("status", ".", "--bogus"), "See 'gitwave status --help' for help and examples."),
        (("sandbox", "get", "--bogus"), "See 'gitwave sandbox get --help' for help and examples."),
    ],
)
def test_a_flag_error_is_the_error_and_where_help_is_not_the_usage_block(
    capsys: pytest.CaptureFixture[str], argv: tuple[str, ...], help_line: str
) -> None:
    """`--parallel 0` printed argparse's 12-line usage block above the one line
    that mattered; kubectl prints the error and "See 'kubectl VERB -h'"."""
    with pytest.raises(SystemExit) as exited:
        run(capsys, *argv)
    out, err = capsys.readouterr()

    assert exited.value.code == 2
    assert out == ""
    first, second = err.splitlines()
    assert first.startswith("error: ")
    assert second == help_line


def test_a_mistyped_verb_still_says_did_you_mean(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        run(capsys, "sycn", ".")
    err = capsys.readouterr().err
    assert exited.value.code == 2
    assert err.splitlines() == [
        "error: unknown command 'sycn' for 'gitwave'; did you mean sync?",
        "See 'gitwave --help' for help and examples.",
    ]


@pytest.mark.parametrize("verb", [("rollout", "status"), ("rollout", "promote"), ("status",)])
def test_rollout_with_no_kubeconfig_is_bad_input_as_every_verb(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    verb: tuple[str, ...],
) -> None:
    """`rollout status shop --target kube:foo` with no kubeconfig exited 1 with
    "shop: no kubeconfig found"; status, sync... exit 2 with the bare line."""
    app = plain_app(tmp_path / "shop")
    assert run(capsys, "sync", str(app))[0] == 0
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "no-such-kubeconfig"))

    code, out, err = run(capsys, *verb, "shop", "--target", "kube:foo")

    assert code == 2, out + err
    assert err.splitlines()[0] == (
        f"error: no kubeconfig found (looked at {tmp_path / 'no-such-kubeconfig'})"
    )


NAMESPACED_CONFIG_MAP = CONFIG_MAP.replace(
    "  name: settings\n", "  name: settings\n  namespace: kns\n"
)


@pytest.mark.parametrize("output", [(), ("-o", "json")])
def test_a_missing_namespace_hint_names_the_command_lines_flag(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], output: tuple[str, ...]
) -> None:
    """`gitwave sync kust` (namespace kns, no Namespace) hinted "set
    CreateNamespace=true", a sync option of an Application; the command line's
    way is --create-namespace (and it works)."""
    app = tmp_path / "kust"
    app.mkdir()
    (app / "settings.yaml").write_text(NAMESPACED_CONFIG_MAP)

    code, out, err = run(capsys, "sync", str(app), *output)

    assert code == 2, out + err
    assert "hint: add a Namespace manifest or pass --create-namespace" in err
    assert "CreateNamespace=true" not in out + err
    assert run(capsys, "sync", str(app), "--create-namespace")[0] == 0


def test_a_failed_syncs_reason_is_printed_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`gitwave sync failing` printed the Deployment's reason three times: an
    `error:` line, the `failed` row, then under the summary. argocd: the
    resource row's message, then the operation's message."""
    app = tmp_path / "failing"
    app.mkdir()
    failing = DEPLOYMENT.replace(
        "    metadata: {labels: {app: web}}\n",
        "    metadata:\n      labels: {app: web}\n"
        "      annotations: {sandbox.gitwave.dev/fail: 'true'}\n",
    )
    (app / "web.yaml").write_text(failing)
    # A later wave: the sync waits for the Deployment, which goes Degraded.
    later = CONFIG_MAP.replace(
        "  name: settings\n",
        "  name: settings\n  annotations: {argocd.argoproj.io/sync-wave: '1'}\n",
    )
    (app / "settings.yaml").write_text(later)

    code, out, err = run(capsys, "sync", str(app), "--timeout", "60s")

    assert code == 1, out + err
    assert (out + err).count("has timed out progressing") == 1, out + err
    lines = out.splitlines()
    row = next(line for line in lines if line.lstrip().startswith("failed "))
    assert row.split()[1] == "Deployment/default/web"
    assert "(Degraded: ReplicaSet " in row
    assert "error:" not in out + err
    summary = lines.index(next(line for line in lines if line.startswith("failing: Failed in ")))
    assert lines[summary + 1] == "  one or more synchronization tasks completed unsuccessfully"
    # The history keeps the whole reason (argocd's operation message is for the screen).
    (record,) = Store(tmp_path / "state" / "gitwave.db").history("failing", running=True)
    assert "Deployment/default/web is Degraded: ReplicaSet" in record.message


STATEFUL_SET = """\
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: web
spec:
  serviceName: web
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: nginx:1.25}]
"""


@pytest.mark.parametrize(
    ("manifest", "field", "value"),
    [
        (DEPLOYMENT, "replicas", "-3"),
        (DEPLOYMENT, "minReadySeconds", "-1"),
        (DEPLOYMENT, "revisionHistoryLimit", "-2"),
        (DEPLOYMENT, "progressDeadlineSeconds", "-5"),
        (STATEFUL_SET, "replicas", "-3"),
        (DEPLOYMENT.replace("kind: Deployment", "kind: ReplicaSet"), "replicas", "-3"),
    ],
    ids=["deploy-replicas", "deploy-ready", "deploy-history", "deploy-deadline", "sts", "rs"],
)
@pytest.mark.parametrize("verb", ["plan", "sync"])
def test_a_negative_count_is_refused_before_anything_is_applied(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    manifest: str,
    field: str,
    value: str,
    verb: str,
) -> None:
    """`replicas: -3` fits the OpenAPI schema (an integer), so plan and sync
    took it ("Succeeded ... Healthy"); the API server's validation refuses it."""
    app = tmp_path / "shop"
    app.mkdir()
    bad = manifest.replace("  replicas: 1\n", "").replace(
        "\nspec:\n", f"\nspec:\n  {field}: {value}\n"
    )
    (app / "web.yaml").write_text(bad)
    kind = manifest.split("kind: ")[1].split("\n")[0]

    code, out, err = run(capsys, verb, str(app))

    assert code == 2, out + err
    assert (
        f'{kind}/default/web (web.yaml:1): {kind}.apps "web" is invalid: '
        f"spec.{field}: Invalid value: {value}: must be greater than or equal to 0"
    ) in err
    assert "nothing was applied" in err
    assert run(capsys, "sandbox", "get", f"{kind.lower()}/web")[0] == 1  # nothing applied


def test_an_object_edited_to_a_negative_count_is_checked_again(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The pre-flight memo vouches for objects that passed by their digest: an
    edit to a bad value is a new digest, refused; the live object is untouched."""
    app = tmp_path / "shop"
    app.mkdir()
    (app / "web.yaml").write_text(DEPLOYMENT)
    assert run(capsys, "sync", str(app))[0] == 0
    (app / "web.yaml").write_text(DEPLOYMENT.replace("replicas: 1", "replicas: -3"))

    for _ in range(2):  # and again: a refused object is never vouched for
        code, out, err = run(capsys, "sync", str(app))
        assert code == 2, out + err
        assert "spec.replicas: Invalid value: -3: must be greater than or equal to 0" in err

    _, out, _ = run(capsys, "sandbox", "get", "deploy/web", "-o", "json")
    assert '"replicas": 1' in out
