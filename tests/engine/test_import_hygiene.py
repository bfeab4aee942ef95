"""The engine stays a pure core: importing it never pulls in a UI or a cloud SDK."""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys

import gitwave.engine

FORBIDDEN = ("textual", "kubernetes", "boto3", "botocore", "moto")


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
