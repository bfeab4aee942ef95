"""`make demo` shows what gitwave is for: the gitwave lines of the Makefile's
``demo`` target, run as they are written, sync the app of apps and the
ProductionDatabase composite (RDS, security group, subnet group, alarm, the
connection Secret, the Deployment reading it) onto the sandbox and the embedded
AWS emulator, and print one graph holding all of it."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest

from tests.tui.cli_support import run, sandbox_state

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow  # starts the AWS emulator


def demo_commands() -> list[list[str]]:
    """The ``gitwave`` argument lists of the Makefile's demo target, in order."""
    text = (ROOT / "Makefile").read_text().replace("\\\n", " ")
    recipe = text.split("\ndemo:", 1)[1].split("\n\n", 1)[0]
    commands = []
    for line in recipe.splitlines():
        found = re.search(r"\$\(BIN\)/gitwave\s+(.*)", line)
        if found:
            commands.append(shlex.split(found.group(1)))
    return commands


def test_the_demo_syncs_the_database_and_prints_its_graph(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    sandbox_state(tmp_path, monkeypatch)
    monkeypatch.chdir(ROOT)
    commands = demo_commands()
    assert ["sync", "samples/production-database"] in commands
    assert ["graph", "samples/production-database"] in commands

    outputs = []
    for argv in commands:
        code, out, err = run(capsys, *argv)
        assert code == 0, (argv, out, err)
        outputs.append(out)

    synced = outputs[commands.index(["sync", "samples/production-database"])]
    assert "AWS: embedded emulator" in synced
    for created in (
        "DBInstance/shop-db",
        "SecurityGroup/shop-db-sg",
        "DBSubnetGroup/shop-db-subnets",
        "MetricAlarm/shop-db-alarm",
        "Deployment/store/api",
    ):
        assert re.search(rf"created\s+{re.escape(created)}\b", synced), created
    assert "0 failed" in synced

    graph = outputs[commands.index(["graph", "samples/production-database"])]
    assert "  DBInstance/shop-db  (after" in graph
    assert "    writes Secret/store/shop-db-postgresql  (read by Deployment/store/api)" in graph
    assert re.search(
        r"  Deployment/store/api  \(after .*DBInstance/shop-db via Secret/store/shop-db-postgresql",
        graph,
    )

    code, out, _ = run(capsys, "graph", "samples/production-database", "-o", "json")
    assert code == 0
    value = json.loads(out)
    staged = {key for stage in value["stages"] for key in stage["resources"]}
    assert {"DBInstance/shop-db", "Deployment/store/api"} <= staged
    edges = {tuple(edge) for edge in value["edges"]}
    assert ("DBInstance/shop-db", "Secret/store/shop-db-postgresql") in edges
    assert ("Secret/store/shop-db-postgresql", "Deployment/store/api") in edges
    assert value["connectionSecrets"] == [
        {
            "resource": "Secret/store/shop-db-postgresql",
            "writtenBy": "DBInstance/shop-db",
            "readBy": ["Deployment/store/api"],
        }
    ]

    # The Secret is real: the DBInstance wrote it into the sandbox (values masked).
    code, out, _ = run(capsys, "sandbox", "get", "secret/shop-db-postgresql", "-n", "store")
    assert code == 0
    assert "shop-db-postgresql" in out
