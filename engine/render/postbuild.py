"""Flux's post-build substitution (``spec.postBuild``) over rendered Resources.

As kustomize-controller does it: after the build, each object not labelled or
annotated ``kustomize.toolkit.fluxcd.io/substitute: disabled`` is written out
as YAML, every ``${…}`` in that text is expanded (``envsubst``), and the text
is read back — so ``replicas: ${count}`` becomes a number, and quoting in Git
does not keep a value a string (Flux's way: ``${quote}${count}${quote}`` with a
``quote`` variable holding ``"``). The variables are those
of ``substituteFrom``'s ConfigMaps and Secrets in order (a later one wins),
then ``substitute``'s (which win over all); newlines are dropped from every
value; names must match Flux's ``^[_[:alpha:]][_[:alpha:][:digit:]]*$``.

Unlike Flux without its ``StrictPostBuildSubstitutions`` feature gate, an unset
variable without a default is an error (naming the variable, the object and
the Kustomization), never an empty string.

Values from Secrets are remembered on each object they reach
(``Resource.masked_values``), so diff, plan, history and events show ``***``
for them whatever the object's kind.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import yaml

from gitwave.engine.errors import GitwaveError, RenderError, ValidationError
from gitwave.engine.mask import redact
from gitwave.engine.model import Resource, SourceRef
from gitwave.engine.render.directory import Doc
from gitwave.engine.render.envsubst import Expansion, SubstitutionError, expand
from gitwave.engine.render.resources import to_resources
from gitwave.engine.render.values import Rendered, RenderOptions
from gitwave.engine.yamlio import iter_documents

__all__ = [
    "SUBSTITUTE_ANNOTATION",
    "VAR_NAME",
    "ObjectReader",
    "PostBuild",
    "SubstituteRef",
    "Variables",
    "apply_post_build",
    "variables_for",
]

SUBSTITUTE_ANNOTATION = "kustomize.toolkit.fluxcd.io/substitute"
VAR_NAME = re.compile(r"[_A-Za-z][_A-Za-z0-9]*\Z")

# (kind, namespace, name) → the live object's manifest, or None when it is absent.
ObjectReader = Callable[[str, str, str], Mapping[str, Any] | None]


@dataclass(frozen=True)
class SubstituteRef:
    """One ``spec.postBuild.substituteFrom`` entry: a ConfigMap or Secret in the
    Kustomization's namespace; ``optional``: its absence is no error."""

    kind: str
    name: str
    optional: bool = False


@dataclass(frozen=True)
class PostBuild:
    """A Kustomization's ``spec.postBuild`` as written, and whose it is.

    ``namespace`` is where the substituteFrom objects are read (the
    Kustomization's own); ``owner`` is ``Kustomization/ns/name (file:line)``,
    the subject of every error."""

    substitute: tuple[tuple[str, str], ...] = ()
    substitute_from: tuple[SubstituteRef, ...] = ()
    namespace: str = "default"
    owner: str = ""


@dataclass(frozen=True)
class Variables:
    """The variables a substitution reads, and which of them came from a Secret."""

    values: tuple[tuple[str, str], ...] = ()
    secret: frozenset[str] = frozenset()

    def as_dict(self) -> dict[str, str]:
        return dict(self.values)


def variables_for(post_build: PostBuild, read: ObjectReader | None) -> Variables:
    """The variables of ``post_build``: its substituteFrom objects read through
    ``read`` (None: no target to read them from), then its inline ones.

    Raises ValidationError naming the Kustomization and the object when a
    required object is absent (retriable: someone may create it) or cannot be
    read, and for a variable name Flux would refuse."""
    values: dict[str, str] = {}
    secret: set[str] = set()
    for ref in post_build.substitute_from:
        display = f"{ref.kind}/{post_build.namespace}/{ref.name}"
        manifest = read(ref.kind, post_build.namespace, ref.name) if read is not None else None
        if manifest is None:
            if ref.optional:
                continue
            error = ValidationError(
                post_build.owner,
                f"spec.postBuild.substituteFrom: {display} is not on the target",
                hint=f"create it (Flux reads it from the cluster, in namespace "
                f"{post_build.namespace}), have this Kustomization dependsOn the one "
                "that applies it, or mark the entry optional: true",
            )
            error.retriable = True
            raise error
        for name, value in _data_of(ref.kind, manifest, display, post_build.owner).items():
            values[name] = value.replace("\n", "")
            if ref.kind == "Secret":
                secret.add(name)
            else:
                secret.discard(name)
    for name, value in post_build.substitute:
        values[name] = value.replace("\n", "")
        secret.discard(name)  # an inline value is in Git already
    for name in values:
        if not VAR_NAME.match(name):
            raise ValidationError(
                post_build.owner,
                f"spec.postBuild: variable name {name!r} is invalid, "
                "it must match ^[_[:alpha:]][_[:alpha:][:digit:]]*$",
                hint="rename the key (in substitute or in the substituteFrom object)",
            )
    return Variables(values=tuple(sorted(values.items())), secret=frozenset(secret))


