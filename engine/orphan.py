"""Whether deleting an object keeps what it stands for: Crossplane's
``spec.deletionPolicy: Orphan``, or ``spec.managementPolicies`` without
``Delete``, leave the external resource in place when the managed resource
goes. The plan says so, and the prune treats the object as orphaned (gone
from gitwave's inventory, not waited for). Pure; the provider still decides
what its delete does (``ChangeAction.ORPHANED``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["orphan_reason"]


def orphan_reason(manifest: Mapping[str, Any]) -> str | None:
    """Why deleting the object ``manifest`` describes leaves its external
    resource in place; None when the delete removes it."""
    spec = manifest.get("spec")
    if not isinstance(spec, Mapping):
        return None
    if spec.get("deletionPolicy") == "Orphan":
        return "deletionPolicy is Orphan"
    policies = spec.get("managementPolicies")
    if isinstance(policies, list) and policies and not {"*", "Delete"} & set(map(str, policies)):
        return "managementPolicies do not include Delete"
    return None
