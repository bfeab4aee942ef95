"""The sandbox refuses what a real API server refuses, in the API server's words.

The schema of each built-in kind (Kubernetes' OpenAPI), the names each kind
allows, immutable fields, and custom resources against their CRD's schema;
nothing is stored when an object is refused, and a Secret's values are never
in the error.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from gitwave.engine.api import KindCatalog
from gitwave.engine.errors import ProviderError
from gitwave.engine.model import ChangeAction, Manifest, ResourceKey
from gitwave.providers.sandbox import SandboxProvider
from tests.providers.contract import b64, config_map, deployment, resource, secret, service

SECRET_VALUE = "hunter2-do-not-print"


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[SandboxProvider]:
    with SandboxProvider(tmp_path / "state", rollout_seconds=0.0) as s:
        s.apply(resource({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}}))
        yield s


def refused(sandbox: SandboxProvider, manifest: Manifest, namespace: str = "shop") -> str:
    """Apply ``manifest``; the refusal's text (which must name the object)."""
    desired = resource(manifest, namespace)
    with pytest.raises(ProviderError) as caught:
        sandbox.apply(desired)
    text = str(caught.value)
    assert text.startswith(desired.key.display + ": "), text
    assert caught.value.hint, "a refusal says what to do next"
    return text


def with_changes(manifest: Manifest, change: Callable[[Manifest], None]) -> Manifest:
    changed = copy.deepcopy(manifest)
    change(changed)
    return changed


# ---------------------------------------------------------------- the schema and names


@dataclass(frozen=True)
class Case:
    reason: str
    manifest: Manifest
    message: str
    namespace: str = "shop"


def _set(path: str, value: object) -> Callable[[Manifest], None]:
    def change(manifest: Manifest) -> None:
        *parents, last = path.split(".")
        node = manifest
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
        node[last] = value

    return change


INVALID = [
    Case(
        "replicas: three",
        with_changes(deployment(), _set("spec.replicas", "three")),
        'Deployment.apps "web" is invalid: spec.replicas: Invalid value: "three": '
        "must be of type integer",
    ),
    Case(
        "a Secret named Bad_Name",
        {**secret("Bad_Name"), "stringData": {"token": SECRET_VALUE}},
        'Secret "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name": '
        "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters",
    ),
    Case(
        "a container port given as a word",
        with_changes(
            deployment(),
            lambda m: m["spec"]["template"]["spec"]["containers"][0].update(
                ports=[{"containerPort": "http"}]
            ),
        ),
        "spec.template.spec.containers[0].ports[0].containerPort: "
        'Invalid value: "http": must be of type integer',
    ),
    Case(
        "a Deployment without a selector",
        with_changes(deployment(), lambda m: m["spec"].pop("selector")),
        'Deployment.apps "web" is invalid: spec.selector: Required value',
    ),
    Case(
        "a Service whose name starts with a digit (RFC 1035)",
        service("1web"),
        'Service "1web" is invalid: metadata.name: Invalid value: "1web": a DNS-1035 label',
    ),
    Case(
        "a Namespace with a dot in its name (a label, not a subdomain)",
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team.a"}},
        'Namespace "team.a" is invalid: metadata.name: Invalid value: "team.a": '
        "a lowercase RFC 1123 label",
        namespace="",
    ),
    Case(
        "a label value with a space",
        with_changes(config_map(), lambda m: m["metadata"]["labels"].update(tier="front end")),
        'metadata.labels: Invalid value: "front end": a valid label must be an empty string',
    ),
    # Values the OpenAPI schema takes (integers) that apps/v1 validation refuses.
    Case(
        "replicas: -3",
        with_changes(deployment(), _set("spec.replicas", -3)),
        'Deployment.apps "web" is invalid: spec.replicas: Invalid value: -3: '
        "must be greater than or equal to 0",
    ),
    Case(
        "a negative revisionHistoryLimit of a StatefulSet",
        with_changes(
            {**deployment(), "kind": "StatefulSet"}, _set("spec.revisionHistoryLimit", -1)
        ),
        'StatefulSet.apps "web" is invalid: spec.revisionHistoryLimit: Invalid value: -1: '
        "must be greater than or equal to 0",
    ),
    Case(
        "a Deployment whose progress deadline is not past minReadySeconds",
        with_changes(
            with_changes(deployment(), _set("spec.minReadySeconds", 60)),
            _set("spec.progressDeadlineSeconds", 30),
        ),
        "spec.progressDeadlineSeconds: Invalid value: 30: must be greater than minReadySeconds",
    ),
    Case(
        "a Job with a negative backoffLimit",
        {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {"name": "once"},
            "spec": {
                "backoffLimit": -1,
                "template": {
                    "spec": {
                        "restartPolicy": "Never",
                        "containers": [{"name": "c", "image": "busybox"}],
                    }
                },
            },
        },
        'Job.batch "once" is invalid: spec.backoffLimit: Invalid value: -1: '
        "must be greater than or equal to 0",
    ),
    Case(
        "a Deployment of an API version Kubernetes no longer serves",
        {**deployment(), "apiVersion": "apps/v1beta1"},
        "no kind 'Deployment' is registered for apiVersion 'apps/v1beta1'",
    ),
]


