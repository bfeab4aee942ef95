"""AwsProvider: Crossplane provider-aws managed resources, reconciled with boto3.

observe → create / update / delete, the way a Crossplane managed-resource
reconciler does it, but in one process and without a cluster:

- **Identity.** The ``crossplane.io/external-name`` annotation names (adopts)
  an existing resource; otherwise the name is ``metadata.name``, or — for
  kinds AWS names (security groups) — whatever AWS assigned, found again by
  the ``gitwave.dev/key`` tag. Creates look before they leap, so a create
  interrupted after AWS accepted it is never repeated.
- **Ownership.** Everything gitwave creates carries ``gitwave.dev/owner`` and
  ``gitwave.dev/key`` tags; ``delete`` refuses anything without them.
  Adopted resources get the key but never the owner tag.
- **The object.** ``observe`` returns the desired-shaped object: ``forProvider``
  as AWS has it now (so drift shows field by field), the rest of the spec and
  the metadata from gitwave's record tag (see ``record``), ``status.atProvider``
  and Crossplane's Ready/Synced conditions.
- **Policies.** ``deletionPolicy: Orphan`` leaves the AWS resource;
  ``managementPolicies: [Observe]`` never writes.

``observe(key)`` only gets a key, so the provider is told about desired
objects first (``declare``; ``apply`` does it too): their external name,
region and provider config. An object never declared is looked up by name
(or tag) in the default region.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from gitwave.engine.diff import diff_manifest
from gitwave.engine.errors import ProviderError
from gitwave.engine.health import health_of
from gitwave.engine.model import (
    ANNOTATION_TRACKING_ID,
    LABEL_APP,
    ChangeAction,
    ChangeSetEntry,
    Health,
    Live,
    Manifest,
    Propagation,
    Resource,
    ResourceKey,
)

from .clients import REGION_HINT, Clients
from .config import AwsConfig, SecretReader
from .connection import (
    PASSWORD_KEY,
    PendingSecret,
    SecretWriter,
    connection_secret,
    generate_password,
    scrubbed,
    secret_resource,
)
from .kinds import Context, Desired, KindHandler, Observed, Readiness, handler_for, handlers
from .managed import (
    ANNOTATION_EXTERNAL_NAME,
    DEFAULT_PROVIDER_CONFIG,
    DeletionPolicy,
    Managed,
    ManagementAction,
    ManagementPolicies,
    SecretRef,
    gitwave_side,
    secret_key_ref,
    with_spec_defaults,
)
from .record import (
    TAG_APP,
    TAG_OWNER,
    TAG_RECORD,
    TAG_TRACKING_ID,
    Record,
    RecordTooLargeError,
    is_gitwave_tag,
    tag_changes,
    user_tags,
)

GLOBAL_REGION = "us-east-1"
# Reads right after a create can miss the new resource (eventual consistency).
_READ_AFTER_CREATE_DELAYS = (0.0, 0.2, 0.5, 1.0, 2.0)


@dataclass(frozen=True, slots=True)
class _Location:
    """Where a resource was last seen, for later calls that only get its key."""

    config: str
    region: str
    external_name: str
    hint: Mapping[str, Any] = field(default_factory=dict)


class AwsProvider:
    """Crossplane provider-aws managed resources in AWS. Thread-safe.

    ``config`` is the default provider config (``providerConfigRef`` absent or
    ``default``); ``provider_configs`` adds named ones. ``secret_writer`` writes
    connection Secrets into the Kubernetes-side target; ``secret_reader``
    reads Secret keys from it (``masterUserPasswordSecretRef``, and the
    password of an existing connection Secret). ``owner`` is the value of the
    ``gitwave.dev/owner`` tag: two gitwave installations with different owners
    never delete each other's resources. ``on_write`` runs after every change
    made in AWS (the embedded emulator saves its snapshot there).
    """

    name = "aws"

    def __init__(
        self,
        *,
        config: AwsConfig,
        secret_writer: SecretWriter | None = None,
        secret_reader: SecretReader | None = None,
        owner: str = "gitwave",
        provider_configs: Mapping[str, AwsConfig] | None = None,
        on_write: Callable[[], None] | None = None,
    ) -> None:
        if not owner:
            raise ValueError("owner must not be empty")
        configs = {DEFAULT_PROVIDER_CONFIG: config, **(provider_configs or {})}
        self.config = config
        self.owner = owner
        self._clients = Clients(configs)
        self._secret_writer = secret_writer
        self._secret_reader = secret_reader
        self._on_write = on_write
        self._lock = threading.Lock()
        self._declared: dict[ResourceKey, Managed] = {}
        self._located: dict[ResourceKey, _Location] = {}
        self._pending: dict[ResourceKey, PendingSecret] = {}
        self._credentials_ok: set[str] = set()

    def __repr__(self) -> str:
        return f"AwsProvider(owner={self.owner!r}, {self.description!r})"

    @property
    def description(self) -> str:
        """One line for the CLI and the TUI, e.g. ``AWS: embedded emulator (…)``."""
        return self.config.display

    # ------------------------------------------------------------ Provider protocol

    def handles(self, api_version: str, kind: str) -> bool:
        """The Crossplane provider-aws kinds gitwave manages, at their versions."""
        group, _, version = api_version.rpartition("/")
        handler = handler_for(group, kind)
        return handler is not None and handler.version == version

    def declare(self, resources: Iterable[Resource]) -> None:
        """Tell the provider which objects are desired, before ``observe``.

        Their external names, regions and provider configs are what
        ``observe(key)`` needs to find them. Objects of other targets are
        skipped; a malformed one raises ProviderError.
        """
        parsed = [self._parse(r) for r in resources if self.handles(r.api_version, r.kind)]
        with self._lock:
            for managed in parsed:
                self._declared[managed.key] = managed

    def observe(self, key: ResourceKey) -> Live | None:
        """The object as it is in AWS now, or None when it does not exist."""
        handler = self._handler(key)
        with self._lock:
            managed = self._declared.get(key)
        ctx, hint = self._context(handler, key, managed)
        observed = self._find(handler, ctx, key, managed, hint)
        if observed is None:
            with self._lock:
                self._located.pop(key, None)
            return None
        self._remember(key, ctx, observed, managed)
        self._complete_pending_secret(handler, key, observed)
        return self._live(handler, key, observed, managed)

    def apply(self, resource: Resource, *, dry_run: bool = False) -> ChangeSetEntry:
        """Create or update the resource in AWS; created, configured or unchanged.

        Raises ProviderError for an unsupported field, a change AWS cannot make
        in place, a resource that belongs to someone else, or a refused call."""
        handler = self._handler(resource.key)
        managed = self._parse(resource)
        key = managed.key
        with self._lock:
            self._declared[key] = managed
        ctx, hint = self._context(handler, key, managed)
        observed = self._find(handler, ctx, key, managed, hint)
        if observed is None:
            return self._create(handler, ctx, managed, dry_run=dry_run)
        return self._update(handler, ctx, managed, observed, dry_run=dry_run)

    def delete(
        self, key: ResourceKey, *, propagation: Propagation = Propagation.FOREGROUND
    ) -> ChangeSetEntry:
        """Delete the AWS resource (``propagation`` has no meaning in AWS).

        ``deletionPolicy: Orphan`` or management policies without Delete leave
        it in AWS and only drop gitwave's app tags, so it is no longer tracked.
        Raises ProviderError for a resource without gitwave's ownership tag."""
        handler = self._handler(key)
        with self._lock:
            managed = self._declared.get(key)
        ctx, hint = self._context(handler, key, managed)
        observed = self._find(handler, ctx, key, managed, hint)
        if observed is None:
            return ChangeSetEntry(key, ChangeAction.UNCHANGED, message="already absent from AWS")
        record = Record.from_tags(observed.tags)
        recorded = record.belongs_to(key)
        spec = record.spec if recorded else (managed.extra_spec if managed else {})
        deletion, policies = _policies_of(key, spec)
        what = f"{key.kind} {observed.external_name}"
        if not deletion.removes_external or not policies.allows(ManagementAction.DELETE):
            why = (
                "deletionPolicy is Orphan"
                if not deletion.removes_external
                else "managementPolicies do not include Delete"
            )
            if recorded and policies.writes:
                self._untrack(handler, ctx, observed)
            self._forget(key)
            return ChangeSetEntry(key, ChangeAction.DELETED, message=f"{what} left in AWS: {why}")
        if not (recorded and record.owned_by(self.owner)):
            error = ProviderError(
                key,
                f"refusing to delete {what}: it does not carry gitwave's ownership tags "
                f"({TAG_OWNER}={self.owner}, gitwave.dev/key={key}); gitwave only deletes "
                "what it created",
            )
            error.hint = (
                "set deletionPolicy: Orphan to stop managing it, or delete it in AWS yourself"
            )
            raise error
        _, inputs, _ = gitwave_side(record)
        handler.delete(ctx, observed, inputs)
        self._wrote()
        self._forget(key)
        return ChangeSetEntry(key, ChangeAction.DELETED, message=f"{what} deleted")

    def health(self, live: Live) -> Health:
        handler = handler_for(live.key.group, live.key.kind)
        return handler.health(live.manifest) if handler else health_of(live.manifest)

    def list_tracked(self, app: str) -> list[Live]:
        """Every AWS resource tagged ``gitwave.dev/app: <app>``, sorted by key.

        Looks in the default region of every provider config and in every
        region a declared or seen object uses; a region gitwave cannot name is
        skipped (nothing can have been created there). Raises on a failed read.
        """
        targets = self._scan_targets()
        found: dict[ResourceKey, Live] = {}
        for handler in handlers():
            places = sorted({(c, self._scan_region(handler, r)) for c, r in targets})
            for config, region in places:
                ctx = self._make_context(
                    handler, ResourceKey(handler.group, handler.kind, "", ""), config, region
                )
                for observed in handler.scan(ctx, app):
                    key = _key_of(Record.from_tags(observed.tags), handler)
                    if key is None or key in found:
                        continue
                    with self._lock:
                        managed = self._declared.get(key)
                    self._remember(key, ctx, observed, managed, config=config)
                    found[key] = self._live(handler, key, observed, managed)
        return [found[k] for k in sorted(found)]

    # ------------------------------------------------------------ create and update

    def _create(
        self, handler: KindHandler, ctx: Context, managed: Managed, *, dry_run: bool
    ) -> ChangeSetEntry:
        key = managed.key
        if not managed.policies.allows(ManagementAction.CREATE):
            what = "an observe-only resource" if not managed.policies.writes else "this resource"
            name = managed.external_name or key.name
            error = ProviderError(
                key,
                f"{key.kind} {name} does not exist in {ctx.client.where}, and gitwave may not "
                f"create {what} (managementPolicies {managed.policies.names})",
            )
            error.hint = (
                "create it outside gitwave, fix crossplane.io/external-name, or allow Create"
            )
            raise error
        if handler.named_by_aws and managed.external_name:
            raise ProviderError(
                key,
                f"{key.kind} {managed.external_name} (crossplane.io/external-name) does not "
                f"exist in {ctx.client.where}; AWS names new ones itself, so remove the "
                "annotation to create one",
            )
        desired = self._desired(handler, ctx, managed, owner=self.owner, current_tags={})
        if dry_run:
            planned = Observed(
                external_name=handler.planned_name(key, managed.external_name) or "",
                region=ctx.region,
                for_provider={
                    k: v for k, v in desired.for_provider.items() if k not in handler.write_only
                },
                at_provider={},
                tags=desired.tags,
                readiness=Readiness.CREATING,
            )
            return ChangeSetEntry(
                key,
                ChangeAction.CREATED,
                message="would be created",
                live=self._live(handler, key, planned, managed),
            )
        password = self._create_password(handler, managed)
        desired = replace(desired, password=password)
        with scrubbed(password):
            external_name = handler.create(ctx, desired)
        self._wrote()
        observed = self._read_back(handler, ctx, external_name, managed)
        where = f" in {ctx.region}" if handler.region_field else ""
        messages = [f"{key.kind} {external_name} created{where}"]
        if observed is None:
            planned = Observed(
                external_name=external_name,
                region=ctx.region,
                for_provider=dict(desired.for_provider),
                at_provider={},
                tags=desired.tags,
                readiness=Readiness.CREATING,
            )
            return ChangeSetEntry(
                key,
                ChangeAction.CREATED,
                message=messages[0],
                live=self._live(handler, key, planned, managed),
            )
        self._remember(key, ctx, observed, managed)
        messages += self._write_connection_secret(handler, managed, observed, password)
        return ChangeSetEntry(
            key,
            ChangeAction.CREATED,
            message="; ".join(messages),
            live=self._live(handler, key, observed, managed),
        )

    def _update(
        self,
        handler: KindHandler,
        ctx: Context,
        managed: Managed,
        observed: Observed,
        *,
        dry_run: bool,
    ) -> ChangeSetEntry:
        key = managed.key
        record = Record.from_tags(observed.tags)
        self._check_ownership(key, managed, observed, record)
        before = self._live(handler, key, observed, managed)
        if not managed.policies.writes:
            return ChangeSetEntry(
                key, ChangeAction.UNCHANGED, message="observe only: nothing written", live=before
            )
        changed = self._changed_fields(handler, managed, observed)
        recorded_inputs = gitwave_side(record)[1] if record.belongs_to(key) else {}
        inputs_changed = frozenset(
            f
            for f in handler.write_only
            if f in managed.for_provider and managed.for_provider[f] != recorded_inputs.get(f)
        )
        if record.belongs_to(key):
            # AWS cannot report these, so the record is what they were created with.
            frozen = sorted(inputs_changed & handler.immutable)
            if frozen:
                raise ProviderError(
                    key,
                    f"spec.forProvider.{frozen[0]} cannot change after creation (it was "
                    f"{recorded_inputs.get(frozen[0])!r}, Git asks for "
                    f"{managed.for_provider[frozen[0]]!r})",
                )
        owner = record.owner if record.belongs_to(key) else None
        desired = self._desired(handler, ctx, managed, owner=owner, current_tags=observed.tags)
        manage_user_tags = handler.tag_style.read(key, managed.for_provider) is not None
        put, remove = tag_changes(observed.tags, desired.tags, manage_user_tags=manage_user_tags)
        if not (changed or inputs_changed or put or remove):
            messages = (
                self._write_connection_secret(handler, managed, observed, None)
                if (not dry_run)
                else []
            )
            return ChangeSetEntry(
                key, ChangeAction.UNCHANGED, message="; ".join(messages), live=before
            )
        if not managed.policies.allows(ManagementAction.UPDATE):
            return ChangeSetEntry(
                key,
                ChangeAction.UNCHANGED,
                live=before,
                message=f"not updated: managementPolicies exclude Update "
                f"({len(changed)} fields differ)",
            )
        changes = diff_manifest(managed.manifest, before.manifest)
        if dry_run:
            after_tags = {k: v for k, v in observed.tags.items() if k not in remove}
            after_tags.update(put)
            planned = replace(
                observed,
                for_provider={
                    **observed.for_provider,
                    **{f: managed.for_provider[f] for f in changed},
                },
                tags=after_tags,
            )
            return ChangeSetEntry(
                key,
                ChangeAction.CONFIGURED,
                message="would be updated",
                changes=changes,
                live=self._live(handler, key, planned, managed),
            )
        if changed or inputs_changed:
            handler.update(ctx, observed, desired, changed | inputs_changed)
        if put or remove:
            handler.retag(ctx, observed, put, remove)
        self._wrote()
        hint = {**dict(observed.for_provider), **managed.for_provider}
        fresh = handler.get(ctx, observed.external_name, hint) or observed
        self._remember(key, ctx, fresh, managed)
        fields = sorted(changed) + sorted(inputs_changed)
        what = ", ".join(fields) if fields else "gitwave's tags"
        messages = [f"{key.kind} {fresh.external_name} updated: {what}"]
        messages += self._write_connection_secret(handler, managed, fresh, None)
        return ChangeSetEntry(
            key,
            ChangeAction.CONFIGURED,
            message="; ".join(messages),
            changes=changes,
            live=self._live(handler, key, fresh, managed),
        )

    def _changed_fields(
        self, handler: KindHandler, managed: Managed, observed: Observed
    ) -> frozenset[str]:
        """The forProvider fields AWS has differently; ProviderError for one that
        cannot change in place."""
        key = managed.key
        skip = {handler.tag_style.field, *handler.write_only}
        changed = set()
        for name, want in managed.for_provider.items():
            if name in skip or want is None:
                continue
            have = observed.for_provider.get(name)
            if handler.same(name, want, have):
                continue
            if name in handler.immutable or name == handler.region_field:
                error = ProviderError(
                    key,
                    f"spec.forProvider.{name} cannot change in place (AWS has {have!r}, "
                    f"Git asks for {want!r})",
                )
                error.hint = (
                    "create a new resource under another name and move to it, or put the "
                    "old value back"
                )
                raise error
            changed.add(name)
        return frozenset(changed)

    def _check_ownership(
        self, key: ResourceKey, managed: Managed, observed: Observed, record: Record
    ) -> None:
        what = f"{key.kind} {observed.external_name}"
        if record.key and not record.belongs_to(key):
            raise ProviderError(
                key,
                f"{what} belongs to another gitwave object ({record.key}); two objects "
                "cannot manage one AWS resource",
            )
        if record.owner and not record.owned_by(self.owner):
            raise ProviderError(
                key, f"{what} belongs to another gitwave installation (owner {record.owner!r})"
            )
        if not record.key and not managed.external_name and managed.policies.writes:
            error = ProviderError(
                key,
                f"{what} already exists in AWS and was not created by gitwave; gitwave does not "
                "take it over silently",
            )
            error.hint = (
                f"to adopt it, set the annotation {ANNOTATION_EXTERNAL_NAME}: "
                f"{observed.external_name}; otherwise choose another name"
            )
            raise error

    def _desired(
        self,
        handler: KindHandler,
        ctx: Context,
        managed: Managed,
        *,
        owner: str | None,
        current_tags: Mapping[str, str],
    ) -> Desired:
        key = managed.key
        wanted_user = handler.tag_style.read(key, managed.for_provider)
        tags = dict(wanted_user if wanted_user is not None else user_tags(current_tags))
        try:
            tags.update(managed.record(owner=owner, write_only=handler.write_only).tags())
        except RecordTooLargeError as exc:
            raise ProviderError(key, f"cannot record this object in AWS tags: {exc}") from None
        for_provider = dict(managed.for_provider)
        if handler.region_field is not None:
            for_provider[handler.region_field] = ctx.region
        return Desired(
            key=key,
            external_name=managed.external_name,
            region=ctx.region,
            for_provider=for_provider,
            tags=tags,
        )

    def _read_back(
        self, handler: KindHandler, ctx: Context, external_name: str, managed: Managed
    ) -> Observed | None:
        for delay in _READ_AFTER_CREATE_DELAYS:
            if delay:
                time.sleep(delay)
            observed = handler.get(ctx, external_name, managed.for_provider)
            if observed is not None:
                return observed
        return None

    def _untrack(self, handler: KindHandler, ctx: Context, observed: Observed) -> None:
        """Drop the app, tracking-id and record tags (owner and key stay, so a
        later declaration of the same object finds it again)."""
        remove = sorted(
            k for k in observed.tags if k in (TAG_APP, TAG_TRACKING_ID) or k.startswith(TAG_RECORD)
        )
        if remove:
            handler.retag(ctx, observed, {}, remove)
            self._wrote()

    # ------------------------------------------------------------ connection secrets

    def _create_password(self, handler: KindHandler, managed: Managed) -> str | None:
        if not handler.needs_password:
            return None
        key, fp = managed.key, managed.for_provider
        ref_value = fp.get("masterUserPasswordSecretRef")
        if ref_value is not None:
            ref = secret_key_ref(key, "spec.forProvider.masterUserPasswordSecretRef", ref_value)
            found = self._read_secret(key, ref.namespace, ref.name, ref.key)
            if found:
                return found
            if fp.get("autogeneratePassword") is True:
                # Crossplane stores a generated password where the ref points.
                password = generate_password()
                self._write_secret(
                    secret_resource(
                        SecretRef(ref.namespace, ref.name), owner=key, data={ref.key: password}
                    )
                )
                return password
            raise ProviderError(
                key,
                f"spec.forProvider.masterUserPasswordSecretRef: Secret {ref.namespace}/"
                f"{ref.name} has no key {ref.key!r}",
            )
        if fp.get("autogeneratePassword") is True:
            return generate_password()
        raise ProviderError(
            key,
            "a DB instance needs a master password: set spec.forProvider."
            "masterUserPasswordSecretRef or autogeneratePassword: true",
        )

    def _write_connection_secret(
        self, handler: KindHandler, managed: Managed, observed: Observed, password: str | None
    ) -> list[str]:
        """Write (or start) the connection Secret; the messages to report."""
        ref = managed.connection_secret
        if ref is None or not handler.needs_password:
            return []
        key = managed.key
        if password is None:
            password = self._known_password(managed)
            if password is None:
                # Writing without it would drop the password the Secret holds.
                return [f"connection secret {ref} left as it is: the password is not known"]
        details = handler.connection(observed)
        if observed.readiness.ready:
            written = self._write_secret(
                connection_secret(ref, owner=key, details=details, password=password)
            )
            with self._lock:
                self._pending.pop(key, None)
            if written.action is ChangeAction.UNCHANGED:
                return [f"connection secret {ref} up to date"]
            return [f"connection secret {ref} written"]
        username = details.get("username", "")
        self._write_secret(
            connection_secret(ref, owner=key, details={"username": username}, password=password)
        )
        with self._lock:
            self._pending[key] = PendingSecret(ref, username, password)
        return [f"connection secret {ref} waits for the instance to become available"]

    def _complete_pending_secret(
        self, handler: KindHandler, key: ResourceKey, observed: Observed
    ) -> None:
        with self._lock:
            pending = self._pending.get(key) if observed.readiness.ready else None
        if pending is None:
            return
        self._write_secret(
            connection_secret(
                pending.ref,
                owner=key,
                details=handler.connection(observed),
                password=pending.password,
            )
        )
        with self._lock:
            self._pending.pop(key, None)

    def _known_password(self, managed: Managed) -> str | None:
        """The password as the referenced Secret or the connection Secret has it."""
        key = managed.key
        ref_value = managed.for_provider.get("masterUserPasswordSecretRef")
        if ref_value is not None:
            ref = secret_key_ref(key, "spec.forProvider.masterUserPasswordSecretRef", ref_value)
            found = self._read_secret(key, ref.namespace, ref.name, ref.key)
            if found:
                return found
        if managed.connection_secret is not None and self._secret_reader is not None:
            secret = managed.connection_secret
            return self._read_secret(key, secret.namespace, secret.name, PASSWORD_KEY)
        return None

    def _read_secret(self, key: ResourceKey, namespace: str, name: str, field: str) -> str | None:
        if self._secret_reader is None:
            raise ProviderError(
                key, f"reading Secret {namespace}/{name} needs a secret reader, and none was given"
            )
        return self._secret_reader(namespace, name, field)

    def _write_secret(self, secret: Resource) -> ChangeSetEntry:
        if self._secret_writer is None:
            raise ProviderError(
                secret.key,
                "writing connection details needs a secret writer (the Kubernetes-side "
                "target), and none was given",
            )
        entry = self._secret_writer(secret)
        if entry.action.is_failure:
            raise ProviderError(secret.key, f"connection secret not written: {entry.message}")
        return entry

    # ------------------------------------------------------------ lookup

    def _handler(self, key: ResourceKey) -> KindHandler:
        handler = handler_for(key.group, key.kind)
        if handler is None:
            raise ProviderError(key, f"{key.kind} ({key.group}) is not an AWS kind gitwave manages")
        return handler

    def _parse(self, resource: Resource) -> Managed:
        key = resource.key
        handler = self._handler(key)
        version = resource.api_version.rpartition("/")[2]
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
        handler.check(key, fp)
        if handler.needs_password:
            if managed.connection_secret is not None and self._secret_writer is None:
                raise ProviderError(
                    key,
                    "spec.writeConnectionSecretToRef needs a secret writer (the Kubernetes-side "
                    "target), and none was given",
                )
            if fp.get("masterUserPasswordSecretRef") is not None and self._secret_reader is None:
                raise ProviderError(
                    key,
                    "spec.forProvider.masterUserPasswordSecretRef needs a secret reader, and "
                    "none was given",
                )
        return managed

    def _context(
        self, handler: KindHandler, key: ResourceKey, managed: Managed | None
    ) -> tuple[Context, Mapping[str, Any]]:
        with self._lock:
            located = self._located.get(key)
        config = (
            managed.provider_config
            if managed
            else located.config
            if located
            else DEFAULT_PROVIDER_CONFIG
        )
        region: str | None
        if handler.region_field is None:
            region = GLOBAL_REGION
        else:
            wanted = managed.for_provider.get(handler.region_field) if managed else None
            region = (
                str(wanted)
                if wanted
                else located.region
                if located and not managed
                else self._clients.default_region(config)
            )
        if not region:
            self._clients.config(key, config)
            error = ProviderError(key, f"no AWS region for {key.display}: {REGION_HINT}")
            error.hint = REGION_HINT
            raise error
        hint = {**(located.hint if located else {}), **(managed.for_provider if managed else {})}
        return self._make_context(handler, key, config, region), hint

    def _make_context(
        self, handler: KindHandler, key: ResourceKey, config: str, region: str
    ) -> Context:
        with self._lock:
            checked = config in self._credentials_ok
        if not checked:
            self._clients.check_credentials(key, config)
            with self._lock:
                self._credentials_ok.add(config)
        client = self._clients.client(key, config, handler.service, region)
        return Context(key, client)

    def _find(
        self,
        handler: KindHandler,
        ctx: Context,
        key: ResourceKey,
        managed: Managed | None,
        hint: Mapping[str, Any],
    ) -> Observed | None:
        with self._lock:
            located = self._located.get(key)
        name = managed.external_name if managed and managed.external_name else None
        if name is None and located is not None:
            name = located.external_name
        if name:
            return handler.get(ctx, name, hint)
        if handler.named_by_aws:
            return handler.find_owned(ctx, str(key), hint)
        return handler.get(ctx, key.name, hint)

    def _remember(
        self,
        key: ResourceKey,
        ctx: Context,
        observed: Observed,
        managed: Managed | None,
        *,
        config: str | None = None,
    ) -> None:
        name = config or (managed.provider_config if managed else None)
        with self._lock:
            previous = self._located.get(key)
            self._located[key] = _Location(
                config=name or (previous.config if previous else DEFAULT_PROVIDER_CONFIG),
                region=observed.region,
                external_name=observed.external_name,
                hint=dict(observed.for_provider),
            )

    def _forget(self, key: ResourceKey) -> None:
        with self._lock:
            self._located.pop(key, None)
            self._pending.pop(key, None)

    def _scan_targets(self) -> set[tuple[str, str]]:
        targets: set[tuple[str, str]] = set()
        with self._lock:
            declared = list(self._declared.values())
            located = list(self._located.values())
        for name in self._clients.names():
            region = self._clients.default_region(name)
            if region:
                targets.add((name, region))
        for managed in declared:
            handler = handler_for(managed.key.group, managed.key.kind)
            field_name = handler.region_field if handler else None
            region = managed.for_provider.get(field_name) if field_name else None
            region = region or self._clients.default_region(managed.provider_config)
            if region:
                targets.add((managed.provider_config, str(region)))
        for location in located:
            targets.add((location.config, location.region))
        return targets

    @staticmethod
    def _scan_region(handler: KindHandler, region: str) -> str:
        """Global services are listed once, through one region."""
        if handler.global_listing or handler.region_field is None:
            return GLOBAL_REGION
        return region

    def _wrote(self) -> None:
        if self._on_write is not None:
            self._on_write()

    # ------------------------------------------------------------ the Live object

    def _live(
        self,
        handler: KindHandler,
        key: ResourceKey,
        observed: Observed,
        managed: Managed | None,
    ) -> Live:
        record = Record.from_tags(observed.tags)
        labels: dict[str, str] = {}
        annotations: dict[str, str] = {}
        if record.belongs_to(key):
            spec, inputs, metadata = gitwave_side(record)
            labels.update(_strings(metadata.get("labels")))
            annotations.update(_strings(metadata.get("annotations")))
            if record.app:
                labels[LABEL_APP] = record.app
            if record.tracking_id:
                annotations[ANNOTATION_TRACKING_ID] = record.tracking_id
        elif managed is not None:
            # Nothing recorded (observe-only, or not adopted yet): what Git says.
            spec = dict(managed.extra_spec)
            inputs = {k: v for k, v in managed.for_provider.items() if k in handler.write_only}
            labels.update(managed.labels)
            annotations.update(managed.annotations)
        else:
            spec, inputs = {}, {}
        if observed.external_name:
            annotations[ANNOTATION_EXTERNAL_NAME] = observed.external_name
        for_provider = dict(observed.for_provider)
        for name, value in inputs.items():
            for_provider[name] = value
        if managed is not None:
            for name, want in managed.for_provider.items():
                if name in for_provider and name not in handler.write_only:
                    have = for_provider[name]
                    if want is not None and handler.same(name, want, have):
                        # Equal in meaning (order, a minor version): show it as Git has it.
                        for_provider[name] = (
                            {**have, **want}
                            if isinstance(want, Mapping) and isinstance(have, Mapping)
                            else want
                        )
        metadata_out: dict[str, Any] = {"name": key.name}
        if key.namespace:
            metadata_out["namespace"] = key.namespace
        identity = f"{observed.region}/{key.group}/{key.kind}/{observed.external_name or key}"
        metadata_out["uid"] = str(uuid.uuid5(uuid.NAMESPACE_URL, identity))
        if observed.created:
            metadata_out["creationTimestamp"] = observed.created
        if labels:
            metadata_out["labels"] = dict(sorted(labels.items()))
        if annotations:
            metadata_out["annotations"] = dict(sorted(annotations.items()))
        manifest: Manifest = {
            "apiVersion": handler.api_version,
            "kind": key.kind,
            "metadata": metadata_out,
            "spec": {**with_spec_defaults(spec), "forProvider": for_provider},
            "status": {
                "atProvider": dict(observed.at_provider),
                "conditions": [
                    observed.readiness.condition(observed.message),
                    {"type": "Synced", "status": "True", "reason": "ReconcileSuccess"},
                ],
            },
        }
        # Changes whenever anything observed changes, status included (as in Kubernetes).
        version = hashlib.sha256(
            json.dumps(manifest, sort_keys=True, default=str).encode()
        ).hexdigest()[:16]
        return Live(key, manifest, resource_version=version)


# ---------------------------------------------------------------- helpers


def _strings(value: Any) -> dict[str, str]:
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, Mapping) else {}


def _policies_of(
    key: ResourceKey, spec: Mapping[str, Any]
) -> tuple[DeletionPolicy, ManagementPolicies]:
    try:
        deletion = DeletionPolicy(spec.get("deletionPolicy", DeletionPolicy.DELETE.value))
    except ValueError:
        deletion = DeletionPolicy.ORPHAN  # unreadable: the safe choice
    try:
        policies = ManagementPolicies.parse(key, spec.get("managementPolicies"))
    except ProviderError:
        policies = ManagementPolicies(frozenset({ManagementAction.OBSERVE}))
    return deletion, policies


def _key_of(record: Record, handler: KindHandler) -> ResourceKey | None:
    """The key a resource's record names, when it is one of ``handler``'s kind."""
    if not record.key:
        return None
    try:
        key = ResourceKey.parse(record.key)
    except ValueError:
        return None
    if (key.group, key.kind) != (handler.group, handler.kind):
        return None
    return key
