"""ApplicationSets read as-is (issue 11 item 3), as a user meets them on the
command line: each generator, both template syntaxes, apps pruned when their
element goes (or kept with preserveResourcesOnDeletion), bad sets refused with
file:line before anything is applied. Everything runs on the embedded sandbox,
from Git repositories built in tmp dirs."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from gitwave.engine import operations
from gitwave.engine.clusters import Cluster, ClusterKind
from tests.tui.cli_support import run, sandbox_state

GIT_ENV = {
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@example.com",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@example.com",
    "PATH": "/usr/bin:/bin",
}


@pytest.fixture(autouse=True)
def sandbox_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return sandbox_state(tmp_path, monkeypatch)


def config_maps(capsys: pytest.CaptureFixture[str]) -> dict[str, dict[str, Any]]:
    """Every ConfigMap in the sandbox by ``namespace/name``."""
    code, out, err = run(capsys, "sandbox", "get", "-A", "-o", "json")
    assert code == 0, err
    return {
        f"{i['metadata'].get('namespace', '')}/{i['metadata']['name']}": i
        for i in json.loads(out)["items"]
        if i["kind"] == "ConfigMap"
    }


def config_map(name: str, value: str = "v") -> str:
    return (
        f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  namespace: default\n"
        f"data:\n  value: {value}\n"
    )


def commit(root: Path, files: dict[str, str | None], message: str = "change") -> Path:
    """Write (or, for None, delete) ``files`` in the repository ``root`` and commit."""
    for name, text in files.items():
        path = root / name
        if text is None:
            path.unlink()
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    env = {**GIT_ENV, "HOME": str(root)}
    if not (root / ".git").exists():
        subprocess.run(["git", "init", "-q", "-b", "main"], cwd=root, env=env, check=True)
    subprocess.run(["git", "add", "-A"], cwd=root, env=env, check=True)
    subprocess.run(["git", "commit", "-qm", message], cwd=root, env=env, check=True)
    return root


def app_set(
    generators: str,
    *,
    name: str = "team",
    app_name: str = "{{path.basename}}",
    path: str = "{{path}}",
    extra: str = "",
    policy: str = "",
) -> str:
    """An ApplicationSet whose template makes an app of ``path`` named ``app_name``."""
    return f"""apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata:
  name: {name}
