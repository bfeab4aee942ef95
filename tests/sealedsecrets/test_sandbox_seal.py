"""`gitwave seal` and the sandbox playing the sealed-secrets controller (issue 14 item 5)."""

from __future__ import annotations

import json
import stat
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from gitwave.engine.health import health_of
from gitwave.engine.model import HealthCode, ResourceKey
from tests.sealedsecrets.helpers import (
    KEY_FILE,
    PASSWORD,
    SECRET_VALUES,
    TOKEN,
    decoded,
    live_object,
    live_secret,
    run,
    secret_doc,
    write_repo,
)

SEALED_KEY = ResourceKey("bitnami.com", "SealedSecret", "shop", "db")
CONFIG_KEY = ResourceKey("", "ConfigMap", "shop", "settings")


def seal(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, doc: dict[str, object], *flags: str
) -> str:
    source = tmp_path / "secret.yaml"
    source.write_text(yaml.safe_dump(doc))
    code, out, err = run(capsys, "seal", "-f", str(source), *flags)
    assert code == 0, err
    for value in SECRET_VALUES:
        assert value not in out and value not in err
    return out


def test_seal_then_sync_unseals_into_an_owned_secret_and_the_app_is_healthy(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, state: Path
) -> None:
    sealed_text = seal(capsys, tmp_path, secret_doc())
    sealed = json.loads(sealed_text)
    assert sealed["kind"] == "SealedSecret" and sealed["apiVersion"] == "bitnami.com/v1alpha1"
    assert sorted(sealed["spec"]["encryptedData"]) == ["password", "token"]
    repo = write_repo(tmp_path / "repo", sealed_text)

    code, out, err = run(capsys, "sync", str(repo), "-o", "json")

    assert code == 0, err
    (result,) = json.loads(out)  # a list of apps, even for one
    assert result["health"] == "Healthy"
    secret = live_secret(state, "shop", "db")
    assert secret is not None
    assert decoded(secret) == {"password": PASSWORD, "token": TOKEN}
    assert secret["metadata"]["labels"] == {"team": "payments"}  # template metadata
    assert secret["type"] == "Opaque"
    owner = secret["metadata"]["ownerReferences"][0]
    sealed_live = live_object(state, SEALED_KEY)
    assert sealed_live is not None
    assert (owner["kind"], owner["name"], owner["uid"]) == (
        "SealedSecret",
        "db",
        sealed_live["metadata"]["uid"],
    )
    assert sealed_live["status"]["conditions"][0]["type"] == "Synced"
    assert sealed_live["status"]["conditions"][0]["status"] == "True"
    for value in SECRET_VALUES:
        assert value not in out and value not in err

    # In sync afterwards: the Secret is the controller's, not Git's.
    code, out, _ = run(capsys, "plan", str(repo))
    assert code == 0, out
    assert "0 to create, 0 to update, 0 to prune" in out


def test_yaml_output_is_what_kubeseal_yaml_looks_like(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, state: Path
) -> None:
    text = seal(capsys, tmp_path, secret_doc(), "-o", "yaml")
    assert text.startswith("---\napiVersion: bitnami.com/v1alpha1\nkind: SealedSecret\n")
    assert yaml.safe_load(text)["spec"]["template"]["metadata"]["name"] == "db"


@dataclass(frozen=True)
class ScopeCase:
    reason: str
    scope: str
    moved_to: tuple[str, str]  # (namespace, name) the SealedSecret is committed as
    opens: bool


@pytest.mark.parametrize(
    "case",
    [
        ScopeCase("strict, same name", "strict", ("shop", "db"), True),
        ScopeCase("strict, renamed", "strict", ("shop", "other"), False),
        ScopeCase("strict, other namespace", "strict", ("bank", "db"), False),
        ScopeCase("namespace-wide, renamed", "namespace-wide", ("shop", "other"), True),
        ScopeCase("namespace-wide, other namespace", "namespace-wide", ("bank", "db"), False),
        ScopeCase("cluster-wide, other namespace", "cluster-wide", ("bank", "other"), True),
    ],
    ids=lambda c: c.reason,
)
def test_scope_binds_where_a_sealed_secret_opens(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, state: Path, case: ScopeCase
) -> None:
    sealed = json.loads(seal(capsys, tmp_path, secret_doc(), "--scope", case.scope))
    namespace, name = case.moved_to
    sealed["metadata"].update(namespace=namespace, name=name)
    repo = write_repo(tmp_path / "repo", yaml.safe_dump(sealed), namespace=namespace)

    code, out, err = run(capsys, "sync", str(repo))

    if case.opens:
        assert code == 0, err
        secret = live_secret(state, namespace, name)
        assert secret is not None and decoded(secret)["password"] == PASSWORD
        return
    assert code != 0
    assert f"SealedSecret/{namespace}/{name}" in err
    assert "cannot unseal" in err and "gitwave seal" in err
    assert "nothing was applied" in err
    # Nothing applied: not the Namespace, not the ConfigMap beside it, no Secret.
    assert live_object(state, ResourceKey("", "ConfigMap", namespace, "settings")) is None
    assert live_secret(state, namespace, name) is None
    for value in SECRET_VALUES:
        assert value not in out and value not in err


