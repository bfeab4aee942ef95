"""The ValidatingAdmissionPolicy kinds, apart from their evaluation (``vap``):
the policy stage asks every object of every plan whether it is one, and an
app holding none must not import the CEL admission engine to hear "no"."""

from __future__ import annotations

from gitwave.engine.model import Manifest

__all__ = ["BINDING_KIND", "GROUP", "POLICY_KIND", "is_policy"]

GROUP = "admissionregistration.k8s.io"
POLICY_KIND = "ValidatingAdmissionPolicy"
BINDING_KIND = "ValidatingAdmissionPolicyBinding"


def is_policy(manifest: Manifest) -> bool:
    """True for a ValidatingAdmissionPolicy or its binding."""
    return str(manifest.get("apiVersion", "")).startswith(GROUP + "/") and manifest.get("kind") in (
        POLICY_KIND,
        BINDING_KIND,
    )
