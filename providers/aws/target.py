"""AwsTarget: the AWS provider as a command uses it, started on first use.

Cloud kinds go to it, and it exists whether or not an app has any: it starts
the provider (and, on the sandbox with no ProviderConfig, the embedded
emulator) only when a cloud object shows up; importing this module loads no
boto3. Without the emulator it is real AWS through boto3's usual credential
chain, or the endpoint a ProviderConfig names.
"""

from __future__ import annotations

import base64
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from gitwave.engine.api import (
    DependencyReader,
    KmsEndpoint,
    Provider,
    SameValue,
    ValueComparer,
    is_cloud_group,
)
from gitwave.engine.errors import ProviderError
from gitwave.engine.model import (
    LABEL_APP,
    ChangeAction,
    ChangeSetEntry,
    Health,
    HealthCode,
    Live,
    Propagation,
    Resource,
    ResourceKey,
)

from .tracked_apps import SNAPSHOT_FILE, TrackedApps

if TYPE_CHECKING:
    from .embedded import EmbeddedAws
    from .provider import AwsProvider

PROVIDER_CONFIG_GROUP = "aws.crossplane.io"


# Crossplane v2's namespaced Upbound groups (kinds.upbound.is_upbound_group),
# named here so that routing a Kubernetes kind never imports the kinds (boto3).
_NAMESPACED_UPBOUND_SUFFIX = ".aws.m.upbound.io"


def _is_provider_config(api_version: str, kind: str) -> bool:
    return kind == "ProviderConfig" and api_version.rpartition("/")[0] == PROVIDER_CONFIG_GROUP


def _is_provider_config_key(key: ResourceKey) -> bool:
    return key.kind == "ProviderConfig" and key.group == PROVIDER_CONFIG_GROUP


