"""Which kinds are cluster-scoped, without asking a server.

Render runs before any target is contacted, so it cannot use API discovery to
learn a kind's scope. It needs the scope to decide whether a destination
namespace applies to an object. This static table covers the built-in
Kubernetes kinds and the common platform CRDs; a CustomResourceDefinition or
a Crossplane CompositeResourceDefinition in the same render adds its own kinds
(``scopes_from_crds``), and Crossplane's cloud managed resources
(``engine.provider.is_cloud_group``) are cluster-scoped, as their CRDs declare.
Anything unknown counts as namespaced, which is what almost every custom
resource is.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from typing import Any

from gitwave.engine.errors import ProviderError
from gitwave.engine.model import ResourceKey
from gitwave.engine.provider import is_cloud_group

GroupKind = tuple[str, str]

CLUSTER_SCOPED: frozenset[GroupKind] = frozenset(
    {
        ("", "Namespace"),
        ("", "Node"),
        ("", "PersistentVolume"),
        ("", "ComponentStatus"),
        ("rbac.authorization.k8s.io", "ClusterRole"),
        ("rbac.authorization.k8s.io", "ClusterRoleBinding"),
        ("apiextensions.k8s.io", "CustomResourceDefinition"),
        ("apiregistration.k8s.io", "APIService"),
        ("storage.k8s.io", "StorageClass"),
        ("storage.k8s.io", "CSIDriver"),
        ("storage.k8s.io", "CSINode"),
        ("storage.k8s.io", "VolumeAttachment"),
        ("storage.k8s.io", "VolumeAttributesClass"),
        ("scheduling.k8s.io", "PriorityClass"),
        ("networking.k8s.io", "IngressClass"),
        ("networking.k8s.io", "IPAddress"),
        ("networking.k8s.io", "ServiceCIDR"),
        ("node.k8s.io", "RuntimeClass"),
        ("certificates.k8s.io", "CertificateSigningRequest"),
        ("certificates.k8s.io", "ClusterTrustBundle"),
        ("admissionregistration.k8s.io", "ValidatingWebhookConfiguration"),
        ("admissionregistration.k8s.io", "MutatingWebhookConfiguration"),
        ("admissionregistration.k8s.io", "ValidatingAdmissionPolicy"),
        ("admissionregistration.k8s.io", "ValidatingAdmissionPolicyBinding"),
        ("admissionregistration.k8s.io", "MutatingAdmissionPolicy"),
        ("admissionregistration.k8s.io", "MutatingAdmissionPolicyBinding"),
        ("flowcontrol.apiserver.k8s.io", "FlowSchema"),
        ("flowcontrol.apiserver.k8s.io", "PriorityLevelConfiguration"),
        ("policy", "PodSecurityPolicy"),
        ("resource.k8s.io", "DeviceClass"),
        ("resource.k8s.io", "ResourceSlice"),
        # Crossplane
        ("apiextensions.crossplane.io", "CompositeResourceDefinition"),
        ("apiextensions.crossplane.io", "Composition"),
        ("apiextensions.crossplane.io", "CompositionRevision"),
        ("apiextensions.crossplane.io", "EnvironmentConfig"),
        ("pkg.crossplane.io", "Provider"),
        ("pkg.crossplane.io", "ProviderRevision"),
        ("pkg.crossplane.io", "Configuration"),
        ("pkg.crossplane.io", "ConfigurationRevision"),
        ("pkg.crossplane.io", "Function"),
        ("pkg.crossplane.io", "FunctionRevision"),
        ("pkg.crossplane.io", "DeploymentRuntimeConfig"),
        # cert-manager, Gateway API, kro
        ("cert-manager.io", "ClusterIssuer"),
        ("gateway.networking.k8s.io", "GatewayClass"),
        ("kro.run", "ResourceGraphDefinition"),
    }
)


def is_cluster_scoped(group: str, kind: str, *, extra: Collection[GroupKind] = ()) -> bool:
    """True when ``group``/``kind`` is known to be cluster-scoped; unknown kinds are namespaced.

    ``extra`` adds kinds known from elsewhere (e.g. CRDs in the same render).
    """
    return (group, kind) in CLUSTER_SCOPED or (group, kind) in extra or is_cloud_group(group)


def scopes_from_crds(manifests: Iterable[Mapping[str, Any]]) -> frozenset[GroupKind]:
    """The cluster-scoped kinds that the CustomResourceDefinitions and Crossplane
    CompositeResourceDefinitions among ``manifests`` define."""
    found: set[GroupKind] = set()
    for manifest in manifests:
        if manifest.get("kind") not in _DEFINITION_KINDS:
            continue  # most objects: asked first, as an ABC isinstance check is slow
        spec = manifest.get("spec")
        if not isinstance(spec, Mapping) or not _defines_cluster_kind(manifest, spec):
            continue
        names = spec.get("names")
        if isinstance(names, Mapping) and isinstance(names.get("kind"), str):
            found.add((str(spec.get("group", "")), names["kind"]))
    return frozenset(found)


_DEFINITION_KINDS = frozenset({"CustomResourceDefinition", "CompositeResourceDefinition"})


def _defines_cluster_kind(manifest: Mapping[str, Any], spec: Mapping[str, Any]) -> bool:
    api_version = str(manifest.get("apiVersion", ""))
    kind = manifest.get("kind")
    if kind == "CustomResourceDefinition" and api_version.startswith("apiextensions.k8s.io/"):
        return spec.get("scope") == "Cluster"
    if kind == "CompositeResourceDefinition" and api_version.startswith(
        "apiextensions.crossplane.io/"
    ):
        # Crossplane v1 composites are cluster-scoped (their claims are namespaced);
        # v2 XRDs say so in spec.scope, Namespaced by default.
        if api_version.endswith(("/v1", "/v1beta1")):
            return True
        return spec.get("scope") in ("Cluster", "LegacyCluster")
    return False


def scope_error(key: ResourceKey, *, namespaced: bool) -> ProviderError | None:
    """What an API server answers for an object in the wrong scope (a
    namespaced kind without a namespace, a cluster-scoped one with one), in
    its words and with a hint; None when ``key`` fits its kind's scope. Every
    target that serves Kubernetes objects checks this before it writes."""
    if namespaced and not key.namespace:
        error = ProviderError(key, f"{key.kind} is namespaced; metadata.namespace is required")
        error.hint = "set metadata.namespace or the application's destination namespace"
        return error
    if not namespaced and key.namespace:
        error = ProviderError(
            key, f"{key.kind} is cluster-scoped; it cannot be in namespace {key.namespace!r}"
        )
        error.hint = "remove metadata.namespace from this object"
        return error
    return None
