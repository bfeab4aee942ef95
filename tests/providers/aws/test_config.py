"""Where and as whom: AwsConfig, Crossplane ProviderConfigs, and the errors a
user sees when credentials or a region are missing."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from gitwave.engine.errors import ProviderError, UnreachableError, ValidationError
from gitwave.engine.model import ChangeAction, Manifest
from gitwave.providers.aws import AwsConfig, AwsCredentials, AwsProvider, EmbeddedAws

from .conftest import TESTDATA, resource

CREDENTIALS_FILE = """\
[default]
aws_access_key_id = AKIAEXAMPLEGITWAVE
aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY
"""
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


def _provider_config(**spec: Any) -> Manifest:
    return {
        "apiVersion": "aws.crossplane.io/v1beta1",
        "kind": "ProviderConfig",
        "metadata": {"name": "staging"},
        "spec": spec,
    }


@dataclass(frozen=True)
class ConfigCase:
    reason: str
    manifest: Manifest
    want_endpoint: str | None = None
    want_key_id: str | None = None
    want_anonymous: bool = False
    secrets: dict[tuple[str, str, str], str] = field(default_factory=dict)


SECRET_REF = {"namespace": "crossplane-system", "name": "aws-creds", "key": "creds"}

CONFIGS = [
    ConfigCase(
        "credentials from a Secret, endpoint in Crossplane's shape",
        _provider_config(
            credentials={"source": "Secret", "secretRef": SECRET_REF},
            endpoint={"url": {"type": "Static", "static": "http://127.0.0.1:4566"}},
        ),
        want_endpoint="http://127.0.0.1:4566",
        want_key_id="AKIAEXAMPLEGITWAVE",
        secrets={("crossplane-system", "aws-creds", "creds"): CREDENTIALS_FILE},
    ),
    ConfigCase(
        "InjectedIdentity: boto3's own chain, endpoint as a plain URL",
        _provider_config(
            credentials={"source": "InjectedIdentity"},
            endpoint={"url": "https://aws.internal.example"},
        ),
        want_endpoint="https://aws.internal.example",
    ),
    ConfigCase(
        "source None: unsigned requests",
        _provider_config(credentials={"source": "None"}),
        want_anonymous=True,
    ),
]


@pytest.mark.parametrize("case", CONFIGS, ids=[c.reason for c in CONFIGS])
def test_provider_config_translates(case: ConfigCase) -> None:
    config = AwsConfig.from_provider_config(
        case.manifest, secret_reader=lambda ns, name, key: case.secrets.get((ns, name, key))
    )
    assert config.name == "staging"
    assert config.endpoint_url == case.want_endpoint
    assert config.anonymous is case.want_anonymous
    if case.want_key_id is None:
        assert config.credentials is None
    else:
        assert config.credentials is not None
        assert config.credentials.access_key_id == case.want_key_id
        assert config.credentials.secret_access_key == SECRET_KEY
        assert SECRET_KEY not in repr(config) and SECRET_KEY not in config.display


@dataclass(frozen=True)
class BadConfigCase:
    reason: str
    manifest: Manifest
    message: str
    secrets: dict[tuple[str, str, str], str] = field(default_factory=dict)


BAD_CONFIGS = [
    BadConfigCase(
        "not a ProviderConfig",
        {**_provider_config(), "kind": "ClusterProviderConfig"},
        "expected aws.crossplane.io/v1beta1 ProviderConfig",
    ),
    BadConfigCase(
        "the Secret is not there",
        _provider_config(credentials={"source": "Secret", "secretRef": SECRET_REF}),
        "Secret crossplane-system/aws-creds has no key 'creds'",
    ),
    BadConfigCase(
        "the Secret is not a credentials file (its text is never echoed)",
        _provider_config(credentials={"source": "Secret", "secretRef": SECRET_REF}),
        "is not an AWS credentials file",
        secrets={("crossplane-system", "aws-creds", "creds"): f"{SECRET_KEY}\n[oops"},
    ),
    BadConfigCase(
        "a credentials file without a secret key",
        _provider_config(credentials={"source": "Secret", "secretRef": SECRET_REF}),
        "needs aws_access_key_id and aws_secret_access_key",
        secrets={("crossplane-system", "aws-creds", "creds"): "[default]\naws_access_key_id=A\n"},
    ),
    BadConfigCase(
        "an unknown credentials source",
        _provider_config(credentials={"source": "Vault"}),
        "spec.credentials.source 'Vault' is not supported",
    ),
    BadConfigCase(
        "a dynamic endpoint",
        _provider_config(
            credentials={"source": "InjectedIdentity"},
            endpoint={"url": {"type": "Dynamic", "dynamic": {"protocol": "https", "host": "x"}}},
        ),
        "spec.endpoint.url.type 'Dynamic' is not supported",
    ),
]


@pytest.mark.parametrize("case", BAD_CONFIGS, ids=[c.reason for c in BAD_CONFIGS])
def test_a_bad_provider_config_is_named(case: BadConfigCase) -> None:
    with pytest.raises(ValidationError) as caught:
        AwsConfig.from_provider_config(
            case.manifest, secret_reader=lambda ns, name, key: case.secrets.get((ns, name, key))
        )
    assert case.message in str(caught.value)
    assert SECRET_KEY not in str(caught.value)


def test_credentials_repr_hides_the_secret_key() -> None:
    credentials = AwsCredentials(
        access_key_id="AKIAEXAMPLE", secret_access_key=SECRET_KEY, session_token="token-xyz"
    )
    assert "AKIAEXAMPLE" in repr(credentials)
    assert SECRET_KEY not in repr(credentials) and "token-xyz" not in repr(credentials)


def test_a_named_provider_config_is_used_by_the_resources_that_ask_for_it(
    emulator: EmbeddedAws,
    manifest: Callable[..., Manifest],
    boto: Callable[..., Any],
) -> None:
    text = (
        (TESTDATA / "providerconfig.yaml").read_text().replace("${endpoint}", emulator.endpoint_url)
    )
    staging = AwsConfig.from_provider_config(
        yaml.load(text, Loader=yaml.CSafeLoader),
        secret_reader=lambda ns, name, key: CREDENTIALS_FILE,
        region="eu-west-1",
    )
    provider = AwsProvider(
        config=AwsConfig(region="eu-west-1", endpoint_url="http://127.0.0.1:9"),
        provider_configs={"staging": staging},
    )
    desired = copy.deepcopy(manifest("queue"))
    desired["spec"]["providerConfigRef"] = {"name": "staging"}
    entry = provider.apply(resource(desired))
    assert entry.action is ChangeAction.CREATED
    assert boto("sqs").get_queue_url(QueueName=desired["metadata"]["name"])["QueueUrl"]


# ---------------------------------------------------------------- missing credentials or region


@pytest.fixture
def bare_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """An environment where boto3 finds neither credentials nor a region."""
    import os

    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    empty = tmp_path / "empty-aws-file"
    empty.write_text("")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(empty))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(empty))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # no instance role to find
    yield


@dataclass(frozen=True)
class MissingCase:
    reason: str
    config: AwsConfig
    region_in_manifest: bool
    message: tuple[str, ...]


MISSING = [
    MissingCase(
        "no credentials anywhere",
        AwsConfig(region="eu-west-1", endpoint_url="http://127.0.0.1:9"),
        region_in_manifest=True,
        message=("no AWS credentials found", "AWS_ACCESS_KEY_ID", "ProviderConfig"),
    ),
    MissingCase(
        "no region anywhere",
        AwsConfig(
            endpoint_url="http://127.0.0.1:9",
            credentials=AwsCredentials(access_key_id="a", secret_access_key="b"),
        ),
        region_in_manifest=False,
        message=("no AWS region", "spec.forProvider.region", "AWS_REGION", "AWS_DEFAULT_REGION"),
    ),
]


@pytest.mark.parametrize("case", MISSING, ids=[c.reason for c in MISSING])
@pytest.mark.parametrize("operation", ["observe", "apply", "delete"])
def test_missing_credentials_or_region_names_the_resource_and_the_fix(
    bare_environment: None,
    manifest: Callable[..., Manifest],
    case: MissingCase,
    operation: str,
) -> None:
    desired = copy.deepcopy(manifest("queue", name="orders"))
    if not case.region_in_manifest:
        del desired["spec"]["forProvider"]["region"]
    provider = AwsProvider(config=case.config)
    with pytest.raises(ProviderError) as caught:
        if operation == "apply":
            provider.apply(resource(desired))
        elif operation == "observe":
            provider.declare([resource(desired)])
            provider.observe(resource(desired).key)
        else:
            provider.delete(resource(desired).key)
    text = str(caught.value)
    assert text.startswith("Queue/orders: ")
    for fragment in case.message:
        assert fragment in text
    assert not caught.value.retriable


def test_nothing_to_track_when_no_region_is_known(bare_environment: None) -> None:
    provider = AwsProvider(
        config=AwsConfig(credentials=AwsCredentials(access_key_id="a", secret_access_key="b"))
    )
    assert provider.list_tracked("shop") == []


def test_an_unreachable_endpoint_is_never_read_as_absent(
    manifest: Callable[..., Manifest],
) -> None:
    provider = AwsProvider(
        config=AwsConfig(
            region="eu-west-1",
            endpoint_url="http://127.0.0.1:9",  # nothing listens there
            credentials=AwsCredentials(access_key_id="a", secret_access_key="b"),
        )
    )
    desired = resource(manifest("queue", name="orders"))
    with pytest.raises(UnreachableError) as caught:
        provider.observe(desired.key)
    assert caught.value.retriable
    assert "http://127.0.0.1:9" in str(caught.value)
    with pytest.raises(UnreachableError):
        provider.list_tracked("shop")
