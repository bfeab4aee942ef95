"""What the sandbox API server refuses before it writes, as a real one does.

- a built-in kind at a version Kubernetes does not serve (``apps/v1beta1``
  Deployments are gone); a custom resource at a version its CRD does not
  serve is ``kinds``' and ``Lifecycle``'s to refuse;
- an object that does not fit its kind's schema (the built-in kind's OpenAPI
  schema, or the ``openAPIV3Schema`` of the CRD stored here) or whose name,
  labels or annotations break the rules of its kind;
- an update that changes an immutable field: a Deployment's selector, a
  Service's clusterIP, the data of an ``immutable: true`` Secret or ConfigMap.

The rules are the engine's (``gitwave.engine.api``: ``object_errors``,
``update_errors``), the same ones ``gitwave plan`` checks, so plan and sandbox
agree. Each refusal is a ProviderError whose detail is the API server's
sentence, e.g. ``Deployment.apps "web" is invalid: spec.replicas: Invalid
value: "three": must be of type integer``; a Secret's values are never in it.
"""

from __future__ import annotations

from collections.abc import Mapping

from gitwave.engine.api import (
    CrdSchema,
    FieldError,
    builtin_versions,
    crd_schema,
    crd_versions,
    invalid_message,
    is_builtin,
    object_errors,
    update_errors,
)
from gitwave.engine.errors import ProviderError
from gitwave.engine.model import Manifest, ResourceKey

from .kinds import (
    BUILTIN_KINDS,
    CRD_GROUP,
    CRD_KIND,
    PLAYED_VERSIONS,
    builtin_kind,
    unknown_kind_error,
)
from .store import Store

_FIX_FIELDS = (
    "fix the fields named above in Git; the Kubernetes API reference for the kind "
    "lists each field's type"
)
_FIX_IMMUTABLE = (
    "revert the change to the immutable field, or delete the object so the next sync "
    "creates it anew"
)


class Validation:
    """The sandbox's validation over ``store`` (read only). Not thread-safe: the
    provider calls it under its lock. Compiled CRD schemas are kept per CRD
    and resource version, so a thousand custom resources read their CRD once."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._crds: dict[str, tuple[int, Mapping[str, CrdSchema]]] = {}

    def serves(self, api_version: str, kind: str) -> bool:
        """True when the sandbox accepts ``apiVersion``/``kind`` now: a built-in kind
        at a version Kubernetes serves, or a version a stored CRD serves."""
        group = api_version.rpartition("/")[0]
        builtin = builtin_kind(group, kind)
        if builtin is not None:
            versions = builtin_versions(group, kind)
            return not versions or is_builtin(api_version, kind)
        served = self._store.served_kind(group, kind)
        return served is not None and served.serves(api_version)

    def api_versions(self) -> tuple[str, ...]:
        """``group/version`` and ``group/version/Kind`` of every kind served now:
        the built-in ones at the versions Kubernetes defines (the kinds the
        sandbox plays a controller for at their project's version) and those
        stored CRDs serve."""
        served: set[str] = set()
        for group, kinds in BUILTIN_KINDS.items():
            for kind in kinds:
                versions = builtin_versions(group, kind) or PLAYED_VERSIONS.get(group, frozenset())
                for version in versions:
                    api_version = f"{group}/{version}" if group else version
                    served.update((api_version, f"{api_version}/{kind}"))
        for registered in self._store.served_kinds():
            for version in registered.versions:
                api_version = f"{registered.group}/{version}" if registered.group else version
                served.update((api_version, f"{api_version}/{registered.kind}"))
        return tuple(sorted(served))

    def custom_resource_definition(self, group: str, kind: str) -> Manifest | None:
        """The stored CRD that registered ``group``/``kind``; None for other kinds."""
        served = self._store.served_kind(group, kind)
        if served is None or not served.crd:
            return None
        row = self._store.get(_crd_key(served.crd))
        return row.manifest if row is not None else None

    def check_object(self, key: ResourceKey, api_version: str, manifest: Manifest) -> None:
        """Raise ProviderError when the API server refuses ``manifest`` (the object
        as applied, before any merge) for its version, schema or metadata."""
        group = key.group
        if builtin_kind(group, key.kind) is not None:
            if builtin_versions(group, key.kind) and not is_builtin(api_version, key.kind):
                raise unknown_kind_error(key, api_version)
            errors = object_errors(manifest)
        else:
            served = self._store.served_kind(group, key.kind)
            if served is None or not served.serves(api_version):
                return  # the kind is refused first, by Lifecycle
            errors = object_errors(manifest, crd=self._crd_schema(served.crd, api_version))
        if errors:
            raise _invalid(key, api_version, errors, hint=_FIX_FIELDS)

    def check_update(
        self, key: ResourceKey, api_version: str, old: Manifest, new: Manifest
    ) -> None:
        """Raise ProviderError when ``new`` (the whole object an update would store)
        changes a field of ``old`` that cannot change."""
        errors = update_errors(key.group, key.kind, old, new)
        if errors:
            raise _invalid(key, api_version, errors, hint=_FIX_IMMUTABLE)

    def _crd_schema(self, crd: str, api_version: str) -> CrdSchema | None:
        if not crd:
            return None
        crd_key = _crd_key(crd)
        rv = self._store.versions([crd_key]).get(crd_key)
        if rv is None:
            return None
        cached = self._crds.get(crd)
        if cached is None or cached[0] != rv:
            row = self._store.get(crd_key)
            schemas = (
                {v: crd_schema(s) for v, s in crd_versions(row.manifest).items()}
                if row is not None
                else {}
            )
            cached = self._crds[crd] = (rv, schemas)
        return cached[1].get(api_version.rpartition("/")[2])


def _crd_key(name: str) -> ResourceKey:
    return ResourceKey(CRD_GROUP, CRD_KIND, "", name)


def _invalid(
    key: ResourceKey, api_version: str, errors: list[FieldError], *, hint: str
) -> ProviderError:
    error = ProviderError(key, invalid_message(api_version, key.kind, key.name, errors))
    error.hint = hint
    return error
