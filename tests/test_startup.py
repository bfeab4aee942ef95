"""What a command imports before it prints: ``gitwave --help``, a mistyped flag
and ``gitwave version`` answer without the engine's heavy libraries.

Behaviour, not timing: each case runs a fresh interpreter (as a user's shell
does) and lists the modules it ended with. A heavy module on the list is what
made ``--help`` take 0.8 s (CEL alone imports prompt_toolkit and typer).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

SAMPLES = Path(__file__).resolve().parents[1] / "samples"

# Libraries no answer below needs; each costs 20-130 ms to import.
HEAVY = (
    "cel",
    "celpy",
    "prompt_toolkit",
    "gitwave.compositions",
    "gitwave.engine.operations",
    "gitwave.engine.apps.loader",
    "gitwave.providers.sandbox",
    "gitwave.providers.aws",
    "gitwave.tui.cli.context",
    "boto3",
    "botocore",
    "moto",
    "kubernetes",
    "textual",
    "rich",
    "networkx",
    "git",
    "jsonschema",
    "regopy",
    "prometheus_client",
    "watchfiles",
)

_PROBE = """
import contextlib, io, json, sys
from gitwave.tui.cli import main
code = None
with contextlib.redirect_stdout(io.StringIO()) as out, contextlib.redirect_stderr(io.StringIO()):
    try:
        code = main(sys.argv[1:])
    except SystemExit as exc:
        code = exc.code
