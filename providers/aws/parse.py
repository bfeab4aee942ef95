"""A desired AWS object, checked against its kind before anything is called.

Bad input is a ProviderError that names the object and the field, and
nothing is applied: an unknown kind or version, an unsupported or missing
``forProvider`` field, a field of the wrong type (``visibilityTimeout: "abc"``),
a tag in gitwave's own namespace, or a field that needs
a Kubernetes side (a connection Secret, a password Secret) when there is none.
"""

from __future__ import annotations

from gitwave.engine.errors import ProviderError
from gitwave.engine.model import Resource, ResourceKey

from .kinds import KindHandler, handler_for
from .kinds.base import field_type_problems
from .kinds.upbound import is_upbound_group, unsupported
from .managed import Managed
from .record import is_gitwave_tag


def handler_of(key: ResourceKey, api_version: str = "") -> KindHandler:
    """The handler of ``key``'s kind; ProviderError when gitwave does not manage it
    (for an Upbound kind, naming the Upbound kinds it does)."""
    handler = handler_for(key.group, key.kind)
    if handler is None:
        if is_upbound_group(key.group):
            raise unsupported(key, api_version or key.group)
        raise ProviderError(key, f"{key.kind} ({key.group}) is not an AWS kind gitwave manages")
    return handler


def parse_managed(
    resource: Resource, *, can_write_secrets: bool, can_read_secrets: bool
) -> Managed:
    """``resource`` as a managed resource of its kind; ProviderError when it is
    malformed, naming the object, the field and the file:line it came from.
    ``can_write_secrets``/``can_read_secrets`` say whether the provider was
    given a Kubernetes side to write and read Secrets through."""
    try:
        return _parse_managed(
            resource, can_write_secrets=can_write_secrets, can_read_secrets=can_read_secrets
        )
    except ProviderError as err:
        if resource.source is None or err.key is None:
            raise
        raise ProviderError(err.key, f"{err.detail} (at {resource.source})") from None


def _parse_managed(
    resource: Resource, *, can_write_secrets: bool, can_read_secrets: bool
) -> Managed:
    key = resource.key
    handler = handler_of(key, resource.api_version)
    version = resource.api_version.rpartition("/")[2]
    if version != handler.version and is_upbound_group(key.group):
        raise unsupported(key, resource.api_version)
    if version != handler.version:
        raise ProviderError(
            key,
            f"gitwave manages {key.kind} at {handler.api_version}, not {resource.api_version}",
        )
    managed = Managed.parse(resource)
    fp = managed.for_provider
    unknown = sorted(set(fp) - handler.fields)
    if unknown:
        raise ProviderError(
            key,
            f"spec.forProvider.{unknown[0]} is not supported for {key.kind} "
            f"(supported: {', '.join(sorted(handler.fields))})",
        )
    missing = sorted(f for f in handler.required if fp.get(f) in (None, ""))
    if missing:
        raise ProviderError(key, f"spec.forProvider.{missing[0]} is required")
    if (
        handler.region_field
        and fp.get(handler.region_field) is not None
        and not isinstance(fp[handler.region_field], str)
    ):
        raise ProviderError(key, f"spec.forProvider.{handler.region_field} must be a string")
    tags = handler.tag_style.read(key, fp) or {}
    reserved = sorted(t for t in tags if is_gitwave_tag(t))
    if reserved:
        raise ProviderError(
            key, f"tag {reserved[0]!r}: keys starting with gitwave.dev/ are gitwave's own"
        )
    problems = field_type_problems(handler.types, fp)
    if problems:
        raise ProviderError(key, problems[0])
    handler.check(key, fp)
    if handler.needs_password:
        if managed.connection_secret is not None and not can_write_secrets:
            raise ProviderError(
                key,
                "spec.writeConnectionSecretToRef needs a secret writer (the Kubernetes-side "
                "target), and none was given",
            )
        if fp.get(handler.password_ref_field) is not None and not can_read_secrets:
            raise ProviderError(
                key,
                f"spec.forProvider.{handler.password_ref_field} needs a secret reader, and "
                "none was given",
            )
    return managed
