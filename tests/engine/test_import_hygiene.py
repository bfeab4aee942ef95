"""Imports follow the data flow; each rule fails naming the offending file:line.

- the engine never imports a UI, a cloud SDK or a provider's implementation
  (GitPython only in engine/source*.py);
- providers/ and compositions/ import from the engine only through
  ``gitwave.engine.api``, ``gitwave.engine.model`` and ``gitwave.engine.errors``;
- tui/ wires providers up but never calls boto3, botocore, kubernetes or
  GitPython itself.

The static rules read the source with ``ast`` (every import, also inside a
function or under TYPE_CHECKING); one test also imports every engine module
in a fresh interpreter, which catches what an imported library pulls in.
"""

from __future__ import annotations

import ast
import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import gitwave.engine

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN = ("textual", "kubernetes", "boto3", "botocore", "moto")
ENGINE_API = frozenset({"api", "model", "errors"})


def imports(folder: str) -> list[tuple[str, str]]:
    """``(file:line, imported module)`` for every absolute import under ``folder``,
    ``from a import b`` read as ``a.b`` too (``b`` may be a module)."""
    found: list[tuple[str, str]] = []
    for path in sorted((ROOT / folder).rglob("*.py")):
        where = path.relative_to(ROOT).as_posix()
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                found += [(f"{where}:{node.lineno}", alias.name) for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found += [
                    (f"{where}:{node.lineno}", f"{node.module}.{alias.name}")
                    for alias in node.names
                ]
    return found


def top_level(module: str) -> str:
    return module.split(".")[0]


def engine_internals(folder: str) -> list[str]:
    """Imports of ``gitwave.engine.X`` under ``folder`` where X is not the public API."""
    offenders = []
    for where, module in imports(folder):
        parts = module.split(".")
        if parts[:2] == ["gitwave", "engine"] and (len(parts) < 3 or parts[2] not in ENGINE_API):
            offenders.append(f"{where}: {module}")
    return sorted(set(offenders))


# ---------------------------------------------------------------- engine


def test_importing_every_engine_module_imports_no_ui_or_cloud_sdk() -> None:
    modules = sorted(
        f"gitwave.engine.{m.name}" for m in pkgutil.iter_modules(gitwave.engine.__path__)
    )
    assert "gitwave.engine.model" in modules and "gitwave.engine.sync" in modules
    script = (
        "import importlib, json, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], check=True, capture_output=True, text=True
    ).stdout
    loaded = set(json.loads(out))
    assert not loaded & set(FORBIDDEN), sorted(loaded & set(FORBIDDEN))


def test_the_engine_never_imports_providers_tui_ui_or_cloud_sdks() -> None:
    offenders = [
        f"{where}: {module}"
        for where, module in imports("engine")
        if module.startswith(("gitwave.providers", "gitwave.tui"))
        or top_level(module) in FORBIDDEN
        or (top_level(module) == "git" and not where.startswith("engine/source"))
    ]
    assert not offenders, "the engine imports against the flow:\n" + "\n".join(offenders)


# ---------------------------------------------------------------- providers, compositions


def test_providers_use_only_the_engine_public_api() -> None:
    offenders = engine_internals("providers")
    assert not offenders, (
        "providers/ may import only gitwave.engine.api, .model and .errors "
        "(add a re-export to engine/api.py):\n" + "\n".join(offenders)
    )


def test_compositions_use_only_the_engine_public_api() -> None:
    offenders = engine_internals("compositions")
    assert not offenders, (
        "compositions/ may import only gitwave.engine.api, .model and .errors "
        "(add a re-export to engine/api.py):\n" + "\n".join(offenders)
    )


# ---------------------------------------------------------------- tui


@pytest.mark.parametrize("library", ["boto3", "botocore", "kubernetes", "git"])
def test_the_tui_never_calls_a_cloud_sdk_or_gitpython_itself(library: str) -> None:
    offenders = [
        f"{where}: {module}" for where, module in imports("tui") if top_level(module) == library
    ]
    assert not offenders, (
        f"tui/ imports {library} directly; use a provider or the engine:\n" + "\n".join(offenders)
    )


def test_the_rules_see_an_offender(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The scanner itself: a function-level import of an engine internal is found."""
    package = tmp_path / "providers" / "example"
    package.mkdir(parents=True)
    (package / "target.py").write_text(
        "from gitwave.engine import api, model\n"
        "from gitwave.engine.errors import ProviderError\n"
        "def health():\n"
        "    from gitwave.engine.health import health_of\n"
        "    import gitwave.engine.mask\n"
    )
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    assert engine_internals("providers") == [
        "providers/example/target.py:4: gitwave.engine.health.health_of",
        "providers/example/target.py:5: gitwave.engine.mask",
    ]
