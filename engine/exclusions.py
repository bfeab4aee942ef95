"""Kinds gitwave never tracks, prunes or warns about: Argo CD's default
``resource.exclusions`` (the Kubernetes ones), objects that controllers create
and that carry labels copied from objects gitwave applied.

The endpoints controller copies a Service's labels, gitwave's app label
included, onto its Endpoints and EndpointSlices; without this list a plan on
a real cluster would call each of them "not in the source". Leases, Events
and the review kinds are churn no app owns. Desired objects of these kinds
are still applied as written; only the inventory of what an app left behind
(``ProviderRouter.list_tracked``) leaves them out.
"""

from __future__ import annotations

from gitwave.engine.model import ResourceKey

__all__ = ["EXCLUDED_GROUPS", "EXCLUDED_KINDS", "is_excluded"]

# Every kind of these groups.
EXCLUDED_GROUPS = frozenset({"events.k8s.io", "metrics.k8s.io"})
# (group, kind) pairs.
EXCLUDED_KINDS = frozenset(
    {
        ("", "Endpoints"),
        ("discovery.k8s.io", "EndpointSlice"),
        ("", "Event"),
        ("coordination.k8s.io", "Lease"),
        ("authentication.k8s.io", "SelfSubjectReview"),
        ("authentication.k8s.io", "TokenReview"),
        ("authorization.k8s.io", "LocalSubjectAccessReview"),
        ("authorization.k8s.io", "SelfSubjectAccessReview"),
        ("authorization.k8s.io", "SelfSubjectRulesReview"),
        ("authorization.k8s.io", "SubjectAccessReview"),
        ("certificates.k8s.io", "CertificateSigningRequest"),
    }
)


def is_excluded(key: ResourceKey) -> bool:
    """True for an object of a kind no app tracks (see the module docstring)."""
    return key.group in EXCLUDED_GROUPS or (key.group, key.kind) in EXCLUDED_KINDS
