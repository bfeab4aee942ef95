"""What the AWS provider's verbs share: where each object is, and the clients.

``observe(key)`` only gets a key, so the provider remembers what it was told
(``declare``: external name, region, provider config) and where it last saw
each object. ``ProviderState`` holds that, the AWS clients, the connection
Secrets and the ownership tag value, and answers the one question every verb
asks first: which AWS resource is this key, and through which client?
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from gitwave.engine.errors import ProviderError
from gitwave.engine.model import ResourceKey

from .clients import REGION_HINT, Clients
from .connection import ConnectionSecrets
from .kinds import Context, KindHandler, Observed, handler_for
from .managed import DEFAULT_PROVIDER_CONFIG, Managed

GLOBAL_REGION = "us-east-1"


@dataclass(frozen=True, slots=True)
class _Location:
    """Where a resource was last seen, for later calls that only get its key."""

    config: str
    region: str
    external_name: str
    hint: Mapping[str, Any] = field(default_factory=dict)


class ProviderState:
    """The state one ``AwsProvider`` keeps between calls. Thread-safe.

    ``owner`` is the value of the ``gitwave.dev/owner`` tag; ``on_write`` runs
    after every change made in AWS (the embedded emulator saves its snapshot).
    """

    def __init__(
        self,
        *,
        owner: str,
        clients: Clients,
        secrets: ConnectionSecrets,
        on_write: Callable[[], None] | None,
    ) -> None:
        self.owner = owner
        self.clients = clients
        self.secrets = secrets
        self._on_write = on_write
        self._lock = threading.Lock()
        self._declared: dict[ResourceKey, Managed] = {}
        self._located: dict[ResourceKey, _Location] = {}
        self._credentials_ok: set[str] = set()

    def declare(self, managed: Iterable[Managed]) -> None:
        """Remember these desired objects (their names, regions, configs)."""
        with self._lock:
            for item in managed:
                self._declared[item.key] = item

    def declared(self, key: ResourceKey) -> Managed | None:
        """The desired object last declared for ``key``, if any."""
        with self._lock:
            return self._declared.get(key)

    def wrote(self) -> None:
        """Say that AWS was changed (the embedded emulator saves then)."""
        if self._on_write is not None:
            self._on_write()

    # ------------------------------------------------------------ finding an object

    def context(
        self, handler: KindHandler, key: ResourceKey, managed: Managed | None
    ) -> tuple[Context, Mapping[str, Any]]:
        """The client to reach ``key`` through, and what is known of its fields
        (a lookup hint). ProviderError when no region can be named."""
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
                else self.clients.default_region(config)
            )
        if not region:
            self.clients.config(key, config)
            error = ProviderError(key, f"no AWS region for {key.display}: {REGION_HINT}")
            error.hint = REGION_HINT
            raise error
        hint = {**(located.hint if located else {}), **(managed.for_provider if managed else {})}
        return self.make_context(handler, key, config, region), hint

    def make_context(
        self, handler: KindHandler, key: ResourceKey, config: str, region: str
    ) -> Context:
        """A client for ``handler``'s service in ``region`` under ``config``;
        the credentials of a config are checked once, on its first use."""
        with self._lock:
            checked = config in self._credentials_ok
        if not checked:
            self.clients.check_credentials(key, config)
            with self._lock:
                self._credentials_ok.add(config)
        client = self.clients.client(key, config, handler.service, region)
        return Context(key, client)

    def find(
        self,
        handler: KindHandler,
        ctx: Context,
        key: ResourceKey,
        managed: Managed | None,
        hint: Mapping[str, Any],
    ) -> Observed | None:
        """The AWS resource of ``key``, by external name, last-seen name, the
        ``gitwave.dev/key`` tag (kinds AWS names) or ``metadata.name``."""
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

    def remember(
        self,
        key: ResourceKey,
        observed: Observed,
        managed: Managed | None,
        *,
        config: str | None = None,
    ) -> None:
        """Note where ``key`` was seen, for calls that will only get its key."""
        name = config or (managed.provider_config if managed else None)
        with self._lock:
            previous = self._located.get(key)
            self._located[key] = _Location(
                config=name or (previous.config if previous else DEFAULT_PROVIDER_CONFIG),
                region=observed.region,
                external_name=observed.external_name,
                hint=dict(observed.for_provider),
            )

    def lost(self, key: ResourceKey) -> None:
        """``key`` was not found where it was last seen."""
        with self._lock:
            self._located.pop(key, None)

    def forget(self, key: ResourceKey) -> None:
        """``key`` is gone from AWS or no longer managed."""
        self.lost(key)
        self.secrets.forget(key)

    # ------------------------------------------------------------ listing

    def scan_targets(self) -> set[tuple[str, str]]:
        """``(provider config, region)`` pairs to list tracked objects in: every
        config's default region and every region a declared or seen object uses
        (a region gitwave cannot name is skipped: nothing was created there)."""
        with self._lock:
            declared = list(self._declared.values())
            located = list(self._located.values())
        targets: set[tuple[str, str]] = set()
        for name in self.clients.names():
            region = self.clients.default_region(name)
            if region:
                targets.add((name, region))
        for managed in declared:
            handler = handler_for(managed.key.group, managed.key.kind)
            field_name = handler.region_field if handler else None
            wanted = managed.for_provider.get(field_name) if field_name else None
            region = wanted or self.clients.default_region(managed.provider_config)
            if region:
                targets.add((managed.provider_config, str(region)))
        for location in located:
            targets.add((location.config, location.region))
        return targets


def listing_region(handler: KindHandler, region: str) -> str:
    """Global services are listed once, through one region."""
    if handler.global_listing or handler.region_field is None:
        return GLOBAL_REGION
    return region
