"""Flux image automation against a real OCI registry and real Git remotes.

The registry is CNCF distribution on 127.0.0.1 (tests/oci_registry.py); the
GitRepository is a bare repository in tmp_path; the user runs
``gitwave image scan|update`` on a clone of it, as they would on their laptop.
"""

from __future__ import annotations

import json
import subprocess
import textwrap
from dataclasses import dataclass
from pathlib import Path

import git
import pytest

from gitwave.engine.images.policy import parse_tag_policy
from tests.oci_registry import OciRegistry, start_registry
from tests.tui.cli_support import run, sandbox_state

TAGS = ("1.0.0", "1.1.0", "1.2.0-rc.1", "2.0.0")


@dataclass
class Setup:
    remote: Path
    work: Path
    image: str

    def remote_file(self, rel: str, branch: str = "main") -> str:
        return git.Repo(self.remote).git.show(f"{branch}:{rel}")

    def remote_log(self, branch: str = "main") -> list[str]:
        return git.Repo(self.remote).git.log("--format=%an <%ae>|%B%x00", branch).split("\x00")


def _flux_objects(image: str, remote: Path, *, policy: str, automation: str = "") -> str:
    return (
        textwrap.dedent(
            f"""\
        apiVersion: source.toolkit.fluxcd.io/v1
        kind: GitRepository
        metadata: {{name: fleet, namespace: flux-system}}
        spec:
          interval: 1m
          url: {remote}
          ref: {{branch: main}}
        ---
        apiVersion: image.toolkit.fluxcd.io/v1beta2
        kind: ImageRepository
        metadata: {{name: app, namespace: flux-system}}
        spec:
          image: {image}
          interval: 5m
          insecure: true
        ---
        apiVersion: image.toolkit.fluxcd.io/v1beta2
        kind: ImagePolicy
        metadata: {{name: app, namespace: flux-system}}
        spec:
          imageRepositoryRef: {{name: app}}
        """
        )
        + textwrap.indent(policy, "  ")
        + (automation or _AUTOMATION)
    )


_TEMPLATE = """\
      messageTemplate: |
        Automated image update by {{ .AutomationObject }}

        {{ range $resource, $changes := .Changed.Objects -}}
        - {{ $resource.Kind }}/{{ $resource.Name }}:
        {{- range $_, $c := $changes }} {{ $c.OldValue }} -> {{ $c.NewValue }}{{ end }}
        {{ end -}}
        cluster {{ .Values.cluster }}
      messageTemplateValues: {cluster: prod}
"""


def _automation(*, push: str = "main", template: bool = True, path: str = "./apps") -> str:
    commit = "    commit:\n      author: {name: fluxbot, email: fluxbot@example.com}\n"
    if template:
        commit += _TEMPLATE
    return (
        textwrap.dedent(
            """\
            ---
            apiVersion: image.toolkit.fluxcd.io/v1beta2
            kind: ImageUpdateAutomation
            metadata: {name: apps, namespace: flux-system}
            spec:
              interval: 30m
              sourceRef: {kind: GitRepository, name: fleet}
              git:
                checkout: {ref: {branch: main}}
            """
        )
        + commit
        + f"    push: {{branch: {push}}}\n  update: {{path: {path}, strategy: Setters}}\n"
    )


_AUTOMATION = _automation()

_DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
spec:
  template:
    spec:
      containers:
        - name: web
          image: {image}:1.0.0 # {{"$imagepolicy": "flux-system:app"}}
---
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: web-chart
  namespace: shop
spec:
  values:
    image:
      repository: old.example.com/app # {{"$imagepolicy": "flux-system:app:name"}}
      tag: "1.0.0" # {{"$imagepolicy": "flux-system:app:tag"}}
      pullPolicy: IfNotPresent # {{"$imagepolicy": "flux-system:other"}}
