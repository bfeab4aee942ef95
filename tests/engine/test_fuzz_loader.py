"""The app loader, YAML reading and rendering under hypothesis (issue 10 item 17).

Random YAML-ish documents and app definitions (Argo CD Applications, Flux
Kustomizations with their GitRepository, each with a field set to a random
value) are written to a temporary repository. Loading it, rendering each app
that loaded and building its graph either works or raises gitwave's own
errors (GitwaveError, which the CLI shows as `error: …`, exit 2), never
anything else; and a broken app's error is one of gitwave's too.
"""

from __future__ import annotations

import contextlib
import copy
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from gitwave.engine import operations
from gitwave.engine.app_pipeline import desired_of
from gitwave.engine.apps import implicit_app, load_app_set, load_apps, render_app
from gitwave.engine.errors import GitwaveError
from gitwave.engine.fieldpath import set_field
from gitwave.engine.router import ProviderRouter
from gitwave.engine.store import Store
from gitwave.engine.yamlio import iter_documents
from gitwave.providers.sandbox import SandboxProvider
from tests.engine.fuzz_strategies import FAST, SCALARS, json_values, yaml_values

LOADER = settings(max_examples=100, deadline=None)

ARGO: dict[str, Any] = {
    "apiVersion": "argoproj.io/v1alpha1",
    "kind": "Application",
    "metadata": {"name": "web"},
    "spec": {
        "project": "default",
        "source": {"repoURL": ".", "targetRevision": "HEAD", "path": "manifests"},
        "destination": {"server": "https://kubernetes.default.svc", "namespace": "web"},
        "syncPolicy": {
            "automated": {"prune": True, "selfHeal": True},
            "syncOptions": ["CreateNamespace=true"],
            "retry": {"limit": 2, "backoff": {"duration": "5s", "factor": 2}},
        },
    },
}
SOURCE: dict[str, Any] = {
    "apiVersion": "source.toolkit.fluxcd.io/v1",
    "kind": "GitRepository",
    "metadata": {"name": "here", "namespace": "flux-system"},
    "spec": {"interval": "1m", "url": "."},
}
FLUX: dict[str, Any] = {
    "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
    "kind": "Kustomization",
    "metadata": {"name": "infra", "namespace": "flux-system"},
    "spec": {
        "interval": "5m",
        "timeout": "1m",
        "path": "./manifests",
        "prune": True,
        "targetNamespace": "infra",
        "sourceRef": {"kind": "GitRepository", "name": "here"},
        "dependsOn": [{"name": "web"}],
    },
}
# Fields a user edits, to set to a random value. repoURL and url stay local:
# a fuzzer must not fetch from the network.
ARGO_FIELDS = [
    "metadata",
    "metadata.name",
    "metadata.annotations",
    "spec",
    "spec.source",
    "spec.source.path",
    "spec.source.targetRevision",
    "spec.source.directory",
    "spec.source.directory.recurse",
    "spec.source.directory.include",
    "spec.source.kustomize",
    "spec.source.kustomize.images",
    "spec.source.helm",
    "spec.destination",
    "spec.destination.namespace",
    "spec.syncPolicy",
    "spec.syncPolicy.automated",
    "spec.syncPolicy.syncOptions",
    "spec.syncPolicy.retry.limit",
    "spec.syncPolicy.retry.backoff.duration",
    "spec.syncPolicy.retry.backoff.factor",
    "spec.ignoreDifferences",
    "spec.sources",
]
FLUX_FIELDS = [
    "metadata.name",
    "spec.interval",
    "spec.timeout",
    "spec.path",
    "spec.prune",
    "spec.suspend",
    "spec.targetNamespace",
    "spec.sourceRef",
    "spec.sourceRef.name",
    "spec.dependsOn",
    "spec.healthChecks",
    "spec.images",
    "spec.decryption",
]
SOURCE_FIELDS = ["spec.interval", "spec.ref", "spec.ref.branch", "spec.ref.tag", "metadata.name"]
LOCAL_URLS = [".", "./", "file://.", "", "/nonexistent/repo", "..", "../other"]

VALUES = st.one_of(
    SCALARS,
    json_values(6),
    st.sampled_from(["banana", "-1", "--post-renderer=sh", "../../etc", "/etc", "a/../..", "1h"]),
)


@st.composite
def mutated(draw: st.DrawFn, base: dict[str, Any], fields: list[str]) -> dict[str, Any]:
    """``base`` with up to three of ``fields`` set to random values."""
    doc = copy.deepcopy(base)
    for field in draw(st.lists(st.sampled_from(fields), max_size=3)):
        with contextlib.suppress(ValueError):
            set_field(doc, field, draw(VALUES), overwrite=True)
    if doc.get("kind") == "Application" and draw(st.booleans()):
        set_field(doc, "spec.source.repoURL", draw(st.sampled_from(LOCAL_URLS)), overwrite=True)
    return doc


def dump_all(docs: list[Any]) -> str:
    return yaml.safe_dump_all(docs, sort_keys=False)


