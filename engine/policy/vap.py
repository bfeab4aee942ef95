"""ValidatingAdmissionPolicy (admissionregistration.k8s.io/v1), evaluated by gitwave.

For each object and each binding of a policy that matches it
(``vap_match``): params are found (``paramKind`` + the binding's
``paramRef``; with a selector, the policy runs once per param), then
``matchConditions`` (all true, or the policy does not apply), then
``variables`` in order, then each ``validations`` entry. A false validation
is a finding with the binding's ``validationActions``; its message is
``messageExpression``'s value, else ``message``, else ``failed expression:
EXPR``, as the API server words it. An expression that fails follows
``failurePolicy``: Fail (the default) counts as a violation, Ignore skips it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from gitwave.engine.model import Manifest
from gitwave.engine.policy.cel_env import CelError, Scope
from gitwave.engine.policy.model import Action, Check, Finding
from gitwave.engine.policy.vap_kinds import BINDING_KIND, GROUP, POLICY_KIND, is_policy
from gitwave.engine.policy.vap_match import Request, resources_match, selector_matches


@dataclass(frozen=True, slots=True)
class Policy:
    name: str
    spec: Mapping[str, Any] = field(repr=False)
    where: str = ""


@dataclass(frozen=True, slots=True)
class Binding:
    name: str
    spec: Mapping[str, Any] = field(repr=False)
    where: str = ""

    @property
    def actions(self) -> tuple[Action, ...]:
        found = []
        for text in self.spec.get("validationActions") or ("Deny",):
            try:
                found.append(Action(text))
            except ValueError:
                continue
        return tuple(found) or (Action.DENY,)


def _name(manifest: Manifest) -> str:
    meta = manifest.get("metadata")
    return str(meta.get("name", "")) if isinstance(meta, Mapping) else ""


def split(manifests: Sequence[tuple[Manifest, str]]) -> tuple[list[Policy], list[Binding]]:
    """The policies and bindings among ``(manifest, where)`` pairs."""
    policies: list[Policy] = []
    bindings: list[Binding] = []
    for manifest, where in manifests:
        spec = manifest.get("spec")
        spec = spec if isinstance(spec, Mapping) else {}
        if manifest.get("kind") == POLICY_KIND:
            policies.append(Policy(_name(manifest), spec, where))
        elif manifest.get("kind") == BINDING_KIND:
            bindings.append(Binding(_name(manifest), spec, where))
    return policies, bindings


@dataclass(frozen=True, slots=True)
class Subject:
    """One object under admission and what its policies may read."""

    request: Request
    obj: Manifest = field(repr=False)
    old: Manifest | None = field(repr=False)
    namespace_object: Manifest | None = field(repr=False)
    display: str
    where: str


# (apiVersion, kind, namespace or None for every namespace) → candidate params.
ParamLister = Callable[[str, str, str | None], list[Manifest]]


def evaluate(
    subject: Subject,
    policies: Sequence[Policy],
    bindings: Sequence[Binding],
    params: ParamLister,
) -> Iterator[Finding]:
    """Every finding of every binding that applies to ``subject``."""
    by_name = {p.name: p for p in policies}
    scopes: dict[int, Scope] = {}  # by the identity of the param: shared by policies
    for binding in bindings:
        policy = by_name.get(str(binding.spec.get("policyName", "")))
        if policy is None:
            continue  # the API server ignores a binding to no policy
        yield from _evaluate_binding(subject, policy, binding, params, scopes)


def _evaluate_binding(
    subject: Subject,
    policy: Policy,
    binding: Binding,
    params: ParamLister,
    scopes: dict[int, Scope],
) -> Iterator[Finding]:
    spec = policy.spec
    if not resources_match(
        spec.get("matchConstraints"),
        subject.request,
        subject.obj,
        subject.old,
        subject.namespace_object,
    ):
        return
    if not resources_match(
        binding.spec.get("matchResources"),
        subject.request,
        subject.obj,
        subject.old,
        subject.namespace_object,
    ):
        return
    fail = spec.get("failurePolicy", "Fail") != "Ignore"
    param_values, missing = _params(policy, binding, subject, params)
    if missing is not None:
        yield _finding(subject, policy, binding, missing, reason="Invalid")
        return
    for param in param_values:
        yield from _run_validations(subject, policy, binding, param, fail, scopes)


def _params(
    policy: Policy, binding: Binding, subject: Subject, params: ParamLister
) -> tuple[list[Manifest | None], str | None]:
    """The params to run the policy with (``[None]`` without a paramKind) and, when
    none is found and the binding says Deny, the API server's message."""
    kind = policy.spec.get("paramKind")
    ref = binding.spec.get("paramRef")
    if not isinstance(kind, Mapping) or not isinstance(ref, Mapping):
        return [None], None
    api_version, param_kind = str(kind.get("apiVersion", "")), str(kind.get("kind", ""))
    namespace = ref.get("namespace")
    if namespace is None:
        # A namespaced param kind is looked up in the object's namespace.
        namespace = subject.request.namespace or None
    candidates = params(api_version, param_kind, namespace)
    if ref.get("name"):
        found = [c for c in candidates if _name(c) == ref["name"]]
    else:
        found = [c for c in candidates if selector_matches(ref.get("selector"), _labels(c))]
    if found:
        return list(found), None
    if ref.get("parameterNotFoundAction", "Deny") == "Allow":
        return [], None
    target = ref.get("name") or "matching the selector"
    where = f" in namespace {namespace}" if namespace else ""
    return (
        [],
        "no params found for policy binding with Deny parameterNotFoundAction "
        f"({param_kind} {target}{where})",
    )