@pytest.mark.parametrize("case", INVALID, ids=[c.reason for c in INVALID])
def test_an_invalid_object_is_refused_in_the_api_servers_words_and_not_stored(
    sandbox: SandboxProvider, case: Case
) -> None:
    text = refused(sandbox, case.manifest, case.namespace)
    assert case.message in text
    assert SECRET_VALUE not in text
    assert sandbox.observe(resource(case.manifest, case.namespace).key) is None


def test_a_zero_count_is_taken(sandbox: SandboxProvider) -> None:
    """0 replicas (scaled down) is valid: only below 0 is refused."""
    sandbox.apply(resource(with_changes(deployment(), _set("spec.replicas", 0)), "shop"))


def test_a_dry_run_refuses_it_too(sandbox: SandboxProvider) -> None:
    desired = resource(with_changes(deployment(), _set("spec.replicas", "three")), "shop")
    with pytest.raises(ProviderError, match=r'spec\.replicas: Invalid value: "three"'):
        sandbox.apply(desired, dry_run=True)


def test_a_secrets_values_are_never_shown_in_a_type_error(sandbox: SandboxProvider) -> None:
    manifest = {**secret(), "stringData": {"token": 12345678}}
    text = refused(sandbox, manifest)
    assert "stringData.token: Invalid value: must be of type string" in text
    assert "12345678" not in text


def test_a_valid_object_is_still_applied(sandbox: SandboxProvider) -> None:
    assert sandbox.apply(resource(deployment(), "shop")).action is ChangeAction.CREATED


# ---------------------------------------------------------------- immutable fields


def immutable(manifest: Manifest) -> Manifest:
    return {**manifest, "immutable": True}


IMMUTABLE_CHANGES = [
    Case(
        "new data in an immutable Secret",
        immutable({**secret(), "data": {"password": b64(SECRET_VALUE)}}),
        'Secret "db-credentials" is invalid: data: Forbidden: '
        "field is immutable when `immutable` is set",
    ),
    Case(
        "new data in an immutable ConfigMap",
        immutable(config_map(LOG_LEVEL="debug")),
        'ConfigMap "settings" is invalid: data: Forbidden: '
        "field is immutable when `immutable` is set",
    ),
    Case(
        "an immutable Secret made mutable again",
        {**secret(), "immutable": False},
        'Secret "db-credentials" is invalid: immutable: Forbidden: '
        "field is immutable when `immutable` is set",
    ),
    Case(
        "a Deployment's selector",
        with_changes(
            deployment(),
            lambda m: (
                m["spec"]["selector"]["matchLabels"].update(app="api"),
                m["spec"]["template"]["metadata"]["labels"].update(app="api"),
            ),
        ),
        'Deployment.apps "web" is invalid: spec.selector: Invalid value: '
        '{"matchLabels": {"app": "api"}}: field is immutable',
    ),
    Case(
        "a Service's clusterIP",
        with_changes(service(), _set("spec.clusterIP", "10.96.200.200")),
        'Service "web" is invalid: spec.clusterIP: Invalid value: "10.96.200.200": '
        "may not change once set",
    ),
]

BEFORE = {
    "new data in an immutable Secret": immutable(secret()),
    "new data in an immutable ConfigMap": immutable(config_map()),
    "an immutable Secret made mutable again": immutable(secret()),
    "a Deployment's selector": deployment(),
    "a Service's clusterIP": service(),
}


@pytest.mark.parametrize("case", IMMUTABLE_CHANGES, ids=[c.reason for c in IMMUTABLE_CHANGES])
def test_changing_an_immutable_field_is_refused_and_the_object_kept(
    sandbox: SandboxProvider, case: Case
) -> None:
    before = sandbox.apply(resource(BEFORE[case.reason], "shop")).live
    assert before is not None
    text = refused(sandbox, case.manifest)
    assert case.message in text
    assert SECRET_VALUE not in text
    after = sandbox.observe(before.key)
    assert after is not None and after.resource_version == before.resource_version
    assert after.manifest == before.manifest


def test_an_immutable_secret_accepts_a_label_change(sandbox: SandboxProvider) -> None:
    sandbox.apply(resource(immutable(secret()), "shop"))
    changed = immutable(secret())
    changed["metadata"] = {**changed["metadata"], "labels": {"team": "shop"}}
    assert sandbox.apply(resource(changed, "shop")).action is ChangeAction.CONFIGURED


