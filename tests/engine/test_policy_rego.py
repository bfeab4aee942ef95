"""Rego as conftest runs it (issue 14 item 3): regopy in-process gives what the
real ``opa eval`` gives on the same policies, data and inputs.

opa is built from the Go module proxy by ``make tools`` (tests/gobuild/opa)
into ~/.cache/gitwave/tools, which ``make unit``/``make test`` put on PATH.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from gitwave.engine.policy.rego import RegoEngine, RegoPolicies, findings_of, load_dir
from gitwave.engine.yamlio import iter_documents

ROOT = Path(__file__).resolve().parents[2]
SAMPLE_REGO = ROOT / "samples" / "policies" / "rego"

EXTRA = """\
package main

import rego.v1

deny contains msg if {
	input.kind == "ConfigMap"
	some key, value in input.data
	regex.match(`^[0-9]+$`, value)
	msg := sprintf("ConfigMap/%s: %s holds a bare number", [input.metadata.name, key])
}

warn_annotations contains {"msg": msg, "details": {"kind": input.kind}} if {
	not input.metadata.annotations
	msg := sprintf("%s/%s has no annotations", [input.kind, input.metadata.name])
}

violation_owner contains msg if {
	owners := {o | some o in data.owners.allowed}
	team := object.get(input.metadata, ["labels", "team"], "none")
	not owners[team]
	startswith(input.kind, "Deploy")
	msg := concat(" ", ["team", team, "is not among", concat(",", sort(owners))])
}

helper := count(input.metadata)
"""

INPUTS = """\
apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: shop}
data: {replicas: "3", mode: fast}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
  namespace: shop
  labels: {team: payments, app.kubernetes.io/name: api}
  annotations: {owner: payments}
spec:
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec:
      containers:
        - name: api
          image: ghcr.io/example/api
          securityContext: {privileged: true}
        - name: side
          image: busybox@sha256:abc
          resources: {limits: {cpu: 100m, memory: 64Mi}}
---
apiVersion: v1
kind: Secret
metadata: {name: creds, namespace: shop}
stringData: {password: x}
"""


def opa_binary() -> str:
    found = shutil.which("opa")
    assert found, (
        "opa is not on PATH: `make tools` builds it (tests/gobuild/opa) into "
        "~/.cache/gitwave/tools; put that directory on PATH"
    )
    return found


@pytest.fixture
def policy_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "policy"
    shutil.copytree(SAMPLE_REGO, directory)
    (directory / "extra.rego").write_text(EXTRA)
    (directory / "owners").mkdir()
    (directory / "owners" / "data.yaml").write_text("allowed: [platform, search]\n")
    return directory


def opa_eval(directory: Path, obj: dict[str, Any], tmp_path: Path) -> dict[str, Any]:
    input_file = tmp_path / "input.json"
    input_file.write_text(json.dumps(obj))
    done = subprocess.run(
        [
            opa_binary(),
            "eval",
            "--format",
            "json",
            "-d",
            str(directory),
            "-i",
            str(input_file),
            "data.main",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    result = json.loads(done.stdout).get("result") or [{"expressions": [{"value": {}}]}]
    value: dict[str, Any] = result[0]["expressions"][0]["value"]
    return value


def normalized(value: Any) -> Any:
    """Sets come out as arrays in either order: compare them sorted."""
    if isinstance(value, dict):
        return {k: normalized(v) for k, v in value.items()}
    if isinstance(value, list):
        return sorted((normalized(v) for v in value), key=lambda v: json.dumps(v, sort_keys=True))
    return value


def test_regopy_matches_opa_eval(policy_dir: Path, tmp_path: Path) -> None:
    modules, data = load_dir(policy_dir)
    engine = RegoEngine(RegoPolicies(tuple(modules), data))
    objects = [d.value for d in iter_documents(INPUTS, file="inputs.yaml")]
    demo = [*(ROOT / "samples" / "policy-demo").glob("*.yaml")]
    for path in sorted([*demo, *(ROOT / "samples" / "policy-denied").glob("*.yaml")]):
        objects += [d.value for d in iter_documents(path.read_text(), file=str(path))]
    compared = 0
    for obj in objects:
        ours = engine.results(obj)
        theirs = opa_eval(policy_dir, obj, tmp_path)
        assert normalized(ours) == normalized(theirs), obj["metadata"]["name"]
        mine = sorted(f.text() for f in findings_of(ours, subject="s", where="w", policy="p"))
        real = sorted(f.text() for f in findings_of(theirs, subject="s", where="w", policy="p"))
        assert mine == real
        compared += 1
    assert compared == len(objects) >= 6
    # The comparison is not vacuous: each kind of rule fired somewhere.
    every = [engine.results(o) for o in objects]
    fired = {rule for result in every for rule, value in result.items() if value}
    assert {"deny", "deny_latest", "deny_limits", "deny_privileged", "violation"} <= fired
    assert {"warn", "warn_annotations", "violation_owner"} <= fired


def test_conftest_rule_names() -> None:
    from gitwave.engine.policy.model import Action
    from gitwave.engine.policy.rego import rule_action

    assert rule_action("deny") is Action.DENY
    assert rule_action("deny_x") is Action.DENY
    assert rule_action("violation_y") is Action.DENY
    assert rule_action("warn") is Action.WARN
    assert rule_action("denyx") is None
    assert rule_action("helper") is None
