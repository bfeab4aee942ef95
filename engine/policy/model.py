"""The values of the policy stage: what a check found, what was asked, and the
error that refuses a sync."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass

from gitwave.engine.errors import ValidationError


class Action(enum.Enum):
    """What a finding does: Kubernetes' ``validationActions`` (Deny refuses the
    sync, Warn prints and goes on, Audit is recorded only)."""

    DENY = "Deny"
    WARN = "Warn"
    AUDIT = "Audit"


class Check(enum.Enum):
    """Which check found it."""

    SCHEMA = "schema"
    ADMISSION_POLICY = "ValidatingAdmissionPolicy"
    REGO = "rego"
    PLAINTEXT_SECRET = "plaintext-secret"


@dataclass(frozen=True, slots=True)
class Finding:
    """One thing a check says of one object. ``where`` is ``file:line`` (of the
    field when known), ``subject`` ``Kind/namespace/name``; ``policy`` names the
    policy (and ``binding`` its binding, for a ValidatingAdmissionPolicy; the
    Rego file and rule for Rego); ``path`` the field path of a schema error.
    ``message`` never holds a Secret's value."""

    check: Check
    action: Action
    subject: str
    where: str
    message: str
    policy: str = ""
    binding: str = ""
    path: str = ""
    reason: str = ""

    def text(self) -> str:
        """``file:line: Kind/ns/name: message`` as kubeconform and conftest print it."""
        by = ""
        if self.policy:
            by = f" [{self.policy}" + (f" via {self.binding}" if self.binding else "") + "]"
        path = f"{self.path}: " if self.path else ""
        return f"{self.where}: {self.subject}: {path}{self.message}{by}"

    def to_dict(self) -> dict[str, str]:
        return {
            "check": self.check.value,
            "action": self.action.value,
            "object": self.subject,
            "where": self.where,
            "path": self.path,
            "message": self.message,
            "policy": self.policy,
            "binding": self.binding,
            "reason": self.reason,
        }


@dataclass(frozen=True, slots=True)
class PolicyOptions:
    """What a user asked of the policy stage. ``dirs`` are directories of
    ValidatingAdmissionPolicies (with their bindings and params) and Rego
    files (``--policy``); ``strict`` makes a plaintext Secret in Git an error;
    ``kubernetes_version`` overrides the target's release for schemas."""

    dirs: tuple[str, ...] = ()
    strict: bool = False
    kubernetes_version: str | None = None


class PolicyDenied(ValidationError):
    """Policies refused objects of the app; nothing was applied."""

    def __init__(self, app: str, findings: Iterable[Finding]) -> None:
        self.findings = tuple(findings)
        shown = "\n  ".join(f.text() for f in self.findings[:20])
        more = len(self.findings) - 20
        extra = f"\n  … and {more} more" if more > 0 else ""
        super().__init__(
            f"app {app}",
            f"denied by policy ({len(self.findings)}); nothing was applied:\n  {shown}{extra}",
            hint="fix the objects named above in Git, or change the policy "
            "(`gitwave validate PATH` shows every finding)",
        )


class PolicyLoadError(ValidationError):
    """A policy that cannot be read or evaluated as written (bad YAML, Rego that
    does not compile, a CEL function gitwave does not have)."""


__all__ = ["Action", "Check", "Finding", "PolicyDenied", "PolicyLoadError", "PolicyOptions"]