"""


def _make_repo(tmp_path: Path, image: str, policy: str, automation: str = "") -> Setup:
    remote = tmp_path / "fleet.git"
    git.Repo.init(remote, bare=True, initial_branch="main")
    work = tmp_path / "work"
    repo = git.Repo.clone_from(str(remote), work)
    (work / "flux").mkdir()
    (work / "flux" / "images.yaml").write_text(
        _flux_objects(image, remote, policy=policy, automation=automation)
    )
    (work / "apps").mkdir()
    (work / "apps" / "web.yaml").write_text(_DEPLOYMENT.format(image=image))
    repo.index.add(["flux/images.yaml", "apps/web.yaml"])
    actor = git.Actor("dev", "dev@example.com")
    repo.index.commit("fleet", author=actor, committer=actor)
    repo.git.push("origin", "HEAD:refs/heads/main")
    return Setup(remote=remote, work=work, image=image)


@pytest.fixture
def app_registry(oci_registry: OciRegistry) -> OciRegistry:
    for tag in TAGS:
        oci_registry.push_image("team/app", tag)
    return oci_registry


SEMVER = "policy:\n  semver:\n    range: '>=1.0.0 <2.0.0'\n"


def test_scan_picks_the_highest_release_in_range(
    app_registry: OciRegistry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    sandbox_state(tmp_path, monkeypatch)
    setup = _make_repo(tmp_path, f"{app_registry.host}/team/app", SEMVER)

    code, out, err = run(capsys, "image", "scan", str(setup.work / "flux"))

    assert code == 0, err
    assert "imagerepository/app" in out and "found 4 tags" in out
    assert f"flux-system   imagepolicy/app   {setup.image}:1.1.0" in out

    code, out, _ = run(capsys, "image", "scan", str(setup.work / "flux"), "-o", "json")
    data = json.loads(out)
    assert sorted(data["imageRepositories"][0]["tags"]) == sorted(TAGS)
    assert data["imagePolicies"][0]["latestImage"] == f"{setup.image}:1.1.0"


@dataclass(frozen=True)
class Case:
    reason: str
    tags: tuple[str, ...]
    spec: dict
    want: str | None


CASES = [
    Case("semver skips pre-releases", TAGS, {"policy": {"semver": {"range": ">=1.0.0"}}}, "2.0.0"),
    Case(
        "semver with a pre-release constraint takes it",
        TAGS,
        {"policy": {"semver": {"range": ">=1.2.0-rc.0 <2.0.0"}}},
        "1.2.0-rc.1",
    ),
    Case(
        "filterTags extract orders by the captured timestamp",
        ("main-abc1234-1700000300", "main-fff0000-1700000100", "dev-aaa-1800000000", "latest"),
        {
            "filterTags": {"pattern": r"^main-[a-f0-9]+-(?P<ts>[0-9]+)", "extract": "$ts"},
            "policy": {"numerical": {"order": "asc"}},
        },
        "main-abc1234-1700000300",
    ),
    Case(
        "alphabetical asc takes the last",
        ("RELEASE.2024-01-02", "RELEASE.2024-03-01", "RELEASE.2023-12-31"),
        {"policy": {"alphabetical": {"order": "asc"}}},
        "RELEASE.2024-03-01",
    ),
    Case(
        "alphabetical desc takes the first",
        ("b", "c", "a"),
        {"policy": {"alphabetical": {"order": "desc"}}},
        "a",
    ),
    Case("numerical asc", ("9", "10", "2"), {"policy": {"numerical": {}}}, "10"),
    Case("numerical desc", ("9", "10", "2"), {"policy": {"numerical": {"order": "desc"}}}, "2"),
    Case("no tag in range", TAGS, {"policy": {"semver": {"range": ">=3"}}}, None),
]


@pytest.mark.parametrize("case", CASES, ids=[c.reason for c in CASES])
def test_policies_choose_among_the_registry_tags(
    case: Case, oci_registry: OciRegistry, tmp_path: Path
) -> None:
    from gitwave.engine.images import load_image_objects, scan

    for tag in case.tags:
        oci_registry.push_image("team/tags", tag)
    policy_yaml = json.dumps({k: v for k, v in case.spec.items()})
    (tmp_path / "objects.yaml").write_text(
        textwrap.dedent(
            f"""\
            apiVersion: image.toolkit.fluxcd.io/v1beta2
            kind: ImageRepository
            metadata: {{name: tags, namespace: ns}}
            spec: {{image: {oci_registry.host}/team/tags, interval: 1m, insecure: true}}
            ---
            apiVersion: image.toolkit.fluxcd.io/v1beta2
            kind: ImagePolicy
            metadata: {{name: pick, namespace: ns}}
            spec: {{imageRepositoryRef: {{name: tags}}, {policy_yaml[1:-1]}}}
            """
        )
    )
    report = scan(load_image_objects(tmp_path))
    choice = report.policies[0]
    if case.want is None:
        assert choice.latest is None
        assert "no tag of" in choice.error and "ImagePolicy/ns/pick" in choice.error
    else:
        assert choice.latest is not None, choice.error
        assert choice.latest.tag == case.want


def test_numerical_policy_refuses_a_tag_that_is_no_number() -> None:
    policy = parse_tag_policy({"policy": {"numerical": {"order": "asc"}}}, "p.yaml:1")
    with pytest.raises(ValueError, match="'latest' is not a number"):
        policy.latest(["1", "latest"])


def test_update_commits_the_templated_message_and_pushes(
    app_registry: OciRegistry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    sandbox_state(tmp_path, monkeypatch)
    setup = _make_repo(tmp_path, f"{app_registry.host}/team/app", SEMVER)
    before = git.Repo(setup.remote).commit("main").hexsha

    code, out, err = run(capsys, "image", "update", str(setup.work / "flux"))

    assert code == 0, err
    assert f"imagepolicy/app: {setup.image}:1.1.0" in out
    assert f"-          image: {setup.image}:1.0.0 #" in out
    assert f"+          image: {setup.image}:1.1.0 #" in out
    assert "pushed commit" in out and "to branch 'main'" in out
    web = setup.remote_file("apps/web.yaml")
    assert f'image: {setup.image}:1.1.0 # {{"$imagepolicy": "flux-system:app"}}' in web
    assert f"repository: {setup.image} # " in web
    assert 'tag: "1.1.0" # ' in web
    assert "pullPolicy: IfNotPresent" in web  # a marker of an unknown policy is left alone
    head = git.Repo(setup.remote).commit("main")
    assert head.parents[0].hexsha == before
    assert head.author.name == "fluxbot" and head.author.email == "fluxbot@example.com"
    assert head.message == (
        "Automated image update by flux-system/apps\n\n"
        f"- Deployment/web: {setup.image}:1.0.0 -> {setup.image}:1.1.0\n"
        f"- HelmRelease/web-chart: old.example.com/app -> {setup.image} 1.0.0 -> 1.1.0\n"
        "cluster prod\n"
    )
    # The operator's own work tree is untouched: the automation worked in a clone.
    assert f"{setup.image}:1.0.0" in (setup.work / "apps" / "web.yaml").read_text()

    # A second run finds every image up to date: no commit, nothing pushed.
    code, out, err = run(capsys, "image", "update", str(setup.work / "flux"))
    assert code == 0, err
    assert "no change" in out
    assert git.Repo(setup.remote).commit("main").hexsha == head.hexsha


def test_dry_run_prints_the_diff_and_commits_nothing(
    app_registry: OciRegistry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    sandbox_state(tmp_path, monkeypatch)
    setup = _make_repo(tmp_path, f"{app_registry.host}/team/app", SEMVER)
    before = git.Repo(setup.remote).commit("main").hexsha

    code, out, err = run(capsys, "image", "update", str(setup.work / "flux"), "--dry-run")

    assert code == 0, err
    assert f"+          image: {setup.image}:1.1.0 #" in out
    assert "dry run, nothing committed" in out
    assert git.Repo(setup.remote).commit("main").hexsha == before


def test_push_branch_other_than_checkout(
    app_registry: OciRegistry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    sandbox_state(tmp_path, monkeypatch)
    automation = _automation(push="image-updates", template=False)
    setup = _make_repo(tmp_path, f"{app_registry.host}/team/app", SEMVER, automation)
    main_before = git.Repo(setup.remote).commit("main").hexsha

    code, out, err = run(capsys, "image", "update", str(setup.work / "flux"))

    assert code == 0, err
    assert "to branch 'image-updates'" in out
    assert git.Repo(setup.remote).commit("main").hexsha == main_before
    assert f"{setup.image}:1.1.0" in setup.remote_file("apps/web.yaml", "image-updates")
    assert git.Repo(setup.remote).commit("image-updates").message == (
        "Update from image update automation"
    )


def test_unreachable_registry_names_the_repository_and_url(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    sandbox_state(tmp_path, monkeypatch)
    with start_registry(tmp_path / "gone") as registry:
        host = registry.host
        registry.stop()
    setup = _make_repo(tmp_path, f"{host}/team/app", SEMVER)
    before = git.Repo(setup.remote).commit("main").hexsha

    code, _, err = run(capsys, "image", "update", str(setup.work / "flux"))

    assert code == 1
    assert (
        f"ImageRepository/flux-system/app: cannot reach the registry at "
        f"http://{host}/v2/team/app/tags/list" in err
    )
    assert git.Repo(setup.remote).commit("main").hexsha == before

    code, _, err = run(capsys, "image", "scan", str(setup.work / "flux"))
    assert code == 1
    assert f"http://{host}/v2/team/app/tags/list" in err


def test_a_local_git_url_outside_the_repository_is_refused(
    app_registry: OciRegistry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    sandbox_state(tmp_path, monkeypatch)
    setup = _make_repo(tmp_path, f"{app_registry.host}/team/app", SEMVER)
    elsewhere = tmp_path / "elsewhere.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(setup.remote), str(elsewhere)], check=True)
    images = setup.work / "flux" / "images.yaml"
    images.write_text(images.read_text().replace(f"url: {setup.remote}", f"url: {elsewhere}"))

    code, _, err = run(capsys, "image", "update", str(setup.work / "flux"))

    assert code == 1
    assert "outside the repository" in err and "--allow-local-repo" in err

    code, _, err = run(
        capsys, "image", "update", str(setup.work / "flux"), "--allow-local-repo", str(elsewhere)
    )
    assert code == 0, err
    assert f"{setup.image}:1.1.0" in git.Repo(elsewhere).git.show("main:apps/web.yaml")


def test_update_path_cannot_escape_the_repository(
    app_registry: OciRegistry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    sandbox_state(tmp_path, monkeypatch)
    automation = _automation(path="../../etc")
    setup = _make_repo(tmp_path, f"{app_registry.host}/team/app", SEMVER, automation)

    code, _, err = run(capsys, "image", "update", str(setup.work / "flux"))

    assert code == 1
    assert "../../etc: path escapes the repository" in err
