"""Flux post-build substitution (issue 12 item 2), through the CLI onto the sandbox.

A real Git repository in tmp_path: a GitRepository, a ``vars`` Kustomization
that applies a ConfigMap and a Secret, and an ``app`` Kustomization that
dependsOn it and substitutes from them (tests/testdata/postbuild). What a
user sees is checked: exit codes, messages, the live objects on the sandbox,
and that the Secret's value never shows in render, plan, history or events.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.tui.cli_support import commit, run, sandbox_state

DATA = Path(__file__).parent.parent / "testdata" / "postbuild"
PASSWORD = "s3cr3t-pass"


@pytest.fixture(autouse=True)
def sandbox_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return sandbox_state(tmp_path, monkeypatch, own_cache=True)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    for folder, name in (("clusters", "flux.yaml"), ("vars", "vars.yaml"), ("app", "app.yaml")):
        (root / folder).mkdir(parents=True)
        shutil.copy(DATA / name, root / folder / name)
    commit(root, "init")
    return root


def live(capsys: pytest.CaptureFixture[str], what: str, namespace: str) -> dict[str, Any]:
    code, out, err = run(capsys, "sandbox", "get", what, "-n", namespace, "-o", "json")
    assert code == 0, err
    found: dict[str, Any] = json.loads(out)
    return found


def test_variables_are_substituted_as_flux_does(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "sync", str(repo / "clusters"))
    assert code == 0, out + err
    data = live(capsys, "configmap/web-config", "shop")["data"]
    assert data == {
        "greeting": "hello",  # inline substitute wins over the ConfigMap's
        "region": "eu-west-1",  # from ConfigMap/flux-system/settings
        "tier": "gold",  # ${tier:=gold}
        "shout": "HELLO",  # ${greeting^^}
        "url": f"postgres://app:{PASSWORD}@db",  # from the Secret: the target holds it
        "literal": "${greeting}",  # $${greeting}
        "script": 'echo "$HOME costs $5 hello"\n',  # $HOME stays, $$ is one dollar
    }
    # Annotated kustomize.toolkit.fluxcd.io/substitute: disabled: left as written.
    assert live(capsys, "configmap/raw", "shop")["data"] == {"kept": "${untouched}"}
    deployment = live(capsys, "deployment/web", "shop")
    assert deployment["spec"]["replicas"] == 2  # a number once substituted, as in Flux
    image = deployment["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image == "nginx:1.27"


def test_a_secret_value_stays_masked_in_every_output(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "sync", str(repo / "clusters"))
    assert code == 0, out + err
    assert PASSWORD not in out + err
    code, out, err = run(capsys, "render", str(repo / "clusters"), "--app", "app")
    assert code == 0, err
    assert "url: postgres://app:***@db" in out
    assert PASSWORD not in out + err

    # The Secret changes: the plan of the app shows the change, neither value.
    vars_file = repo / "vars" / "vars.yaml"
    vars_file.write_text(vars_file.read_text().replace(PASSWORD, "n3w-pa55word"))
    commit(repo)
    code, out, err = run(capsys, "sync", str(repo / "clusters"), "--app", "vars")
    assert code == 0, out + err
    code, out, err = run(capsys, "plan", str(repo / "clusters"), "--app", "app")
    assert code == 1, out + err
    assert "data.url: *** -> postgres://app:***@db" in out
    code, json_out, err = run(capsys, "plan", str(repo / "clusters"), "--app", "app", "-o", "json")
    for text in (out, json_out):
        assert PASSWORD not in text and "n3w-pa55word" not in text
    code, out, err = run(capsys, "sync", str(repo / "clusters"), "--app", "app")
    assert code == 0, out + err
    assert live(capsys, "configmap/web-config", "shop")["data"]["url"].endswith("n3w-pa55word@db")

    for argv in (("history", "app", "-o", "json"), ("events", "app", "-o", "json")):
        code, out, err = run(capsys, *argv)
        assert code == 0, err
        assert PASSWORD not in out and "n3w-pa55word" not in out


def test_rollback_keeps_an_object_a_secret_reached(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """History records such an object masked; a rollback leaves it as it is live,
    as it does a Secret, instead of writing ``***`` into it."""
    assert run(capsys, "sync", str(repo / "clusters"))[0] == 0
    code, out, _ = run(capsys, "history", "app", "-o", "json")
    first = json.loads(out)[0]["id"]
    app_file = repo / "app" / "app.yaml"
    app_file.write_text(app_file.read_text().replace("tier: ${tier:=gold}", "tier: silver"))
    commit(repo)
    assert run(capsys, "sync", str(repo / "clusters"), "--app", "app")[0] == 0
    code, out, err = run(capsys, "rollback", "app", str(first))
    assert code == 0, out + err
    data = live(capsys, "configmap/web-config", "shop")["data"]
    assert data["url"] == f"postgres://app:{PASSWORD}@db"
    assert data["tier"] == "silver"  # kept as it is live


def test_an_unset_variable_is_an_error_and_nothing_is_applied(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(capsys, "sync", str(repo / "clusters"), "--app", "vars")[0] == 0
    app_file = repo / "app" / "app.yaml"
    app_file.write_text(app_file.read_text().replace("${tier:=gold}", "${tier}"))
    commit(repo)
    code, out, err = run(capsys, "sync", str(repo / "clusters"), "--app", "app")
    assert code != 0
    assert (
        "Kustomization/flux-system/app (clusters/flux.yaml:23): postBuild: "
        "ConfigMap/shop/web-config (app/app.yaml:1): variable not set: 'tier'"
    ) in err
    assert "${tier:=value}" in err  # the hint says how to give a default
    code, out, _ = run(capsys, "sandbox", "get", "configmap", "-n", "shop", "-o", "json")
    assert "web-config" not in out and "raw" not in out


def test_a_required_substitute_from_object_must_be_on_the_target(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Flux reads substituteFrom objects from the cluster: before ``vars`` is
    synced there is no ConfigMap to read, and the app says so."""
    code, _, err = run(capsys, "plan", str(repo / "clusters"), "--app", "app")
    assert code == 2
    assert (
        "Kustomization/flux-system/app (clusters/flux.yaml:23): spec.postBuild.substituteFrom: "
        "ConfigMap/flux-system/settings is not on the target"
    ) in err


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            'replicas: "2"',
            "replicas: 2",
            "clusters/flux.yaml:23 (Kustomization/app): spec.postBuild.substitute.replicas: "
            "must be a string",
        ),
        (
            "greeting: hello",
            "greet-ing: hello",
            "spec.postBuild.substitute: variable name 'greet-ing' is invalid",
        ),
        (
            "- kind: ConfigMap\n        name: settings",
            "- kind: Deployment\n        name: settings",
            "spec.postBuild.substituteFrom[0].kind: 'Deployment' is not ConfigMap or Secret",
        ),
    ],
)
def test_a_malformed_post_build_is_refused_naming_the_field(
    repo: Path, capsys: pytest.CaptureFixture[str], old: str, new: str, message: str
) -> None:
    flux = repo / "clusters" / "flux.yaml"
    assert old in flux.read_text()
    flux.write_text(flux.read_text().replace(old, new))
    commit(repo)
    code, out, err = run(capsys, "sync", str(repo / "clusters"))
    assert code == 2
    assert message in err
    assert "web-config" not in out  # the app fails alone; its objects are not applied


