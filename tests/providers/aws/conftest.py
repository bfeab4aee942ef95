"""Fixtures for the AWS provider: moto in server mode over real HTTP.

One emulator serves the whole session (``embedded_moto``, the same part the
sandbox uses); tests keep apart by unique names and app labels, since moto's
state is shared. The Kubernetes side of connection Secrets is a real
SandboxProvider. Out-of-band changes (drift, foreign resources) go straight to
the emulator through boto3, as another AWS client would.
"""

from __future__ import annotations

import base64
import string
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml

from gitwave.engine.model import Manifest, Resource, ResourceKey
from gitwave.providers.aws import AwsConfig, AwsProvider, EmbeddedAws, embedded_moto
from gitwave.providers.sandbox import SandboxProvider

TESTDATA = Path(__file__).parent.parent.parent / "testdata" / "aws"
REGION = "eu-west-1"
OWNER = "gitwave-test"
SECRETS_NAMESPACE = "shop"
HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Every test here talks HTTP to the emulator (about 0.6 s each on 2 cores,
    1.5 min for the directory): `make test` runs them, `make test-fast` does not."""
    for item in items:
        if HERE in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.slow)


@dataclass(frozen=True)
class Network:
    vpc: str
    subnet_a: str
    subnet_b: str


@pytest.fixture(scope="session")
def emulator() -> Iterator[EmbeddedAws]:
    with embedded_moto(region=REGION) as running:
        yield running


@pytest.fixture
def config(emulator: EmbeddedAws) -> AwsConfig:
    return emulator.config()


@pytest.fixture(scope="session")
def boto(emulator: EmbeddedAws) -> Callable[..., Any]:
    """``boto("rds")``: a plain boto3 client of the emulator, for out-of-band changes."""

    def client(service: str, region: str = REGION) -> Any:
        return boto3.client(
            service,
            endpoint_url=emulator.endpoint_url,
            region_name=region,
            aws_access_key_id="someone-else",
            aws_secret_access_key="not-gitwave",
        )

    return client


@pytest.fixture(scope="session")
def network(boto: Callable[..., Any]) -> Network:
    ec2 = boto("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24", AvailabilityZone=f"{REGION}{z}")[
            "Subnet"
        ]["SubnetId"]
        for i, z in ((1, "a"), (2, "b"))
    ]
    return Network(vpc, *subnets)


@pytest.fixture(scope="session")
def zone(boto: Callable[..., Any]) -> str:
    created = boto("route53").create_hosted_zone(Name="example.org", CallerReference="gitwave")
    return str(created["HostedZone"]["Id"]).rsplit("/", 1)[-1]


@pytest.fixture
def uid() -> str:
    return uuid.uuid4().hex[:8]


@pytest.fixture
def app(uid: str) -> str:
    return f"shop-{uid}"


class Secrets:
    """The Kubernetes side: a real sandbox holding connection Secrets."""

    def __init__(self, sandbox: SandboxProvider) -> None:
        self.sandbox = sandbox

    def write(self, resource: Resource) -> Any:
        return self.sandbox.apply(resource)

    def read(self, namespace: str, name: str, key: str) -> str | None:
        live = self.sandbox.observe(ResourceKey("", "Secret", namespace, name))
        if live is None:
            return None
        value = (live.manifest.get("data") or {}).get(key)
        return None if value is None else base64.b64decode(value).decode()

    def data(self, namespace: str, name: str) -> dict[str, str]:
        live = self.sandbox.observe(ResourceKey("", "Secret", namespace, name))
        assert live is not None, f"Secret {namespace}/{name} was not written"
        return {
            k: base64.b64decode(v).decode() for k, v in (live.manifest.get("data") or {}).items()
        }

    def put(self, namespace: str, name: str, **data: str) -> None:
        manifest = {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": name, "namespace": namespace},
            "stringData": data,
        }
        self.sandbox.apply(Resource(ResourceKey.of(manifest), "v1", manifest))


@pytest.fixture
def secrets(tmp_path: Path) -> Iterator[Secrets]:
    with SandboxProvider(tmp_path / "sandbox", rollout_seconds=0) as sandbox:
        namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}}
        sandbox.apply(Resource(ResourceKey.of(namespace), "v1", namespace))
        yield Secrets(sandbox)


@pytest.fixture
def make_provider(config: AwsConfig, secrets: Secrets) -> Callable[..., AwsProvider]:
    """A new provider with no memory of earlier ones (as a new gitwave process)."""

    def make(**options: Any) -> AwsProvider:
        settings: dict[str, Any] = {
            "config": config,
            "secret_writer": secrets.write,
            "secret_reader": secrets.read,
            "owner": OWNER,
        }
        settings.update(options)
        return AwsProvider(**settings)

    return make


@pytest.fixture
def provider(make_provider: Callable[..., AwsProvider]) -> AwsProvider:
    return make_provider()


@pytest.fixture
def manifest(network: Network, zone: str, uid: str, app: str) -> Callable[..., Manifest]:
    """``manifest("queue", name=…)``: a fixture under tests/testdata/aws/kinds/, filled in."""

    def load(kind: str, *, name: str | None = None, app_name: str | None = None) -> Manifest:
        text = (TESTDATA / "kinds" / f"{kind}.yaml").read_text()
        filled = string.Template(text).substitute(
            name=name or f"{kind}-{uid}",
            app=app_name or app,
            vpc=network.vpc,
            subnet_a=network.subnet_a,
            subnet_b=network.subnet_b,
            zone=zone,
        )
        loaded = yaml.load(filled, Loader=yaml.CSafeLoader)
        assert isinstance(loaded, dict)
        return loaded

    return load


def resource(manifest: Manifest) -> Resource:
    return Resource(ResourceKey.of(manifest), str(manifest["apiVersion"]), manifest)