spec:
{extra}  generators:
{generators}
  template:
    metadata:
      name: '{app_name}'
    spec:
      project: default
      source:
        repoURL: .
        targetRevision: HEAD
        path: '{path}'
      destination:
        server: https://kubernetes.default.svc
        namespace: default
      syncPolicy:
        automated:
          prune: true
{policy}"""


DIRECTORIES = """  - git:
      repoURL: .
      revision: HEAD
      directories:
      - path: apps/*
      - path: apps/skip
        exclude: true
"""


def apps_repo(tmp_path: Path, set_text: str, names: Sequence[str] = ("api", "web", "skip")) -> Path:
    files: dict[str, str | None] = {f"apps/{n}/cm.yaml": config_map(f"cm-{n}") for n in names}
    files["sets/set.yaml"] = set_text
    return commit(tmp_path / "repo", files, "init")


def synced_directories(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, **set_options: str
) -> tuple[Path, str]:
    """apps_repo with a DIRECTORIES set (``set_options`` to app_set), synced: the
    repository and its sets directory."""
    repo = apps_repo(tmp_path, app_set(DIRECTORIES, **set_options))
    sets = str(repo / "sets")
    assert run(capsys, "sync", sets)[0] == 0
    return repo, sets


# --- git directories, removal and preservation ------------------------------------------


def test_git_directories_make_one_app_each_and_a_removed_directory_is_pruned(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    repo = apps_repo(tmp_path, app_set(DIRECTORIES, app_name="{{path.basename}}-app"))
    sets = str(repo / "sets")
    code, out, err = run(capsys, "sync", sets)
    assert code == 0, out + err
    assert {"default/cm-api", "default/cm-web"} == set(config_maps(capsys))  # skip excluded
    code, out, err = run(capsys, "status", sets, "-o", "json")
    assert code == 0, err
    assert sorted(s["app"] for s in json.loads(out)) == ["api-app", "web-app"]

    commit(repo, {"apps/web/cm.yaml": None})
    code, out, err = run(capsys, "plan", sets)
    assert "web-app (removed from team) @" in out
    assert "- ConfigMap/default/cm-web (prune)" in out
    code, out, err = run(capsys, "sync", sets)
    assert code == 0, out + err
    assert set(config_maps(capsys)) == {"default/cm-api"}
    code, out, err = run(capsys, "plan", sets)
    assert code == 0, out
    assert "removed from" not in out
    code, out, err = run(capsys, "history", "web-app")
    assert code == 0, err
    assert "removed from team" in out


def test_preserve_resources_on_deletion_keeps_the_objects_of_a_removed_element(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    policy = "  syncPolicy:\n    preserveResourcesOnDeletion: true\n"
    repo, sets = synced_directories(capsys, tmp_path, extra=policy)
    before = config_maps(capsys)["default/cm-web"]["metadata"]["resourceVersion"]
    commit(repo, {"apps/web/cm.yaml": None})
    code, out, err = run(capsys, "plan", sets)
    assert code == 0, out + err
    assert "kept: ConfigMap/default/cm-web (app web was removed from team" in out
    assert run(capsys, "sync", sets)[0] == 0
    assert config_maps(capsys)["default/cm-web"]["metadata"]["resourceVersion"] == before
    assert "removed from" not in run(capsys, "plan", sets)[1]


def test_app_selects_one_generated_app_and_the_set_name_selects_all(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    repo = apps_repo(tmp_path, app_set(DIRECTORIES))
    sets = str(repo / "sets")
    code, out, err = run(capsys, "sync", sets, "--app", "web")
    assert code == 0, out + err
    assert set(config_maps(capsys)) == {"default/cm-web"}
    code, out, err = run(capsys, "plan", sets, "--app", "team")
    assert "api @" in out and "web @" in out
    code, out, err = run(capsys, "sync", sets, "--app", "nope")
    assert code != 0
    assert "no app named nope" in out + err
    assert "api" in out + err and "web" in out + err


# --- list, files, matrix, merge; both syntaxes -------------------------------------------


def test_list_generator_with_go_templates_and_functions(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    generators = """  - list:
      elements:
      - team: Payments_EU
        dir: api
        config: {tier: gold}
      - team: Search
        dir: nowhere
        config: {}
"""
    text = app_set(
        generators,
        extra="  goTemplate: true\n",
        app_name='{{ .team | normalize }}-{{ default "bronze" .config.tier | trunc 3 }}',
        path='apps/{{ if eq .team "Search" }}web{{ else }}{{ .dir }}{{ end }}',
    )
    repo = apps_repo(tmp_path, text)
    code, out, err = run(capsys, "sync", str(repo / "sets"))
    assert code == 0, out + err
    code, out, err = run(capsys, "status", str(repo / "sets"), "-o", "json")
    assert sorted(s["app"] for s in json.loads(out)) == ["payments-eu-gol", "search-bro"]
    assert set(config_maps(capsys)) == {"default/cm-api", "default/cm-web"}


def test_an_unknown_fasttemplate_key_is_left_as_written_as_argo_cd_does(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    repo = apps_repo(tmp_path, app_set(DIRECTORIES, app_name="{{path.basename}}-{{ nope }}"))
    code, _, err = run(capsys, "sync", str(repo / "sets"))
    assert code != 0
    assert "'api-{{ nope }}' is not a valid name" in err
    assert config_maps(capsys) == {}


def test_git_files_flattened_in_fasttemplate_and_nested_in_go_templates(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    files = """  - git:
      repoURL: .
      revision: HEAD
      files:
      - path: "config/**/settings.json"
