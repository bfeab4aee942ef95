"""Helm: a chart directory → documents, by ``helm template``.

Values files must lie inside the repository; inline values go through a
temporary file, never into the user's tree. Before helm runs, the chart (and
its sub-charts) is checked for symlinks out of the repository and for values
schema references helm would read from a file or fetch from a URL. Each document is named after the
template it came from (helm's ``# Source:`` comments).
"""

from __future__ import annotations

import posixpath
import re
import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from gitwave.engine.errors import RenderError, ToolMissingError
from gitwave.engine.kube_versions import current_version
from gitwave.engine.model import SourceRef
from gitwave.engine.names import HELM_RELEASE_MAX, LABEL_MAX, dns_problem
from gitwave.engine.render.capabilities import (
    target_api_versions,
    target_kube_version,
    valid_api_versions,
)
from gitwave.engine.render.charts import ChartRef, FetchedChart, fetch_chart
from gitwave.engine.render.directory import Doc, parse_yaml
from gitwave.engine.render.remote_refs import check_chart
from gitwave.engine.render.secret_inputs import helm_secret_values
from gitwave.engine.render.tools import run_tool, tool_path
from gitwave.engine.render.values import ChartSource, HelmOptions, RenderOptions, ValueRepo
from gitwave.engine.source import Checkout, open_source, safe_join


def helm_command() -> str | None:
    """The helm binary on PATH; None if there is none."""
    return shutil.which("helm")


@dataclass(frozen=True)
class Capabilities:
    """What a chart's ``.Capabilities`` holds: the target's release as helm's
    ``--kube-version`` takes it (``v1.33.0``) and the API versions it serves."""

    kube_version: str
    api_versions: tuple[str, ...]

    @property
    def flags(self) -> list[str]:
        """``--kube-version=…`` and one ``--api-versions=…`` per version."""
        return [
            f"--kube-version={self.kube_version}",
            *(f"--api-versions={v}" for v in valid_api_versions(self.api_versions)),
        ]


def chart_capabilities() -> Capabilities:
    """The target's, as Flux's Helm SDK and Argo CD give them to every chart
    (inside ``capabilities.target_capabilities``; else helm's defaults for
    gitwave's Kubernetes release). The same whichever source the chart is from."""
    return Capabilities(
        kube_version=f"v{target_kube_version() or current_version()}.0",
        api_versions=target_api_versions(),
    )


def helm_docs(checkout: Checkout, target: Path, rel: str, options: RenderOptions) -> list[Doc]:
    """The documents the chart at ``target`` renders to, each naming its template file.

    Raises PathEscapeError for a symlink or values file out of the repository,
    ToolMissingError when helm is not installed, RenderError naming the schema
    file for a ``values.schema.json`` reference to a file or URL (see
    ``remote_refs.check_chart``), and RenderError naming Chart.yaml for a
    remote or missing values file or a failed render.
    """
    chart_rel = checkout.relpath(target / "Chart.yaml")
    check_chart(checkout, target)
    helm = helm_command()
    if helm is None:
        raise ToolMissingError(
            SourceRef(chart_rel),
            "helm",
            hint="install Helm 3 and put `helm` on PATH, or commit the rendered YAML instead",
        )
    helm_options = options.helm or HelmOptions()
    release = helm_options.release_name or _release_name(target, checkout)
    namespace = helm_options.namespace or options.target_namespace or options.default_namespace
    for what, value, max_len in (
        ("release name", release, HELM_RELEASE_MAX),
        ("namespace", namespace, LABEL_MAX),
    ):
        problem = dns_problem(value, max_len=max_len, dots=what == "release name")
        if value and problem:
            raise RenderError(SourceRef(chart_rel), f"helm {what}: {problem}")
    # Every Git value goes in as ``--option=value`` or after ``--``, so none can be a flag.
    command = [helm, "template", "--skip-crds" if helm_options.skip_crds else "--include-crds"]
    if namespace:
        command.append(f"--namespace={namespace}")
    # A chart from Git sees the target as a chart from a repository does.
    command += chart_capabilities().flags
    for values_file in helm_options.values_files:
        path = values_file_path(
            values_file, chart_rel, options.value_repos, lambda f: posixpath.join(rel, f), checkout
        )
        command.append(f"--values={path}")
    with tempfile.TemporaryDirectory(prefix="gitwave-helm-") as tmp:
        if helm_options.values.strip():
            inline = Path(tmp) / "values.yaml"
            inline.write_text(helm_options.values, encoding="utf-8")
            command.append(f"--values={inline}")
        for parameter in helm_options.parameters:
            command.append(f"--set={parameter}")
        for parameter in helm_options.string_parameters:
            command.append(f"--set-string={parameter}")
        command += ["--", release, tool_path(target)]
        output = run_tool(
            command,
            tool="helm template",
            where=chart_rel,
            cwd=tmp,
            hide_dirs=(str(checkout.root), tmp),
            redact=helm_secret_values(checkout, target, helm_options),
        )
    return _helm_sources(output, rel, chart_rel)


