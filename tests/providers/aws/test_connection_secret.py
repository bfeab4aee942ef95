"""writeConnectionSecretToRef: the DBInstance's endpoint, port, username and
password land in a Secret on the Kubernetes side (a real sandbox here), and the
password shows up nowhere else."""

from __future__ import annotations

import base64
import copy
import json
import logging
from collections.abc import Callable
from typing import Any

import pytest

from gitwave.engine.errors import ProviderError
from gitwave.engine.model import ChangeAction, HealthCode, Manifest, Propagation, ResourceKey
from gitwave.providers.aws import AwsProvider

from .conftest import SECRETS_NAMESPACE, Secrets, resource

Boto = Callable[..., Any]
CONNECTION_KEYS = {"endpoint", "port", "username", "password"}


def _conn_name(desired_name: str) -> str:
    return f"{desired_name}-conn"


def _with_password_ref(manifest: Manifest, name: str, *, autogenerate: bool) -> Manifest:
    changed = copy.deepcopy(manifest)
    fp = changed["spec"]["forProvider"]
    fp["autogeneratePassword"] = autogenerate
    fp["masterUserPasswordSecretRef"] = {
        "namespace": SECRETS_NAMESPACE,
        "name": name,
        "key": "password",
    }
    return changed


def _every_text_of_the_instance(boto: Boto, name: str) -> str:
    """Every tag of the instance, record chunks decoded too."""
    instance = boto("rds").describe_db_instances(DBInstanceIdentifier=name)["DBInstances"][0]
    tags = {t["Key"]: t["Value"] for t in instance.get("TagList", [])}
    record = "".join(v for k, v in sorted(tags.items()) if k.startswith("gitwave.dev/record"))
    decoded = base64.urlsafe_b64decode(record).decode() if record else ""
    return json.dumps(tags) + decoded


def test_a_generated_password_goes_to_the_connection_secret_and_nowhere_else(
    provider: AwsProvider,
    manifest: Callable[..., Manifest],
    secrets: Secrets,
    boto: Boto,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)  # botocore logs request bodies at DEBUG
    desired = resource(manifest("dbinstance"))

    entry = provider.apply(desired)

    assert entry.action is ChangeAction.CREATED
    data = secrets.data(SECRETS_NAMESPACE, _conn_name(desired.key.name))
    assert set(data) == CONNECTION_KEYS
    described = boto("rds").describe_db_instances(DBInstanceIdentifier=desired.key.name)
    endpoint = described["DBInstances"][0]["Endpoint"]
    assert data["endpoint"] == endpoint["Address"]
    assert data["port"] == str(endpoint["Port"])
    assert data["username"] == "shop"
    password = data["password"]
    assert len(password) == 32 and password.isalnum()
    secret = secrets.sandbox.observe(
        ResourceKey("", "Secret", SECRETS_NAMESPACE, _conn_name(desired.key.name))
    )
    assert secret is not None
    assert secret.manifest["type"] == "connection.crossplane.io/v1alpha1"
    assert "gitwave.dev/app" not in secret.labels, "an app would prune it"

    live = provider.observe(desired.key)
    assert live is not None
    tracked = provider.list_tracked(str(desired.labels["gitwave.dev/app"]))
    seen = [
        repr(provider),
        str(provider.description),
        repr(entry),
        str(entry),
        entry.message,
        json.dumps(entry.live.manifest if entry.live else {}),
        json.dumps(live.manifest),
        repr(live),
        json.dumps([t.manifest for t in tracked]),
        str(provider.health(live)),
        _every_text_of_the_instance(boto, desired.key.name),
        caplog.text,
    ]
    assert "MasterUserPassword" in caplog.text, "the request body was logged, scrubbed"
    for text in seen:
        assert password not in text


def test_the_password_comes_from_master_user_password_secret_ref(
    provider: AwsProvider, manifest: Callable[..., Manifest], secrets: Secrets, uid: str
) -> None:
    secrets.put(SECRETS_NAMESPACE, f"db-password-{uid}", password=f"from-git-{uid}")
    desired = resource(
        _with_password_ref(manifest("dbinstance"), f"db-password-{uid}", autogenerate=False)
    )
    provider.apply(desired)
    data = secrets.data(SECRETS_NAMESPACE, _conn_name(desired.key.name))
    assert data["password"] == f"from-git-{uid}"