# A document as text: dumped values, app definitions, or YAML-looking noise.
NOISE = st.text(alphabet=st.sampled_from("ab: -[]{}\n&*!|>'\"#%@`,?0.\t~"), max_size=60)
APP_FILES = st.lists(
    st.one_of(
        mutated(ARGO, ARGO_FIELDS),
        mutated(FLUX, FLUX_FIELDS),
        mutated(SOURCE, SOURCE_FIELDS),
        json_values(8),
    ),
    min_size=1,
    max_size=4,
).map(dump_all)
MANIFEST_FILES = st.one_of(
    st.lists(yaml_values(10), max_size=3).map(lambda d: yaml.safe_dump_all(d)),
    st.lists(
        st.fixed_dictionaries(
            {
                "apiVersion": st.sampled_from(["v1", "apps/v1", "argoproj.io/v1alpha1"]),
                "kind": st.sampled_from(["ConfigMap", "Secret", "Deployment", "Application"]),
                "metadata": st.fixed_dictionaries(
                    {"name": st.sampled_from(["a", "b", "web"])},
                    optional={
                        "namespace": VALUES,
                        "labels": VALUES,
                        "annotations": st.one_of(
                            VALUES,
                            st.fixed_dictionaries(
                                {
                                    "argocd.argoproj.io/sync-wave": VALUES,
                                    "gitwave.dev/depends-on": VALUES,
                                    "argocd.argoproj.io/hook": VALUES,
                                }
                            ),
                        ),
                    },
                ),
            },
            optional={"data": VALUES, "spec": yaml_values(8), "stringData": VALUES},
        ),
        max_size=3,
    ).map(dump_all),
    NOISE,
)


def written(apps: str, manifests: str) -> Iterator[Path]:
    root = Path(tempfile.mkdtemp(prefix="gitwave-fuzz-"))
    try:
        (root / "manifests").mkdir()
        (root / "apps.yaml").write_text(apps)
        (root / "manifests" / "objects.yaml").write_text(manifests)
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


def own_errors_only(call: Any, *args: Any) -> Any:
    """``call(*args)``, or None when it raised one of gitwave's errors."""
    try:
        return call(*args)
    except GitwaveError:
        return None


@LOADER
@given(APP_FILES, MANIFEST_FILES)
def test_loading_rendering_and_graphing_raise_only_gitwave_errors(
    apps: str, manifests: str
) -> None:
    for root in written(apps, manifests):
        own_errors_only(load_apps, str(root))
        app_set = own_errors_only(load_app_set, str(root))
        if app_set is None:
            return
        for broken in app_set.broken:
            assert isinstance(broken.error, GitwaveError)
            assert broken.name
        failing = {b.name for b in app_set.broken}
        for app in app_set.apps:
            for one in app.walk():
                if one.name in failing:
                    continue
                rendered = own_errors_only(render_app, one)
                if rendered is not None:
                    own_errors_only(desired_of, rendered.resources)


@FAST
@given(st.one_of(st.lists(yaml_values(), max_size=3).map(yaml.safe_dump_all), NOISE))
def test_yaml_reads_to_string_keyed_values_or_a_render_error(text: str) -> None:
    def keys_are_strings(value: Any) -> bool:
        if isinstance(value, dict):
            return all(isinstance(k, str) and keys_are_strings(v) for k, v in value.items())
        if isinstance(value, list):
            return all(keys_are_strings(v) for v in value)
        return True

    try:
        documents = list(iter_documents(text, file="fuzz.yaml"))
    except GitwaveError:
        return
    assert all(keys_are_strings(d.value) for d in documents)


@LOADER
@given(MANIFEST_FILES)
def test_an_implicit_app_renders_or_raises_a_gitwave_error(manifests: str) -> None:
    for root in written("", manifests):
        (root / "apps.yaml").unlink()
        # (Application documents make it a directory of apps instead.)
        app_set = load_app_set(str(root / "manifests"))
        failing = {b.name for b in app_set.broken}
        for app in app_set.apps:
            if app.name not in failing:
                rendered = own_errors_only(render_app, app)
                if rendered is not None:
                    own_errors_only(desired_of, rendered.resources)


# Objects of the kinds the sandbox simulates, with random specs and the annotations
# the graph reads.
OBJECTS = st.lists(
    st.fixed_dictionaries(
        {
            "apiVersion": st.sampled_from(["v1", "apps/v1", "batch/v1", "networking.k8s.io/v1"]),
            "kind": st.sampled_from(
                ["ConfigMap", "Secret", "Deployment", "Service", "Namespace", "Job", "Ingress"]
            ),
            "metadata": st.fixed_dictionaries(
                {"name": st.sampled_from(["a", "b"])},
                optional={
                    "namespace": st.sampled_from(["default", "missing"]),
                    "annotations": st.fixed_dictionaries(
                        {},
                        optional={
                            "argocd.argoproj.io/sync-wave": st.sampled_from(["1", "x", "-5"]),
                            "gitwave.dev/depends-on": st.sampled_from(
                                ["ConfigMap/default/a", "junk", "Deployment.apps/default/b"]
                            ),
                            "argocd.argoproj.io/hook": st.sampled_from(["PreSync", "Nope"]),
                            "argocd.argoproj.io/sync-options": st.sampled_from(
                                ["Prune=false", "junk"]
                            ),
                        },
                    ),
                },
            ),
        },
        optional={
            "spec": yaml_values(10),
            "data": st.dictionaries(st.text(max_size=4), st.text(max_size=4), max_size=2),
        },
    ),
    max_size=3,
).map(dump_all)


@pytest.mark.slow  # plans and syncs on a sandbox, each example
@settings(max_examples=60, deadline=None)
@given(OBJECTS)
def test_planning_and_syncing_random_objects_raise_only_gitwave_errors(text: str) -> None:
    with tempfile.TemporaryDirectory(prefix="gitwave-fuzz-") as top:
        root = Path(top)
        (root / "app").mkdir()
        (root / "app" / "objects.yaml").write_text(text)
        targets = ProviderRouter([SandboxProvider(root / "state", rollout_seconds=0.0)])
        app = implicit_app("fuzz", location=str(root / "app"))
        request = operations.SyncRequest(wave_timeout_s=0.2, retry=False)
        if own_errors_only(lambda: operations.plan(app, request, targets=targets)) is None:
            return
        store = Store(root / "state" / "gitwave.db")
        own_errors_only(
            lambda: operations.sync_app(app, targets=targets, store=store, request=request)
        )