@dataclass(frozen=True)
class ChartRender:
    """How to render a chart fetched from a Helm repository (``charts.fetch_chart``).

    ``values_files`` are absolute paths already checked to lie in a repository
    or a temporary directory; ``values_texts`` are YAML documents passed in
    order after them (later wins). ``kube_version`` and ``api_versions`` are
    what Flux's Helm SDK reads from the cluster (``--kube-version``,
    ``--api-versions``). ``redact`` are secret values masked in any error.
    """

    release_name: str
    namespace: str
    values_files: tuple[Path, ...] = ()
    values_texts: tuple[str, ...] = ()
    parameters: tuple[str, ...] = ()
    string_parameters: tuple[str, ...] = ()
    include_crds: bool = True
    kube_version: str = ""
    api_versions: tuple[str, ...] = ()
    redact: frozenset[str] = frozenset()
    # helm's --skip-schema-validation (helm >= 3.16): values.schema.json not checked.
    skip_schema_validation: bool = False


def fetched_chart_docs(
    chart: FetchedChart, how: ChartRender, *, where: str, root: Path | None = None
) -> list[Doc]:
    """The documents a chart from the chart cache renders to, each named
    ``name-version/templates/file.yaml``. ``where`` (the HelmRelease or
    Application asking) names every error; ``root`` is the repository a chart
    from Git lives in (no symlink may leave it). Raises ToolMissingError without
    helm, RenderError for a schema reference out of the chart or a failed render.
    """
    cache_checkout = Checkout(
        root=root or chart.directory.parent, revision=chart.digest, dirty=False, url=chart.url
    )
    check_chart(cache_checkout, chart.directory)
    helm = helm_command()
    if helm is None:
        raise ToolMissingError(
            SourceRef(where), "helm", hint="install Helm 3 and put `helm` on PATH"
        )
    for what, value, max_len in (
        ("release name", how.release_name, HELM_RELEASE_MAX),
        ("namespace", how.namespace, LABEL_MAX),
    ):
        problem = dns_problem(value, max_len=max_len, dots=what == "release name")
        if value and problem:
            raise RenderError(SourceRef(where), f"helm {what}: {problem}")
    command = [helm, "template", "--include-crds" if how.include_crds else "--skip-crds"]
    if how.namespace:
        command.append(f"--namespace={how.namespace}")
    if how.kube_version:
        command.append(f"--kube-version={how.kube_version}")
    for api_version in valid_api_versions(how.api_versions):
        command.append(f"--api-versions={api_version}")
    if how.skip_schema_validation:
        command.append("--skip-schema-validation")
    command += [f"--values={path}" for path in how.values_files]
    with tempfile.TemporaryDirectory(prefix="gitwave-helm-") as tmp:
        for i, text in enumerate(how.values_texts):
            inline = Path(tmp) / f"values-{i}.yaml"
            inline.write_text(text, encoding="utf-8")
            command.append(f"--values={inline}")
        command += [f"--set={p}" for p in how.parameters]
        command += [f"--set-string={p}" for p in how.string_parameters]
        command += ["--", how.release_name, tool_path(chart.directory)]
        output = run_tool(
            command,
            tool="helm template",
            where=where,
            cwd=tmp,
            hide_dirs=(str(cache_checkout.root), tmp),
            redact=how.redact,
        )
    return _helm_sources(output, chart.label, where)


