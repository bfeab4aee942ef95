"""A real Helm chart repository for tests: charts made by ``helm create``-like
files, packaged by the real ``helm package``, indexed by ``helm repo index``
and served on 127.0.0.1 by a threading HTTP server that counts requests."""

from __future__ import annotations

import shutil
import ssl
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from gitwave.engine.render.charts import forget_indexes
from tests.tui.cli_support import sandbox_state


def helm_binary() -> str:
    helm = shutil.which("helm")
    if helm is None:
        pytest.fail("helm is not on PATH: `make tools` builds it into ~/.cache/gitwave/tools")
    return helm


CONFIGMAP = """apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-settings
  namespace: {{ .Release.Namespace }}
data:
  greeting: {{ .Values.greeting | quote }}
  chart: {{ .Chart.Version | quote }}
"""

DEPLOYMENT = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}-web
spec:
  replicas: {{ .Values.replicas }}
  selector:
    matchLabels: {app: {{ .Release.Name }}}
  template:
    metadata:
      labels: {app: {{ .Release.Name }}}
    spec:
      containers:
        - name: web
          image: "nginx:{{ .Values.tag }}"
"""

# A namespaced CRD a chart may ship (crds/) or guard its templates on.
WIDGET_CRD = """apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  scope: Namespaced
  names: {kind: Widget, plural: widgets, singular: widget, listKind: WidgetList}
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}
"""


def flux_release(url: str, *, version: str = "1.0.0", spec: str = "") -> str:
    """A HelmRepository ``charts`` at ``url`` and a HelmRelease ``web`` of its chart
    web at ``version`` into namespace shop (both in flux-system); ``spec`` is
    more of the release's spec, indented by two spaces."""
    return f"""apiVersion: source.toolkit.fluxcd.io/v1
kind: HelmRepository
metadata:
  name: charts
  namespace: flux-system
spec:
  interval: 10m
  url: {url}
---
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: web
  namespace: flux-system
spec:
  interval: 5m
  targetNamespace: shop
  install:
    createNamespace: true
  chart:
    spec:
      chart: web
      version: "{version}"
      sourceRef:
        kind: HelmRepository
        name: charts
{spec}"""


@pytest.fixture(autouse=True)
def helm_cli_sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """For the CLI's Helm tests (autouse where a test module imports it): a
    sandbox state and render cache of the test's own, and no chart repository
    index remembered from another test."""
    forget_indexes()
    return sandbox_state(tmp_path, monkeypatch, own_cache=True)


def write_chart(
    directory: Path,
    name: str,
    version: str,
    *,
    templates: dict[str, str] | None = None,
    values: str = "greeting: hello\nreplicas: 1\ntag: '1.27'\n",
    crds: dict[str, str] | None = None,
) -> Path:
    """A chart directory ``directory/name`` with the given templates."""
    chart = directory / name
    (chart / "templates").mkdir(parents=True, exist_ok=True)
    (chart / "Chart.yaml").write_text(
        f"apiVersion: v2\nname: {name}\nversion: {version}\nappVersion: '{version}'\n"
    )
    (chart / "values.yaml").write_text(values)
    for file, text in (templates or {"configmap.yaml": CONFIGMAP}).items():
        (chart / "templates" / file).write_text(text)
    if crds:
        (chart / "crds").mkdir(exist_ok=True)
        for file, text in crds.items():
            (chart / "crds" / file).write_text(text)
    return chart


@dataclass
class ChartRepo:
    """A served chart repository: its URL, its directory and the paths asked for."""

    url: str
    root: Path
    requests: list[str] = field(default_factory=list)

    def publish(self, chart: Path) -> None:
        """``helm package`` ``chart`` into the repository and re-index it."""
        helm = helm_binary()
        subprocess.run(
            [helm, "package", str(chart), "--destination", str(self.root)],
            check=True,
            capture_output=True,
        )
        subprocess.run(
            [helm, "repo", "index", str(self.root), "--url", self.url],
            check=True,
            capture_output=True,
        )


@contextmanager
def serve_chart_repo(root: Path, *, tls: ssl.SSLContext | None = None) -> Iterator[ChartRepo]:
    """Serve ``root`` on 127.0.0.1 (a free port) until the block ends; over
    HTTPS with ``tls`` (a server context)."""
    root.mkdir(parents=True, exist_ok=True)
    repo = ChartRepo(url="", root=root)

    class Handler(SimpleHTTPRequestHandler):
        def do_GET(self) -> None:
            repo.requests.append(self.path)
            super().do_GET()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(Handler, directory=str(root)))
    scheme = "http"
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
        scheme = "https"
    repo.url = f"{scheme}://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield repo
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
