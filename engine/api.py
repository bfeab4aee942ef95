"""The engine's public API for providers and the composition engine.

``gitwave.providers`` and ``gitwave.compositions`` import from the engine only
through this module, ``gitwave.engine.model`` and ``gitwave.engine.errors``;
``tests/engine/test_import_hygiene.py`` fails the build when either reaches
for anything else. What is here is what a target or a composition function
needs: the Provider protocol and its optional capabilities, the health of
built-in kinds, Secret masking, scope (and the error for an object out of
it), the field diff a provider uses to tell drift, field paths (read, write,
remove a field by path),
Kubernetes quantities, and what an API server refuses in an object (its
kind's schema, names, immutable fields) with the API server's message. A
provider answers health for its own kinds itself (``Provider.health``);
nothing outside the engine adds checks to the engine's health registry.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gitwave.engine.lazy_module import lazy_exports

# The names below are imported on first use (PEP 562), not with this module:
# a provider imports it for a few names, and the whole list would load the
# controller's objects, the renderers (through KmsEndpoint), the health
# registry and the schemas for every command (0.1 s of `gitwave status`).
if TYPE_CHECKING:
    from gitwave.engine.controller.helm_storage import RELEASE_TYPE
    from gitwave.engine.controller.leases import MEMBER_PREFIX, SHARD_PREFIX, LeaseRecord
    from gitwave.engine.controller.objects import ARGO_KIND, FLUX_KIND, HELM_KIND, AppObject
    from gitwave.engine.controller.requests import REFRESH
    from gitwave.engine.controller.timeline import REPORTING_CONTROLLER, OperationEvent
    from gitwave.engine.diff import SameValue, diff_manifest
    from gitwave.engine.field_managers import field_managers
    from gitwave.engine.fieldpath import (
        MISSING_FIELD,
        FieldPath,
        FieldPathError,
        clone,
        delete_field,
        format_path,
        get_field,
        parse_path,
        set_field,
        to_pointer,
        without_paths,
    )
    from gitwave.engine.health import health_of
    from gitwave.engine.kube_rules import invalid_message, object_errors, update_errors
    from gitwave.engine.kube_schema import (
        CrdSchema,
        FieldError,
        builtin_versions,
        crd_schema,
        crd_versions,
        is_builtin,
    )
    from gitwave.engine.kube_versions import KUBERNETES_VERSION
    from gitwave.engine.mask import (
        LAST_APPLIED_ANNOTATION,
        MASK,
        is_secret_manifest,
        mask_secret_manifest,
        redact,
        secret_values,
    )
    from gitwave.engine.model import FieldChange
    from gitwave.engine.private_files import private_database, private_directory
    from gitwave.engine.provider import (
        CLOUD_GROUP_SUFFIXES,
        BulkReader,
        ChangeFeed,
        ChangeWaiter,
        Declaring,
        DependencyReader,
        DryRunPlanner,
        EventReader,
        Impersonating,
        KindCatalog,
        LogReader,
        ObjectAdmission,
        ObjectLister,
        Provider,
        ServerVersion,
        TargetEvent,
        ValueComparer,
        is_cloud_group,
    )
    from gitwave.engine.quantity import parse_quantity
    from gitwave.engine.render.sops_kms import KmsEndpoint
    from gitwave.engine.scope import is_cluster_scoped, scope_error
    from gitwave.engine.source_bucket import BucketObject, BucketRef
    from gitwave.engine.tls_trust import TlsFiles

_WHERE = {
    "MEMBER_PREFIX": "controller.leases",
    "SHARD_PREFIX": "controller.leases",
    "LeaseRecord": "controller.leases",
    "ARGO_KIND": "controller.objects",
    "FLUX_KIND": "controller.objects",
    "HELM_KIND": "controller.objects",
    "AppObject": "controller.objects",
    "REFRESH": "controller.requests",
    "REPORTING_CONTROLLER": "controller.timeline",
    "RELEASE_TYPE": "controller.helm_storage",
    "OperationEvent": "controller.timeline",
    "SameValue": "diff",
    "diff_manifest": "diff",
    "field_managers": "field_managers",
    "MISSING_FIELD": "fieldpath",
    "FieldPath": "fieldpath",
    "FieldPathError": "fieldpath",
    "clone": "fieldpath",
    "delete_field": "fieldpath",
    "format_path": "fieldpath",
    "get_field": "fieldpath",
    "parse_path": "fieldpath",
    "set_field": "fieldpath",
    "to_pointer": "fieldpath",
    "without_paths": "fieldpath",
    "health_of": "health",
    "invalid_message": "kube_rules",
    "object_errors": "kube_rules",
    "update_errors": "kube_rules",
    "CrdSchema": "kube_schema",
    "FieldError": "kube_schema",
    "builtin_versions": "kube_schema",
    "crd_schema": "kube_schema",
    "crd_versions": "kube_schema",
    "is_builtin": "kube_schema",
    "KUBERNETES_VERSION": "kube_versions",
    "LAST_APPLIED_ANNOTATION": "mask",
    "MASK": "mask",
    "is_secret_manifest": "mask",
    "mask_secret_manifest": "mask",
    "redact": "mask",
    "secret_values": "mask",
    "FieldChange": "model",
    "private_database": "private_files",
    "private_directory": "private_files",
    "CLOUD_GROUP_SUFFIXES": "provider",
    "BulkReader": "provider",
    "ChangeFeed": "provider",
    "ChangeWaiter": "provider",
    "Declaring": "provider",
    "DependencyReader": "provider",
    "DryRunPlanner": "provider",
    "EventReader": "provider",
    "Impersonating": "provider",
    "KindCatalog": "provider",
    "LogReader": "provider",
    "ObjectAdmission": "provider",
    "ObjectLister": "provider",
    "Provider": "provider",
    "ServerVersion": "provider",
    "TargetEvent": "provider",
    "ValueComparer": "provider",
    "is_cloud_group": "provider",
    "parse_quantity": "quantity",
    "KmsEndpoint": "render.sops_kms",
    "is_cluster_scoped": "scope",
    "scope_error": "scope",
    "BucketObject": "source_bucket",
    "BucketRef": "source_bucket",
    "TlsFiles": "tls_trust",
}


_lazy = lazy_exports(__name__, _WHERE, package="gitwave.engine")


def __getattr__(name: str) -> Any:
    return _lazy(name)


__all__ = [
    "ARGO_KIND",
    "CLOUD_GROUP_SUFFIXES",
    "FLUX_KIND",
    "HELM_KIND",
    "KUBERNETES_VERSION",
    "LAST_APPLIED_ANNOTATION",
    "MASK",
    "MEMBER_PREFIX",
    "MISSING_FIELD",
    "REFRESH",
    "RELEASE_TYPE",
    "REPORTING_CONTROLLER",
    "SHARD_PREFIX",
    "AppObject",
    "BucketObject",
    "BucketRef",
    "BulkReader",
    "ChangeFeed",
    "ChangeWaiter",
    "CrdSchema",
    "Declaring",
    "DependencyReader",
    "DryRunPlanner",
    "EventReader",
    "FieldChange",
    "FieldError",
    "FieldPath",
    "FieldPathError",
    "Impersonating",
    "KindCatalog",
    "KmsEndpoint",
    "LeaseRecord",
    "LogReader",
    "ObjectAdmission",
    "ObjectLister",
    "OperationEvent",
    "Provider",
    "SameValue",
    "ServerVersion",
    "TargetEvent",
    "TlsFiles",
    "ValueComparer",
    "builtin_versions",
    "clone",
    "crd_schema",
    "crd_versions",
    "delete_field",
    "diff_manifest",
    "field_managers",
    "format_path",
    "get_field",
    "health_of",
    "invalid_message",
    "is_builtin",
    "is_cloud_group",
    "is_cluster_scoped",
    "is_secret_manifest",
    "lazy_exports",
    "mask_secret_manifest",
    "object_errors",
    "parse_path",
    "parse_quantity",
    "private_database",
    "private_directory",
    "redact",
    "scope_error",
    "secret_values",
    "set_field",
    "to_pointer",
    "update_errors",
    "without_paths",
]