def _data_of(kind: str, manifest: Mapping[str, Any], display: str, owner: str) -> dict[str, str]:
    data = manifest.get("data") or {}
    if not isinstance(data, Mapping):
        raise ValidationError(owner, f"spec.postBuild.substituteFrom: {display}: data is not a map")
    if kind == "ConfigMap":
        return {str(k): str(v) for k, v in data.items()}
    found: dict[str, str] = {}
    for key, value in data.items():
        try:
            found[str(key)] = base64.b64decode(str(value), validate=True).decode(
                "utf-8", errors="replace"
            )
        except (binascii.Error, ValueError):
            raise ValidationError(
                owner, f"spec.postBuild.substituteFrom: {display}: data.{key} is not base64"
            ) from None
    string_data = manifest.get("stringData")
    if isinstance(string_data, Mapping):  # as the API server would merge it
        found.update({str(k): str(v) for k, v in string_data.items()})
    return found


def apply_post_build(
    rendered: Rendered, post_build: PostBuild, variables: Variables, options: RenderOptions
) -> Rendered:
    """``rendered`` with ``variables`` substituted into each object that does not
    opt out. Raises ValidationError naming the Kustomization, the object
    (``Kind/ns/name (file:line)``) and the variable or the syntax problem."""
    lookup = variables.as_dict().get
    docs: list[Doc] = []
    masked: list[tuple[str, ...]] = []
    for resource in rendered.resources:
        if _disabled(resource):
            docs.append(Doc(resource.manifest, resource.source or _no_source(rendered)))
            masked.append(resource.masked_values)
            continue
        manifest, tainted = _substituted(resource, lookup, variables.secret, post_build, rendered)
        docs.append(Doc(manifest, resource.source or _no_source(rendered)))
        masked.append(tuple(sorted(set(resource.masked_values) | tainted)))
    try:
        resources = to_resources(docs, options)
    except GitwaveError as exc:
        # A check may quote a value (a name that is not a DNS name): never a secret one.
        hidden = [value for values in masked for value in values]
        raise ValidationError(
            post_build.owner,
            f"after postBuild substitution: {redact(str(exc), hidden)}",
            hint="a value substituted into YAML is read as YAML, as in Flux: a number or "
            "boolean stays one even when quoted in Git; for a string, wrap it in a double "
            "quote variable as Flux documents: ${quote}${var}${quote} with quote: '\"'",
        ) from None
    renamed = {old.key: new.key for old, new in zip(rendered.resources, resources, strict=True)}
    resources = tuple(
        replace(r, masked_values=values) if values else r
        for r, values in zip(resources, masked, strict=True)
    )
    encrypted = frozenset(renamed.get(k, k) for k in rendered.encrypted)
    return replace(rendered, resources=resources, encrypted=encrypted)


def _no_source(rendered: Rendered) -> SourceRef:
    return SourceRef(rendered.path)


def _disabled(resource: Resource) -> bool:
    return (
        resource.labels.get(SUBSTITUTE_ANNOTATION) == "disabled"
        or resource.annotations.get(SUBSTITUTE_ANNOTATION) == "disabled"
    )


class _LiteralDumper(yaml.CSafeDumper):
    """Multi-line strings as literal blocks, as kustomize writes them, so a
    value substituted into one is not read inside a quoted scalar."""


def _represent_str(dumper: _LiteralDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_LiteralDumper.add_representer(str, _represent_str)


def _substituted(
    resource: Resource,
    lookup: Callable[[str], str | None],
    secret: frozenset[str],
    post_build: PostBuild,
    rendered: Rendered,
) -> tuple[Any, frozenset[str]]:
    """The object's manifest after substitution, and the text secret values became."""
    text = yaml.dump(
        resource.manifest,
        Dumper=_LiteralDumper,
        sort_keys=False,
        default_flow_style=False,
        allow_unicode=True,
        width=1 << 20,
    )
    if "$" not in text:
        return resource.manifest, frozenset()
    expansion = Expansion(tainted=secret)
    subject = f"{post_build.owner}: postBuild: {resource.where}"
    try:
        result = expand(text, lookup, expansion)
    except SubstitutionError as exc:
        hint = (
            f"set {exc.variable} in spec.postBuild.substitute or in a substituteFrom "
            f"object, give it a default (${{{exc.variable}:=value}}), escape it as "
            f"$${{{exc.variable}}}, or annotate the object {SUBSTITUTE_ANNOTATION}: disabled"
            if exc.variable
            else f"fix the expression, escape the dollar as $$, or annotate the object "
            f"{SUBSTITUTE_ANNOTATION}: disabled"
        )
        raise ValidationError(subject, str(exc), hint=hint) from None
    try:
        documents = list(iter_documents(result, file=str(resource.source or rendered.path)))
    except RenderError as exc:
        raise ValidationError(
            subject,
            f"not valid YAML after substitution: {exc.detail}",
            hint="a substituted value broke the YAML; wrap it in quotes: ${quote}${var}${quote} "
            "with a quote variable holding a double quote",
        ) from None
    if len(documents) != 1:
        raise ValidationError(subject, "substitution changed the object into another shape")
    tainted = frozenset(v for v in expansion.tainted_output if v)
    return documents[0].value, tainted