"""
    fast = app_set(
        files,
        name="fast",
        app_name="{{cluster.name}}-{{path.basename}}",
        path="apps/{{cluster.dir}}",
    )
    go = app_set(
        files,
        name="go",
        extra='  goTemplate: true\n  goTemplateOptions: ["missingkey=error"]\n',
        app_name="go-{{ .cluster.name }}-{{ index .path.segments 1 }}",
        path="apps/{{ .cluster.dir }}",
    )
    repo = commit(
        tmp_path / "repo",
        {
            "apps/api/cm.yaml": config_map("cm-api"),
            "apps/web/cm.yaml": config_map("cm-web"),
            "config/eu/settings.json": '{"cluster": {"name": "eu", "dir": "api"}}',
            "config/us/settings.json": '{"cluster": {"name": "us", "dir": "web"}}',
            "config/us/other.json": '{"cluster": {"name": "x", "dir": "x"}}',
            "sets/fast.yaml": fast,
            "sets/go.yaml": go,
        },
    )
    code, out, err = run(capsys, "plan", str(repo / "sets"))
    assert code == 1, out + err
    for app in ("eu-eu", "us-us", "go-eu-eu", "go-us-us"):
        assert f"{app} @" in out
    assert "x-us" not in out


def test_matrix_feeds_the_first_generators_params_to_the_second(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    generators = """  - matrix:
      generators:
      - list:
          elements:
          - env: dev
          - env: prod
      - git:
          repoURL: .
          revision: HEAD
          directories:
          - path: "{{env}}/*"
"""
    text = app_set(generators, app_name="{{env}}-{{path.basename}}")
    repo = commit(
        tmp_path / "repo",
        {
            "dev/api/cm.yaml": config_map("dev-api"),
            "dev/web/cm.yaml": config_map("dev-web"),
            "prod/api/cm.yaml": config_map("prod-api"),
            "sets/set.yaml": text,
        },
    )
    code, out, err = run(capsys, "sync", str(repo / "sets"))
    assert code == 0, out + err
    assert set(config_maps(capsys)) == {"default/dev-api", "default/dev-web", "default/prod-api"}
    code, out, err = run(capsys, "status", str(repo / "sets"), "-o", "json")
    assert sorted(s["app"] for s in json.loads(out)) == ["dev-api", "dev-web", "prod-api"]


def test_merge_overrides_the_first_generators_sets_by_merge_key(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    generators = """  - merge:
      mergeKeys: [name]
      generators:
      - list:
          elements:
          - {name: a, dir: api}
          - {name: b, dir: api}
      - list:
          elements:
          - {name: b, dir: web}
          - {name: c, dir: web}
"""
    text = app_set(generators, app_name="m-{{name}}", path="apps/{{dir}}")
    repo = apps_repo(tmp_path, text)
    code, out, err = run(capsys, "plan", str(repo / "sets"))
    assert code == 1, out + err
    assert "m-a @" in out and "m-b @" in out and "m-c" not in out
    b_plan = out[out.index("m-b @") :]
    assert "+ ConfigMap/default/cm-web (create)" in b_plan


# --- refusals: nothing applied ------------------------------------------------------------


@pytest.mark.parametrize(
    ("generators", "extra", "app_name", "want"),
    [
        pytest.param(
            DIRECTORIES,
            "  goTemplate: true\n",
            "{{ .path.basename | shout }}",
            "sets/set.yaml:18 (ApplicationSet/team): spec.template.metadata.name: template "
            "'{{ .path.basename | shout }}': function \"shout\" not defined",
            id="unknown function",
        ),
        pytest.param(
            DIRECTORIES,
            "  goTemplate: true\n",
            "{{ if .path.basename }}x",
            "sets/set.yaml:18 (ApplicationSet/team): spec.template.metadata.name: template "
            "'{{ if .path.basename }}x': unclosed {{if}}",
            id="unclosed if",
        ),
        pytest.param(
            DIRECTORIES,
            "  goTemplate: true\n  goTemplateOptions: [missingkey=error]\n",
            "{{ .path.nope }}",
            'map has no entry for key "nope"',
            id="missingkey=error",
        ),
        pytest.param(
            DIRECTORIES,
            "  goTemplate: true\n",
            "{{ range 100000 }}{{ range 100000 }}{{ end }}{{ end }}x",
            "more than 200,000 evaluation steps",
            id="endless loop",
        ),
        pytest.param(
            "  - pullRequest:\n      github: {owner: o, repo: r}\n",
            "",
            "x",
            "sets/set.yaml:7 (ApplicationSet/team): spec.generators[0].pullRequest: this "
            "generator is not supported by gitwave",
            id="refused generator",
        ),
        pytest.param(
            "  - list:\n      elements:\n      - {n: a}\n      - {n: b}\n",
            "",
            "same",
            "two generated apps are named 'same': spec.generators[0] element 0 (n=a) and "
            "spec.generators[0] element 1 (n=b)",
            id="duplicate names",
        ),
    ],
)
def test_a_bad_set_is_refused_naming_file_line_and_nothing_is_applied(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    generators: str,
    extra: str,
    app_name: str,
    want: str,
) -> None:
    path = "{{ .path.path }}" if "goTemplate" in extra else "{{path}}"
    repo = apps_repo(tmp_path, app_set(generators, extra=extra, app_name=app_name, path=path))
    code, _, err = run(capsys, "sync", str(repo / "sets"))
    assert code != 0
    assert want in err
    assert config_maps(capsys) == {}


def test_a_broken_set_fails_alone_and_prunes_nothing(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    repo, sets = synced_directories(capsys, tmp_path)
    commit(
        repo,
        {
            "sets/set.yaml": app_set(
                DIRECTORIES, extra="  goTemplate: true\n", app_name="{{ .x | bad }}"
            )
        },
    )
    code, _, _ = run(capsys, "sync", sets)
    assert code != 0
    assert set(config_maps(capsys)) == {"default/cm-api", "default/cm-web"}


# --- one bad element ------------------------------------------------------------------------

THREE = """  - list:
      elements:
      - {n: api, dir: api}
      - {n: WEB_1, dir: web}
      - {n: skip, dir: skip}
