"""The `gitwave` command line as a user runs it, on the embedded sandbox."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from gitwave.engine.errors import ValidationError
from gitwave.tui.cli.durations import duration_flag, parse_duration, parse_since
from gitwave.tui.cli.output import Terminal, _trimmed, table
from gitwave.tui.formatting import age, age_of_timestamp
from tests.tui.cli_support import run, sandbox_state

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "samples"


@pytest.fixture(autouse=True)
def sandbox_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return sandbox_state(tmp_path, monkeypatch)


def copy_sample(name: str, tmp_path: Path) -> Path:
    target = tmp_path / name
    shutil.copytree(SAMPLES / name, target)
    return target


def test_sync_creates_everything_in_wave_order_then_plan_is_clean(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    app = copy_sample("waves", tmp_path)
    code, out, _ = run(capsys, "sync", str(app), "-o", "json")
    assert code == 0
    (result,) = json.loads(out)  # a list of apps, even for one
    assert result["phase"] == "Succeeded"
    assert result["health"] == "Healthy"
    order = [r["key"] for r in result["resources"] if r["action"] == "created"]
    # Namespace first (before the PreSync hook), hooks and waves in order, PostSync last.
    assert order.index("/Namespace//shop") < order.index("batch/Job/shop/db-migrate")
    assert order.index("batch/Job/shop/db-migrate") < order.index("/ConfigMap/shop/shop-config")
    assert order.index("/ConfigMap/shop/shop-config") < order.index("apps/Deployment/shop/shop-api")
    assert order.index("apps/Deployment/shop/shop-api") < order.index("/Service/shop/shop-api")
    assert order.index("/Service/shop/shop-api") < order.index("batch/Job/shop/smoke-test")

    code, out, _ = run(capsys, "plan", str(app))
    assert code == 0, out
    assert "0 to create, 0 to update, 0 to prune" in out


def test_out_of_band_scale_shows_exactly_that_field(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    app = copy_sample("guestbook", tmp_path)
    assert run(capsys, "sync", str(app))[0] == 0
    code, out, _ = run(
        capsys, "sandbox", "scale", "deployment/guestbook-ui", "-n", "guestbook", "--replicas", "10"
    )
    assert code == 0
    code, out, _ = run(capsys, "plan", str(app), "-o", "json")
    assert code == 1
    (plan,) = json.loads(out)
    changed = [t for w in plan["waves"] for t in w["tasks"] if t["action"] != "none"]
    assert len(changed) == 1
    assert changed[0]["key"] == "apps/Deployment/guestbook/guestbook-ui"
    assert changed[0]["changes"] == [
        {"path": "spec.replicas", "op": "replace", "live": 10, "desired": 3}
    ]
    code, out, _ = run(capsys, "plan", str(app))
    assert "spec.replicas: 10 -> 3" in out
    # Sync heals it, and the plan is clean again.
    assert run(capsys, "sync", str(app))[0] == 0
    assert run(capsys, "plan", str(app))[0] == 0


def test_removed_file_is_pruned_only_with_prune(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    app = copy_sample("guestbook", tmp_path)
    assert run(capsys, "sync", str(app))[0] == 0
    (app / "service.yaml").unlink()

    code, out, _ = run(capsys, "sync", str(app))
    assert code == 0
    code, out, _ = run(capsys, "sandbox", "get", "service", "-n", "guestbook")
    assert "guestbook-ui" in out, "without --prune nothing is deleted"

    code, out, _ = run(capsys, "plan", str(app), "--prune")
    assert code == 1
    assert "- Service/guestbook/guestbook-ui" in out

    code, out, _ = run(capsys, "sync", str(app), "--prune", "-o", "json")
    assert code == 0
    deleted = [r["key"] for r in json.loads(out)[0]["resources"] if r["action"] == "deleted"]
    assert deleted == ["/Service/guestbook/guestbook-ui"]
    code, out, _ = run(capsys, "sandbox", "get", "-A", "-o", "json")
    kinds = {(i["kind"], i["metadata"]["name"]) for i in json.loads(out)["items"]}
    assert ("Service", "guestbook-ui") not in kinds
    assert ("Deployment", "guestbook-ui") in kinds


def test_dry_run_changes_nothing(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    app = copy_sample("guestbook", tmp_path)
    code, out, _ = run(capsys, "sync", str(app), "--dry-run")
    assert code == 0
    assert "(dry run)" in out
    code, out, _ = run(capsys, "sandbox", "get", "-A", "-o", "json")
    names = {i["metadata"]["name"] for i in json.loads(out)["items"]}
    assert "guestbook-ui" not in names
    code, out, err = run(capsys, "history", "guestbook", "-o", "json")
    assert (code, out) == (1, "")  # a dry run records no history
    assert "guestbook: no syncs recorded" in err


@dataclass(frozen=True)
class BadInput:
    reason: str
    files: dict[str, str]
    want: tuple[str, ...]


def doc(api_version: str, kind: str, name: str, annotation: str) -> str:
    return (
        f"apiVersion: {api_version}\nkind: {kind}\nmetadata:\n  name: {name}\n"
        f"  namespace: default\n  annotations: {{{annotation}}}\n"
    )


BAD_INPUTS = [
    BadInput(
        "malformed YAML names file and line",
        {"a.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n  bad: [1, 2\n"},
        ("a.yaml:", "malformed YAML"),
    ),
    BadInput(
        "document without kind",
        {"a.yaml": "apiVersion: v1\nmetadata:\n  name: x\n  namespace: default\n"},
        ("a.yaml:1", "kind"),
    ),
    BadInput(
        "duplicate key names both files",
        {
            "a.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x, namespace: default}\n",
            "b.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x, namespace: default}\n",
        },
        ("a.yaml", "b.yaml", "ConfigMap/default/x"),
    ),
    BadInput(
        "dependency cycle names every member",
        {
            "a.yaml": doc("v1", "ConfigMap", "a", "gitwave.dev/depends-on: ConfigMap/default/b")
            + "---\n"
            + doc("v1", "ConfigMap", "b", "gitwave.dev/depends-on: ConfigMap/default/a"),
        },
        ("cycle", "ConfigMap/default/a", "ConfigMap/default/b"),
    ),
    BadInput(
        "namespace neither in the repo nor live",
        {"a.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x, namespace: nowhere}\n"},
        ("ConfigMap/nowhere/x", "nowhere", "--create-namespace"),
    ),
    BadInput(
        "unknown hook name",
        {"a.yaml": doc("batch/v1", "Job", "j", "argocd.argoproj.io/hook: PreSink")},
        ("Job/default/j", "PreSink"),
    ),
    BadInput(
        "non-integer sync wave",
        {"a.yaml": doc("v1", "ConfigMap", "x", "argocd.argoproj.io/sync-wave: 'one'")},
        ("ConfigMap/default/x", "sync-wave", "one"),
    ),
]


@pytest.mark.parametrize("case", BAD_INPUTS, ids=lambda c: c.reason)
def test_bad_input_is_a_clear_error_and_nothing_is_applied(
    case: BadInput, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    app = tmp_path / "app"
    app.mkdir()
    (app / "ok.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: fine, namespace: default}\n"
    )
    for name, text in case.files.items():
        (app / name).write_text(text)
    for verb in ("plan", "sync"):
        code, out, err = run(capsys, verb, str(app))
        assert code == 2, (verb, out, err)
        for fragment in case.want:
            assert fragment in err, (verb, fragment, err)
        assert "hint:" in err or "error:" in err
    code, out, _ = run(capsys, "sandbox", "get", "configmap", "-n", "default")
    assert "fine" not in out, "nothing may be applied on bad input"


def test_path_escaping_the_repo_is_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "cm.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: stolen, namespace: default}\n"
    )
    app = tmp_path / "app"
    app.mkdir()
    (app / "ok.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: fine, namespace: default}\n"
    )
    (app / "link.yaml").symlink_to(outside / "cm.yaml")
    code, _, err = run(capsys, "sync", str(app))
    assert code == 2
    assert "link.yaml" in err and "escapes" in err
    _, out, _ = run(capsys, "sandbox", "get", "configmap", "-n", "default")
    assert "stolen" not in out and "fine" not in out


def test_empty_render_with_prune_deletes_nothing(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    app = copy_sample("guestbook", tmp_path)
    assert run(capsys, "sync", str(app))[0] == 0
    for f in app.glob("*.yaml"):
        f.unlink()
    code, _, err = run(capsys, "sync", str(app), "--prune")
    assert code == 2
    assert "empty" in err and "allowEmpty" in err
    _, out, _ = run(capsys, "sandbox", "get", "deployment", "-n", "guestbook")
    assert "guestbook-ui" in out


def test_secret_values_never_printed(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    app = copy_sample("waves", tmp_path)
    secret = "not-a-real-password-42"
    outputs = []
    for argv in (
        ("render", str(app)),
        ("render", str(app), "-o", "json"),
        ("plan", str(app), "-o", "yaml"),
        ("sync", str(app)),
        ("sync", str(app), "-o", "json"),
        ("status", str(app), "-o", "json"),
        ("history", "waves", "-o", "json"),
        ("sandbox", "get", "secret", "-n", "shop", "-o", "yaml"),
    ):
        code, out, err = run(capsys, *argv)
        assert code in (0, 1), (argv, err)
        outputs.append(out + err)
    # Change the secret so plan shows a diff of it.
    path = app / "10-config.yaml"
    path.write_text(path.read_text().replace(secret, "another-secret-value-7"))
    code, out, err = run(capsys, "plan", str(app))
    assert code == 1
    assert "Secret/shop/shop-db-credentials" in out
    outputs.append(out + err)
    blob = "\n".join(outputs)
    assert secret not in blob
    assert "another-secret-value-7" not in blob
    import base64

    assert base64.b64encode(secret.encode()).decode() not in blob


def test_history_and_rollback(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    app = copy_sample("guestbook", tmp_path)
    config = app / "configmap.yaml"
    assert run(capsys, "sync", str(app))[0] == 0
    original = yaml.safe_load(config.read_text())
    changed = dict(original)
    changed["data"] = {**original["data"], "GREETING": "changed"}
    config.write_text(yaml.safe_dump(changed))
    assert run(capsys, "sync", str(app))[0] == 0

    code, out, _ = run(capsys, "history", "guestbook", "-o", "json")
    records = json.loads(out)
    assert [r["result"] for r in records] == ["Succeeded", "Succeeded"]
    first_id = records[-1]["id"]

    shutil.rmtree(app)  # rollback needs no Git or source tree
    code, out, err = run(capsys, "rollback", "guestbook", str(first_id))
    assert code == 0, err
    _, out, _ = run(
        capsys, "sandbox", "get", "configmap/guestbook-ui-config", "-n", "guestbook", "-o", "json"
    )
    assert json.loads(out)["data"] == original["data"]
    code, out, _ = run(capsys, "history", "guestbook", "-o", "json")
    assert json.loads(out)[0]["rollbackOf"] == first_id


def test_sandbox_edit_with_editor(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = copy_sample("guestbook", tmp_path)
    assert run(capsys, "sync", str(app))[0] == 0
    editor = tmp_path / "editor.sh"
    editor.write_text("#!/bin/sh\nsed -i 's/replicas: 3/replicas: 5/' \"$1\"\n")
    editor.chmod(0o755)
    monkeypatch.setenv("EDITOR", str(editor))
    code, out, _ = run(capsys, "sandbox", "edit", "deployment/guestbook-ui", "-n", "guestbook")
    assert code == 0, out
    code, out, _ = run(capsys, "plan", str(app))
    assert code == 1
    assert "spec.replicas: 5 -> 3" in out

    monkeypatch.setenv("EDITOR", "true")
    code, out, _ = run(capsys, "sandbox", "edit", "deployment/guestbook-ui", "-n", "guestbook")
    assert "Edit cancelled, no changes made." in out


def test_graph_waves_and_dot(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "graph", str(SAMPLES / "waves"))
    assert code == 0
    assert out.index("PreSync") < out.index("Sync wave 0") < out.index("PostSync")
    code, out, _ = run(capsys, "graph", str(SAMPLES / "waves"), "--dot")
    assert out.startswith("digraph")
    assert '"Deployment/shop/shop-api"' in out or "Deployment/shop/shop-api" in out


def test_app_of_apps_syncs_children(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "sync", str(SAMPLES / "app-of-apps"), "-o", "json")
    assert code == 0, err
    results = json.loads(out)
    assert [r["app"] for r in results] == ["guestbook", "waves"]
    assert all(r["phase"] == "Succeeded" for r in results)


def test_flux_kustomizations_follow_depends_on(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "sync", str(SAMPLES / "flux"), "-o", "json")
    assert code == 0, err
    results = json.loads(out)
    names = [r["app"] for r in results]
    assert names.index("infra") < names.index("apps")


def test_kustomize_overlay(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "render", str(SAMPLES / "kustomize" / "overlays" / "production"))
    assert code == 0, err
    docs = list(yaml.safe_load_all(out))
    assert docs and all(d.get("kind") for d in docs)


@pytest.mark.slow  # the console script in subprocesses
def test_console_script_exit_codes(tmp_path: Path) -> None:
    exe = Path(sys.executable).parent / "gitwave"
    env = {**os.environ}
    result = subprocess.run(
        [str(exe), "plan", str(SAMPLES / "guestbook")],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert result.returncode == 1, result.stderr
    assert "+ Deployment/guestbook/guestbook-ui" in result.stdout
    result = subprocess.run(
        [str(exe), "plan", str(tmp_path / "missing")],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert result.returncode == 2
    assert "missing" in result.stderr


@dataclass(frozen=True)
class DurationCase:
    reason: str
    given: str
    want: float | None  # None: refused


DURATION_CASES = [
    DurationCase("seconds", "30s", 30.0),
    DurationCase("Go's compound form", "1h30m", 5400.0),
    DurationCase("a fraction", "1.5h", 5400.0),
    DurationCase("a leading dot", ".5s", 0.5),
    DurationCase("milliseconds", "300ms", 0.3),
    DurationCase("microseconds, Go's spelling", "250µs", 0.00025),
    DurationCase("zero without a unit", "0", 0.0),
    DurationCase("days (durationpy's extension of Go)", "2d", 172800.0),
    DurationCase("surrounding spaces", " 10m ", 600.0),
    DurationCase("no unit", "10", None),
    DurationCase("a word", "bogus", None),
    DurationCase("negative", "-5m", None),
    DurationCase("space inside", "1m 30s", None),
    DurationCase("empty", "", None),
]


@pytest.mark.parametrize("case", DURATION_CASES, ids=lambda c: c.reason)
def test_duration_flags_read_go_durations(case: DurationCase) -> None:
    if case.want is None:
        with pytest.raises(ValueError, match="is not a duration"):
            parse_duration(case.given)
    else:
        assert parse_duration(case.given) == pytest.approx(case.want)


def test_a_plain_number_is_seconds_only_where_a_flag_allows_it() -> None:
    assert duration_flag("90", "--interval") == 90.0
    assert parse_since("10m", now=1000.0) == 400.0
    with pytest.raises(ValidationError, match="neither a duration"):
        parse_since("90", now=1000.0)


def test_tables_are_kubectl_style_and_never_wrapped(capsys: pytest.CaptureFixture[str]) -> None:
    long = "x" * 120  # wider than the 80 columns rich assumes off a terminal
    Terminal(color=False).out(table(["name", "message"], [["a", long], ["bbbb", "short"]]))

    assert capsys.readouterr().out == f"NAME   MESSAGE\na      {long}\nbbbb   short\n"


@pytest.mark.parametrize(
    ("headers", "rows"),
    [
        (["name", "message"], [["a", "x" * 120], ["bbbb", "short"]]),
        (["app", "sync", "last sync"], [["guestbook", "", ""], ["", "Synced", "never"]]),
        (["one"], []),
        (["a", "b"], [["  padded  ", "x"], ["y", " "]]),
        # Not plain ASCII, or not one line: rich lays these out itself.
        (["name", "status"], [["日本", "ok"], ["é", "fine"]]),
        (["name", "message"], [["a", "two\nlines"], ["b", "tab\there"]]),
        (["a", "b"], [["short row"], ["x", "y", "extra"]]),
    ],
    ids=["wide cell", "empty cells", "no rows", "spaces", "wide chars", "two lines", "ragged"],
)
def test_a_plain_table_prints_as_rich_lays_it_out(
    headers: list[str], rows: list[list[str]], capsys: pytest.CaptureFixture[str]
) -> None:
    # Without colour a table of ASCII cells is printed without loading rich;
    # what a user reads must be what rich printed before, byte for byte.
    grid = table(headers, rows)
    Terminal(color=False).out(grid)
    printed = capsys.readouterr().out
    terminal = Terminal(color=False)
    console = terminal._console(stderr=False)
    console.print(_trimmed(console, grid.rich_table()), crop=False)
    assert printed == capsys.readouterr().out


@pytest.mark.parametrize(
    "text",
    [
        "repo @ 7704518 -> sandbox",
        "guard: 3 objects would be pruned   ",
        "",
        # Not printable ASCII: rich expands the tab, drops the escape, measures é.
        "a\tb",
        "app \x1b[31mred",
        "café @ 1234567 -> sandbox",
    ],
    ids=["header", "trailing spaces", "empty", "tab", "escape", "accent"],
)
def test_a_styled_line_without_colour_prints_as_rich_prints_it(
    text: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # A plan's header is printed without loading rich when there is no colour;
    # what a user reads must be what the painted line printed, byte for byte.
    Terminal(color=False).out(Terminal(color=False).styled(text, "bold"))
    printed = capsys.readouterr().out
    Terminal(color=False).out(Terminal(color=False).paint(text, "bold"))
    assert printed == capsys.readouterr().out


def test_a_styled_line_keeps_its_colour_on_a_terminal() -> None:
    assert not isinstance(Terminal(color=True).styled("repo", "bold"), str)


@pytest.mark.parametrize(
    ("seconds", "want"), [(-3, "0s"), (59.9, "59s"), (60, "1m"), (7200, "2h"), (90000, "1d")]
)
def test_age_is_kubectls(seconds: float, want: str) -> None:
    assert age(seconds) == want
    assert age_of_timestamp("1970-01-01T00:02:00Z", now=180.0) == "1m"
    assert age_of_timestamp("not a time", now=180.0) == "-"
