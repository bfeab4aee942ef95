"""Argo CD ``ApplicationSet`` (argoproj.io/v1alpha1) → the apps it generates.

An ApplicationSet becomes one ``AppSpec`` of kind ``APPSET`` whose children
are the generated apps: each parameter set of its generators (``generators``)
renders ``spec.template`` (``templating``) into an Application document, which
``parse_argo`` reads like any other, so every Application rule applies to it.
The set itself is never rendered or synced; its apps are (``--app SET`` means
all of them).

Deleting follows Argo CD: an app whose element is gone is deleted with its
objects (the ApplicationSet controller gives its apps the resources-finalizer)
unless ``syncPolicy.preserveResourcesOnDeletion`` is true or
``syncPolicy.applicationsSync`` is ``create-update`` (the app of apps
machinery in ``app_children`` does the pruning: the set is the parent).
``create-only`` and ``create-delete`` need the previous Application to hold
updates back, which gitwave does not keep: they are refused. So are
``strategy`` (progressive syncs) and per-generator templates.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml

from gitwave.engine.apps.argo import parse_argo
from gitwave.engine.apps.doc_kinds import is_app_set
from gitwave.engine.apps.fields import Reader
from gitwave.engine.apps.generators import Context, Params, deep_merge, generate
from gitwave.engine.apps.holder import Holder, open_repository
from gitwave.engine.apps.model import ARGO_GROUP, AppKind, AppSource, AppSpec, SyncPolicy
from gitwave.engine.apps.templating import (
    Syntax,
    TemplateFieldError,
    check_go_templates,
    render_string,
    render_tree,
)
from gitwave.engine.clusters import (
    IN_CLUSTER_NAME,
    IN_CLUSTER_SERVER,
    Cluster,
    ClusterKind,
    ClusterSource,
)
from gitwave.engine.errors import GitwaveError, ValidationError
from gitwave.engine.model import SourceRef
from gitwave.engine.names import SUBDOMAIN_MAX
from gitwave.engine.yamlio import iter_documents

_SPEC_KEYS = (
    "generators",
    "template",
    "templatePatch",
    "goTemplate",
    "goTemplateOptions",
    "syncPolicy",
    # These only shape how Argo CD updates Application objects in its cluster;
    # gitwave keeps none, so they change nothing here.
    "ignoreApplicationDifferences",
    "preservedFields",
)
_MISSING_KEY_OPTIONS = (
    "missingkey=error",
    "missingkey=default",
    "missingkey=invalid",
    "missingkey=zero",
)


@dataclass(frozen=True)
class CurrentTargetOnly:
    """The clusters when no registry is given: the current target, as ``in-cluster``."""

    def clusters(self) -> Sequence[Cluster]:
        return (Cluster(name=IN_CLUSTER_NAME, server=IN_CLUSTER_SERVER, kind=ClusterKind.CURRENT),)


@dataclass(frozen=True)
class LoadedSet:
    """An ApplicationSet as loaded: its app (children: the apps of the elements
    that generated one), and one error naming every element that did not (None
    when all did). A set with an error is partial: none of its apps is taken
    for removed, so nothing is pruned for the bad elements."""

    app: AppSpec
    error: ValidationError | None = None


def _element_errors(where: str, failed: Sequence[ValidationError]) -> ValidationError | None:
    if not failed:
        return None
    if len(failed) == 1:
        return failed[0]
    lines = "\n".join(f"  {err}" for err in failed)
    return ValidationError(
        where,
        f"{len(failed)} elements generate no valid Application (their apps are left alone):\n"
        + lines,
        hint=failed[0].hint,
    )


@dataclass(frozen=True)
class SetLoader:
    """How one load reads ApplicationSets: the clusters known and where repos may be."""

    clusters: ClusterSource
    local_repos: tuple[Path, ...]
    cache_dir: Path | None

    def load(
        self,
        doc: Mapping[str, Any],
        origin: SourceRef,
        holder: Holder,
        node: yaml.Node | None = None,
    ) -> LoadedSet:
        """The set at ``origin`` as an ``APPSET`` app whose children are its apps,
        and the error of the elements that generate no valid Application (a
        template that fails, an invalid Application): those elements are left
        out, the others' apps kept, as Argo CD does.

        Raises ValidationError naming ``file:line``, the set and the field for a
        malformed set, a refused generator or option, a generator that fails, or
        two generated apps of one name (the set fails as a whole)."""
        reader = Reader(str(origin))
        meta = reader.mapping(doc, "metadata", required=True)
        name = reader.dns_name(
            reader.string(meta, "metadata.name", required=True),
            "metadata.name",
            max_len=SUBDOMAIN_MAX,
            dots=True,
        )
        lines = _Lines(origin, node, name)
        where = lines.where("")
        reader = Reader(where)
        spec = reader.mapping(doc, "spec", required=True)
        if "strategy" in spec:
            reader.fail("spec.strategy (progressive syncs) is not supported; remove it")
        unknown = [k for k in spec if k not in _SPEC_KEYS]
        if unknown:
            reader.fail(f"spec.{unknown[0]} is not supported (known: {', '.join(_SPEC_KEYS)})")
        syntax = _syntax(reader, spec)
        template = reader.mapping(spec, "spec.template", required=True)
        patch = reader.string(spec, "spec.templatePatch")
        if patch and not syntax.go:
            reader.fail("spec.templatePatch needs goTemplate: true")
        deletes, cascade = _deletion(reader, reader.mapping(spec, "spec.syncPolicy"))
        try:
            check_go_templates(template, syntax, field="spec.template")
            check_go_templates(patch, syntax, field="spec.templatePatch")
        except TemplateFieldError as err:
            raise _template_error(lines, err) from None
        generators = spec.get("generators")
        if not isinstance(generators, list) or not generators:
            reader.fail("spec.generators must be a non-empty list")
        elements: list[tuple[str, str, Params]] = []
        reads: list[Path] = []
        for i, generator in enumerate(generators):
            field = f"spec.generators[{i}]"
            ctx = Context(
                syntax, lines.where(field), self.clusters, self._opener(holder, where), reads
            )
            for j, params in enumerate(generate(generator, field, ctx)):
                # A list element's own line when it has one, else the generator's.
                elements.append((f"{field}.list.elements[{j}]", f"{field} element {j}", params))
        apps: list[AppSpec] = []
        first: dict[str, tuple[str, Params]] = {}
        failed: list[ValidationError] = []
        for field, element, params in elements:
            try:
                app = self._generated(
                    template, patch, params, syntax, origin, holder, lines, (field, element)
                )
            except ValidationError as err:
                # Argo CD reports a bad element on the set and keeps the others' apps.
                failed.append(err)
                continue
            if app.name in first:
                earlier, earlier_params = first[app.name]
                raise ValidationError(
                    where,
                    f"two generated apps are named {app.name!r}: {earlier} "
                    f"({_shown(earlier_params)}) and {element} ({_shown(params)})",
                    hint="make spec.template.metadata.name differ per element",
                )
            first[app.name] = (element, params)
            apps.append(replace(app, cascade=cascade))
        return LoadedSet(
            AppSpec(
                name=name,
                kind=AppKind.APPSET,
                source=AppSource(
                    repo_url=holder.fetch_from,
                    revision=holder.fetch_revision or "HEAD",
                    path=origin.file,
                    fetch_from=holder.fetch_from,
                    fetch_revision=holder.fetch_revision,
                ),
                policy=SyncPolicy(automated=True, prune=deletes),
                origin=origin,
                children=tuple(sorted(apps, key=lambda a: (a.wave, a.name))),
                reads=tuple(sorted({str(path) for path in reads})),
            ),
            _element_errors(where, failed),
        )

    def _generated(
        self,
        template: Mapping[str, Any],
        patch: str,
        params: Params,
        syntax: Syntax,
        origin: SourceRef,
        holder: Holder,
        lines: _Lines,
        at: tuple[str, str],
    ) -> AppSpec:
        """The Application one element generates; ValidationError naming the set,
        the element (with its parameters) and the file:line of the field that fails."""
        generator, element = at
        element = f"{element} ({_shown(params)})"
        try:
            rendered = render_tree(template, params, syntax, field="spec.template")
            if patch:
                text = render_string(patch, params, syntax, field="spec.templatePatch")
                patched = _patch_value(text, lines, element)
                rendered = deep_merge(rendered, patched)
        except TemplateFieldError as err:
            raise _template_error(lines, err, element) from None
        document = {
            "apiVersion": f"{ARGO_GROUP}/v1alpha1",
            "kind": "Application",
            "metadata": rendered.get("metadata") or {},
            "spec": rendered.get("spec") or {},
        }
        try:
            return parse_argo(document, origin, holder.resolve)
        except GitwaveError as err:
            raise ValidationError(
                lines.where(generator),
                f"{element} generates an invalid Application: {err}",
                hint="fix the template or this element's parameters; the other elements' "
                "apps are synced",
            ) from None

    def _opener(self, holder: Holder, where: str) -> Any:
        opened: dict[tuple[str, str | None], Path] = {}

        def open_repo(repo_url: str, revision: str, field: str) -> Path:
            key = (repo_url, revision)
            if key not in opened:
                opened[key] = open_repository(
                    holder.resolve,
                    repo_url,
                    revision,
                    where=where,
                    field_name=field,
                    allowed=self.local_repos,
                    cache_dir=self.cache_dir,
                ).root
            return opened[key]

        return open_repo


def _syntax(reader: Reader, spec: Mapping[str, Any]) -> Syntax:
    go = reader.boolean(spec, "spec.goTemplate")
    options = reader.strings(spec, "spec.goTemplateOptions")
    for option in options:
        if option not in _MISSING_KEY_OPTIONS:
            reader.fail(
                f"spec.goTemplateOptions: unknown option {option!r} "
                f"(known: {', '.join(_MISSING_KEY_OPTIONS)})"
            )
    return Syntax(go=go, missing_key_error="missingkey=error" in options)


def _deletion(reader: Reader, policy: Mapping[str, Any]) -> tuple[bool, bool]:
    """(whether an app whose element is gone is deleted, whether its objects go with it)."""
    preserve = reader.boolean(policy, "spec.syncPolicy.preserveResourcesOnDeletion")
    sync = reader.string(policy, "spec.syncPolicy.applicationsSync") or "sync"
    if sync in ("create-only", "create-delete"):
        reader.fail(
            f"spec.syncPolicy.applicationsSync: {sync} is not supported (gitwave does not keep "
            "generated Applications to hold their updates back); use sync or create-update"
        )
    if sync not in ("sync", "create-update"):
        reader.fail(f"spec.syncPolicy.applicationsSync: {sync!r} is not sync or create-update")
    if sync == "create-update":
        return True, False
    return True, not preserve


def _patch_value(text: str, lines: _Lines, element: str) -> Mapping[str, Any]:
    try:
        documents = [d.value for d in iter_documents(text, file="spec.templatePatch")]
    except GitwaveError as err:
        raise ValidationError(
            lines.where("spec.templatePatch"), f"{element}: the rendered patch: {err}"
        ) from None
    value = documents[0] if documents else {}
    if len(documents) > 1 or not isinstance(value, Mapping):
        raise ValidationError(
            lines.where("spec.templatePatch"), f"{element}: the rendered patch is not one mapping"
        )
    return value


def _template_error(lines: _Lines, err: TemplateFieldError, element: str = "") -> ValidationError:
    detail = f"{err}" if not element else f"{element}: {err}"
    return ValidationError(
        lines.where(err.field),
        detail,
        hint="fix the template; see Argo CD's ApplicationSet template docs for the syntax",
    )


def _shown(params: Params) -> str:
    text = ", ".join(f"{k}={v}" for k, v in list(_flat(params).items())[:4])
    return text if len(text) <= 100 else text[:97] + "..."


def _flat(params: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in params.items():
        if isinstance(value, Mapping):
            flat.update(_flat(value, f"{prefix}{key}."))
        elif not isinstance(value, list):
            flat[f"{prefix}{key}"] = value
    return flat


_PART = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


@dataclass(frozen=True)
class _Lines:
    """``file:line (ApplicationSet/name)`` for a field of the set, its line found
    in the parsed YAML node when there is one (a file, not a tool's render)."""

    origin: SourceRef
    node: yaml.Node | None
    name: str

    def where(self, field: str) -> str:
        line = self.origin.line
        if self.node is not None and field:
            line = _field_line(self.node, field) or line
        return f"{SourceRef(self.origin.file, line)} (ApplicationSet/{self.name})"


def _field_line(node: yaml.Node, field: str) -> int:
    current = node
    for name, index in _PART.findall(field):
        if name and isinstance(current, yaml.MappingNode):
            found = next((v for k, v in current.value if k.value == name), None)
        elif index and isinstance(current, yaml.SequenceNode) and int(index) < len(current.value):
            found = current.value[int(index)]
        else:
            found = None
        if found is None:
            break
        current = found
    return int(current.start_mark.line) + 1


__all__ = ["CurrentTargetOnly", "LoadedSet", "SetLoader", "is_app_set"]