"""
THREE_GO = """  - list:
      elements:
      - {n: api, dir: api}
      - {n: web}
      - {n: skip, dir: skip}
"""


@pytest.mark.parametrize(
    ("generators", "extra", "path", "want"),
    [
        pytest.param(
            THREE,
            "",
            "apps/{{dir}}",
            "error: team: sets/set.yaml:10 (ApplicationSet/team): spec.generators[0] element 1 "
            "(n=WEB_1, dir=web) generates an invalid Application: ",
            id="invalid name",
        ),
        pytest.param(
            THREE_GO,
            "  goTemplate: true\n  goTemplateOptions: [missingkey=error]\n",
            "apps/{{ .dir }}",
            "error: team: sets/set.yaml:23 (ApplicationSet/team): spec.generators[0] element 1 "
            "(n=web): spec.template.spec.source.path: template 'apps/{{ .dir }}': map has no "
            'entry for key "dir"',
            id="missing key",
        ),
    ],
)
def test_a_bad_element_fails_alone_and_the_other_elements_apps_sync(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    generators: str,
    extra: str,
    path: str,
    want: str,
) -> None:
    name = "{{ .n }}" if "goTemplate" in extra else "{{n}}"
    repo = apps_repo(tmp_path, app_set(generators, extra=extra, app_name=name, path=path))
    code, out, err = run(capsys, "sync", str(repo / "sets"))
    assert code == 2, out + err
    assert want in err, err
    assert "skipped" not in out
    assert set(config_maps(capsys)) == {"default/cm-api", "default/cm-skip"}
    code, out, err = run(capsys, "status", str(repo / "sets"), "-o", "json")
    apps = {s["app"] for s in json.loads(out) if "error" not in s}
    assert apps == {"api", "skip"}, out


def test_an_element_that_turns_bad_keeps_its_objects(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    good = THREE.replace("WEB_1", "web")
    repo = apps_repo(tmp_path, app_set(good, app_name="{{n}}", path="apps/{{dir}}"))
    sets = str(repo / "sets")
    assert run(capsys, "sync", sets)[0] == 0
    commit(repo, {"sets/set.yaml": app_set(THREE, app_name="{{n}}", path="apps/{{dir}}")})
    code, out, err = run(capsys, "sync", sets)
    assert code == 2
    assert "element 1 (n=WEB_1, dir=web)" in err
    assert "removed from" not in out
    assert set(config_maps(capsys)) == {"default/cm-api", "default/cm-web", "default/cm-skip"}


def test_a_generator_that_fails_as_a_whole_prunes_nothing(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    repo, sets = synced_directories(capsys, tmp_path)
    broken = DIRECTORIES.replace("repoURL: .", f"repoURL: {tmp_path / 'gone'}")
    commit(repo, {"sets/set.yaml": app_set(broken)})
    code, out, err = run(capsys, "sync", sets)
    assert code == 2, out + err
    assert "sets/set.yaml:" in err and "(ApplicationSet/team)" in err
    assert "removed from" not in out
    assert set(config_maps(capsys)) == {"default/cm-api", "default/cm-web"}


# --- a removed ApplicationSet ----------------------------------------------------------------


def test_deleting_the_set_file_prunes_the_apps_it_generated(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    repo = apps_repo(tmp_path, app_set(DIRECTORIES))
    commit(
        repo,
        {
            "sets/other.yaml": app_set(LIST_OTHER, name="other", app_name="{{n}}"),
            "extra/cm.yaml": config_map("cm-extra"),
        },
    )
    sets = str(repo / "sets")
    assert run(capsys, "sync", sets)[0] == 0
    assert set(config_maps(capsys)) == {"default/cm-api", "default/cm-web", "default/cm-extra"}

    commit(repo, {"sets/set.yaml": None})
    code, out, err = run(capsys, "plan", sets)
    assert "api (removed from team) @" in out, out + err
    assert "- ConfigMap/default/cm-api (prune)" in out
    code, out, err = run(capsys, "sync", sets)
    assert code == 0, out + err
    assert "web (removed from team) @" in out
    assert "other-extra (removed" not in out  # the other set, in the same directory, stays
    assert set(config_maps(capsys)) == {"default/cm-extra"}
    code, out, err = run(capsys, "plan", sets)
    assert "removed from" not in out, out
    code, out, err = run(capsys, "history", "api")
    assert "removed from team" in out


LIST_OTHER = """  - list:
      elements:
      - n: other-extra
        path: extra
