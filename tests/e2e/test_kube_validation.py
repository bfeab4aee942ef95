"""The same manifest gets the same refusal from the sandbox and a real API server.

Each case applies an object (after a first, valid version where the case is a
change) to the sandbox and to the local control plane (tests/cluster), and
checks both refuse it naming the same field the same way, and store nothing.
Then ``gitwave plan``'s pre-flight refuses it before either is asked.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import yaml

from gitwave.engine import operations
from gitwave.engine.apps import implicit_app
from gitwave.engine.errors import ProviderError
from gitwave.engine.model import Manifest
from gitwave.engine.provider import Provider
from gitwave.engine.router import ProviderRouter
from gitwave.engine.validate import PreflightError
from gitwave.providers.kubernetes import KubernetesProvider
from gitwave.providers.sandbox import SandboxProvider
from tests.e2e.test_kube_contract import provider_for, unique
from tests.providers.contract import b64, config_map, deployment, resource, secret, wait_until

if TYPE_CHECKING:
    from .conftest import KubeCluster

SECRET_VALUE = "hunter2-e2e-never-shown"


def _changed(manifest: Manifest, change: Callable[[Manifest], None]) -> Manifest:
    out = copy.deepcopy(manifest)
    change(out)
    return out


def _new_selector(m: Manifest) -> None:
    m["spec"]["selector"]["matchLabels"]["app"] = "api"
    m["spec"]["template"]["metadata"]["labels"]["app"] = "api"


@dataclass(frozen=True)
class Case:
    reason: str
    manifest: Manifest
    # What both refusals must say, word for word.
    both_say: tuple[str, ...]
    before: Manifest | None = None  # applied first: the case is a change of it


CASES = [
    Case(
        "replicas: three",
        _changed(deployment(), lambda m: m["spec"].update(replicas="three")),
        ("spec.replicas",),
    ),
    Case(
        "a Secret named Bad_Name",
        {**secret("Bad_Name"), "stringData": {"token": SECRET_VALUE}},
        (
            'Secret "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name": '
            "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
            "characters, '-' or '.', and must start and end with an alphanumeric character",
        ),
    ),
    Case(
        "new data in an immutable Secret",
        {**secret(), "immutable": True, "data": {"password": b64(SECRET_VALUE)}},
        (
            'Secret "db-credentials" is invalid: data: Forbidden: '
            "field is immutable when `immutable` is set",
        ),
        before={**secret(), "immutable": True},
    ),
    Case(
        "new data in an immutable ConfigMap",
        {**config_map(LOG_LEVEL="debug"), "immutable": True},
        (
            'ConfigMap "settings" is invalid: data: Forbidden: '
            "field is immutable when `immutable` is set",
        ),
        before={**config_map(), "immutable": True},
    ),
    Case(
        "a Deployment's selector",
        _changed(deployment(), _new_selector),
        ('Deployment.apps "web" is invalid: spec.selector: Invalid value: ', "field is immutable"),
        before=deployment(),
    ),
]


@pytest.fixture(scope="module")
def kube(kube_cluster: KubeCluster) -> Iterator[KubernetesProvider]:
    with provider_for(kube_cluster) as provider:
        yield provider


@pytest.fixture
def namespace(kube: KubernetesProvider) -> Iterator[str]:
    name = unique("validation")
    kube.apply(resource({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}))
    yield name
    kube.delete(resource({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}).key)


@pytest.fixture
def sandbox(tmp_path: Path, namespace: str) -> Iterator[SandboxProvider]:
    with SandboxProvider(tmp_path / "sandbox", rollout_seconds=0.0) as s:
        s.apply(
            resource({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
        )
        yield s


def refusal(provider: Provider, case: Case, namespace: str) -> str:
    if case.before is not None:
        provider.apply(resource(case.before, namespace))
    desired = resource(case.manifest, namespace)
    before = provider.observe(desired.key)
    with pytest.raises(ProviderError) as caught:
        provider.apply(desired)
    after = provider.observe(desired.key)
    if before is None:
        assert after is None, f"{provider.name} stored a refused object"
    else:
        # A controller may write status meanwhile (a real Deployment's rollout):
        # what was asked for is unchanged.
        assert after is not None and _asked(after.manifest) == _asked(before.manifest)
    return str(caught.value)


def _asked(manifest: Manifest) -> Manifest:
    return {k: v for k, v in manifest.items() if k not in ("metadata", "status")}


@pytest.mark.parametrize("case", CASES, ids=[c.reason for c in CASES])
def test_sandbox_and_real_api_server_refuse_the_same_manifest_the_same_way(
    kube: KubernetesProvider, sandbox: SandboxProvider, namespace: str, case: Case
) -> None:
    real = refusal(kube, case, namespace)
    embedded = refusal(sandbox, case, namespace)
    for words in case.both_say:
        assert words in real, f"real API server: {real}"
        assert words in embedded, f"sandbox: {embedded}"
    assert SECRET_VALUE not in real + embedded
    assert b64(SECRET_VALUE) not in real + embedded


def test_plan_refuses_it_before_the_real_cluster_is_asked(
    kube: KubernetesProvider, namespace: str, tmp_path: Path
) -> None:
    app_dir = tmp_path / "app"
    app_dir.mkdir()
    (app_dir / "web.yaml").write_text(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n"
        f"  name: web\n  namespace: {namespace}\n"
        "spec:\n  replicas: three\n  selector: {matchLabels: {app: web}}\n"
        "  template:\n    metadata: {labels: {app: web}}\n"
        "    spec: {containers: [{name: web, image: 'nginx:1.27'}]}\n"
    )
    app = implicit_app("validation", location=str(app_dir))
    with pytest.raises(PreflightError) as caught:
        operations.plan(app, operations.SyncRequest(), targets=ProviderRouter([kube]))
    assert (
        f"Deployment/{namespace}/web (web.yaml:1): "
        'Deployment.apps "web" is invalid: spec.replicas: Invalid value: "three"'
    ) in str(caught.value)


def test_plan_asks_the_real_cluster_which_kinds_it_serves_and_checks_their_crd(
    kube: KubernetesProvider, namespace: str, tmp_path: Path
) -> None:
    group = f"{namespace}.gitwave.test"
    crd: Manifest = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"gadgets.{group}"},
        "spec": {
            "group": group,
            "scope": "Namespaced",
            "names": {"kind": "Gadget", "plural": "gadgets", "singular": "gadget"},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "properties": {
                                "spec": {
                                    "type": "object",
                                    "properties": {"size": {"type": "integer"}},
                                }
                            },
                        }
                    },
                }
            ],
        },
    }
    app_dir = tmp_path / "gadgets"
    app_dir.mkdir()
    gadget = (
        f"apiVersion: {group}/v1\nkind: Gadget\n"
        f"metadata:\n  name: g\n  namespace: {namespace}\nspec:\n  size: large\n"
    )
    (app_dir / "gadget.yaml").write_text(gadget)
    app = implicit_app("gadgets", location=str(app_dir))
    targets = ProviderRouter([kube])

    with pytest.raises(PreflightError) as unknown:
        operations.plan(app, operations.SyncRequest(), targets=targets)
    assert f"Gadget/{namespace}/g (gadget.yaml:1)" in str(unknown.value)
    assert f"no matches for kind 'Gadget' in version '{group}/v1'" in str(unknown.value)

    kube.apply(resource(crd))
    try:
        # What `kubectl wait --for condition=established` waits for: until then
        # the API server does not serve the kind (slow on a loaded machine).
        wait_until(
            lambda: kube.serves(f"{group}/v1", "Gadget"), seconds=60, what="the CRD to be served"
        )
        with pytest.raises(PreflightError) as invalid:
            operations.plan(app, operations.SyncRequest(), targets=targets)
        assert "spec.size" in str(invalid.value), str(invalid.value)
        assert kube.observe(resource(yaml_doc(gadget)).key) is None, "nothing applied"

        (app_dir / "gadget.yaml").write_text(gadget.replace("size: large", "size: 3"))
        planned = operations.plan(app, operations.SyncRequest(), targets=targets)
        assert [t.key.name for t in planned.plan.tasks()] == ["g"]
    finally:
        kube.delete(resource(crd).key)


def yaml_doc(text: str) -> Manifest:
    loaded = yaml.safe_load(text)
    assert isinstance(loaded, dict)
    return loaded
