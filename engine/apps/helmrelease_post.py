"""What happens to a HelmRelease's documents after ``helm template``: its
``postRenderers`` (Kustomize patches and images, through the real Kustomize)
and helm-controller's origin labels on every object."""

from __future__ import annotations

import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from gitwave.engine.apps.doc_kinds import HELM_GROUP
from gitwave.engine.errors import RenderError, ValidationError
from gitwave.engine.model import SourceRef
from gitwave.engine.render.directory import Doc, parse_yaml
from gitwave.engine.render.kustomize import kustomize_command
from gitwave.engine.render.tools import run_tool

LABEL_NAME = f"{HELM_GROUP}/name"
LABEL_NAMESPACE = f"{HELM_GROUP}/namespace"


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


__all__ = ["HELM_GROUP", "LABEL_NAME", "LABEL_NAMESPACE", "labelled", "post_render"]
