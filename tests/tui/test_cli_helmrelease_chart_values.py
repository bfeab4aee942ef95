"""A HelmRelease's chart-side values switches, through `gitwave sync` with the
real helm and a served chart repository: ``spec.chart.spec.valuesFiles`` (with
``ignoreMissingValuesFiles``) and ``install/upgrade.disableSchemaValidation``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from gitwave.engine.render.charts import forget_indexes
from tests.engine.helm_support import (  # noqa: F401 (helm_cli_sandbox: an autouse fixture)
    CONFIGMAP,
    DEPLOYMENT,
    ChartRepo,
    flux_release,
    helm_cli_sandbox,
    serve_chart_repo,
    write_chart,
)
from tests.tui.cli_support import run
from tests.tui.test_cli_helmrelease_fields import live, repo_with

SCHEMA = {"type": "object", "properties": {"replicas": {"type": "integer"}}}


@pytest.fixture
def chart_repo(tmp_path: Path) -> Iterator[ChartRepo]:
    chart = write_chart(
        tmp_path / "chart-src",
        "web",
        "1.0.0",
        templates={"cm.yaml": CONFIGMAP, "deploy.yaml": DEPLOYMENT},
    )
    (chart / "values-prod.yaml").write_text("greeting: from-prod\nreplicas: 3\n")
    (chart / "values-eu.yaml").write_text("greeting: from-eu\n")
    (chart / "values.schema.json").write_text(json.dumps(SCHEMA))
    with serve_chart_repo(tmp_path / "charts") as repo:
        repo.publish(chart)
        yield repo
    forget_indexes()


def values_files(files: list[str], *, ignore_missing: bool = False) -> str:
    """The lines to add under spec.chart.spec."""
    text = "      valuesFiles:\n" + "".join(f"        - {f}\n" for f in files)
    if ignore_missing:
        text += "      ignoreMissingValuesFiles: true\n"
    return text


def test_values_files_merge_in_order_under_the_release_values(
    tmp_path: Path, chart_repo: ChartRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = values_files(["values-prod.yaml", "values-eu.yaml"]) + "  values:\n    tag: '1.28'\n"
    root = repo_with(tmp_path, flux_release(chart_repo.url, spec=spec))
    code, out, err = run(capsys, "sync", str(root))
    assert code == 0, out + err
    settings = live(capsys, "configmap/shop-web-settings", "shop") or {}
    assert settings["data"]["greeting"] == "from-eu"  # the later file wins
    deployment = live(capsys, "deployment/shop-web-web", "shop") or {}
    assert deployment["spec"]["replicas"] == 3  # from values-prod.yaml
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.28"


def test_a_missing_values_file_is_named_unless_ignored(
    tmp_path: Path, chart_repo: ChartRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    root = repo_with(tmp_path, flux_release(chart_repo.url, spec=values_files(["values-us.yaml"])))
    code, out, err = run(capsys, "sync", str(root))
    assert code != 0
    text = " ".join((out + err).split())
    assert (
        "HelmRelease/flux-system/web (web.yaml:10): spec.chart.spec.valuesFiles[0]: "
        "the chart has no file 'values-us.yaml'"
    ) in text, text
    assert live(capsys, "configmap/shop-web-settings", "shop") is None

    spec = values_files(["values-us.yaml", "values-prod.yaml"], ignore_missing=True)
    root = repo_with(tmp_path, flux_release(chart_repo.url, spec=spec))
    code, out, err = run(capsys, "sync", str(root))
    assert code == 0, out + err
    settings = live(capsys, "configmap/shop-web-settings", "shop") or {}
    assert settings["data"]["greeting"] == "from-prod"


def test_a_values_file_out_of_the_chart_is_refused(
    tmp_path: Path, chart_repo: ChartRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    root = repo_with(
        tmp_path, flux_release(chart_repo.url, spec=values_files(["../../etc/passwd"]))
    )
    code, out, err = run(capsys, "sync", str(root))
    assert code != 0
    assert "spec.chart.spec.valuesFiles[0]: '../../etc/passwd' must be a path inside the chart" in (
        " ".join((out + err).split())
    )


def test_disable_schema_validation_skips_values_schema_json(
    tmp_path: Path, chart_repo: ChartRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    values = "  values:\n    greeting: typed\n    replicas: '2'\n"
    root = repo_with(tmp_path, flux_release(chart_repo.url, spec=values))
    code, out, err = run(capsys, "sync", str(root))
    assert code != 0
    assert "replicas" in out + err and "integer" in out + err
    assert live(capsys, "configmap/shop-web-settings", "shop") is None

    switches = "    disableSchemaValidation: true\n"
    text = flux_release(chart_repo.url, spec=values + "  upgrade:\n" + switches).replace(
        "  install:\n", "  install:\n" + switches
    )
    root = repo_with(tmp_path, text)
    code, out, err = run(capsys, "sync", str(root))
    assert code == 0, out + err
    settings = live(capsys, "configmap/shop-web-settings", "shop") or {}
    assert settings["data"]["greeting"] == "typed"


def test_disable_schema_validation_on_one_action_only_is_refused(
    tmp_path: Path, chart_repo: ChartRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = "  upgrade:\n    disableSchemaValidation: true\n"
    root = repo_with(tmp_path, flux_release(chart_repo.url, spec=spec))
    code, out, err = run(capsys, "sync", str(root))
    assert code != 0
    assert (
        "spec.install.disableSchemaValidation and spec.upgrade.disableSchemaValidation must agree"
    ) in " ".join((out + err).split())
