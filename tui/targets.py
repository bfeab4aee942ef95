"""Which targets a command reconciles into, built from its flags.

The Kubernetes side is the sandbox (default) or a cluster (``--context``).
Cloud kinds go to the AWS target, created only when an app has some: on the
sandbox with no ProviderConfig it is an embedded emulator that gitwave starts
itself (and every output says so); otherwise real AWS through boto3's usual
credential chain, or the endpoint a ProviderConfig names.
"""

from __future__ import annotations

import base64
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from gitwave.engine.errors import ProviderError
from gitwave.engine.model import (
    ChangeAction,
    ChangeSetEntry,
    Health,
    HealthCode,
    Live,
    Propagation,
    Resource,
    ResourceKey,
)
from gitwave.engine.provider import Provider

PROVIDER_CONFIG_GROUP = "aws.crossplane.io"


def _is_provider_config(api_version: str, kind: str) -> bool:
    return kind == "ProviderConfig" and api_version.rpartition("/")[0] == PROVIDER_CONFIG_GROUP


class AwsTarget:
    """The AWS provider, started on first use.

    Crossplane ``ProviderConfig``s in the repo are consumed here, as Crossplane's
    provider consumes them: they configure the provider and are never applied
    anywhere, so they read as in sync once declared.
    """

    name = "aws"

    def __init__(self, *, kube_side: Provider, state_dir: Path, embedded: bool) -> None:
        self._kube_side = kube_side
        self._state_dir = state_dir
        self._embedded_default = embedded
        self._provider: Any = None
        self._emulator: Any = None
        self._configs: dict[str, Resource] = {}
        self._lock = threading.Lock()

    # -- set-up -------------------------------------------------------------------------

    def _read_secret(self, namespace: str, name: str, key: str) -> str | None:
        live = self._kube_side.observe(ResourceKey("", "Secret", namespace, name))
        if live is None:
            return None
        value = (live.manifest.get("data") or {}).get(key)
        return base64.b64decode(value).decode() if isinstance(value, str) else None

    def _ensure(self) -> Any:
        with self._lock:
            if self._provider is not None:
                return self._provider
            from gitwave.providers.aws import AwsConfig, AwsProvider, embedded_moto

            named = {
                name: AwsConfig.from_provider_config(
                    resource.manifest, secret_reader=self._read_secret
                )
                for name, resource in self._configs.items()
            }
            default = named.pop("default", None)
            on_write = None
            if default is None and self._embedded_default:
                self._emulator = embedded_moto(state_dir=self._state_dir)
                default = self._emulator.config()
                on_write = self._emulator.save
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

    @property
    def in_use(self) -> bool:
        """Whether any cloud object was seen: until then outputs leave AWS out."""
        return self._provider is not None or bool(self._configs)

    @property
    def description(self) -> str:
        if self._provider is None:
            return "AWS: embedded emulator" if self._embedded_default else "AWS"
        return str(self._provider.description)

    def close(self) -> None:
        if self._emulator is not None:
            self._emulator.close()

    # -- Provider protocol --------------------------------------------------------------

    def handles(self, api_version: str, kind: str) -> bool:
        from gitwave.providers.aws.kinds.registry import handler_for

        if _is_provider_config(api_version, kind):
            return True
        group, _, version = api_version.rpartition("/")
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
        if key.kind == "ProviderConfig" and key.group == PROVIDER_CONFIG_GROUP:
            config = self._configs.get(key.name)
            return Live(key, config.manifest, "1") if config else None
        live: Live | None = self._ensure().observe(key)
        return live

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
        entry: ChangeSetEntry = self._ensure().apply(resource, dry_run=dry_run)
        return entry

    def delete(
        self, key: ResourceKey, *, propagation: Propagation = Propagation.FOREGROUND
    ) -> ChangeSetEntry:
        if key.kind == "ProviderConfig" and key.group == PROVIDER_CONFIG_GROUP:
            self._configs.pop(key.name, None)
            return ChangeSetEntry(key, ChangeAction.DELETED, "provider configuration forgotten")
        entry: ChangeSetEntry = self._ensure().delete(key, propagation=propagation)
        return entry

    def health(self, live: Live) -> Health:
        if live.key.kind == "ProviderConfig" and live.key.group == PROVIDER_CONFIG_GROUP:
            return Health(HealthCode.HEALTHY)
        health: Health = self._ensure().health(live)
        return health

    def list_tracked(self, app: str) -> Sequence[Live]:
        # Nothing started: this process declared no cloud object. An app whose
        # cloud objects were all removed from Git still needs its leftovers
        # found, so look when an emulator snapshot exists. Real AWS is not
        # asked then (it needs credentials a Kubernetes-only user lacks).
        snapshot = self._state_dir / "aws-emulator.pickle"
        if self._provider is None and not (self._embedded_default and snapshot.exists()):
            return []
        tracked: Sequence[Live] = self._ensure().list_tracked(app)
        return tracked


def build_targets(
    *, state_dir: Path, kube_side: Provider, embedded_aws: bool
) -> tuple[list[Provider], AwsTarget]:
    """The providers of one command, cloud first (its kinds are the narrower set)."""
    aws = AwsTarget(kube_side=kube_side, state_dir=state_dir, embedded=embedded_aws)
    return [aws, kube_side], aws
