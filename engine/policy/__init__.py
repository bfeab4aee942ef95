"""Policy: what gitwave refuses or warns about before anything is applied.

model        Finding, Action (Deny/Warn/Audit), PolicyOptions, PolicyDenied
check        the policy stage over one app's objects: --policy dirs, the
             render's ValidatingAdmissionPolicies, Rego, plaintext Secrets
vap          ValidatingAdmissionPolicy + Binding evaluation (CEL)
vap_match    matchConstraints / matchResources, label selectors
cel_env      CEL with Kubernetes' extension libraries
rego         Rego as conftest runs it (regopy)
field_lines  the file line of a field path (kubeconform-style errors)
gate         the stage inside plan and sync (engine.operations)
"""

from __future__ import annotations

from gitwave.engine.policy.check import CheckInput, PolicySet, check, load_policy_dirs
from gitwave.engine.policy.model import (
    Action,
    Check,
    Finding,
    PolicyDenied,
    PolicyLoadError,
    PolicyOptions,
)

__all__ = [
    "Action",
    "Check",
    "CheckInput",
    "Finding",
    "PolicyDenied",
    "PolicyLoadError",
    "PolicyOptions",
    "PolicySet",
    "check",
    "load_policy_dirs",
]
