"""Applications: Argo CD and Flux parsing, repoURL resolution, app of apps, bad shapes.

Each test works in a real Git repository (tests/testdata/apps/repo copied into
tmp_path, remote ``origin`` = git@github.com:example/shop.git) and renders with
the real renderer.
"""

from __future__ import annotations

import copy
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import git
import pytest
import yaml

import gitwave.engine.apps.app_render as app_render
from gitwave.engine.apps import (
    MAX_APP_DEPTH,
    AppKind,
    AppSource,
    AppSpec,
    IgnoreDifference,
    RetrySpec,
    SyncPolicy,
    dns_label,
    flatten_apps,
    load_apps,
    order_apps,
    parse_duration,
    pick_semver,
    render_app,
)
from gitwave.engine.errors import GitwaveError, PathEscapeError, ValidationError
from gitwave.engine.health.policy import HealthCheckRef, HealthPolicy, HealthRule
from gitwave.engine.model import Propagation, ResourceKey, SourceRef
from gitwave.engine.render import HelmOptions, Rendered, RenderOptions, clear_render_cache
from gitwave.engine.retry import retry_delay
from gitwave.engine.source import Checkout

TESTDATA = Path(__file__).parent.parent / "testdata" / "apps"
ORIGIN = "git@github.com:example/shop.git"


@dataclass(frozen=True)
class Workspace:
    top: Path
    cache: Path

    def write(self, relative: str, docs: list[dict[str, Any]] | str) -> Path:
        path = self.top / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        text = docs if isinstance(docs, str) else yaml.safe_dump_all(docs, sort_keys=False)
        path.write_text(text, encoding="utf-8")
        return path

    def commit(self, message: str, *, tag: str | None = None) -> str:
        repo = git.Repo(self.top)
        try:
            repo.git.add("--all")
            sha = repo.index.commit(message).hexsha
            if tag:
                repo.create_tag(tag)
            return sha
        finally:
            repo.close()

    def load(self, relative: str, **kwargs: Any) -> list[AppSpec]:
        _, apps = load_apps(str(self.top / relative), cache_dir=self.cache, **kwargs)
        return apps


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    top = tmp_path / "shop"
    shutil.copytree(TESTDATA / "repo", top)
    repo = git.Repo.init(top, initial_branch="main")
    with repo.config_writer() as config:
        config.set_value("user", "name", "Test")
        config.set_value("user", "email", "test@example.com")
    repo.create_remote("origin", ORIGIN)
    repo.close()
    workspace = Workspace(top.resolve(), tmp_path / "cache")
    workspace.commit("initial")
    return workspace


def application(name: str = "web", **spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "source": {"repoURL": ".", "path": "manifests"},
        "destination": {"namespace": "shop"},
    }
    body.update(spec)
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": name},
        "spec": body,
    }


# --- Argo CD: every field ------------------------------------------------------------------


