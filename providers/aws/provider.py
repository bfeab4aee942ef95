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

This module only wires the verbs together, as Flux's ssa manager is split by
verb: ``observe`` (the Live object, listing, health), ``apply`` (create and
update), ``compare`` (which fields differ), ``delete``, with ``state`` (where
each object is, the clients), ``parse`` (checking a desired object) and
``connection`` (connection Secrets and passwords) beside them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence

from gitwave.engine.api import DependencyReader, Provider, SameValue, ValueComparer
from gitwave.engine.errors import ProviderError
from gitwave.engine.model import ChangeSetEntry, Health, Live, Propagation, Resource, ResourceKey

from . import apply as apply_verb
from . import delete as delete_verb
from . import observe as observe_verb
from . import references
from .clients import Clients
from .compare import value_comparer
from .config import AwsConfig, SecretReader
from .connection import ConnectionSecrets, SecretWriter
from .kinds import handler_for
from .kinds.upbound import is_upbound_group
from .managed import DEFAULT_PROVIDER_CONFIG, Managed, ManagementPolicies
from .parse import handler_of, parse_managed
from .state import ProviderState


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
        self._state = ProviderState(
            owner=owner,
            clients=Clients(configs),
            secrets=ConnectionSecrets(writer=secret_writer, reader=secret_reader),
            on_write=on_write,
        )

    def __repr__(self) -> str:
        return f"AwsProvider(owner={self.owner!r}, {self.description!r})"

    @property
    def description(self) -> str:
        """One line for the CLI and the TUI, e.g. ``AWS: embedded emulator (…)``."""
        return self.config.display

    # ------------------------------------------------------------ Provider protocol

    def handles(self, api_version: str, kind: str) -> bool:
        """The Crossplane provider-aws kinds gitwave manages, at their versions,
        and every Upbound AWS kind (those it does not map are refused by name)."""
        group, _, version = api_version.rpartition("/")
        if is_upbound_group(group):
            return True
        handler = handler_for(group, kind)
        return handler is not None and handler.version == version

    def declare(self, resources: Iterable[Resource]) -> None:
        """Tell the provider which objects are desired, before ``observe``.

        Their external names, regions and provider configs are what
        ``observe(key)`` needs to find them. Objects of other targets are
        skipped; a malformed one raises ProviderError.
        """
        self._state.declare(
            [self._parse(r) for r in resources if self.handles(r.api_version, r.kind)]
        )

    def observe(self, key: ResourceKey) -> Live | None:
        """The object as it is in AWS now, or None when it does not exist."""
        return observe_verb.observe(self._state, key)

    def apply(self, resource: Resource, *, dry_run: bool = False) -> ChangeSetEntry:
        """Create or update the resource in AWS; created, configured or unchanged.

        Raises ProviderError for an unsupported field, a change AWS cannot make
        in place, a resource that belongs to someone else, or a refused call."""
        handler = handler_of(resource.key)
        return apply_verb.apply(self._state, handler, self._parse(resource), dry_run=dry_run)

    def delete(
        self, key: ResourceKey, *, propagation: Propagation = Propagation.FOREGROUND
    ) -> ChangeSetEntry:
        """Delete the AWS resource (``propagation`` has no meaning in AWS).

        ``deletionPolicy: Orphan`` or management policies without Delete leave
        it in AWS and only drop gitwave's app tags, so it is no longer tracked.
        Raises ProviderError for a resource without gitwave's ownership tag."""
        return delete_verb.delete(self._state, key)

    def health(self, live: Live) -> Health:
        """The health of a live AWS object, by its kind's own check."""
        return observe_verb.kind_health(live)

    def list_tracked(self, app: str) -> list[Live]:
        """Every AWS resource tagged ``gitwave.dev/app: <app>``, sorted by key.

        Looks in the default region of every provider config and in every
        region a declared or seen object uses; a region gitwave cannot name is
        skipped (nothing can have been created there). Raises on a failed read.
        """
        return observe_verb.list_tracked(self._state, app)

    def value_comparer(self, resource: Resource) -> SameValue | None:
        """How the plan compares ``resource`` with AWS: each ``forProvider``
        field as its kind does (AWS lower-cases an RDS maintenance window,
        picks the minor engine version, keeps tags in its own order), and
        none of them when the management policies forbid updates."""
        handler = handler_for(resource.key.group, resource.key.kind)
        if handler is None:
            return None
        spec = resource.manifest.get("spec")
        try:
            policies = ManagementPolicies.parse(
                resource.key, spec.get("managementPolicies") if isinstance(spec, dict) else None
            )
        except ProviderError:
            return None  # apply names the bad field; compare plainly until then
        return value_comparer(handler, policies)

    def uses(self, live: Live, others: Sequence[Live]) -> tuple[ResourceKey, ...]:
        """The objects among ``others`` that ``live`` names (a DB instance its
        subnet group and security groups, an alarm the instance it watches)."""
        return references.uses(live, others)

    def _parse(self, resource: Resource) -> Managed:
        secrets = self._state.secrets
        return parse_managed(
            resource,
            can_write_secrets=secrets.writer is not None,
            can_read_secrets=secrets.reader is not None,
        )


def _conforms(provider: AwsProvider) -> tuple[Provider, ValueComparer, DependencyReader]:
    """Never called: mypy checks here that AwsProvider is a Provider, with the
    optional capabilities it claims."""
    return provider, provider, provider