def test_autogenerate_with_a_missing_ref_generates_and_stores_it_there(
    provider: AwsProvider, manifest: Callable[..., Manifest], secrets: Secrets, uid: str
) -> None:
    desired = resource(
        _with_password_ref(manifest("dbinstance"), f"generated-{uid}", autogenerate=True)
    )
    provider.apply(desired)
    generated = secrets.data(SECRETS_NAMESPACE, f"generated-{uid}")["password"]
    assert len(generated) == 32
    assert secrets.data(SECRETS_NAMESPACE, _conn_name(desired.key.name))["password"] == generated


def test_a_missing_password_secret_is_refused_before_creating(
    provider: AwsProvider, manifest: Callable[..., Manifest], uid: str
) -> None:
    desired = resource(
        _with_password_ref(manifest("dbinstance"), f"absent-{uid}", autogenerate=False)
    )
    with pytest.raises(ProviderError, match=f"Secret shop/absent-{uid} has no key 'password'"):
        provider.apply(desired)
    assert provider.observe(desired.key) is None


def test_a_connection_secret_without_a_writer_is_refused_before_creating(
    make_provider: Callable[..., AwsProvider], manifest: Callable[..., Manifest]
) -> None:
    provider = make_provider(secret_writer=None)
    desired = resource(manifest("dbinstance"))
    with pytest.raises(ProviderError, match="needs a secret writer"):
        provider.apply(desired)
    assert provider.observe(desired.key) is None


def test_a_new_process_keeps_the_password_it_cannot_know(
    make_provider: Callable[..., AwsProvider],
    manifest: Callable[..., Manifest],
    secrets: Secrets,
) -> None:
    desired = resource(manifest("dbinstance"))
    make_provider().apply(desired)
    secret_name = _conn_name(desired.key.name)
    before = secrets.data(SECRETS_NAMESPACE, secret_name)

    # A fresh process re-applies: the password is read back from the Secret it wrote.
    assert make_provider().apply(desired).action is ChangeAction.UNCHANGED
    assert secrets.data(SECRETS_NAMESPACE, secret_name) == before

    # With the Secret gone the generated password is lost; it is not overwritten blind.
    secrets.sandbox.delete(
        ResourceKey("", "Secret", SECRETS_NAMESPACE, secret_name),
        propagation=Propagation.FOREGROUND,
    )
    entry = make_provider().apply(desired)
    assert "password is not known" in entry.message
    assert secrets.read(SECRETS_NAMESPACE, secret_name, "password") is None


def test_the_secret_is_completed_once_a_stopped_instance_is_available(
    provider: AwsProvider,
    manifest: Callable[..., Manifest],
    secrets: Secrets,
    boto: Boto,
    uid: str,
) -> None:
    name = f"legacy-{uid}"
    rds = boto("rds")
    rds.create_db_instance(
        DBInstanceIdentifier=name,
        DBInstanceClass="db.t3.micro",
        Engine="postgres",
        EngineVersion="16.3",
        MasterUsername="shop",
        MasterUserPassword=f"legacy-{uid}-pass",
        AllocatedStorage=20,
        BackupRetentionPeriod=7,
    )
    rds.stop_db_instance(DBInstanceIdentifier=name)
    secrets.put(SECRETS_NAMESPACE, f"legacy-pw-{uid}", password=f"legacy-{uid}-pass")
    adopted = _with_password_ref(
        manifest("dbinstance", name=name), f"legacy-pw-{uid}", autogenerate=False
    )
    adopted["metadata"]["annotations"]["crossplane.io/external-name"] = name
    desired = resource(adopted)

    entry = provider.apply(desired)
    assert entry.action is ChangeAction.CONFIGURED
    assert "waits for the instance" in entry.message
    partial = secrets.data(SECRETS_NAMESPACE, _conn_name(name))
    assert partial == {"username": "shop", "password": f"legacy-{uid}-pass"}
    stopped = provider.observe(desired.key)
    assert stopped is not None
    assert provider.health(stopped).code is HealthCode.SUSPENDED

    rds.start_db_instance(DBInstanceIdentifier=name)
    started = provider.observe(desired.key)
    assert started is not None
    assert provider.health(started).code is HealthCode.HEALTHY
    complete = secrets.data(SECRETS_NAMESPACE, _conn_name(name))
    assert set(complete) == CONNECTION_KEYS
    assert complete["password"] == f"legacy-{uid}-pass"