def test_every_argo_field_is_read(ws: Workspace) -> None:
    ws.write("apps/shop.yaml", (TESTDATA / "argo-full.yaml").read_text(encoding="utf-8"))

    [app] = ws.load("apps")

    assert app == AppSpec(
        name="shop",
        kind=AppKind.ARGO,
        source=AppSource(
            repo_url=ORIGIN,
            revision="HEAD",
            path="kustomized",
            render=RenderOptions(
                kustomize_images=("nginx:1.27", "busybox=registry.example.com/busybox:1.36"),
                helm=HelmOptions(release_name="shop", namespace="shop"),
                directory_recurse=False,
                default_namespace="shop",
            ),
            fetch_from=str(ws.top),
            fetch_revision=None,
            repository="github.com/example/shop",  # its remote: one source for every clone
        ),
        destination_namespace="shop",
        destination_server="https://kubernetes.default.svc",
        policy=SyncPolicy(
            automated=True,
            prune=True,
            self_heal=True,
            allow_empty=True,
            create_namespace=True,
            prune_last=True,
            prune_propagation=Propagation.BACKGROUND,
            apply_out_of_sync_only=True,
            retry=RetrySpec(limit=5, duration_s=10.0, factor=3.0, max_duration_s=300.0),
            sync_options=(
                "CreateNamespace=true",
                "PruneLast=true",
                "PrunePropagationPolicy=background",
                "ApplyOutOfSyncOnly=true",
                "ServerSideApply=true",
            ),
        ),
        ignore_differences=(
            IgnoreDifference("apps", "Deployment", json_pointers=("/spec/replicas",)),
            IgnoreDifference(
                "",
                "ConfigMap",
                "settings",
                "shop",
                json_pointers=("/data/mode", "/metadata/labels"),
            ),
        ),
        origin=SourceRef("apps/shop.yaml", 2),
        wave=3,
        project="default",
        app_namespace="argocd",
    )
    rendered = render_app(app)
    [deployment] = rendered.resources
    assert deployment.key == ResourceKey("apps", "Deployment", "shop", "web")
    assert deployment.manifest["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.27"


def test_argo_helm_and_directory_fields_are_read(ws: Workspace) -> None:
    ws.write("apps/charted.yaml", (TESTDATA / "argo-helm.yaml").read_text(encoding="utf-8"))

    [app] = ws.load("apps")

    assert (app.destination_server, app.destination_name) == ("", "in-cluster")
    assert app.source.render == RenderOptions(
        helm=HelmOptions(
            release_name="my-release",
            namespace="charts",
            values_files=("values-prod.yaml",),
            values="replicas: 2\nimage:\n  tag: '1.0'\n",  # valuesObject wins over values
            parameters=("image.tag=1.1",),
            string_parameters=("service.port=8080",),
            skip_crds=True,
        ),
        directory_recurse=True,
        directory_include="*.yaml",
        directory_exclude="skip/*",
        default_namespace="charts",
    )


@dataclass
class PolicyCase:
    reason: str
    sync_policy: dict[str, Any] | None
    want: SyncPolicy


@pytest.mark.parametrize(
    "case",
    [
        PolicyCase("no syncPolicy: manual", None, SyncPolicy()),
        PolicyCase("automated: {} turns it on", {"automated": {}}, SyncPolicy(automated=True)),
        PolicyCase("automated: null turns it on", {"automated": None}, SyncPolicy(automated=True)),
        PolicyCase(
            "automated.enabled false keeps the flags but not the automation",
            {"automated": {"enabled": False, "prune": True}},
            SyncPolicy(automated=False, prune=True),
        ),
        PolicyCase(
            "retry without backoff takes Argo's defaults",
            {"retry": {"limit": 2}},
            SyncPolicy(retry=RetrySpec(limit=2, duration_s=5.0, factor=2.0, max_duration_s=180.0)),
        ),
        PolicyCase(
            "a bare backoff number is seconds",
            {"retry": {"limit": -1, "backoff": {"duration": "30", "maxDuration": "1h"}}},
            SyncPolicy(retry=RetrySpec(limit=-1, duration_s=30.0, max_duration_s=3600.0)),
        ),
        PolicyCase(
            "orphan propagation",
            {"syncOptions": ["PrunePropagationPolicy=orphan"]},
            SyncPolicy(
                prune_propagation=Propagation.ORPHAN,
                sync_options=("PrunePropagationPolicy=orphan",),
            ),
        ),
        PolicyCase(
            "PruneProtectedKinds=true lets prune delete Namespaces, CRDs and PVCs",
            {"syncOptions": ["PruneProtectedKinds=true"]},
            SyncPolicy(prune_protected_kinds=True, sync_options=("PruneProtectedKinds=true",)),
        ),
        PolicyCase(
            "CreateNamespace=false is accepted and off",
            {"syncOptions": ["CreateNamespace=false"]},
            SyncPolicy(sync_options=("CreateNamespace=false",)),
        ),
    ],
    ids=lambda c: c.reason,
)
def test_argo_sync_policy(ws: Workspace, case: PolicyCase) -> None:
    spec: dict[str, Any] = {}
    if case.sync_policy is not None:
        spec["syncPolicy"] = case.sync_policy
    ws.write("apps/app.yaml", [application(**spec)])

    [app] = ws.load("apps")

    assert app.policy == case.want


def test_argo_destination_defaults_to_the_in_cluster_server(ws: Workspace) -> None:
    ws.write("apps/app.yaml", [application()])

    [app] = ws.load("apps")

    assert app.destination_server == "https://kubernetes.default.svc"
    assert app.source.revision == "HEAD"
    assert app.source.render.default_namespace == "shop"
    assert app.source.render.directory_recurse is False  # Argo's default


@pytest.mark.parametrize(
    ("finalizers", "cascade"),
    [
        (None, False),
        (["resources-finalizer.argocd.argoproj.io"], True),
        (["resources-finalizer.argocd.argoproj.io/background"], True),
        (["example.com/other"], False),
    ],
)
def test_a_child_apps_resources_finalizer_and_parent_are_read(
    ws: Workspace, finalizers: list[str] | None, cascade: bool
) -> None:
    child = application("child", source={"repoURL": ".", "path": "manifests"})
    if finalizers is not None:
        child["metadata"]["finalizers"] = finalizers
    ws.write("only-child/child.yaml", [child])
    ws.write(
        "apps/parent.yaml", [application("parent", source={"repoURL": ".", "path": "only-child"})]
    )

    [parent] = ws.load("apps")

    [loaded] = parent.children
    assert loaded.cascade is cascade
    assert loaded.parent == f"parent@{parent.owner.source}"
    assert loaded.owner.source != parent.owner.source  # another path: another source


# --- bad Application shapes ---------------------------------------------------------------

DELETE = object()


@dataclass
class BadAppCase:
    reason: str
    changes: dict[str, Any]  # dotted path → new value (DELETE removes it)
    want: str
    error: type[GitwaveError] = ValidationError


def _apply(doc: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    doc = copy.deepcopy(doc)
    for dotted, value in changes.items():
        *parents, last = dotted.split(".")
        node = doc
        for part in parents:
            node = node.setdefault(part, {})
        if value is DELETE:
            node.pop(last, None)
        else:
            node[last] = value
    return doc


@pytest.mark.parametrize(
    "case",
    [
        BadAppCase("no name", {"metadata.name": DELETE}, "metadata.name is required"),
        BadAppCase("no spec", {"spec": DELETE}, "spec is required"),
        BadAppCase("no source", {"spec.source": DELETE}, "spec.source is required"),
        BadAppCase("no path", {"spec.source.path": DELETE}, "spec.source.path is required"),
        BadAppCase(
            "no repoURL", {"spec.source.repoURL": DELETE}, "spec.source.repoURL is required"
        ),
        BadAppCase(
            "unquoted numeric revision",
            {"spec.source.targetRevision": 1.1},
            "spec.source.targetRevision must be a string",
        ),
        BadAppCase(
            "unknown sync option",
            {"spec.syncPolicy.syncOptions": ["Bogus=true"]},
            "unknown option 'Bogus=true'",
        ),
        BadAppCase(
            "sync option without a value",
            {"spec.syncPolicy.syncOptions": ["CreateNamespace"]},
            "unknown option 'CreateNamespace'",
        ),
        BadAppCase(
            "non-boolean sync option",
            {"spec.syncPolicy.syncOptions": ["CreateNamespace=yes"]},
            "CreateNamespace must be true or false",
        ),
        BadAppCase(
            "unknown propagation policy",
            {"spec.syncPolicy.syncOptions": ["PrunePropagationPolicy=sideways"]},
            "PrunePropagationPolicy must be foreground, background or orphan",
        ),
        BadAppCase(
            "bad backoff duration",
            {"spec.syncPolicy.retry": {"limit": 1, "backoff": {"duration": "5 parsecs"}}},
            "spec.syncPolicy.retry.backoff.duration",
        ),
        BadAppCase(
            "bad max duration",
            {"spec.syncPolicy.retry": {"limit": 1, "backoff": {"maxDuration": "1d"}}},
            "spec.syncPolicy.retry.backoff.maxDuration",
        ),
        BadAppCase(
            "retry limit not a number",
            {"spec.syncPolicy.retry": {"limit": "five"}},
            "spec.syncPolicy.retry.limit must be an integer",
        ),
        BadAppCase(
            "automated prune not a boolean",
            {"spec.syncPolicy.automated": {"prune": "yes"}},
            "spec.syncPolicy.automated.prune must be true or false",
        ),
        BadAppCase(
            "no rendering source",
            {"spec.source": DELETE, "spec.sources": [{"repoURL": ".", "ref": "values"}]},
            "spec.sources: no source renders manifests (a chart or a path)",
        ),
        BadAppCase(
            "a chart from a Git repoURL",
            {"spec.source.chart": "nginx"},
            "spec.source.chart: repoURL '.' is not a Helm repository",
        ),
        BadAppCase(
            "jq ignore rules",
            {"spec.ignoreDifferences": [{"kind": "Deployment", "jqPathExpressions": [".a"]}]},
            "spec.ignoreDifferences[0].jqPathExpressions is not supported",
        ),
        BadAppCase(
            "ignore rule without kind",
            {"spec.ignoreDifferences": [{"group": "apps"}]},
            "spec.ignoreDifferences[0].kind is required",
        ),
        BadAppCase(
            "json pointer without a slash",
            {"spec.ignoreDifferences": [{"kind": "X", "jsonPointers": ["spec/replicas"]}]},
            "must start with '/'",
        ),
        BadAppCase(
            "sync wave not a number",
            {"metadata.annotations": {"argocd.argoproj.io/sync-wave": "soon"}},
            "'soon' is not an integer",
        ),
        BadAppCase(
            "a label that is no string",
            {"metadata.labels": {"replicas": 3}},
            "metadata.labels[replicas] must be a string, not a number (quote it)",
        ),
        BadAppCase(
            "server and name both set",
            {"spec.destination": {"server": "https://x", "name": "x"}},
            "either server or name",
        ),
        BadAppCase(
            "relative repoURL other than '.'",
            {"spec.source.repoURL": "../other-repo"},
            "relative repoURL '../other-repo' must be '.'",
        ),
        BadAppCase(
            "a path climbing out of the repository",
            {"spec.source.path": "../../etc"},
            "escapes the repository",
            PathEscapeError,
        ),
        BadAppCase(
            "an absolute path",
            {"spec.source.path": "/etc"},
            "absolute paths are not allowed",
            PathEscapeError,
        ),
    ],
    ids=lambda c: c.reason,
)
def test_bad_application_shapes_name_file_line_and_field(ws: Workspace, case: BadAppCase) -> None:
    good = application("fine")
    bad = _apply(application("broken"), case.changes)
    ws.write("apps/app.yaml", [good, bad])
    second_doc_line = 1 + len(yaml.safe_dump(good, sort_keys=False).splitlines()) + 1

    with pytest.raises(case.error) as caught:
        ws.load("apps")

    message = str(caught.value)
    assert f"apps/app.yaml:{second_doc_line}" in message
    assert case.want in message


def test_two_apps_with_one_name_are_refused(ws: Workspace) -> None:
    ws.write("apps/a.yaml", [application("twin")])
    ws.write("apps/b.yaml", [application("twin")])

    with pytest.raises(ValidationError, match=r"apps/b.yaml:1.*also used by.*apps/a.yaml:1"):
        ws.load("apps")


# --- repoURL resolution ----------------------------------------------------------------------


@dataclass
class RepoCase:
    reason: str
    repo_url: str
    revision: str | None
    want_revision: str | None


@pytest.mark.parametrize(
    "case",
    [
        RepoCase("dot", ".", None, None),
        RepoCase("dot slash at HEAD", "./", "HEAD", None),
        RepoCase("file URL of dot", "file://.", "HEAD", None),
        RepoCase("the origin remote over https", "https://github.com/example/shop", None, None),
        RepoCase("with .git and slash", "https://github.com/example/shop.git/", None, None),
        RepoCase(
            "ssh form on the checked-out branch",
            "ssh://git@github.com/example/shop",
            "main",
            None,
        ),
        RepoCase("scp form at a tag", ORIGIN, "v1", "v1"),
        RepoCase("the absolute path of the root", "{top}", None, None),
        RepoCase("a file URL of the root", "file://{top}", "v1", "v1"),
    ],
    ids=lambda c: c.reason,
)
def test_repo_url_resolution(ws: Workspace, case: RepoCase) -> None:
    source: dict[str, Any] = {"repoURL": case.repo_url.format(top=ws.top), "path": "manifests"}
    if case.revision is not None:
        source["targetRevision"] = case.revision
    ws.write("apps/app.yaml", [application(source=source)])
    ws.commit("release", tag="v1")

    [app] = ws.load("apps")

    assert app.source.fetch_from == str(ws.top)
    assert app.source.fetch_revision == case.want_revision


def test_head_renders_the_work_tree_with_uncommitted_edits(ws: Workspace) -> None:
    ws.write("apps/app.yaml", [application()])
    ws.write(
        "manifests/cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: edited\n",
    )

    [app] = ws.load("apps")
    rendered = render_app(app)

    assert [r.key.name for r in rendered.resources] == ["edited"]


def test_a_tag_renders_the_committed_content_not_the_work_tree(ws: Workspace) -> None:
    ws.commit("tagged", tag="v1")
    ws.write(
        "apps/app.yaml",
        [application(source={"repoURL": ".", "path": "manifests", "targetRevision": "v1"})],
    )
    ws.write("manifests/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: edited\n")

    [app] = ws.load("apps")
    rendered = render_app(app, cache_dir=ws.cache)

    assert [r.key.name for r in rendered.resources] == ["settings"]
    assert rendered.revision == git.Repo(ws.top).commit("v1").hexsha


def test_another_repository_is_cloned_when_rendered(ws: Workspace, tmp_path: Path) -> None:
    other = tmp_path / "other"
    shutil.copytree(TESTDATA / "repo" / "manifests", other / "deploy")
    repo = git.Repo.init(other, initial_branch="trunk")
    with repo.config_writer() as config:
        config.set_value("user", "name", "Test")
        config.set_value("user", "email", "test@example.com")
    repo.git.add("--all")
    sha = repo.index.commit("other").hexsha
    repo.close()
    source = {"repoURL": other.as_uri(), "path": "deploy", "targetRevision": "trunk"}
    ws.write("apps/app.yaml", [application(source=source)])

    # A repository on this host outside the given one is rendered only when allowed.
    [app] = ws.load("apps", allow_local_repos=(str(other),))
    rendered = render_app(app, cache_dir=ws.cache)

    assert app.source.fetch_from == other.as_uri()
    assert rendered.revision == sha
    assert [r.key.name for r in rendered.resources] == ["settings"]


def test_a_repository_url_is_loaded_from_a_shallow_clone(ws: Workspace) -> None:
    sha = ws.commit("no apps at the root yet")
    checkout, [implicit] = load_apps(ws.top.as_uri(), cache_dir=ws.cache)
    assert (checkout.revision, implicit.name, implicit.kind) == (sha, "shop", AppKind.IMPLICIT)

    ws.write("app.yaml", [application("remote-app")])
    sha = ws.commit("an app at the root")

    checkout, [app] = load_apps(ws.top.as_uri(), cache_dir=ws.cache)

    assert checkout.revision == sha
    assert checkout.root.is_relative_to(ws.cache)
    assert app.name == "remote-app"
    # "." in a fetched repository is that same commit of it, never your work tree.
    assert (app.source.fetch_from, app.source.fetch_revision) == (ws.top.as_uri(), sha)
    assert [r.key.name for r in render_app(app, cache_dir=ws.cache).resources] == ["settings"]


def test_load_at_a_revision_reads_the_apps_of_that_commit(ws: Workspace) -> None:
    ws.write("apps/app.yaml", [application("then")])
    first = ws.commit("apps at v1", tag="v1")
    ws.write("apps/app.yaml", [application("now")])
    ws.commit("apps now")

    checkout, apps = load_apps(str(ws.top / "apps"), revision="v1", cache_dir=ws.cache)

    assert checkout.revision == first
    assert [a.name for a in apps] == ["then"]
    assert apps[0].source.fetch_revision == first  # HEAD of that checkout: the same commit
    assert render_app(apps[0], cache_dir=ws.cache).revision == first


# --- implicit apps ----------------------------------------------------------------------------


def test_a_directory_without_apps_is_one_implicit_app(ws: Workspace) -> None:
    checkout, apps = load_apps(str(ws.top / "manifests"), cache_dir=ws.cache)

    assert checkout.root == ws.top
    assert apps == [
        AppSpec(
            name="manifests",
            kind=AppKind.IMPLICIT,
            source=AppSource(
                repo_url=str(ws.top),
                revision="HEAD",
                path="manifests",
                # Objects naming no namespace go to `default`, as with kubectl.
                render=RenderOptions(default_namespace="default"),
                fetch_from=str(ws.top),
                repository="github.com/example/shop",
            ),
            destination_namespace="default",
            origin=SourceRef("manifests"),
        )
    ]
    assert [r.key.name for r in render_app(apps[0]).resources] == ["settings"]


def test_a_plain_directory_outside_git_is_an_implicit_app(tmp_path: Path) -> None:
    target = tmp_path / "My_Service.v2"
    shutil.copytree(TESTDATA / "repo" / "manifests", target)

    checkout, [app] = load_apps(str(target))

    assert checkout.revision == ""
    assert app.name == "my-service-v2"
    assert app.source.path == "."
    assert render_app(app).revision == ""


def test_a_single_manifest_file_is_an_implicit_app(ws: Workspace) -> None:
    [app] = ws.load("manifests/cm.yaml")

    assert (app.name, app.kind, app.source.path) == ("cm", AppKind.IMPLICIT, "manifests/cm.yaml")


def test_a_single_application_file_defines_only_its_apps(ws: Workspace) -> None:
    ws.write("apps/one.yaml", [application("one")])
    ws.write("apps/two.yaml", [application("two")])

    assert [a.name for a in ws.load("apps/two.yaml")] == ["two"]


@pytest.mark.parametrize(
    ("text", "want"),
    [("guestbook", "guestbook"), ("My_App.v2", "my-app-v2"), ("---", "app"), ("x" * 80, "x" * 63)],
)
def test_dns_label(text: str, want: str) -> None:
    assert dns_label(text) == want


# --- app of apps ---------------------------------------------------------------------------------


def test_app_of_apps_children_are_ordered_by_wave_then_name(ws: Workspace) -> None:
    ws.write(
        "apps/parent.yaml", [application("parent", source={"repoURL": ".", "path": "children"})]
    )

    [parent] = ws.load("apps")

    assert [(c.name, c.wave) for c in parent.children] == [("zeta", -1), ("alpha", 1), ("beta", 1)]
    beta = parent.children[2]
    assert [g.name for g in beta.children] == ["leaf"]
    assert beta.origin == SourceRef("children/pair.yaml", 1)
    assert [a.name for a in parent.walk()] == ["parent", "zeta", "alpha", "beta", "leaf"]
    # Child Applications are not resources of the parent; other objects there are.
    assert [r.key.name for r in render_app(parent).resources] == ["parent-own"]
    assert [r.key.name for r in render_app(parent.children[1]).resources] == ["web"]


def test_an_app_that_renders_itself_is_a_cycle_naming_the_file(ws: Workspace) -> None:
    with pytest.raises(ValidationError) as caught:
        ws.load("loop")

    assert "app of apps cycle" in str(caught.value)
    assert "loop/self.yaml:2" in str(caught.value)


def test_app_of_apps_depth_is_limited(ws: Workspace) -> None:
    for level in range(MAX_APP_DEPTH + 3):
        ws.write(
            f"deep/{level}/app.yaml",
            [application(f"level-{level}", source={"repoURL": ".", "path": f"deep/{level + 1}"})],
        )

    with pytest.raises(ValidationError, match=f"nested deeper than {MAX_APP_DEPTH} levels"):
        ws.load("deep/0")


def test_an_app_of_apps_parent_is_rendered_once_for_loading_and_sync(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Loading renders the parent to find its child Applications; render_app for the
    sync then gets that same render from the render cache (a clean commit)."""
    clear_render_cache()
    real_render = app_render.render
    answers: list[Rendered] = []  # what render returned for the parent's path, call by call

    def counting_render(checkout: Checkout, path: str, *, options: RenderOptions) -> Rendered:
        rendered = real_render(checkout, path, options=options)
        if path == "children":
            answers.append(rendered)
        return rendered

    monkeypatch.setattr(app_render, "render", counting_render)
    ws.write(
        "apps/parent.yaml", [application("parent", source={"repoURL": ".", "path": "children"})]
    )
    ws.commit("an app of apps")

    [parent] = ws.load("apps")
    synced = render_app(parent, cache_dir=ws.cache)

    assert len(answers) == 2  # asked twice: to find the children, then for the sync
    renders = {id(answer) for answer in answers}  # a cache hit returns the stored value
    assert len(renders) == 1
    assert [r.key.name for r in synced.resources] == ["parent-own"]


def test_uncommitted_edits_after_loading_are_rendered_for_the_sync(ws: Workspace) -> None:
    """A work tree with edits is never served from the render cache: it may change
    between loading and the sync (watch mode relies on it)."""
    ws.write(
        "apps/parent.yaml", [application("parent", source={"repoURL": ".", "path": "children"})]
    )
    [parent] = ws.load("apps")
    late = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "late"}}

    ws.write("children/extra.yaml", [late])

    assert [r.key.name for r in render_app(parent).resources] == ["late", "parent-own"]


# --- Flux ---------------------------------------------------------------------------------


def test_every_flux_field_is_read(ws: Workspace) -> None:
    ws.write("clusters/flux.yaml", (TESTDATA / "flux-full.yaml").read_text(encoding="utf-8"))

    infra, apps = ws.load("clusters")  # infra first: apps depends on it

    assert infra == AppSpec(
        name="infra",
        kind=AppKind.FLUX,
        source=AppSource(
            repo_url="https://github.com/example/shop",
            revision="main",
            path="manifests",
            # No targetNamespace: objects naming no namespace go to `default`.
            render=RenderOptions(default_namespace="default"),
            fetch_from=str(ws.top),
            fetch_revision=None,  # main is the checked-out branch: the work tree
            repository="github.com/example/shop",  # its remote: one source for every clone
        ),
        destination_namespace="default",
        policy=SyncPolicy(automated=True, prune=False, self_heal=True),
        health=HealthPolicy(rule=HealthRule.KSTATUS),
        timeout_s=600.0,  # Flux: the timeout defaults to the interval
        interval_s=600.0,
        origin=SourceRef("clusters/flux.yaml", 12),
        app_namespace="flux-system",
    )
    assert apps == AppSpec(
        name="apps",
        kind=AppKind.FLUX,
        source=AppSource(
            repo_url="https://github.com/example/shop",
            revision="main",
            path="kustomized",
            render=RenderOptions(kustomize_images=("nginx:1.27",), target_namespace="shop"),
            fetch_from=str(ws.top),
            repository="github.com/example/shop",
        ),
        destination_namespace="shop",
        policy=SyncPolicy(automated=True, prune=True, self_heal=True),
        depends_on=("infra",),
        health_checks=(
            ResourceKey("apps", "Deployment", "shop", "web"),
            ResourceKey("", "Service", "", "web"),
        ),
        health=HealthPolicy(
            rule=HealthRule.KSTATUS,
            checks=(
                HealthCheckRef("apps/v1", ResourceKey("apps", "Deployment", "shop", "web")),
                HealthCheckRef("v1", ResourceKey("", "Service", "", "web")),
            ),
        ),
        timeout_s=45.0,
        interval_s=90.0,
        origin=SourceRef("clusters/flux.yaml", 25),
        app_namespace="flux-system",
        service_account="shop-deployer",
    )
    assert apps.impersonate == "system:serviceaccount:flux-system:shop-deployer"
    assert infra.impersonate == ""
    rendered = render_app(apps)
    assert rendered.resources[0].key == ResourceKey("apps", "Deployment", "shop", "web")


def flux_docs(**overrides: Any) -> list[dict[str, Any]]:
    source = {
        "apiVersion": "source.toolkit.fluxcd.io/v1",
        "kind": "GitRepository",
        "metadata": {"name": "repo", "namespace": "flux-system"},
        "spec": {"interval": "1m", "url": "."},
    }
    kustomization = {
        "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
        "kind": "Kustomization",
        "metadata": {"name": "app", "namespace": "flux-system"},
        "spec": {
            "interval": "5m",
            "path": "./manifests",
            "prune": True,
            "sourceRef": {"kind": "GitRepository", "name": "repo"},
        },
    }
    return [
        _apply(source, overrides.get("source", {})),
        _apply(kustomization, overrides.get("ks", {})),
    ]


@dataclass
class BadFluxCase:
    reason: str
    overrides: dict[str, dict[str, Any]]
    want: str
    extra: list[dict[str, Any]] = field(default_factory=list)


@pytest.mark.parametrize(
    "case",
    [
        BadFluxCase(
            "bad interval",
            {"ks": {"spec.interval": "soon"}},
            "spec.interval: 'soon' is not a duration",
        ),
        BadFluxCase("no interval", {"ks": {"spec.interval": DELETE}}, "spec.interval is required"),
        BadFluxCase("bad timeout", {"ks": {"spec.timeout": "1x"}}, "spec.timeout"),
        BadFluxCase("no prune", {"ks": {"spec.prune": DELETE}}, "spec.prune is required"),
        BadFluxCase(
            "unknown source",
            {"ks": {"spec.sourceRef.name": "nope"}},
            "GitRepository 'nope' is not defined",
        ),
        BadFluxCase(
            "unsupported source kind",
            {"ks": {"spec.sourceRef.kind": "OCIRepository"}},
            "'OCIRepository' is not supported",
        ),
        BadFluxCase(
            "unknown dependency",
            {"ks": {"spec.dependsOn": [{"name": "ghost"}]}},
            "no Kustomization named 'ghost'",
        ),
        BadFluxCase("source without url", {"source": {"spec.url": DELETE}}, "spec.url is required"),
        BadFluxCase(
            "source with bad interval", {"source": {"spec.interval": "1y"}}, "spec.interval"
        ),
        BadFluxCase(
            "a path out of the repository", {"ks": {"spec.path": "../up"}}, "escapes the repository"
        ),
    ],
    ids=lambda c: c.reason,
)
def test_bad_flux_shapes(ws: Workspace, case: BadFluxCase) -> None:
    ws.write("clusters/flux.yaml", flux_docs(**case.overrides))

    with pytest.raises(GitwaveError) as caught:
        ws.load("clusters")

    assert "clusters/flux.yaml:" in str(caught.value)
    assert case.want in str(caught.value)


def test_a_depends_on_cycle_names_the_apps(ws: Workspace) -> None:
    docs = flux_docs(ks={"spec.dependsOn": [{"name": "other"}]})
    other = _apply(docs[1], {"metadata.name": "other", "spec.dependsOn": [{"name": "app"}]})
    ws.write("clusters/flux.yaml", [*docs, other])

    with pytest.raises(ValidationError, match="dependsOn cycle among: app -> other"):
        ws.load("clusters")


def test_semver_ref_picks_the_highest_matching_tag(ws: Workspace) -> None:
    for tag in ("v1.0.0", "v1.0.3", "v1.1.0", "v2.0.0"):
        ws.commit(f"release {tag}", tag=tag) if tag == "v1.0.0" else None
        if tag != "v1.0.0":
            ws.write("manifests/version.txt", tag)
            ws.commit(f"release {tag}", tag=tag)
    ws.write("clusters/flux.yaml", flux_docs(source={"spec.ref": {"semver": "~1.0"}}))

    [app] = ws.load("clusters")

    assert app.source.revision == "v1.0.3"
    assert app.source.fetch_revision == "v1.0.3"
    assert render_app(app, cache_dir=ws.cache).revision == git.Repo(ws.top).commit("v1.0.3").hexsha


@dataclass
class SemverCase:
    constraint: str
    want: str | None


@pytest.mark.parametrize(
    "case",
    [
        SemverCase(">=1.0.0 <2.0.0", "v1.10.0"),
        SemverCase(">= 1.0.0, < 2.0.0", "v1.10.0"),
        SemverCase("~1.2", "v1.2.5"),
        SemverCase("^1.2", "v1.10.0"),
        SemverCase("^0.9", "v0.9.0"),
        SemverCase("1.2.x", "v1.2.5"),
        SemverCase("*", "v2.0.0"),  # the release candidate is never picked
        SemverCase("<1", "v0.9.0"),
        SemverCase(">=3", None),
        SemverCase("1.0 - 1.2", "v1.2.5"),
        SemverCase("^0.9 || >=2", "v2.0.0"),
        SemverCase("!=1.10.0, >=1", "v2.0.0"),
        SemverCase("1.2.0", "v1.2.0"),
        # Masterminds forms translated for NpmSpec: a "v" or a space after an operator,
        # "!=" of an x-range inside an alternative.
        SemverCase("~v1.2", "v1.2.5"),
        SemverCase("=v1.2", "v1.2.5"),
        SemverCase("!=1.2.x, <2", "v1.10.0"),
        SemverCase("<1.2 || 1.2.x, != 1.2.5", "v1.2.0"),
        # Partial versions mean what they mean to Masterminds.
        SemverCase(">1.2", "v2.0.0"),  # >= 1.3.0
        SemverCase("<=1.2", "v1.2.5"),  # < 1.3.0
        SemverCase("~1", "v1.10.0"),
        SemverCase("1.x", "v1.10.0"),
    ],
    ids=lambda c: c.constraint,
)
def test_pick_semver(case: SemverCase) -> None:
    tags = ["v0.9.0", "v1.0.0", "v1.2.0", "v1.2.5", "v1.10.0", "v2.0.0", "v2.1.0-rc.1", "latest"]

    assert pick_semver(case.constraint, tags) == case.want


@pytest.mark.parametrize("constraint", [">>1", "1.2.3.4", "abc", "~*"])
def test_a_malformed_semver_constraint_is_an_error(constraint: str) -> None:
    with pytest.raises(ValueError, match="cannot read constraint"):
        pick_semver(constraint, ["v1.0.0"])


def test_an_empty_semver_alternative_is_an_error() -> None:
    with pytest.raises(ValueError, match="empty constraint"):
        pick_semver("1.0 ||", ["v1.0.0"])


# --- values with behaviour ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "bare", "want"),
    [
        ("5s", False, 5.0),
        ("3m", False, 180.0),
        ("1h", False, 3600.0),
        ("1m30s", False, 90.0),
        ("1.5h", False, 5400.0),
        ("300ms", False, 0.3),
        ("1h2m3s", False, 3723.0),
        (".5s", False, 0.5),
        ("1500us", False, 0.0015),
        ("1500µs", False, 0.0015),
        ("0", False, 0.0),
        ("5", True, 5.0),
    ],
)
def test_parse_duration(text: str, bare: bool, want: float) -> None:
    assert parse_duration(text, bare_seconds=bare) == pytest.approx(want)


@pytest.mark.parametrize(
    "text",
    # durationpy alone would take days, weeks, years, a sign and spaces between parts;
    # Go (so Argo and Flux) takes none of them.
    ["5", "", "m", "5 s", "1d", "2w", "1y", "-5s", "+5s", "1h 30m", "s5", "1m30", "9" * 20 + "h"],
)
def test_parse_duration_refuses_non_durations(text: str) -> None:
    with pytest.raises(ValueError, match="is not a duration"):
        parse_duration(text)


def test_retry_backoff_grows_by_factor_up_to_the_cap() -> None:
    retry = RetrySpec(limit=5, duration_s=5, factor=2, max_duration_s=30)
    no_jitter = [retry_delay(retry, n, jitter=lambda: 0.0) for n in range(1, 7)]

    assert no_jitter == [5, 10, 20, 30, 30, None]
    assert [retry.allows(n) for n in range(6)] == [True] * 5 + [False]
    assert RetrySpec(limit=-1).allows(10_000)


@pytest.mark.parametrize(
    ("rule", "key", "want"),
    [
        (IgnoreDifference("apps", "Deployment"), ResourceKey("apps", "Deployment", "a", "x"), True),
        (
            IgnoreDifference("apps", "Deployment", name="x"),
            ResourceKey("apps", "Deployment", "a", "y"),
            False,
        ),
        (
            IgnoreDifference("", "ConfigMap", namespace="a"),
            ResourceKey("", "ConfigMap", "a", "x"),
            True,
        ),
        (
            IgnoreDifference("", "ConfigMap", namespace="a"),
            ResourceKey("", "ConfigMap", "b", "x"),
            False,
        ),
        (IgnoreDifference("", "Deployment"), ResourceKey("apps", "Deployment", "a", "x"), False),
    ],
)
def test_ignore_rule_matches(rule: IgnoreDifference, key: ResourceKey, want: bool) -> None:
    assert rule.matches(key) is want


def test_order_apps_puts_dependencies_first_then_wave_and_name() -> None:
    def app(name: str, *deps: str, wave: int = 0) -> AppSpec:
        return AppSpec(name, AppKind.FLUX, AppSource("", "", "."), depends_on=deps, wave=wave)

    ordered = order_apps([app("web", "db"), app("db", "infra"), app("infra"), app("docs", wave=-1)])

    assert [a.name for a in ordered] == ["docs", "infra", "db", "web"]


def _app(name: str, *deps: str, wave: int = 0, children: tuple[AppSpec, ...] = ()) -> AppSpec:
    return AppSpec(
        name,
        AppKind.ARGO,
        AppSource("", "", "."),
        depends_on=deps,
        wave=wave,
        children=children,
    )


def test_flatten_apps_puts_parents_before_children_and_dependencies_first() -> None:
    parent = _app("parent", children=(_app("late", "db", wave=2), _app("early", wave=-1)))

    flat = flatten_apps([parent, _app("db")])

    assert [a.name for a in flat] == ["parent", "early", "db", "late"]


@pytest.mark.parametrize(
    ("apps", "message"),
    [
        ([_app("web", "nope")], "dependsOn names unknown app 'nope'"),
        ([_app("a", "b"), _app("b", "a")], "dependsOn cycle: a -> b"),
    ],
)
def test_flatten_apps_refuses_bad_dependencies(apps: list[AppSpec], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        flatten_apps(apps)


# --- samples/ -----------------------------------------------------------------------------

SAMPLES = Path(__file__).resolve().parents[2] / "samples"

# app name → number of objects it renders (its own, child Applications excluded)
KNOWN_SAMPLES: dict[str, dict[str, int]] = {
    "guestbook": {"guestbook": 4},
    "kustomize": {"web-dev": 4, "web-staging": 4, "web-production": 4},
    "waves": {"waves": 8},
    "app-of-apps": {"app-of-apps": 0, "guestbook": 4, "waves": 8},
    "flux": {"infra": 2, "apps": 2},
    "appset": {"teams": 0, "team-payments": 2, "team-search": 2},
}


@pytest.mark.parametrize("sample", sorted(p.name for p in SAMPLES.iterdir() if p.is_dir()))
def test_every_sample_renders(sample: str) -> None:
    _, apps = load_apps(str(SAMPLES / sample))

    counts = {app.name: len(render_app(app).resources) for top in apps for app in top.walk()}

    assert sum(counts.values()) > 0
    if sample in KNOWN_SAMPLES:
        assert counts == KNOWN_SAMPLES[sample]
        readme = (SAMPLES / sample / "README.md").read_text(encoding="utf-8")
        assert f"gitwave sync samples/{sample}" in readme


def test_sample_details_users_rely_on() -> None:
    _, [production] = load_apps(str(SAMPLES / "kustomize" / "overlays" / "production"))
    deployment = next(r for r in render_app(production).resources if r.kind == "Deployment")
    assert deployment.key.namespace == "web-production"
    assert deployment.manifest["spec"]["replicas"] == 4

    _, [kustomize_app, *_] = load_apps(str(SAMPLES / "kustomize"))
    assert kustomize_app.name == "web-dev"

    _, [waves] = load_apps(str(SAMPLES / "waves"))
    annotations = {r.key.display: dict(r.annotations) for r in render_app(waves).resources}
    assert annotations["Job/shop/db-migrate"]["argocd.argoproj.io/hook"] == "PreSync"
    assert annotations["Job/shop/cache-warmup-"]["argocd.argoproj.io/hook"] == "Sync"
    assert (
        annotations["Job/shop/smoke-test"]["argocd.argoproj.io/hook-delete-policy"]
        == "HookSucceeded"
    )
    waves_seen = {a.get("argocd.argoproj.io/sync-wave") for a in annotations.values()}
    assert {"-1", "0", "1", "2"} <= waves_seen

    _, [parent] = load_apps(str(SAMPLES / "app-of-apps"))
    assert [(c.name, c.wave) for c in parent.children] == [("guestbook", 0), ("waves", 1)]

    _, [infra, podinfo] = load_apps(str(SAMPLES / "flux"))
    assert (infra.name, podinfo.name, podinfo.depends_on) == ("infra", "apps", ("infra",))


def test_ignore_pointers_for_the_rendered_keys() -> None:
    deployment = ResourceKey("apps", "Deployment", "shop", "web")
    config = ResourceKey("", "ConfigMap", "shop", "settings")
    other = ResourceKey("", "Service", "shop", "web")
    app = AppSpec(
        "shop",
        AppKind.ARGO,
        AppSource("", "", "."),
        ignore_differences=(
            IgnoreDifference("apps", "Deployment", json_pointers=("/spec/replicas",)),
            IgnoreDifference("*", "*", namespace="shop", json_pointers=("/metadata/labels",)),
            IgnoreDifference(
                "", "ConfigMap", "settings", json_pointers=("/metadata/labels", "/data")
            ),
        ),
    )

    assert app.ignore_pointers_for([deployment, config, other]) == {
        deployment: ("/spec/replicas", "/metadata/labels"),
        config: ("/metadata/labels", "/data"),
        other: ("/metadata/labels",),
    }


def test_describe_names_the_source_without_credentials() -> None:
    source = AppSource("https://ghp_secret@github.com/example/shop", "v1", "deploy")

    assert source.describe == "https://***@github.com/example/shop deploy@v1"


def test_labels_of_argo_and_flux_apps_are_read(ws: Workspace) -> None:
    # What -l selects apps by: metadata.labels of the Application or Kustomization.
    argo = application("web")
    argo["metadata"]["labels"] = {"tier": "web", "env": "prod"}
    ws.write("apps/web.yaml", [argo, _apply(application("db"), {})])
    flux = flux_docs(ks={"metadata.labels": {"team": "shop"}})
    ws.write("flux/apps.yaml", flux)
    web, db = sorted(ws.load("apps"), key=lambda a: a.name, reverse=True)
    assert (web.labels, db.labels) == ((("env", "prod"), ("tier", "web")), ())
    assert web.label_map == {"env": "prod", "tier": "web"}
    (app,) = ws.load("flux")
    assert app.labels == (("team", "shop"),)
