"""From a kubeconfig to a connection, without contacting the cluster: a file
(``load_client``) and an in-memory config (``load_client_from_config``, as a
cluster Secret gives it) get the same connection, and a user the client cannot
load is refused in each one's words: the file's error says what failed, the
Secret's names only the kind of failure and chains nothing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from gitwave.providers.kubernetes.config import (
    KubeconfigError,
    load_client,
    load_client_from_config,
)

SERVER = "https://127.0.0.1:6443"
TOKEN = "kubeconfig-token-Rd72-distinct"


def kubeconfig(user: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": "dev",
        "clusters": [{"name": "c", "cluster": {"server": SERVER}}],
        "users": [{"name": "u", "user": user}],
        "contexts": [{"name": "dev", "context": {"cluster": "c", "user": "u"}}],
    }


GOOD = kubeconfig({"token": TOKEN})
MISSING_CERT = kubeconfig(
    {"client-certificate": "/nonexistent/cert.pem", "client-key": "/nonexistent/key.pem"}
)


def written(tmp_path: Path, config: dict[str, Any]) -> Path:
    path = tmp_path / "kubeconfig"
    path.write_text(json.dumps(config))
    return path


def test_a_kubeconfig_file_connects_to_its_current_context(tmp_path: Path) -> None:
    path = written(tmp_path, GOOD)
    connection = load_client(kubeconfig=str(path), pool_size=5)
    assert (connection.server, connection.context, connection.paths) == (
        SERVER,
        "dev",
        (str(path),),
    )
    assert connection.api_client.configuration.connection_pool_maxsize == 5


def test_an_in_memory_kubeconfig_connects_the_same_and_names_no_file() -> None:
    connection = load_client_from_config(GOOD, subject="Secret argocd/east", pool_size=7)
    assert (connection.server, connection.context, connection.paths) == (SERVER, "dev", ())
    assert connection.api_client.configuration.connection_pool_maxsize == 7


def test_a_file_user_the_client_cannot_load_names_the_file_context_and_cause(
    tmp_path: Path,
) -> None:
    path = written(tmp_path, MISSING_CERT)
    with pytest.raises(KubeconfigError) as caught:
        load_client(kubeconfig=str(path))
    assert str(caught.value) == (
        f"kubeconfig {path}: context 'dev': File does not exist: /nonexistent/cert.pem"
    )
    assert caught.value.__cause__ is not None


def test_a_secrets_user_the_client_cannot_load_names_only_the_kind_of_failure() -> None:
    with pytest.raises(KubeconfigError) as caught:
        load_client_from_config(MISSING_CERT, subject="Secret argocd/east")
    assert str(caught.value) == "Secret argocd/east: cannot be used: ConfigException"
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