"""


@pytest.mark.parametrize(
    ("text", "want"),
    [
        pytest.param(
            "apiVersion: argoproj.io/v1alpha1\nkind: ApplicationSet\nmetadata: {name: [team\n",
            "sets/set.yaml:4: malformed YAML",
            id="half-written set",
        ),
        pytest.param("kind: [unclosed\n", "sets/set.yaml:2: malformed YAML", id="not YAML"),
        pytest.param(
            "apiVersion: argoproj.io/v1alpha1\nkind: ApplicationSet\nmetadata: {name: 7}\n",
            "sets/set.yaml:1",
            id="set without a readable name",
        ),
    ],
)
def test_a_set_file_that_cannot_be_read_is_not_a_removed_set(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, text: str, want: str
) -> None:
    repo, sets = synced_directories(capsys, tmp_path)
    commit(repo, {"sets/set.yaml": text})
    code, out, err = run(capsys, "sync", sets)
    assert code != 0
    assert want in err
    assert "removed from" not in out
    assert set(config_maps(capsys)) == {"default/cm-api", "default/cm-web"}


def test_deleting_the_only_set_of_a_directory_prunes_its_apps(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    repo, sets = synced_directories(capsys, tmp_path)
    commit(repo, {"sets/set.yaml": None, "sets/README.md": "nothing here\n"})
    code, out, err = run(capsys, "sync", sets)
    assert code == 0, out + err
    assert "api (removed from team) @" in out
    assert config_maps(capsys) == {}


def test_a_deleted_set_with_preserve_resources_on_deletion_leaves_its_objects(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    policy = "  syncPolicy:\n    preserveResourcesOnDeletion: true\n"
    repo, sets = synced_directories(capsys, tmp_path, extra=policy)
    before = config_maps(capsys)["default/cm-web"]["metadata"]["resourceVersion"]
    commit(repo, {"sets/set.yaml": None})
    code, out, err = run(capsys, "plan", sets)
    assert "kept: ConfigMap/default/cm-web (app web was removed from team" in out, out + err
    code, out, err = run(capsys, "sync", sets)
    assert code == 0, out + err
    assert config_maps(capsys)["default/cm-web"]["metadata"]["resourceVersion"] == before
    assert "removed from" not in run(capsys, "plan", sets)[1]


def test_a_set_removed_from_an_app_of_apps_render_prunes_its_apps(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    repo = apps_repo(tmp_path, app_set(DIRECTORIES))
    commit(repo, {"root/root.yaml": ROOT, "sets/keep.yaml": config_map("kept")})
    root = str(repo / "root")
    assert run(capsys, "sync", root)[0] == 0
    assert "default/cm-api" in config_maps(capsys)
    commit(repo, {"sets/set.yaml": None})
    code, out, err = run(capsys, "sync", root)
    assert code == 0, out + err
    assert "api (removed from team) @" in out
    assert set(config_maps(capsys)) == {"default/kept"}


def test_the_apps_of_a_deleted_set_are_pruned_on_the_cluster_they_went_to(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, _, err = run(
        capsys, "cluster", "add", "east", "--sandbox", "--server", "https://127.0.0.2:6443"
    )
    assert code == 0, err
    text = app_set(DIRECTORIES).replace(
        "server: https://kubernetes.default.svc", "server: https://127.0.0.2:6443"
    )
    repo = apps_repo(tmp_path, text)
    sets = str(repo / "sets")
    code, out, err = run(capsys, "sync", sets)
    assert code == 0, out + err
    assert config_maps(capsys) == {}
    assert set(cluster_config_maps(capsys, "east")) == {"default/cm-api", "default/cm-web"}

    commit(repo, {"sets/set.yaml": None})
    code, out, err = run(capsys, "sync", sets)
    assert code == 0, out + err
    assert "api (removed from team) @ - -> east (https://127.0.0.2:6443)" in out
    assert cluster_config_maps(capsys, "east") == {}


def cluster_config_maps(capsys: pytest.CaptureFixture[str], cluster: str) -> dict[str, Any]:
    code, out, err = run(capsys, "sandbox", "get", "-A", "-o", "json", "--cluster", cluster)
    assert code == 0, err
    return {
        f"{i['metadata'].get('namespace', '')}/{i['metadata']['name']}": i
        for i in json.loads(out)["items"]
        if i["kind"] == "ConfigMap"
    }


def test_a_set_of_another_location_is_not_taken_for_removed(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    repo = apps_repo(tmp_path, app_set(DIRECTORIES))
    commit(repo, {"more/app.yaml": config_map("more")})
    assert run(capsys, "sync", str(repo / "sets"))[0] == 0
    code, out, err = run(capsys, "sync", str(repo / "more"))
    assert code == 0, out + err
    assert "removed from" not in out
    assert set(config_maps(capsys)) == {"default/cm-api", "default/cm-web", "default/more"}


ROOT = """apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: root
spec:
  project: default
  source: {repoURL: ., targetRevision: HEAD, path: sets}
  destination: {server: https://kubernetes.default.svc, namespace: default}
"""


# --- clusters ------------------------------------------------------------------------------


class TwoClusters:
    """A registry of two loopback clusters besides the current target."""

    def clusters(self) -> Sequence[Cluster]:
        return (
            Cluster("in-cluster", "https://kubernetes.default.svc", ClusterKind.CURRENT),
            Cluster(
                "Staging_1",
                "https://127.0.0.2:6443",
                ClusterKind.SANDBOX,
                labels=(("env", "staging"),),
            ),
            Cluster(
                "prod-1",
                "https://127.0.0.3:6443",
                ClusterKind.SANDBOX,
                labels=(("env", "prod"), ("tier", "gold")),
            ),
        )


CLUSTERS_SET = """apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata:
  name: fleet
spec:
  {go}
  generators:
  - clusters:
      selector:
        {selector}
      values:
        dir: api
  template:
    metadata:
      name: '{name}'
    spec:
      project: default
      source: {{repoURL: ., targetRevision: HEAD, path: 'apps/{dir}'}}
      destination: {{server: '{server}', namespace: default}}
"""


@pytest.mark.parametrize(
    ("go", "selector", "name", "dir_", "server", "want"),
    [
        (
            "",
            "matchLabels: {env: prod}",
            "{{name}}-{{metadata.labels.tier}}",
            "{{values.dir}}",
            "{{server}}",
            [("prod-1-gold", "https://127.0.0.3:6443")],
        ),
        (
            "goTemplate: true",
            "matchExpressions: [{key: env, operator: In, values: [staging]}]",
            "{{ .nameNormalized }}",
            "{{ .values.dir }}",
            "{{ .server }}",
            [("staging-1", "https://127.0.0.2:6443")],
        ),
        (
            "",
            "{}",
            "{{nameNormalized}}",
            "{{values.dir}}",
            "{{server}}",
            [
                ("in-cluster", "https://kubernetes.default.svc"),
                ("prod-1", "https://127.0.0.3:6443"),
                ("staging-1", "https://127.0.0.2:6443"),
            ],
        ),
    ],
)
def test_the_clusters_generator_picks_clusters_by_label(
    tmp_path: Path,
    go: str,
    selector: str,
    name: str,
    dir_: str,
    server: str,
    want: list[tuple[str, str]],
) -> None:
    text = CLUSTERS_SET.format(go=go, selector=selector, name=name, dir=dir_, server=server)
    repo = apps_repo(tmp_path, text)
    apps = operations.select_apps(str(repo / "sets"), clusters=TwoClusters())
    assert sorted((a.name, a.destination_server) for a in apps) == want
    assert all(a.source.path == "apps/api" for a in apps)


def test_without_a_registry_the_clusters_generator_sees_only_the_current_target(
    tmp_path: Path,
) -> None:
    text = CLUSTERS_SET.format(
        go="", selector="{}", name="{{name}}", dir="api", server="{{server}}"
    )
    apps = operations.select_apps(str(apps_repo(tmp_path, text) / "sets"))
    assert [(a.name, a.destination_server) for a in apps] == [
        ("in-cluster", "https://kubernetes.default.svc")
    ]


# --- app of apps ------------------------------------------------------------------------


def test_an_application_set_inside_an_app_of_apps_render_generates_its_apps(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    parent = """apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: root
spec:
  project: default
  source: {repoURL: ., targetRevision: HEAD, path: sets}
  destination: {server: https://kubernetes.default.svc, namespace: default}
"""
    repo = apps_repo(tmp_path, app_set(DIRECTORIES))
    commit(repo, {"root/root.yaml": parent})
    code, out, err = run(capsys, "sync", str(repo / "root"))
    assert code == 0, out + err
    assert set(config_maps(capsys)) == {"default/cm-api", "default/cm-web"}
    code, out, err = run(capsys, "sandbox", "get", "-A", "-o", "json")
    assert "ApplicationSet" not in out  # read as apps, never applied as an object


def test_the_sample_makes_one_app_per_team(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(
        Path(__file__).resolve().parents[2] / "samples" / "appset", repo / "samples" / "appset"
    )
    commit(repo, {})
    code, out, err = run(capsys, "sync", str(repo / "samples" / "appset"))
    assert code == 0, out + err
    assert set(config_maps(capsys)) == {"team-payments/settings", "team-search/settings"}


def test_template_patch_is_merged_into_each_generated_application(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    patch = """  templatePatch: |
    {{- if eq .path.basename "web" }}
    spec:
      source:
        path: apps/api
    {{- end }}
"""
    text = app_set(
        DIRECTORIES,
        extra="  goTemplate: true\n" + patch,
        app_name="p-{{ .path.basename }}",
        path="{{ .path.path }}",
    )
    repo = apps_repo(tmp_path, text)
    apps = {a.name: a.source.path for a in operations.select_apps(str(repo / "sets"))}
    assert apps == {"p-api": "apps/api", "p-web": "apps/api"}


def test_the_generated_apps_obey_their_app_project(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    project = """apiVersion: argoproj.io/v1alpha1
kind: AppProject
metadata:
  name: team-a
spec:
  sourceRepos: ["*"]
  destinations:
  - server: https://kubernetes.default.svc
    namespace: default
---
"""
    generators = """  - list:
      elements:
      - {name: ok, ns: default}
      - {name: other, ns: elsewhere}
"""
    text = (
        app_set(generators, app_name="{{name}}", path="apps/api")
        .replace("project: default", "project: team-a")
        .replace("namespace: default", "namespace: '{{ns}}'")
    )
    repo = apps_repo(tmp_path, project + text)
    code, out, err = run(capsys, "sync", str(repo / "sets"))
    assert code != 0
    assert "Application/other (sets/set.yaml:11): AppProject/team-a: destinations" in err, err
    code, out, err = run(capsys, "sync", str(repo / "sets"), "--app", "ok")
    assert code == 0, out + err
    assert set(config_maps(capsys)) == {"default/cm-api"}