def test_fetch_cert_prints_the_sandbox_certificate_and_the_key_stays_private(
    capsys: pytest.CaptureFixture[str], state: Path
) -> None:
    code, out, _ = run(capsys, "seal", "--fetch-cert")
    assert code == 0
    assert out.startswith("-----BEGIN CERTIFICATE-----")
    assert stat.S_IMODE((state / KEY_FILE).stat().st_mode) == 0o600
    assert "PRIVATE KEY" not in out


def test_a_fresh_sandbox_makes_its_own_key_pair(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fresh = tmp_path / "fresh-state"
    monkeypatch.setenv("GITWAVE_STATE", str(fresh))
    code, out, _ = run(capsys, "seal", "--fetch-cert")
    assert code == 0 and "BEGIN CERTIFICATE" in out
    assert stat.S_IMODE((fresh / KEY_FILE).stat().st_mode) == 0o600


@dataclass(frozen=True)
class BadInput:
    reason: str
    text: str
    want: str


@pytest.mark.parametrize(
    "case",
    [
        BadInput(
            "not a Secret", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n", "v1 Secret"
        ),
        BadInput(
            "no data",
            "apiVersion: v1\nkind: Secret\nmetadata: {name: x, namespace: a}\n",
            "nothing to seal",
        ),
        BadInput("no name", "apiVersion: v1\nkind: Secret\nstringData: {a: b}\n", "metadata.name"),
    ],
    ids=lambda c: c.reason,
)
def test_bad_input_is_refused_naming_the_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, state: Path, case: BadInput
) -> None:
    source = tmp_path / "in.yaml"
    source.write_text(case.text)
    code, out, err = run(capsys, "seal", "-f", str(source))
    assert code != 0
    assert str(source) in err and case.want in err
    assert out == ""


@dataclass(frozen=True)
class HealthCase:
    reason: str
    status: dict[str, object] | None
    want: HealthCode
    message: str


@pytest.mark.parametrize(
    "case",
    [
        HealthCase("no status yet", None, HealthCode.PROGRESSING, "Waiting"),
        HealthCase(
            "synced",
            {"observedGeneration": 1, "conditions": [{"type": "Synced", "status": "True"}]},
            HealthCode.HEALTHY,
            "Unsealed",
        ),
        HealthCase(
            "not synced",
            {
                "observedGeneration": 1,
                "conditions": [
                    {"type": "Synced", "status": "False", "message": "no key could decrypt secret"}
                ],
            },
            HealthCode.DEGRADED,
            "no key could decrypt secret",
        ),
        HealthCase(
            "an older generation synced",
            {"observedGeneration": 1, "conditions": [{"type": "Synced", "status": "True"}]},
            HealthCode.PROGRESSING,
            "Waiting",
        ),
    ],
    ids=lambda c: c.reason,
)
def test_health_follows_the_controllers_synced_condition(case: HealthCase) -> None:
    generation = 2 if case.reason == "an older generation synced" else 1
    manifest: dict[str, object] = {
        "apiVersion": "bitnami.com/v1alpha1",
        "kind": "SealedSecret",
        "metadata": {"name": "db", "namespace": "shop", "generation": generation},
        "spec": {"encryptedData": {}},
    }
    if case.status is not None:
        manifest["status"] = case.status
    health = health_of(manifest)
    assert health.code is case.want
    assert case.message in health.message


def test_each_sealed_secret_is_asked_whether_it_opens_not_each_kind(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, state: Path
) -> None:
    # The pre-flight finds the target that admits a kind once (10,000 objects);
    # its answer is still per object: the second SealedSecret, moved to a name
    # it was not sealed for, is refused although the first of its kind opens.
    good = json.loads(seal(capsys, tmp_path, secret_doc()))
    moved = json.loads(json.dumps(good))
    moved["metadata"]["name"] = "moved"
    documents = yaml.safe_dump_all([good, moved])
    repo = write_repo(tmp_path / "repo", documents)

    code, out, err = run(capsys, "plan", str(repo))

    assert code == 2, err
    assert "SealedSecret/shop/moved" in err and "cannot unseal" in err
    assert "SealedSecret/shop/db" not in err
    assert "the target would refuse 1 object;" in err
    for value in SECRET_VALUES:
        assert value not in out and value not in err
