"""Packaging: every package folder is installed under gitwave.*, and nothing bare."""

from __future__ import annotations

import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TOP = {
    "engine": "gitwave.engine",
    "compositions": "gitwave.compositions",
    "providers": "gitwave.providers",
    "tui": "gitwave.tui",
}


def test_every_package_folder_is_listed_in_pyproject() -> None:
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    assert config["package-dir"] == {v: k for k, v in TOP.items()}
    found = set()
    for folder, name in TOP.items():
        for init in (REPO / folder).rglob("__init__.py"):
            rel = init.parent.relative_to(REPO / folder)
            found.add(".".join([name, *rel.parts]) if rel.parts else name)
    assert found == listed, f"missing: {sorted(found - listed)}, stale: {sorted(listed - found)}"
