"""The repo path resolver under hypothesis (issue 10 item 17): any path from Git
(relative, with ``..``, absolute, through symlinks in and out of the repository,
with odd characters) resolves inside the repository or is refused with
gitwave's own error, naming the path."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gitwave.engine.apps.fields import clean_path
from gitwave.engine.errors import GitwaveError, PathEscapeError
from gitwave.engine.source import safe_join
from tests.engine.fuzz_strategies import FAST

PARTS = st.sampled_from(
    [
        "a",
        "b",
        "..",
        ".",
        "",
        "in-link",
        "out-link",
        "loop",
        "dangling",
        "a/../..",
        "/",
        "/etc",
        "\\",
        "C:\\x",
        "~",
        " ",
        "x\x00y",
        "é",
        "//",
    ]
)
PATHS = st.one_of(
    st.lists(PARTS, max_size=6).map("/".join),
    st.text(max_size=20),
)


@pytest.fixture(scope="module")
def repo() -> Iterator[Path]:
    """A repository with a directory, a symlink in it, one out of it, a loop and a
    dangling link; and a directory beside it (what a ``..`` would reach)."""
    with tempfile.TemporaryDirectory(prefix="gitwave-paths-") as top:
        root = Path(top) / "repo"
        (root / "a" / "b").mkdir(parents=True)
        (Path(top) / "outside").mkdir()
        os.symlink(root / "a", root / "in-link")
        os.symlink(Path(top) / "outside", root / "out-link")
        os.symlink(root / "loop", root / "loop")
        os.symlink(root / "nowhere", root / "dangling")
        yield root


@FAST
@given(path=PATHS)
def test_safe_join_stays_in_the_repository_or_refuses(repo: Path, path: str) -> None:
    try:
        joined = safe_join(repo, path)
    except PathEscapeError as err:
        assert err.path == path
        return
    except GitwaveError:
        return
    real = joined.resolve()
    assert real == repo.resolve() or real.is_relative_to(repo.resolve())


@FAST
@given(path=PATHS)
def test_an_app_path_is_clean_and_relative_or_refused(path: str) -> None:
    try:
        clean = clean_path(path, "apps.yaml:3 (Application/web): spec.source.path")
    except GitwaveError as err:
        assert "spec.source.path" in str(err)
        return
    assert not clean.startswith("/")
    assert clean == "." or not clean.startswith("..")
    assert "\x00" not in clean


@pytest.mark.parametrize("path", ["a\x00b", "a/\x00/b", "\x00"])
def test_a_nul_character_is_refused_naming_the_path(repo: Path, path: str) -> None:
    with pytest.raises(PathEscapeError, match="NUL"):
        safe_join(repo, path)
    with pytest.raises(PathEscapeError, match="NUL"):
        clean_path(path, "apps.yaml:3 (Application/web): spec.source.path")
