"""The router routes per apiVersion and kind (``by_provider``, ``to_declare``,
``observe_all``) and still gives each object to the provider that handles it,
in the order given, whatever order kinds of two targets come in. Real
sandbox, the real AWS target (its emulator never started: nothing here
reaches AWS)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from gitwave.engine.errors import ProviderError
from gitwave.engine.model import Resource, ResourceKey
from gitwave.engine.router import ProviderRouter, observe_all
from gitwave.providers.aws import AwsTarget
from gitwave.providers.sandbox import SandboxProvider

NAMESPACE = "routes"


def _resource(api_version: str, kind: str, name: str) -> Resource:
    manifest = {
        "apiVersion": api_version,
        "kind": kind,
        "metadata": {"name": name, "namespace": NAMESPACE},
    }
    return Resource(ResourceKey.of(manifest), api_version, manifest)


CONFIG_A = _resource("v1", "ConfigMap", "a")
CONFIG_B = _resource("v1", "ConfigMap", "b")
DEPLOY = _resource("apps/v1", "Deployment", "web")
QUEUE_1 = _resource("sqs.aws.upbound.io/v1beta1", "Queue", "q1")
QUEUE_2 = _resource("sqs.aws.upbound.io/v1beta1", "Queue", "q2")
MIXED = [CONFIG_A, QUEUE_1, CONFIG_B, DEPLOY, QUEUE_2]


@pytest.fixture
def targets(tmp_path: Path) -> Iterator[tuple[ProviderRouter, SandboxProvider, AwsTarget]]:
    with SandboxProvider(tmp_path / "state", rollout_seconds=0.0) as sandbox:
        aws = AwsTarget(kube_side=sandbox, state_dir=tmp_path / "aws", embedded=False)
        yield ProviderRouter([aws, sandbox]), sandbox, aws


def test_objects_are_grouped_by_their_provider_in_the_order_given(
    targets: tuple[ProviderRouter, SandboxProvider, AwsTarget],
) -> None:
    router, sandbox, aws = targets

    groups = router.by_provider(MIXED)

    assert [(provider, [r.key.name for r in mine]) for provider, mine in groups] == [
        (sandbox, ["a", "b", "web"]),
        (aws, ["q1", "q2"]),
    ]
    for provider, mine in groups:
        assert all(router.for_resource(r) is provider for r in mine)


def test_only_the_objects_of_a_declaring_provider_are_declared_in_order(
    targets: tuple[ProviderRouter, SandboxProvider, AwsTarget],
) -> None:
    router, _, _ = targets

    assert router.to_declare(MIXED) == [QUEUE_1, QUEUE_2]
    assert router.to_declare([CONFIG_A, DEPLOY]) == []


def test_an_object_no_provider_handles_is_refused_by_kind(tmp_path: Path) -> None:
    with SandboxProvider(tmp_path / "state", rollout_seconds=0.0) as sandbox:
        router = ProviderRouter([sandbox])
        nobody = _resource("sqs.aws.upbound.io/v1beta1", "Queue", "q1")

        with pytest.raises(ProviderError, match=r"no target handles Queue"):
            router.by_provider([CONFIG_A, nobody])


def test_observe_all_answers_every_object_in_the_order_given(tmp_path: Path) -> None:
    with SandboxProvider(tmp_path / "state", rollout_seconds=0.0) as sandbox:
        namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}}
        sandbox.apply(Resource(ResourceKey.of(namespace), "v1", namespace))
        sandbox.apply(CONFIG_B)
        router = ProviderRouter([sandbox])

        live = observe_all([DEPLOY, CONFIG_B, CONFIG_A], router)

    assert list(live) == [DEPLOY.key, CONFIG_B.key, CONFIG_A.key]
    assert live[DEPLOY.key] is None and live[CONFIG_A.key] is None
    seen = live[CONFIG_B.key]
    assert seen is not None and seen.manifest["metadata"]["name"] == "b" and seen.digest