def _labels(manifest: Manifest) -> Mapping[str, Any]:
    meta = manifest.get("metadata")
    labels = meta.get("labels") if isinstance(meta, Mapping) else None
    return labels if isinstance(labels, Mapping) else {}


def _run_validations(
    subject: Subject,
    policy: Policy,
    binding: Binding,
    param: Manifest | None,
    fail: bool,
    scopes: dict[int, Scope],
) -> Iterator[Finding]:
    variables: dict[str, Any] = {
        "object": subject.obj,
        "oldObject": subject.old,
        "params": param,
        "namespaceObject": subject.namespace_object,
        "request": subject.request.to_cel(),
        "variables": {},
    }
    # A policy without variables runs in the scope the subject's other policies
    # (with the same param) use: building one costs about a millisecond.
    if policy.spec.get("variables"):
        scope = Scope(variables)
    elif id(param) in scopes:
        scope = scopes[id(param)]
    else:
        scope = scopes[id(param)] = Scope(variables)
    try:
        for condition in policy.spec.get("matchConditions") or ():
            if scope.run(str(condition.get("expression", ""))) is not True:
                return
        composed: dict[str, Any] = {}
        for variable in policy.spec.get("variables") or ():
            composed[str(variable.get("name"))] = scope.run(str(variable.get("expression", "")))
            scope.bind("variables", composed)
    except CelError as err:
        if fail:
            yield _finding(subject, policy, binding, f"expression error: {err}", "InternalError")
        return
    for validation in policy.spec.get("validations") or ():
        expression = str(validation.get("expression", ""))
        try:
            passed = scope.run(expression)
        except CelError as err:
            if fail:
                yield _finding(
                    subject,
                    policy,
                    binding,
                    f"expression {expression!r} failed: {err}",
                    "InternalError",
                )
            continue
        if passed is True:
            continue
        yield _finding(
            subject,
            policy,
            binding,
            _message(validation, expression, scope),
            str(validation.get("reason") or "Invalid"),
        )


def _message(validation: Mapping[str, Any], expression: str, scope: Scope) -> str:
    message_expression = validation.get("messageExpression")
    if message_expression:
        try:
            value = scope.run(str(message_expression))
        except CelError:
            value = None
        # The API server falls back to message when messageExpression errs or is blank.
        if isinstance(value, str) and value.strip() and "\n" not in value:
            return value.strip()
    message = validation.get("message")
    if isinstance(message, str) and message:
        return message
    return f"failed expression: {expression}"


def _finding(
    subject: Subject, policy: Policy, binding: Binding, message: str, reason: str
) -> Finding:
    # One finding per action: Deny and Warn together both refuse and print.
    actions = binding.actions
    action = (
        Action.DENY
        if Action.DENY in actions
        else Action.WARN
        if Action.WARN in actions
        else Action.AUDIT
    )
    return Finding(
        check=Check.ADMISSION_POLICY,
        action=action,
        subject=subject.display,
        where=subject.where,
        message=message,
        policy=policy.name,
        binding=binding.name,
        reason=reason,
    )


__all__ = [
    "BINDING_KIND",
    "GROUP",
    "POLICY_KIND",
    "Binding",
    "ParamLister",
    "Policy",
    "Subject",
    "evaluate",
    "is_policy",
    "split",
]
