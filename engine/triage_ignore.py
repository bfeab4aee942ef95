"""Drift triage's ignore writer: an ``ignoreDifferences`` rule written into Git.

Into the Argo CD Application's ``spec.ignoreDifferences`` (a rule for the
object gets the pointer added), else as the object's
``gitwave.dev/ignore-differences`` annotation (``engine.ignore_annotation``),
written where the accept writer writes a value.
"""

from __future__ import annotations

from typing import Any

from ruamel.yaml.comments import CommentedMap, CommentedSeq

from gitwave.engine.app_pipeline import AppState
from gitwave.engine.apps import AppKind
from gitwave.engine.drift import DriftedField, json_pointer
from gitwave.engine.errors import ValidationError
from gitwave.engine.ignore_annotation import ANNOTATION_IGNORE
from gitwave.engine.model import ResourceKey
from gitwave.engine.source_write import Scratch
from gitwave.engine.triage_accept import document, write_value
from gitwave.engine.yaml_edit import YamlFile

__all__ = ["write_ignore"]


def write_ignore(scratch: Scratch, state: AppState, drifted: DriftedField) -> None:
    """Write a rule ignoring ``drifted`` into the app's files in ``scratch`` (see
    the module docstring)."""
    app, key, pointer = state.app, drifted.key, json_pointer(drifted.path)
    if app.kind is AppKind.ARGO and app.origin is not None:
        parsed = YamlFile.parse(scratch.read(app.origin.file), app.origin.file)
        doc = document(parsed, "Application", app.name, "")
        spec = doc.get("spec")
        if not isinstance(spec, dict):
            raise ValidationError(app.where, "spec: not a mapping")
        rules = spec.get("ignoreDifferences")
        if rules is None:
            spec["ignoreDifferences"] = rules = CommentedSeq()
        for rule in rules:
            if isinstance(rule, dict) and _rule_is_for(rule, key):
                pointers = rule.setdefault("jsonPointers", CommentedSeq())
                if pointer not in pointers:
                    pointers.append(pointer)
                break
        else:
            rule = CommentedMap(group=key.group, kind=key.kind, name=key.name)
            if key.namespace:
                rule["namespace"] = key.namespace
            rule["jsonPointers"] = [pointer]
            rules.append(rule)
        scratch.write(app.origin.file, parsed.text())
        return
    resource = state.graph.resources.get(key)
    current = resource.annotations.get(ANNOTATION_IGNORE, "") if resource else ""
    listed = [p.strip() for p in current.split(",") if p.strip()]
    value = ",".join(dict.fromkeys([*listed, pointer]))
    path = ("metadata", "annotations", ANNOTATION_IGNORE)
    write_value(
        scratch, state, key, path, value, f"/metadata/annotations/{_escape(ANNOTATION_IGNORE)}"
    )


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def _rule_is_for(rule: Any, key: ResourceKey) -> bool:
    return (
        (rule.get("group") or "") == key.group
        and rule.get("kind") == key.kind
        and (rule.get("name") or "") == key.name
        and (rule.get("namespace") or "") in ("", key.namespace)
    )