def values_file_path(
    values_file: str,
    where: str,
    value_repos: Sequence[ValueRepo],
    place: Callable[[str], str],
    checkout: Checkout,
) -> Path:
    """Where a Helm values file is read: ``$name/path`` in the ``ref`` source
    ``name`` (Argo CD multi-source), else ``place(values_file)`` in ``checkout``.
    RenderError naming ``where`` for a remote, unknown or missing file;
    PathEscapeError for one leaving its repository."""
    if "://" in values_file:
        raise RenderError(
            SourceRef(where),
            f"values file {values_file!r} is remote; only files in the repository are read",
        )
    if values_file.startswith("$"):
        name, _, rest = values_file[1:].partition("/")
        repo = next((r for r in value_repos if r.name == name), None)
        if repo is None:
            known = ", ".join(f"${r.name}" for r in value_repos) or "none"
            raise RenderError(
                SourceRef(where),
                f"values file {values_file!r}: no source has ref {name!r} (refs: {known})",
            )
        root = open_source(repo.fetch_from, revision=repo.fetch_revision).root
        path = safe_join(root, rest or ".")
    else:
        path = safe_join(checkout.root, place(values_file))
    if not path.is_file():
        raise RenderError(SourceRef(where), f"values file {values_file!r} not found")
    return path


def chart_source_docs(
    source: ChartSource, options: RenderOptions, *, where: str
) -> tuple[FetchedChart, list[Doc]]:
    """The chart an Argo CD ``spec.source.chart`` names, fetched (``charts``) and
    rendered with the app's helm options; its values files are in the chart
    or, written ``$ref/path``, in a ``ref`` source. Raises RenderError naming
    ``where`` and the repository URL when the chart cannot be fetched."""
    chart = fetch_chart(ChartRef(source.repo_url, source.chart, source.version, where=where))
    helm_options = options.helm or HelmOptions()
    capabilities = chart_capabilities()
    cache_checkout = Checkout(
        root=chart.directory, revision=chart.digest, dirty=False, url=chart.url
    )
    files = tuple(
        values_file_path(f, where, options.value_repos, lambda f: f, cache_checkout)
        for f in helm_options.values_files
    )
    how = ChartRender(
        release_name=helm_options.release_name or source.chart,
        namespace=helm_options.namespace or options.default_namespace,
        values_files=files,
        values_texts=(helm_options.values,) if helm_options.values.strip() else (),
        parameters=helm_options.parameters,
        string_parameters=helm_options.string_parameters,
        include_crds=not helm_options.skip_crds,
        # Argo CD passes the destination cluster's release and API versions.
        kube_version=capabilities.kube_version,
        api_versions=capabilities.api_versions,
        redact=frozenset(
            p.partition("=")[2]
            for p in (*helm_options.parameters, *helm_options.string_parameters)
            if p.partition("=")[2]
        ),
    )
    return chart, fetched_chart_docs(chart, how, where=where)


def _release_name(target: Path, checkout: Checkout) -> str:
    name = target.name if target != checkout.root else checkout.root.name
    return re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-")[:53] or "release"


_SOURCE_COMMENT = re.compile(r"^# Source: [^/\n]+/(.+)$", re.MULTILINE)


def _helm_sources(output: str, rel: str, chart_rel: str) -> list[Doc]:
    """Documents of ``helm template`` output, each named after its template file."""
    markers = [
        (output.count("\n", 0, m.start()) + 1, m.group(1)) for m in _SOURCE_COMMENT.finditer(output)
    ]
    docs: list[Doc] = []
    index = 0
    for document in parse_yaml(output, chart_rel):
        while index + 1 < len(markers) and markers[index + 1][0] <= document.source.line:
            index += 1
        template = (
            posixpath.normpath(posixpath.join(rel, markers[index][1]))
            if markers and markers[index][0] <= document.source.line
            else chart_rel
        )
        docs.append(Doc(document.value, SourceRef(template)))
    return docs


__all__ = [
    "Capabilities",
    "ChartRender",
    "chart_capabilities",
    "chart_source_docs",
    "fetched_chart_docs",
    "helm_command",
    "helm_docs",
    "values_file_path",
]
