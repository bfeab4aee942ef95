"""engine.promotion, engine.triage, engine.source_write and engine.yaml_edit
against real Git repositories in tmp_path, the real helm and kustomize, and
the sandbox: Helm values keys, Argo CD targetRevision, environments given as
paths, the plain-directory ignore annotation, and what is refused."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from gitwave.engine import operations
from gitwave.engine.apps import AppSpec
from gitwave.engine.errors import PathEscapeError, SafetyError, ValidationError
from gitwave.engine.model import ResourceKey
from gitwave.engine.promotion import PromotionRefused, PromotionRequest, promote
from gitwave.engine.router import ProviderRouter
from gitwave.engine.source_write import Scratch, check_branch_name
from gitwave.engine.triage import Decision, TriageRequest, git_change
from gitwave.engine.triage_fields import choose_field, drift_of
from gitwave.engine.yaml_edit import YamlFile
from gitwave.providers.sandbox import SandboxProvider

TESTDATA = Path(__file__).resolve().parents[1] / "testdata"
SAMPLES = Path(__file__).resolve().parents[2] / "samples"


def git(repo: Path, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.com",
    }
    done = subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True, env=env
    )
    return done.stdout


def load(location: str) -> Sequence[AppSpec]:
    return operations.select_apps(location)


@pytest.fixture
def targets(tmp_path: Path) -> ProviderRouter:
    return ProviderRouter([SandboxProvider(tmp_path / "state", rollout_seconds=0.0)])


def sync(app_name: str, location: Path, targets: ProviderRouter) -> None:
    [app] = [a for a in load(str(location)) if a.name == app_name]
    assert operations.sync_app(app, targets=targets, store=None).result.ok


APPS = """\
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: demo-{env}
spec:
  source:
    repoURL: .
    targetRevision: {revision}  # the release {env} runs
    path: chart
    helm:
      valueFiles:
        - values-{env}.yaml
  destination:
    namespace: {env}
