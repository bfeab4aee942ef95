"""``ProviderRouter.time_requests`` on a real sandbox: each call to the target
is timed by operation, the provider stays the same object, and an
impersonating twin (made with ``copy.copy``, as the Kubernetes provider makes
its twins) runs its own methods, not its parent's."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gitwave.engine.model import Live, Resource, ResourceKey
from gitwave.engine.provider import BulkReader, ChangeFeed
from gitwave.engine.router import ProviderRouter
from gitwave.providers.sandbox import SandboxProvider

CONFIG = ResourceKey("", "ConfigMap", "default", "settings")


def config_map() -> Resource:
    manifest = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "settings", "namespace": "default"},
        "data": {"color": "blue"},
    }
    return Resource(key=CONFIG, api_version="v1", manifest=manifest, source="test.yaml:1")


@dataclass
class Timings:
    calls: list[tuple[str, str, str]] = field(default_factory=list)

    def __call__(self, *, cluster: str, target: str, operation: str, seconds: float) -> None:
        assert seconds >= 0
        self.calls.append((cluster, target, operation))


class TwinningSandbox(SandboxProvider):
    """The sandbox with Kubernetes' way of making a twin per user."""

    user = ""
    observed_as: list[str]

    def as_user(self, user: str) -> TwinningSandbox:
        twin = copy.copy(self)
        twin.user = user
        return twin

    def observe(self, key: ResourceKey) -> Live | None:
        self.observed_as.append(self.user)
        return super().observe(key)


def test_every_call_to_the_target_is_timed_by_operation(tmp_path: Path) -> None:
    with SandboxProvider(tmp_path / "state", rollout_seconds=0.05) as sandbox:
        router = ProviderRouter([sandbox])
        timings = Timings()
        router.time_requests(timings)
        router.time_requests(timings)  # twice: still one timing per call

        provider = router.for_resource(config_map())
        provider.apply(config_map())
        provider.observe(CONFIG)
        assert isinstance(provider, ChangeFeed) and isinstance(provider, BulkReader)
        provider.changes("")
        provider.delete(CONFIG)

    assert provider is sandbox
    assert timings.calls == [
        ("in-cluster", "sandbox", "apply"),
        ("in-cluster", "sandbox", "observe"),
        ("in-cluster", "sandbox", "changes"),
        ("in-cluster", "sandbox", "delete"),
    ]


def test_an_impersonating_twin_is_timed_running_its_own_methods(tmp_path: Path) -> None:
    with TwinningSandbox(tmp_path / "state", rollout_seconds=0.05) as sandbox:
        sandbox.observed_as = []
        router = ProviderRouter([sandbox])
        timings = Timings()
        router.time_requests(timings)

        twin: Any = router.as_user("alice").providers[0]
        twin.observe(CONFIG)
        sandbox.observe(CONFIG)

    assert twin is not sandbox
    assert sandbox.observed_as == ["alice", ""]
    assert [operation for _, _, operation in timings.calls] == ["observe", "observe"]