def test_without_post_build_nothing_is_substituted(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """As in Flux: a Kustomization without spec.postBuild applies ``${…}`` as written."""
    flux = repo / "clusters" / "flux.yaml"
    text = flux.read_text()
    flux.write_text(text[: text.index("  postBuild:")])
    app_file = repo / "app" / "app.yaml"
    app_file.write_text(app_file.read_text().split("---")[0])  # the ConfigMap alone
    commit(repo)
    code, out, err = run(capsys, "sync", str(repo / "clusters"))
    assert code == 0, out + err
    assert live(capsys, "configmap/web-config", "shop")["data"]["greeting"] == "${greeting}"


def test_numbers_stay_strings_only_the_way_flux_documents(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Substituted text is read as YAML: a quoted ``"${replicas}"`` still turns
    into a number, which a ConfigMap refuses naming the field; Flux's
    ``${quote}${replicas}${quote}`` keeps it a string."""
    assert run(capsys, "sync", str(repo / "clusters"), "--app", "vars")[0] == 0
    app_file = repo / "app" / "app.yaml"
    original = app_file.read_text()
    app_file.write_text(original.replace("tier: ${tier:=gold}", 'count: "${replicas}"'))
    commit(repo)
    code, out, err = run(capsys, "sync", str(repo / "clusters"), "--app", "app")
    assert code == 2
    assert "ConfigMap/shop/web-config: data['count'] must be a string" in err
    assert "${quote}${var}${quote}" in err

    flux = repo / "clusters" / "flux.yaml"
    flux.write_text(
        flux.read_text().replace("greeting: hello", "greeting: hello\n      quote: '\"'")
    )
    app_file.write_text(
        original.replace("tier: ${tier:=gold}", "count: ${quote}${replicas}${quote}")
    )
    commit(repo)
    code, out, err = run(capsys, "sync", str(repo / "clusters"), "--app", "app")
    assert code == 0, out + err
    assert live(capsys, "configmap/web-config", "shop")["data"]["count"] == "2"