def test_an_edit_of_an_immutable_secrets_data_is_refused(sandbox: SandboxProvider) -> None:
    live = sandbox.apply(resource(immutable(secret()), "shop")).live
    assert live is not None
    edited = copy.deepcopy(live.manifest)
    edited["data"]["password"] = b64(SECRET_VALUE)
    with pytest.raises(ProviderError, match="data: Forbidden: field is immutable") as caught:
        sandbox.replace_live(live.key, edited)
    assert SECRET_VALUE not in str(caught.value) and b64(SECRET_VALUE) not in str(caught.value)
    assert sandbox.observe(live.key) == live


# ---------------------------------------------------------------- custom resources

WIDGET_CRD: Manifest = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "widgets.example.com"},
    "spec": {
        "group": "example.com",
        "scope": "Namespaced",
        "names": {"kind": "Widget", "plural": "widgets", "singular": "widget"},
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
                                "required": ["size"],
                                "properties": {
                                    "size": {"type": "integer", "minimum": 1, "maximum": 10},
                                    "colour": {"type": "string", "enum": ["red", "blue"]},
                                    "port": {"x-kubernetes-int-or-string": True},
                                    "note": {"type": "string", "nullable": True},
                                },
                            }
                        },
                    }
                },
            }
        ],
    },
}


def widget(**spec: object) -> Manifest:
    return {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": "w"},
        "spec": spec,
    }


CUSTOM = [
    Case(
        "a string where the CRD says integer",
        widget(size="big"),
        'Widget.example.com "w" is invalid: spec.size: Invalid value: "big": '
        "must be of type integer",
    ),
    Case(
        "above the CRD's maximum",
        widget(size=11),
        "spec.size: Invalid value: 11: must be less than or equal to 10",
    ),
    Case(
        "a value outside the CRD's enum",
        widget(size=1, colour="green"),
        'spec.colour: Unsupported value: "green": supported values: "red", "blue"',
    ),
    Case("a required field missing", widget(colour="red"), "spec.size: Required value"),
    Case(
        "a list where int-or-string is wanted",
        widget(size=1, port=[80]),
        "spec.port: Invalid value: [80]: must be of type integer or string",
    ),
    Case(
        "a name the API server refuses",
        {**widget(size=1), "metadata": {"name": "My_Widget"}},
        'metadata.name: Invalid value: "My_Widget"',
    ),
]


@pytest.mark.parametrize("case", CUSTOM, ids=[c.reason for c in CUSTOM])
def test_a_custom_resource_is_checked_against_its_crds_schema(
    sandbox: SandboxProvider, case: Case
) -> None:
    sandbox.apply(resource(WIDGET_CRD))
    assert case.message in refused(sandbox, case.manifest)


def test_a_custom_resource_that_fits_its_crd_is_applied(sandbox: SandboxProvider) -> None:
    sandbox.apply(resource(WIDGET_CRD))
    for port in (80, "http"):
        desired = resource(widget(size=3, colour="red", port=port, note=None), "shop")
        assert sandbox.apply(desired).action in (ChangeAction.CREATED, ChangeAction.CONFIGURED)


def test_a_changed_crd_schema_applies_to_the_next_custom_resource(
    sandbox: SandboxProvider,
) -> None:
    sandbox.apply(resource(WIDGET_CRD))
    sandbox.apply(resource(widget(size=10), "shop"))
    tighter = copy.deepcopy(WIDGET_CRD)
    schema = tighter["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    schema["properties"]["spec"]["properties"]["size"]["maximum"] = 5
    sandbox.apply(resource(tighter))
    assert "must be less than or equal to 5" in refused(sandbox, widget(size=6))


# ---------------------------------------------------------------- KindCatalog


def test_the_sandbox_says_which_kinds_it_serves(sandbox: SandboxProvider) -> None:
    assert isinstance(sandbox, KindCatalog)
    assert sandbox.serves("apps/v1", "Deployment")
    assert not sandbox.serves("apps/v1beta1", "Deployment")
    assert not sandbox.serves("example.com/v1", "Widget")
    assert sandbox.custom_resource_definition("example.com", "Widget") is None
    sandbox.apply(resource(WIDGET_CRD))
    assert sandbox.serves("example.com/v1", "Widget")
    assert not sandbox.serves("example.com/v2", "Widget")
    crd = sandbox.custom_resource_definition("example.com", "Widget")
    assert crd is not None and crd["metadata"]["name"] == "widgets.example.com"
    sandbox.delete(
        ResourceKey("apiextensions.k8s.io", "CustomResourceDefinition", "", "widgets.example.com")
    )
    assert not sandbox.serves("example.com/v1", "Widget")