class AwsTarget:
    """The AWS provider, started on first use.

    ``kube_side`` is the Kubernetes-side target: connection Secrets are written
    to it and password Secrets read from it. ``embedded`` says whether, with no
    default ProviderConfig, gitwave starts its own emulator (state kept in
    ``state_dir``) instead of talking to real AWS.

    Crossplane ``ProviderConfig``s in the repo are consumed here, as Crossplane's
    provider consumes them: they configure the provider and are never applied
    anywhere, so they read as in sync once declared.
    """

    name = "aws"

    def __init__(self, *, kube_side: Provider, state_dir: Path, embedded: bool) -> None:
        self._kube_side = kube_side
        self._state_dir = state_dir
        self._embedded_default = embedded
        self._provider: AwsProvider | None = None
        self._emulator: EmbeddedAws | None = None
        self._configs: dict[str, Resource] = {}
        self._lock = threading.Lock()
        # A cluster's view (``for_cluster``): the target whose emulator it shares.
        self._shared: AwsTarget | None = None
        self._tracked_apps = TrackedApps(state_dir)

    def for_cluster(self, kube_side: Provider) -> AwsTarget:
        """This AWS as the apps of another cluster reach it: the same account (on
        the sandbox, the same emulator, started once), with connection Secrets
        written to, and password Secrets read from, ``kube_side``, that cluster's
        Kubernetes side, as Crossplane's provider running in that cluster does.
        ProviderConfigs its apps declare configure this view."""
        view = AwsTarget(
            kube_side=kube_side, state_dir=self._state_dir, embedded=self._embedded_default
        )
        view._shared = self
        return view

    # -- set-up -------------------------------------------------------------------------

    def _read_secret(self, namespace: str, name: str, key: str) -> str | None:
        live = self._kube_side.observe(ResourceKey("", "Secret", namespace, name))
        if live is None:
            return None
        value = (live.manifest.get("data") or {}).get(key)
        return base64.b64decode(value).decode() if isinstance(value, str) else None

    def _ensure(self) -> AwsProvider:
        with self._lock:
            if self._provider is not None:
                return self._provider
            # Here, not at the top: boto3 loads only when a cloud object shows up.
            from .config import AwsConfig
            from .provider import AwsProvider

            named = {
                name: AwsConfig.from_provider_config(
                    resource.manifest, secret_reader=self._read_secret
                )
                for name, resource in self._configs.items()
            }
            default = named.pop("default", None)
            on_write = None
            if default is None and self._embedded_default:
                emulator = self._started_emulator()
                default = emulator.config()
                on_write = emulator.save
            elif default is None:
                default = AwsConfig()
            self._provider = AwsProvider(
                config=default,
                secret_writer=self._kube_side.apply,
                secret_reader=self._read_secret,
                provider_configs=named,
                on_write=on_write,
            )
            return self._provider

    def _started_emulator(self) -> EmbeddedAws:
        # Started once, by a cloud object or by a sops file naming a KMS key.
        if self._shared is not None:  # a cluster's view: one emulator per state
            return self._shared.embedded_emulator()
        if self._emulator is None:
            if not (self._state_dir / SNAPSHOT_FILE).exists():
                self._tracked_apps.start()  # a new snapshot: every app it holds is noted
            from .embedded import embedded_moto  # pickle and the emulator's config

            self._emulator = embedded_moto(state_dir=self._state_dir)
        return self._emulator

    def _on_emulator(self) -> bool:
        """True when this target's AWS is the started embedded emulator."""
        with self._lock:
            if self._provider is None:
                return False
        shared = self._shared if self._shared is not None else self
        return shared._emulator is not None and "default" not in self._configs

    def embedded_emulator(self) -> EmbeddedAws:
        """The sandbox's emulator, started if need be (``gitwave sandbox kms``).
        ProviderError when this target has no emulator (not the sandbox)."""
        if not self._embedded_default:
            raise ProviderError(None, "the embedded AWS emulator runs only on the sandbox target")
        with self._lock:
            return self._started_emulator()

    def kms_endpoint(self) -> KmsEndpoint | None:
        """Where sops reaches KMS for a file naming a KMS key (``render.sops_kms``):
        the default ProviderConfig's endpoint and credentials once declared,
        else on the sandbox the embedded emulator (started now), else None
        (sops' own AWS SDK chain: real AWS)."""
        config = self._configs.get("default")
        if config is not None:
            from .config import AwsConfig

            aws = AwsConfig.from_provider_config(config.manifest, secret_reader=self._read_secret)
            if aws.endpoint_url is None:
                return None
            credentials = aws.credentials
            return KmsEndpoint(
                url=aws.endpoint_url,
                source="ProviderConfig/default",
                region=aws.region,
                access_key_id=credentials.access_key_id if credentials else None,
                secret_access_key=credentials.secret_access_key if credentials else None,
                session_token=credentials.session_token if credentials else None,
            )
        if not self._embedded_default:
            return None
        emulator = self.embedded_emulator()
        creds = emulator.config().credentials
        assert creds is not None
        return KmsEndpoint(
            url=emulator.endpoint_url,
            source="embedded emulator",
            region=emulator.region,
            access_key_id=creds.access_key_id,
            secret_access_key=creds.secret_access_key,
        )

    @property
    def in_use(self) -> bool:
        """Whether any cloud object was seen: until then outputs leave AWS out."""
        return self._provider is not None or bool(self._configs)

    @property
    def description(self) -> str:
        """One line for outputs, e.g. ``AWS: embedded emulator``."""
        if self._provider is None:
            return "AWS: embedded emulator" if self._embedded_default else "AWS"
        return self._provider.description

    def close(self) -> None:
        """Stop the emulator, if this target started one."""
        if self._emulator is not None:
            self._emulator.close()

    # -- Provider protocol --------------------------------------------------------------

    def handles(self, api_version: str, kind: str) -> bool:
        """The AWS kinds gitwave manages (every Upbound one: those it does not
        map are refused by name), and Crossplane's AWS ProviderConfig."""
        if _is_provider_config(api_version, kind):
            return True
        group, _, version = api_version.rpartition("/")
        if not is_cloud_group(group) and not group.endswith(_NAMESPACED_UPBOUND_SUFFIX):
            # Every AWS kind is in one of these groups: a fleet of Kubernetes
            # objects is routed without importing boto3 (seconds and MiB).
            return False
        from .kinds import handler_for  # boto3 too: see _ensure
        from .kinds.upbound import is_upbound_group

        if is_upbound_group(group):
            return True
        handler = handler_for(group, kind)
        return handler is not None and handler.version == version

    def declare(self, resources: Iterable[Resource]) -> None:
        """ProviderConfigs configure the provider; the rest tell it what to look for."""
        items = list(resources)
        for resource in items:
            if _is_provider_config(resource.api_version, resource.kind):
                if self._provider is not None and resource.key.name not in self._configs:
                    raise ProviderError(
                        resource.key,
                        "a ProviderConfig appeared after the AWS target started",
                        retriable=True,
                    )
                self._configs[resource.key.name] = resource
        managed = [r for r in items if not _is_provider_config(r.api_version, r.kind)]
        if managed:
            self._ensure().declare(managed)

    def observe(self, key: ResourceKey) -> Live | None:
        if _is_provider_config_key(key):
            config = self._configs.get(key.name)
            return Live(key, config.manifest, "1") if config else None
        return self._ensure().observe(key)

    def apply(self, resource: Resource, *, dry_run: bool = False) -> ChangeSetEntry:
        if _is_provider_config(resource.api_version, resource.kind):
            known = resource.key.name in self._configs
            if not dry_run:
                self._configs[resource.key.name] = resource
            return ChangeSetEntry(
                resource.key,
                ChangeAction.UNCHANGED if known else ChangeAction.CREATED,
                "provider configuration (not applied anywhere)",
                live=Live(resource.key, resource.manifest, "1"),
            )
        provider = self._ensure()
        if not dry_run and self._on_emulator():
            app = ((resource.manifest.get("metadata") or {}).get("labels") or {}).get(LABEL_APP)
            if isinstance(app, str) and app:
                self._tracked_apps.note(app, holds=True)  # before the object exists
        return provider.apply(resource, dry_run=dry_run)

    def delete(
        self, key: ResourceKey, *, propagation: Propagation = Propagation.FOREGROUND
    ) -> ChangeSetEntry:
        if _is_provider_config_key(key):
            self._configs.pop(key.name, None)
            return ChangeSetEntry(key, ChangeAction.DELETED, "provider configuration forgotten")
        return self._ensure().delete(key, propagation=propagation)

    def health(self, live: Live) -> Health:
        """A ProviderConfig is healthy once declared; the rest, by their kind."""
        if _is_provider_config_key(live.key):
            return Health(HealthCode.HEALTHY)
        return self._ensure().health(live)

    def value_comparer(self, resource: Resource) -> SameValue | None:
        """How the plan compares a managed resource with AWS (see AwsProvider)."""
        if _is_provider_config(resource.api_version, resource.kind):
            return None
        return self._ensure().value_comparer(resource)

    def uses(self, live: Live, others: Sequence[Live]) -> tuple[ResourceKey, ...]:
        """The objects among ``others`` that ``live`` names (see AwsProvider)."""
        if _is_provider_config_key(live.key):
            return ()
        from . import references  # boto3 too: see _ensure

        return references.uses(live, others)

    def state_stamp(self, app: str) -> str | None:
        """``StateStamp``: a constant while this process started no provider
        and the emulator's snapshot holds nothing of ``app`` (a plan then
        reads nothing from AWS, as ``list_tracked`` says); None otherwise."""
        snapshot = self._state_dir / SNAPSHOT_FILE
        if self._provider is None and not (
            self._embedded_default and snapshot.exists() and self._tracked_apps.may_hold(app)
        ):
            return "aws: nothing started, nothing held"
        return None

    def list_tracked(self, app: str) -> Sequence[Live]:
        # Nothing started: this process declared no cloud object. An app whose
        # cloud objects were all removed from Git still needs its leftovers
        # found, so look when an emulator snapshot exists. Real AWS is not
        # asked then (it needs credentials a Kubernetes-only user lacks).
        # A snapshot names the apps it may hold (``tracked_apps``): the others
        # do not start it.
        snapshot = self._state_dir / SNAPSHOT_FILE
        if self._provider is None and not (
            self._embedded_default and snapshot.exists() and self._tracked_apps.may_hold(app)
        ):
            return []
        found = self._ensure().list_tracked(app)
        if not found and self._on_emulator():
            self._tracked_apps.note(app, holds=False)
        return found


def _conforms(target: AwsTarget) -> tuple[Provider, ValueComparer, DependencyReader]:
    """Never called: mypy checks here that AwsTarget is a Provider, with the
    optional capabilities it passes on."""
    return target, target, target
