"""Flux's ``spec.decryption.secretRef``: the key Secret read from the target.

kustomize-controller reads the Secret named by ``secretRef`` from the
Kustomization's namespace on the cluster it runs in; gitwave reads it from
the app's target (the sandbox or a cluster) through the providers, when the
app is rendered for an operation, and hands the keys to the sops subprocess
for that render only (``render.sops_keys``). The ConfigMaps and Secrets of a
Flux ``postBuild.substituteFrom`` are read from the target the same way
(``object_reader``), when the app is rendered for an operation.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from gitwave.engine.apps import AppSpec, render_app
from gitwave.engine.apps.app_render import cached_render_entry
from gitwave.engine.errors import GitwaveError, ValidationError
from gitwave.engine.model import ResourceKey
from gitwave.engine.provider import ServedAPIVersions, ServerVersion
from gitwave.engine.render import EntryHead, Rendered
from gitwave.engine.render.capabilities import target_capabilities
from gitwave.engine.render.sops_keys import SopsKeys, using
from gitwave.engine.render.sops_kms import KmsEndpoint, KmsSource, using_kms
from gitwave.engine.router import ProviderRouter

if TYPE_CHECKING:
    from gitwave.engine.render.postbuild import ObjectReader  # postBuild loads when used


def sops_keys_for(app: AppSpec, targets: ProviderRouter) -> SopsKeys | None:
    """The keys in the Secret ``app``'s ``spec.decryption.secretRef`` names, or None
    when it names none. Raises ValidationError naming the Kustomization and the
    Secret when the Secret is not on the target (retriable: someone may create
    it) or holds no key; UnreachableError when the target cannot be read."""
    decryption = app.source.render.decryption
    if decryption is None or not decryption.secret_ref:
        return None
    namespace = decryption.namespace or "default"
    secret = f"Secret/{namespace}/{decryption.secret_ref}"
    owner = f"Kustomization/{namespace}/{decryption.kustomization or app.name}"
    key = ResourceKey("", "Secret", namespace, decryption.secret_ref)
    live = targets.for_kind("v1", "Secret").observe(key)
    if live is None:
        error = ValidationError(
            owner,
            f"spec.decryption.secretRef: {secret} is not on the target",
            hint=f"create it in namespace {namespace} with the sops keys "
            f"(kubectl -n {namespace} create secret generic {decryption.secret_ref} "
            "--from-file=age.agekey=KEYFILE), or remove spec.decryption.secretRef",
        )
        error.retriable = True
        raise error
    return SopsKeys.from_secret(
        live.manifest, source=f"{owner}: spec.decryption.secretRef {secret}"
    )


def kms_source(targets: ProviderRouter) -> KmsSource:
    """Asks, when called, the first of ``targets`` offering ``kms_endpoint()``
    (the AWS target) where sops should reach KMS; None when none offers one."""

    def source() -> KmsEndpoint | None:
        for provider in targets.providers:
            offer = getattr(provider, "kms_endpoint", None)
            if callable(offer):
                endpoint = offer()
                if endpoint is None or isinstance(endpoint, KmsEndpoint):
                    return endpoint
        return None

    return source


def object_reader(targets: ProviderRouter) -> ObjectReader:
    """Reads a core object (a ConfigMap or Secret of a Flux ``postBuild.substituteFrom``)
    from ``targets``, as kustomize-controller reads it from its cluster: the
    manifest, or None when it is absent. UnreachableError when it cannot be read."""

    def read(kind: str, namespace: str, name: str) -> Mapping[str, Any] | None:
        live = targets.for_kind("v1", kind).observe(ResourceKey("", kind, namespace, name))
        return None if live is None else live.manifest

    return read


def render_for(app: AppSpec, targets: ProviderRouter) -> Rendered:
    """Render ``app`` with the keys its ``decryption.secretRef`` names on ``targets``
    (beside those of gitwave's environment), the KMS endpoint of the AWS
    target (``render.sops_kms``) and, for ``postBuild.substituteFrom``, the
    ConfigMaps and Secrets on ``targets``. Raises what ``sops_keys_for`` and
    ``render_app`` raise."""
    kube_version = _kube_version(targets)
    with (
        using(sops_keys_for(app, targets)),
        using_kms(kms_source(targets)),
        # A chart (HelmRelease or Argo CD Helm source) sees the target's
        # release and served API versions, as the controllers give it.
        target_capabilities(kube_version, _api_versions(targets)),
    ):
        return render_app(app, read=object_reader(targets), kube_version=kube_version)


def cached_entry_for(app: AppSpec, targets: ProviderRouter) -> EntryHead | None:
    """The head of the render cache entry ``render_for`` would start from
    (``apps.cached_render_entry``), looked up under the same keys and the same
    target capabilities; its objects not decoded. Raises what ``render_for``
    raises before rendering."""
    kube_version = _kube_version(targets)
    with (
        using(sops_keys_for(app, targets)),
        target_capabilities(kube_version, _api_versions(targets)),
    ):
        return cached_render_entry(app)


def _kube_version(targets: ProviderRouter) -> Callable[[], str]:
    """Asks the Kubernetes target which release it runs (what Flux's Helm SDK
    passes to a chart as ``.Capabilities.KubeVersion``); "" when it cannot say."""

    def ask() -> str:
        try:
            provider = targets.for_kind("v1", "Namespace")
            if isinstance(provider, ServerVersion):
                return provider.kubernetes_version()
        except (GitwaveError, ValueError, AttributeError):
            return ""  # unreachable: the plan reports that itself
        return ""

    return ask


def _api_versions(targets: ProviderRouter) -> Callable[[], tuple[str, ...]]:
    """Asks the Kubernetes target which API versions it serves (what Flux's Helm
    SDK and Argo CD pass to a chart as ``.Capabilities.APIVersions``); () when
    it cannot say."""

    def ask() -> tuple[str, ...]:
        try:
            provider = targets.for_kind("v1", "Namespace")
            if isinstance(provider, ServedAPIVersions):
                return provider.api_versions()
        except (GitwaveError, ValueError, AttributeError):
            return ()  # unreachable: the plan reports that itself
        return ()

    return ask


__all__ = ["cached_entry_for", "kms_source", "object_reader", "render_for", "sops_keys_for"]