print(json.dumps({"code": code, "out": out.getvalue(), "modules": sorted(sys.modules)}))
"""


@dataclass(frozen=True)
class Case:
    reason: str
    argv: tuple[str, ...]
    code: int
    says: str


CASES = [
    Case("the top-level help", ("--help",), 0, "usage: gitwave"),
    Case("a verb's help", ("plan", "--help"), 0, "usage: gitwave plan"),
    Case("the version flag", ("--version",), 0, "gitwave: v"),
    Case("a mistyped verb", ("plna",), 2, ""),
]


def _probe(*argv: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    """``gitwave ARGV...`` in a fresh interpreter (with ``env``, else this one's):
    its exit code, output and the modules it ended with."""
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, *argv],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
        env=env,
    )
    result: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    return result


def _plain_env(state: Path, **more: str) -> dict[str, str]:
    """This environment with its own GITWAVE_STATE and no colour."""
    return {**os.environ, "GITWAVE_STATE": str(state), "NO_COLOR": "1", **more}


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.reason)
def test_answers_without_heavy_imports(case: Case) -> None:
    result = _probe(*case.argv)
    assert result["code"] == case.code
    assert case.says in str(result["out"])
    modules = set(result["modules"])
    assert sorted(m for m in HEAVY if m in modules) == []


@pytest.mark.parametrize("argv", [("--help",), ("plna",)], ids=["help", "mistyped"])
def test_only_the_version_flag_reads_the_installed_version(argv: tuple[str, ...]) -> None:
    # importlib.metadata scans the installed packages: --version reads it when
    # given, not every command at parser build.
    assert "importlib.metadata" not in set(_probe(*argv)["modules"])
    version = _probe("--version")
    assert str(version["out"]).startswith("gitwave: v")
    assert "importlib.metadata" in set(version["modules"])


def test_a_verb_still_runs_its_function() -> None:
    # The lazy stand-ins must reach the real verb: `version -o json` is printed
    # by verbs_meta, which --help never imports.
    done = subprocess.run(
        [sys.executable, "-m", "gitwave.tui.cli", "version", "-o", "json"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["gitwave"]


@pytest.mark.parametrize("verb", ["status", "plan"])
def test_an_app_without_cloud_objects_never_starts_the_aws_emulator(
    verb: str, tmp_path: Path
) -> None:
    # samples/guestbook is plain Kubernetes YAML: nothing of it goes to AWS, so
    # neither the emulator (moto, 5 s to start) nor boto3 is ever loaded, and
    # the state directory gets no emulator snapshot.
    state = tmp_path / "state"
    env = _plain_env(state)
    result = _probe(verb, str(SAMPLES / "guestbook"), env=env)
    assert result["code"] == (0 if verb == "status" else 1)  # plan: all to create
    assert "guestbook" in result["out"]
    assert "emulator" not in result["out"]
    loaded = set(result["modules"])
    assert sorted(m for m in ("moto", "boto3", "botocore") if m in loaded) == []
    assert sorted(p.name for p in state.iterdir()) == ["gitwave.db", "sandbox.db"]


# What planning plain YAML in a Git work tree at HEAD never needs: graph
# algorithms (networkx), GitPython (three `git` commands answer), cryptography
# (no Secret, no SealedSecret), the cloud and cluster clients, the TUI, and the
# parts of the engine that read other kinds of apps and sources.
NOT_FOR_PLAIN_YAML = (
    "networkx",
    "git",
    "cryptography",
    "boto3",
    "botocore",
    "moto",
    "kubernetes",
    "textual",
    "cel",
    "prompt_toolkit",
    # A render with no XRD, Composition or RGD: not the composition engine.
    "gitwave.compositions.crossplane",
    "gitwave.compositions.kro",
    "gitwave.compositions.definitions",
    "gitwave.compositions.registry",
    "gitwave.compositions.patch_and_transform",
    # A directory of manifests: no Helm, Kustomize or postBuild, and (rendered
    # from the disk cache or not) neither an Argo CD, Flux, ApplicationSet,
    # HelmRelease nor ArtifactGenerator reader, nor an OCI pull.
    "gitwave.engine.render.helm",
    "gitwave.engine.render.kustomize",
    "gitwave.engine.render.charts",
    "gitwave.engine.render.postbuild",
    "gitwave.engine.apps.argo",
    "gitwave.engine.apps.flux",
    "gitwave.engine.apps.appset",
    "gitwave.engine.apps.generators",
    "gitwave.engine.apps.helmrelease",
    "gitwave.engine.apps.helmrelease_chart",
    "gitwave.engine.apps.helmrelease_spec",
    "gitwave.engine.apps.artifact_generator",
    "gitwave.engine.source_oci",
    "gitwave.engine.images",
    "gitwave.engine.controller.objects",
    # No metric measured (urllib.request brings http.client and ssl), no retry
    # loop, no progress spinner, no --version.
    "urllib.request",
    "tenacity",
    "rich.status",
    "importlib.metadata",
    # Off a terminal the plan's text and header are plain: not rich (25 ms).
    "rich",
    "rich.text",
    "rich.console",
)


@pytest.mark.parametrize("verb", ["status", "plan"])
def test_status_and_plan_of_plain_yaml_import_only_what_they_use(verb: str, tmp_path: Path) -> None:
    env = _plain_env(tmp_path / "state")
    result = _probe(verb, str(SAMPLES / "guestbook"), env=env)
    assert result["code"] == (0 if verb == "status" else 1)
    assert "guestbook" in result["out"]
    loaded = set(result["modules"])
    assert sorted(m for m in NOT_FOR_PLAIN_YAML if m in loaded) == []


# What `gitwave status` of plain YAML never needs besides (issue 13, start-up):
# it plans and reads health, it syncs nothing, and off a terminal its table is
# plain text. Each of these was on its path before (30 ms of rich alone).
NOT_FOR_A_LISTING = (
    # Tables without colour are laid out without rich (tui.cli.output.Grid).
    "rich",
    "rich.console",
    "rich.table",
    "rich.text",
    # The executor, its hooks and waits, drift loops, retries, `wait`: only a
    # sync or a wait imports them (engine.operations imports them in those).
    "gitwave.engine.sync",
    "gitwave.engine.sync_run",
    "gitwave.engine.sync_hooks",
    "gitwave.engine.sync_prune",
    "gitwave.engine.sync_waits",
    "gitwave.engine.hooks",
    "gitwave.engine.drift",
    "gitwave.engine.app_wait",
    "gitwave.engine.retry",
    "gitwave.engine.change_sleep",
    # TLS for a source's certSecretRef is set up when a source is fetched.
    "ssl",
    # Issue 13, status under 300 ms. No Bucket is read: registering the S3
    # reader does not import the Bucket fetch (engine.bucket_readers).
    "gitwave.engine.source_bucket",
    "gitwave.engine.tls_trust",
    # No composite and no ${...} reference: neither the expression language nor
    # the connection details and composition functions.
    "gitwave.compositions.expressions",
    "gitwave.compositions.functions",
    "gitwave.compositions.connection",
    "gitwave.compositions.values",
    # No ValidatingAdmissionPolicy: not the CEL admission engine.
    "gitwave.engine.policy.vap",
    "gitwave.engine.policy.vap_match",
    "gitwave.engine.policy.cel_env",
    # Not the printers of plan, graph and render (the app choice is tui.cli.app_listing).
    "gitwave.tui.cli.verbs_app",
    "gitwave.tui.cli.findings",
    "gitwave.tui.plan_text",
    "gitwave.engine.plan_report",
    "gitwave.engine.orphan",
    "gitwave.engine.graph_secrets",
    # No AWS credentials file is parsed.
    "configparser",
    # No Argo Rollout: the sandbox's rollout controller is not registered yet.
    "gitwave.providers.sandbox.controllers.rollouts",
    # Issue 13, status4: a read takes no app lock and writes no history row
    # (engine.lock_names names the process), so neither the locks nor socket's
    # host name nor getpass' user; no sync window, so no time-zone database; no
    # label selector given; no cloud object, so neither the AWS configuration
    # nor the emulator's module (pickle).
    "gitwave.engine.locks",
    "getpass",
    "zoneinfo",
    "gitwave.engine.label_selector",
    "gitwave.providers.aws.config",
    "gitwave.providers.aws.embedded",
    "pickle",
)


def test_status_of_plain_yaml_loads_neither_rich_nor_the_sync_executor(tmp_path: Path) -> None:
    env = _plain_env(tmp_path / "state")
    result = _probe("status", str(SAMPLES / "guestbook"), env=env)
    assert result["code"] == 0
    assert str(result["out"]).splitlines()[0].split()[:4] == [
        "APP",
        "DESTINATION",
        "SYNC",
        "HEALTH",
    ]
    loaded = set(result["modules"])
    assert sorted(m for m in NOT_FOR_A_LISTING if m in loaded) == []


# Issue 13, status4: the pre-flight keeps what passed its schema check for every
# app, so the second `status` of a small app (in a new process, as a user runs
# it) checks no schema again and loads no schema library (jsonschema_rs brings
# email.utils and socket).
NOT_FOR_A_VOUCHED_PREFLIGHT = ("jsonschema_rs", "email.utils", "socket")


def test_a_second_status_of_a_small_app_loads_no_schema_library(tmp_path: Path) -> None:
    env = _plain_env(tmp_path / "state", GITWAVE_CACHE=str(tmp_path / "cache"))
    loaded: list[set[str]] = []
    for _ in range(2):
        result = _probe("status", str(SAMPLES / "guestbook"), env=env)
        assert result["code"] == 0
        assert "guestbook" in result["out"]
        loaded.append(set(result["modules"]))
    # The first one checked the schemas (the memo was empty): the test sees the library.
    assert "jsonschema_rs" in loaded[0]
    assert sorted(m for m in NOT_FOR_A_VOUCHED_PREFLIGHT if m in loaded[1]) == []
