"""ValidatingAdmissionPolicy semantics as the API server has them (issue 14 item 2):
matching, matchConditions, variables, failurePolicy, messages, actions, params."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from gitwave.engine.model import Resource, ResourceKey, SourceRef
from gitwave.engine.policy import Action, CheckInput, PolicySet, check


def deployment(
    name: str = "api", labels: dict[str, str] | None = None, replicas: int = 1
) -> Resource:
    manifest = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": "shop", "labels": labels or {}},
        "spec": {"replicas": replicas},
    }
    return Resource(
        ResourceKey("apps", "Deployment", "shop", name), "apps/v1", manifest, SourceRef("d.yaml", 3)
    )


def policy(spec: dict[str, Any], name: str = "p") -> dict[str, Any]:
    base = {
        "matchConstraints": {
            "resourceRules": [
                {
                    "apiGroups": ["apps"],
                    "apiVersions": ["v1"],
                    "operations": ["CREATE", "UPDATE"],
                    "resources": ["deployments"],
                }
            ]
        },
        "validations": [{"expression": "object.spec.replicas < 3", "message": "too many"}],
    }
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicy",
        "metadata": {"name": name},
        "spec": {**base, **spec},
    }


def binding(spec: dict[str, Any] | None = None, policy_name: str = "p") -> dict[str, Any]:
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicyBinding",
        "metadata": {"name": "b"},
        "spec": {"policyName": policy_name, "validationActions": ["Deny"], **(spec or {})},
    }


@dataclass
class Case:
    reason: str
    policy_spec: dict[str, Any]
    want: list[tuple[str, str]]  # (action, message)
    binding_spec: dict[str, Any] = field(default_factory=dict)
    replicas: int = 5
    labels: dict[str, str] = field(default_factory=dict)
    live: dict[str, Any] | None = None
    params: tuple[dict[str, Any], ...] = ()


CM = {"apiVersion": "v1", "kind": "ConfigMap"}

CASES = [
    Case("plain deny", {}, [("Deny", "too many")]),
    Case("passes", {}, [], replicas=1),
    Case(
        "other resource does not match",
        {
            "matchConstraints": {
                "resourceRules": [
                    {
                        "apiGroups": [""],
                        "apiVersions": ["v1"],
                        "operations": ["*"],
                        "resources": ["pods"],
                    }
                ]
            }
        },
        [],
    ),
    Case(
        "excludeResourceRules",
        {
            "matchConstraints": {
                "resourceRules": [
                    {
                        "apiGroups": ["*"],
                        "apiVersions": ["*"],
                        "operations": ["*"],
                        "resources": ["*"],
                    }
                ],
                "excludeResourceRules": [
                    {
                        "apiGroups": ["apps"],
                        "apiVersions": ["*"],
                        "operations": ["*"],
                        "resources": ["deployments"],
                        "resourceNames": ["api"],
                    }
                ],
            }
        },
        [],
    ),
    Case(
        "operation UPDATE only, object is new",
        {
            "matchConstraints": {
                "resourceRules": [
                    {
                        "apiGroups": ["apps"],
                        "apiVersions": ["v1"],
                        "operations": ["UPDATE"],
                        "resources": ["deployments"],
                    }
                ]
            }
        },
        [],
    ),
    Case(
        "objectSelector",
        {},
        [],
        binding_spec={"matchResources": {"objectSelector": {"matchLabels": {"env": "prod"}}}},
        labels={"env": "dev"},
    ),
    Case(
        "matchExpressions NotIn",
        {},
        [("Deny", "too many")],
        binding_spec={
            "matchResources": {
                "objectSelector": {
                    "matchExpressions": [{"key": "env", "operator": "NotIn", "values": ["dev"]}]
                }
            }
        },
        labels={"env": "prod"},
    ),
    Case(
        "matchConditions false skips",
        {"matchConditions": [{"name": "prod", "expression": "'env' in object.metadata.labels"}]},
        [],
    ),
    Case(
        "messageExpression and variables",
        {
            "variables": [
                {"name": "max", "expression": "2"},
                {"name": "double", "expression": "variables.max * 2"},
            ],
            "validations": [
                {
                    "expression": "object.spec.replicas <= variables.double",
                    "messageExpression": "'replicas ' + string(object.spec.replicas)"
                    " + ' > ' + string(variables.double)",
                    "reason": "Forbidden",
                }
            ],
        },
        [("Deny", "replicas 5 > 4")],
    ),
    Case(
        "no message: the API server's default",
        {"validations": [{"expression": "object.spec.replicas < 3"}]},
        [("Deny", "failed expression: object.spec.replicas < 3")],
    ),
    Case(
        "failurePolicy Fail: an error denies",
        {"validations": [{"expression": "object.spec.nope > 1"}]},
        [("Deny", "expression 'object.spec.nope > 1' failed")],
    ),
    Case(
        "failurePolicy Ignore: an error passes",
        {"failurePolicy": "Ignore", "validations": [{"expression": "object.spec.nope > 1"}]},
        [],
    ),
    Case("Warn", {}, [("Warn", "too many")], binding_spec={"validationActions": ["Warn"]}),
    Case("Audit", {}, [("Audit", "too many")], binding_spec={"validationActions": ["Audit"]}),
    Case(
        "oldObject on UPDATE",
        {
            "validations": [
                {
                    "expression": "oldObject == null"
                    " || object.spec.replicas >= oldObject.spec.replicas",
                    "message": "no shrinking",
                }
            ]
        },
        [("Deny", "no shrinking")],
        live={"spec": {"replicas": 9}},
    ),
    Case(
        "params by selector: runs once per param",
        {
            "paramKind": CM,
            "validations": [
                {
                    "expression": "object.spec.replicas <= int(params.data.max)",
                    "messageExpression": "'max ' + params.data.max",
                }
            ],
        },
        [("Deny", "max 2"), ("Deny", "max 4")],
        binding_spec={
            "paramRef": {
                "selector": {"matchLabels": {"kind": "limit"}},
                "parameterNotFoundAction": "Deny",
            }
        },
        params=(
            {
                **CM,
                "metadata": {"name": "a", "namespace": "shop", "labels": {"kind": "limit"}},
                "data": {"max": "2"},
            },
            {
                **CM,
                "metadata": {"name": "b", "namespace": "shop", "labels": {"kind": "limit"}},
                "data": {"max": "4"},
            },
            {**CM, "metadata": {"name": "c", "namespace": "shop"}, "data": {"max": "1"}},
        ),
    ),
    Case(
        "params not found, Allow",
        {"paramKind": CM},
        [],
        binding_spec={"paramRef": {"name": "gone", "parameterNotFoundAction": "Allow"}},
    ),
    Case(
        "quantity and regex libraries",
        {
            "validations": [
                {
                    "expression": "quantity('512Mi').isGreaterThan(quantity('1Gi'))",
                    "message": "quantity",
                },
                {"expression": "'nginx:1.2'.find('[0-9.]+$') == '1.2'", "message": "find"},
                {"expression": "'ABC'.lowerAscii() == 'abc'", "message": "strings"},
            ]
        },
        [("Deny", "quantity")],
    ),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.reason)
def test_admission_policy(case: Case) -> None:
    resource = deployment(replicas=case.replicas, labels=case.labels)
    policies = PolicySet(
        admission=(
            (policy(case.policy_spec), "p.yaml:1"),
            (binding(case.binding_spec), "b.yaml:1"),
        ),
        params=case.params,
    )
    found = check(
        CheckInput(objects=[resource]),
        policies,
        live=lambda key: case.live if key == resource.key else None,
    )
    got = [(f.action.value, f.message) for f in found]
    assert len(got) == len(case.want), got
    for (action, message), (want_action, want_message) in zip(got, case.want, strict=True):
        assert action == want_action
        assert message.startswith(want_message), message
    for finding in found:
        assert finding.policy == "p" and finding.binding == "b"
        assert finding.subject == "Deployment/shop/api" and finding.where == "d.yaml:3"


def test_namespace_selector_reads_the_namespace_in_the_render() -> None:
    namespace = Resource(
        ResourceKey("", "Namespace", "", "shop"),
        "v1",
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": "shop", "labels": {"tier": "prod"}},
        },
    )
    policies = PolicySet(
        admission=(
            (
                policy(
                    {
                        "validations": [
                            {
                                "expression": "namespaceObject.metadata.labels.tier != 'prod'",
                                "message": "prod",
                            }
                        ]
                    }
                ),
                "p",
            ),
            (
                binding(
                    {"matchResources": {"namespaceSelector": {"matchLabels": {"tier": "prod"}}}}
                ),
                "b",
            ),
        )
    )
    found = check(CheckInput(objects=[namespace, deployment()]), policies)
    assert [(f.subject, f.message) for f in found] == [("Deployment/shop/api", "prod")]
    assert Action.DENY is found[0].action
