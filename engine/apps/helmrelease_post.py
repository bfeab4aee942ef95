"""What happens to a HelmRelease's documents after ``helm template``: its
``postRenderers`` (Kustomize patches and images, through the real Kustomize),
then its ``commonMetadata``, its test hooks (``spec.test``), its
``driftDetection.ignore`` rules (``release_fields``), and helm-controller's
origin labels on every object."""

from __future__ import annotations

import re
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from gitwave.engine.apps.doc_kinds import HELM_GROUP
from gitwave.engine.errors import RenderError, ValidationError
from gitwave.engine.ignore_annotation import ANNOTATION_IGNORE
from gitwave.engine.model import SourceRef
from gitwave.engine.render.directory import Doc, parse_yaml
from gitwave.engine.render.kustomize import kustomize_command
from gitwave.engine.render.tools import run_tool

LABEL_NAME = f"{HELM_GROUP}/name"
LABEL_NAMESPACE = f"{HELM_GROUP}/namespace"
_HELM_HOOK = "helm.sh/hook"
_TEST_HOOKS = ("test", "test-success")
# A test hook with spec.test.enable: run after every install and upgrade, as
# helm-controller runs ``helm test`` after them; a failed one fails the sync.
_AFTER_SYNC = ("post-install", "post-upgrade")


@dataclass(frozen=True)
class DriftIgnore:
    """One ``spec.driftDetection.ignore`` rule: JSON pointers whose drift is not
    reported nor corrected, on the objects ``target`` selects (each part a
    regular expression matched in full, as Kustomize's selectors; absent: any)."""

    paths: tuple[str, ...]
    target: tuple[tuple[str, str], ...] = ()

    def matches(self, manifest: Mapping[str, Any]) -> bool:
        api_version = str(manifest.get("apiVersion") or "")
        group, _, version = api_version.rpartition("/")
        meta = manifest.get("metadata") or {}
        have = {
            "group": group,
            "version": version,
            "kind": str(manifest.get("kind") or ""),
            "name": str(meta.get("name") or ""),
            "namespace": str(meta.get("namespace") or ""),
        }
        return all(re.fullmatch(pattern, have[part]) for part, pattern in self.target)


def release_fields(
    doc: Doc,
    *,
    labels: Sequence[tuple[str, str]] = (),
    annotations: Sequence[tuple[str, str]] = (),
    test: bool = False,
    drift_ignore: Sequence[DriftIgnore] = (),
) -> Doc:
    """``doc`` with the release's ``commonMetadata`` (over the chart's, as
    Flux), its test hooks made post-sync hooks when ``test`` (else left as
    Helm test hooks, which no sync runs), and the ``driftDetection.ignore``
    paths that select it in ``gitwave.dev/ignore-differences``."""
    if not isinstance(doc.value, dict) or not isinstance(doc.value.get("metadata"), dict):
        return doc
    value = dict(doc.value)
    meta = dict(value["metadata"])
    if labels:
        meta["labels"] = {**(meta.get("labels") or {}), **dict(labels)}
    notes = dict(meta.get("annotations") or {})
    notes.update(annotations)
    hooks = [h.strip() for h in str(notes.get(_HELM_HOOK, "")).split(",") if h.strip()]
    if test and any(h in _TEST_HOOKS for h in hooks):
        kept = [h for h in hooks if h not in _TEST_HOOKS]
        notes[_HELM_HOOK] = ",".join(dict.fromkeys((*kept, *_AFTER_SYNC)))
    paths = [p for rule in drift_ignore if rule.matches(value) for p in rule.paths]
    if paths:
        have = [p.strip() for p in str(notes.get(ANNOTATION_IGNORE, "")).split(",") if p.strip()]
        notes[ANNOTATION_IGNORE] = ",".join(dict.fromkeys((*have, *paths)))
    if notes:
        meta["annotations"] = notes
    value["metadata"] = meta
    return Doc(value, doc.source, encrypted=doc.encrypted)


def labelled(doc: Doc, name: str, namespace: str) -> Doc:
    """helm-controller's origin labels on every object (its post-renderer does so)."""
    if not isinstance(doc.value, dict) or not isinstance(doc.value.get("metadata"), dict):
        return doc
    value = dict(doc.value)
    meta = dict(value["metadata"])
    labels = dict(meta.get("labels") or {})
    labels[LABEL_NAME] = name
    labels[LABEL_NAMESPACE] = namespace
    meta["labels"] = labels
    value["metadata"] = meta
    return Doc(value, doc.source, encrypted=doc.encrypted)


def post_render(
    docs: list[Doc], post_renderers: Sequence[Mapping[str, Any]], where: str
) -> list[Doc]:
    """``spec.postRenderers[].kustomize``: patches and images, through the real Kustomize."""
    if not post_renderers:
        return docs
    command = kustomize_command()
    if command is None:
        raise RenderError(
            SourceRef(where), "spec.postRenderers needs kustomize, which is not installed"
        )
    for i, renderer in enumerate(post_renderers):
        kustomize = renderer.get("kustomize")
        if not isinstance(kustomize, dict):
            continue
        unknown = set(kustomize) - {"patches", "images"}
        if unknown:
            raise ValidationError(
                where,
                f"spec.postRenderers[{i}].kustomize: {', '.join(sorted(unknown))} not supported",
            )
        with tempfile.TemporaryDirectory(prefix="gitwave-postrender-") as tmp:
            (Path(tmp) / "all.yaml").write_text(
                yaml.safe_dump_all([d.value for d in docs], sort_keys=False), encoding="utf-8"
            )
            kustomization: dict[str, Any] = {
                "apiVersion": "kustomize.config.k8s.io/v1beta1",
                "kind": "Kustomization",
                "resources": ["all.yaml"],
            }
            for field_name in ("patches", "images"):
                if kustomize.get(field_name):
                    kustomization[field_name] = kustomize[field_name]
            (Path(tmp) / "kustomization.yaml").write_text(
                yaml.safe_dump(kustomization, sort_keys=False), encoding="utf-8"
            )
            output = run_tool(
                [*command, "--load-restrictor=LoadRestrictionsRootOnly", tmp],
                tool="kustomize (postRenderers)",
                where=where,
                cwd=tmp,
                hide_dirs=(tmp,),
            )
        by_key = {_doc_key(d): d.source for d in docs}
        docs = [
            Doc(d.value, by_key.get(_doc_key(d), SourceRef(where)))
            for d in parse_yaml(output, where)
        ]
    return docs


def _doc_key(doc: Doc) -> tuple[str, str, str]:
    value = doc.value if isinstance(doc.value, dict) else {}
    meta = value.get("metadata") if isinstance(value.get("metadata"), dict) else {}
    assert isinstance(meta, dict)
    return (str(value.get("kind")), str(meta.get("namespace", "")), str(meta.get("name")))


__all__ = [
    "HELM_GROUP",
    "LABEL_NAME",
    "LABEL_NAMESPACE",
    "DriftIgnore",
    "labelled",
    "post_render",
    "release_fields",
]