"""


def helm_repo(root: Path, *, staging: str = "HEAD", production: str = "HEAD") -> Path:
    shutil.copytree(TESTDATA / "render" / "chart", root / "chart")
    for env in ("staging", "production"):
        (root / env).mkdir()
        (root / env / "namespace.yaml").write_text(
            f"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {env}\n"
        )
    (root / "chart" / "values-staging.yaml").write_text("greeting: hi from v2  # new\n")
    (root / "chart" / "values-production.yaml").write_text(
        "# production's values\ngreeting: hello  # old\n"
    )
    (root / "apps.yaml").write_text(
        APPS.format(env="staging", revision=staging)
        + "---\n"
        + APPS.format(env="production", revision=production)
    )
    subprocess.run(["git", "init", "-q", "-b", "main", str(root)], check=True)
    git(root, "add", ".")
    git(root, "commit", "-qm", "init")
    return root


@pytest.fixture
def helm_env(tmp_path: Path, targets: ProviderRouter) -> Path:
    if shutil.which("helm") is None:
        pytest.fail("`make tools` builds helm onto PATH; promotion of Helm values needs it")
    root = helm_repo(tmp_path / "repo")
    for env in ("staging", "production"):
        [ns] = load(str(root / env))
        assert operations.sync_app(ns, targets=targets, store=None).result.ok
    sync("demo-staging", root, targets)
    return root


def test_helm_key_is_copied_between_values_files(helm_env: Path, targets: ProviderRouter) -> None:
    request = PromotionRequest("demo", "staging", "production", keys=("greeting",))
    done = promote(str(helm_env), request, load=load, targets=lambda app: targets)
    assert done.commit is not None
    text = git(helm_env, "show", f"{done.commit.branch}:chart/values-production.yaml")
    # The comment stays on its line (a single space before it: the value grew past it).
    assert text == "# production's values\ngreeting: hi from v2 # old\n"
    assert "-  greeting: hello\n+  greeting: hi from v2\n" in done.manifest_diff
    assert "ConfigMap/production/demo-production-config (before)" in done.manifest_diff


def test_argo_target_revision_is_promoted(tmp_path: Path, targets: ProviderRouter) -> None:
    if shutil.which("helm") is None:
        pytest.fail("`make tools` builds helm onto PATH")
    root = helm_repo(tmp_path / "repo", staging="v2", production="v1")
    git(root, "tag", "v1")
    template = root / "chart" / "templates" / "configmap.yaml"
    template.write_text(template.read_text() + "  release: v2\n")
    git(root, "commit", "-qam", "v2 of the chart")
    git(root, "tag", "v2")
    for env in ("staging", "production"):
        [ns] = load(str(root / env))
        assert operations.sync_app(ns, targets=targets, store=None).result.ok
    sync("demo-staging", root, targets)
    request = PromotionRequest("demo", "staging", "production", dry_run=True)
    done = promote(str(root), request, load=load, targets=lambda app: targets)
    [edit] = done.edits
    assert (edit.file, edit.field, edit.before, edit.after) == (
        "apps.yaml",
        "spec.source.targetRevision",
        "v1",
        "v2",
    )
    # The comment on the line stays; production renders the chart of v2 now.
    assert "-    targetRevision: v1  # the release production runs\n" in done.file_diff
    assert "+    targetRevision: v2  # the release production runs\n" in done.file_diff
    assert "+  release: v2\n" in done.manifest_diff
    assert done.commit is None and "gitwave/" not in git(root, "branch", "--list")


def test_environments_given_as_paths(tmp_path: Path, targets: ProviderRouter) -> None:
    root = tmp_path / "repo"
    shutil.copytree(SAMPLES / "kustomize", root)
    (root / "apps.yaml").unlink()  # plain overlays, no Applications
    subprocess.run(["git", "init", "-q", "-b", "main", str(root)], check=True)
    git(root, "add", ".")
    git(root, "commit", "-qm", "init")
    [staging] = load(str(root / "overlays" / "staging"))
    assert operations.sync_app(staging, targets=targets, store=None).result.ok
    request = PromotionRequest(
        "web", "overlays/staging", "overlays/production", fields=("/replicas/0/count",)
    )
    done = promote(str(root), request, load=load, targets=lambda app: targets)
    assert [e.field for e in done.edits] == ["images[nginx].newTag", "/replicas/0/count"]
    # Without the Application's pin, production now runs nginx 1.26 on 2 replicas.
    assert "-        image: nginx:1.27\n+        image: nginx:1.26\n" in done.manifest_diff
    assert done.commit is not None
    assert done.commit.branch == "gitwave/promote-web-overlays-staging-to-overlays-production"
    # Again: production has what staging has, nothing to do, no second branch.
    again = promote(str(root), request, load=load, targets=lambda app: targets)
    assert again.edits and again.commit is not None  # HEAD still has the old values
    git(root, "merge", "-q", "--ff-only", done.commit.branch)
    settled = promote(str(root), request, load=load, targets=lambda app: targets)
    assert settled.edits == () and settled.commit is None


def test_an_unknown_environment_names_what_was_looked_for(
    tmp_path: Path, targets: ProviderRouter
) -> None:
    root = helm_repo(tmp_path / "repo")
    request = PromotionRequest("demo", "staging", "qa")
    with pytest.raises(
        ValidationError, match=r"looked for an app named demo-qa, demo/overlays/qa/"
    ):
        promote(str(root), request, load=load, targets=lambda app: targets)
    # demo-staging cannot even be planned (its namespace exists nowhere): refused too.
    with pytest.raises(PromotionRefused, match=r"demo-staging \(staging\) could not be checked"):
        promote(
            str(root),
            PromotionRequest("demo", "staging", "production"),
            load=load,
            targets=lambda app: targets,
        )


# --- triage of a plain directory -----------------------------------------------------------


@dataclass
class Guestbook:
    root: Path
    targets: ProviderRouter
    sandbox: SandboxProvider


@pytest.fixture
def guestbook(tmp_path: Path) -> Guestbook:
    sandbox = SandboxProvider(tmp_path / "state", rollout_seconds=0.0)
    targets = ProviderRouter([sandbox])
    root = tmp_path / "repo"
    shutil.copytree(SAMPLES / "guestbook", root / "guestbook")
    subprocess.run(["git", "init", "-q", "-b", "main", str(root)], check=True)
    git(root, "add", ".")
    git(root, "commit", "-qm", "init")
    sync("guestbook", root / "guestbook", targets)
    sandbox.scale(ResourceKey("apps", "Deployment", "guestbook", "guestbook-ui"), 5)
    return Guestbook(root, targets, sandbox)


def test_ignore_annotation_on_a_plain_directory_ends_the_drift(guestbook: Guestbook) -> None:
    [app] = load(str(guestbook.root / "guestbook"))
    state = operations.plan(app, operations.SyncRequest(), targets=guestbook.targets)
    field = choose_field(drift_of(state), resource="deployment/guestbook-ui")
    done = git_change(state, TriageRequest(Decision.IGNORE, field), targets=guestbook.targets)
    assert done.commit is not None
    assert (
        "+  annotations:\n+    gitwave.dev/ignore-differences: /spec/replicas\n" in done.file_diff
    )
    git(guestbook.root, "checkout", "-q", done.commit.branch)
    [app] = load(str(guestbook.root / "guestbook"))
    state = operations.plan(app, operations.SyncRequest(), targets=guestbook.targets)
    # Only the annotation itself is left to apply; replicas is no longer drift.
    assert [f.path for f in drift_of(state)] == [
        'metadata.annotations["gitwave.dev/ignore-differences"]'
    ]


def test_accept_edits_the_document_and_refuses_secrets(guestbook: Guestbook) -> None:
    [app] = load(str(guestbook.root / "guestbook"))
    state = operations.plan(app, operations.SyncRequest(), targets=guestbook.targets)
    [field] = drift_of(state)
    done = git_change(
        state, TriageRequest(Decision.ACCEPT, field, dry_run=True), targets=guestbook.targets
    )
    assert "-  replicas: 3\n+  replicas: 5\n" in done.file_diff
    assert done.commit is None and "gitwave/" not in git(guestbook.root, "branch", "--list")
    secret = ResourceKey("", "Secret", "guestbook", "creds")
    forged = type(field)(secret, "stringData.password", "***", "***")
    with pytest.raises(SafetyError, match="never writes a Secret's value"):
        git_change(state, TriageRequest(Decision.ACCEPT, forged), targets=guestbook.targets)


# --- the pieces -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, ok",
    [
        ("gitwave/promote-web", True),
        ("release-1.2", True),
        ("-x", False),
        ("--upload-pack=evil", False),
        ("a..b", False),
        ("a b", False),
        ("x.lock", False),
        ("a/.hidden", False),
        ("a@{1}", False),
        ("trailing/", False),
    ],
)
def test_branch_names(name: str, ok: bool) -> None:
    if ok:
        assert check_branch_name(name) == name
    else:
        with pytest.raises(ValidationError, match="not a valid branch name"):
            check_branch_name(name)


def test_scratch_never_writes_outside_the_repository(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    (root / "a").mkdir(parents=True)
    (root / "a" / "f.yaml").write_text("x: 1\n")
    (root / "link.yaml").symlink_to(tmp_path / "outside.yaml")
    subprocess.run(["git", "init", "-q", "-b", "main", str(root)], check=True)
    git(root, "add", ".")
    git(root, "commit", "-qm", "init")
    with Scratch(root) as scratch:
        with pytest.raises(PathEscapeError):
            scratch.write("../escape.yaml", "x: 2\n")
        with pytest.raises(PathEscapeError):
            scratch.write("/etc/passwd", "x: 2\n")
        with pytest.raises(PathEscapeError):
            scratch.write("link.yaml", "x: 2\n")
    assert not (tmp_path / "outside.yaml").exists() and not (tmp_path / "escape.yaml").exists()
    assert git(root, "worktree", "list").count("\n") == 1


def test_yaml_that_cannot_round_trip_is_refused_not_reformatted() -> None:
    kept = "a:   1\nb: {c: 2}\n"
    with pytest.raises(ValidationError, match="without reformatting"):
        YamlFile.parse(kept, "x.yaml")
    text = "# top\nkind: A  # why\nlist:\n  - 1\n  - 'two'\n---\nkind: B\n"
    parsed = YamlFile.parse(text, "y.yaml")
    assert parsed.text() == text
    parsed.docs[0]["list"][0] = 3
    assert parsed.text() == text.replace("  - 1\n", "  - 3\n")


def test_a_bad_ignore_annotation_names_the_object_and_file() -> None:
    from gitwave.engine.ignore_annotation import annotation_pointers
    from gitwave.engine.model import Resource, SourceRef

    key = ResourceKey("apps", "Deployment", "shop", "api")
    manifest = {
        "metadata": {
            "name": "api",
            "annotations": {"gitwave.dev/ignore-differences": "/spec/replicas, spec/template"},
        }
    }
    bad = Resource(key, "apps/v1", manifest, SourceRef("shop/api.yaml", 3))
    with pytest.raises(ValidationError, match=r"Deployment/shop/api \(shop/api.yaml:3\)"):
        annotation_pointers([bad])
    manifest["metadata"]["annotations"]["gitwave.dev/ignore-differences"] = "/spec/replicas, /a~1b"
    good = Resource(key, "apps/v1", manifest)
    assert annotation_pointers([good]) == {key: ("/spec/replicas", "/a~1b")}


def test_outside_git_there_is_nothing_to_commit_to(tmp_path: Path) -> None:
    from gitwave.engine.errors import SourceError

    with pytest.raises(SourceError, match="not in a Git work tree"):
        Scratch(tmp_path)
