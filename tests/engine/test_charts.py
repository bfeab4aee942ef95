"""Chart fetching from a real chart repository served on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from gitwave.engine.errors import RenderError
from gitwave.engine.render.charts import ChartRef, fetch_chart, forget_indexes
from gitwave.engine.render.helm import ChartRender, fetched_chart_docs
from tests.engine.helm_support import ChartRepo, serve_chart_repo, write_chart


@pytest.fixture
def chart_repo(tmp_path: Path) -> Iterator[ChartRepo]:
    forget_indexes()
    with serve_chart_repo(tmp_path / "repo") as repo:
        for version in ("1.0.0", "1.2.0", "1.2.7", "1.3.1", "2.0.0"):
            repo.publish(write_chart(tmp_path / "src" / version, "web", version))
        repo.requests.clear()
        yield repo
    forget_indexes()


@dataclass(frozen=True)
class Case:
    constraint: str
    want: str


@pytest.mark.parametrize(
    "case",
    [
        Case(">=1.0.0 <2.0.0", "1.3.1"),
        Case("1.2.x", "1.2.7"),
        Case("~1.2", "1.2.7"),
        Case("*", "2.0.0"),
        Case("", "2.0.0"),
        Case("1.2.0", "1.2.0"),
        Case("^1.0", "1.3.1"),
    ],
    ids=lambda c: c.constraint or "empty",
)
def test_version_range_picks_the_newest_matching_chart(
    chart_repo: ChartRepo, tmp_path: Path, case: Case
) -> None:
    chart = fetch_chart(
        ChartRef(chart_repo.url, "web", case.constraint, where="app.yaml:3"),
        cache_dir=tmp_path / "cache",
    )
    assert chart.version == case.want
    docs = fetched_chart_docs(chart, ChartRender("demo", "shop"), where="app.yaml:3")
    assert [d.value["data"]["chart"] for d in docs] == [case.want]
    assert str(docs[0].source) == f"web-{case.want}/templates/configmap.yaml"


def test_second_render_reaches_no_server(chart_repo: ChartRepo, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    first = fetch_chart(ChartRef(chart_repo.url, "web", "~1.2"), cache_dir=cache)
    assert sorted(chart_repo.requests) == ["/index.yaml", "/web-1.2.7.tgz"]
    chart_repo.requests.clear()
    again = fetch_chart(ChartRef(chart_repo.url, "web", "~1.2"), cache_dir=cache)
    assert again == first
    assert chart_repo.requests == []
    # A new process (no index in memory) asking for the exact version asks nobody either.
    forget_indexes()
    exact = fetch_chart(ChartRef(chart_repo.url, "web", "1.2.7"), cache_dir=cache)
    assert exact.digest == first.digest
    assert chart_repo.requests == []


def test_unreachable_repository_names_the_url(tmp_path: Path) -> None:
    forget_indexes()
    with serve_chart_repo(tmp_path / "gone") as repo:
        url = repo.url
    with pytest.raises(RenderError) as caught:
        fetch_chart(ChartRef(url, "web", "1.0.0", where="hr.yaml:1"), cache_dir=tmp_path / "c")
    assert str(caught.value).startswith("hr.yaml:1: cannot fetch chart 'web': ")
    assert f"{url}/index.yaml" in str(caught.value)


def test_no_matching_version_lists_the_versions(chart_repo: ChartRepo, tmp_path: Path) -> None:
    with pytest.raises(RenderError, match=r"matches '>=3\.0\.0' \(versions: 1\.0\.0, "):
        fetch_chart(ChartRef(chart_repo.url, "web", ">=3.0.0"), cache_dir=tmp_path / "c")


def test_unknown_chart_is_an_error(chart_repo: ChartRepo, tmp_path: Path) -> None:
    with pytest.raises(RenderError, match="chart 'api' is not in the index of http://127"):
        fetch_chart(ChartRef(chart_repo.url, "api", "*"), cache_dir=tmp_path / "c")


def test_archive_differing_from_its_digest_is_refused(
    chart_repo: ChartRepo, tmp_path: Path
) -> None:
    archive = chart_repo.root / "web-1.0.0.tgz"
    archive.write_bytes(archive.read_bytes() + b"tampered")
    with pytest.raises(RenderError, match=r"digest sha256:[0-9a-f]+ differs from the index's"):
        fetch_chart(ChartRef(chart_repo.url, "web", "1.0.0"), cache_dir=tmp_path / "c")
    assert not any((tmp_path / "c").glob("*/web"))


def test_chart_name_cannot_be_a_flag_or_path(chart_repo: ChartRepo, tmp_path: Path) -> None:
    for name in ("--debug", "../web", "a b"):
        with pytest.raises(RenderError, match=r"chart name .* is not valid"):
            fetch_chart(ChartRef(chart_repo.url, name, "*"), cache_dir=tmp_path / "c")


def test_oci_reference_is_validated_before_helm_runs(tmp_path: Path) -> None:
    with pytest.raises(RenderError, match=r"OCI reference .* is not valid"):
        fetch_chart(ChartRef("oci://host/--x y", "web", "1.0.0"), cache_dir=tmp_path / "c")
