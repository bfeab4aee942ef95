"""Rego policies as conftest runs them, evaluated in-process with regopy.

A policy directory's ``*.rego`` files are the modules; its other ``.json`` /
``.yaml`` files that are no Kubernetes object are data, placed (as ``opa
eval -d DIR`` places them) at the path of their directory below DIR. Every
rendered object is ``input`` in turn; from ``data.main`` (conftest's default
namespace) the rules named ``deny``, ``violation`` or ``warn``, or starting
with ``deny_``, ``violation_`` or ``warn_``, give the findings: deny and
violation refuse, warn warns. A rule's entries are strings, or objects whose
``msg`` is the message (conftest's structured results).

regopy (the Python binding of Microsoft's rego-cpp, a maintained Rego
interpreter) runs Rego v1 as ``opa`` does; ``tests/engine/test_policy_rego.py``
compares its results with the real ``opa eval`` on the same inputs.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gitwave.engine.model import Manifest
from gitwave.engine.policy.model import Action, Check, Finding, PolicyLoadError

NAMESPACE = "main"
_PREFIXES = (("deny", Action.DENY), ("violation", Action.DENY), ("warn", Action.WARN))


@dataclass(frozen=True, slots=True)
class RegoPolicies:
    """The Rego modules (``(where, text)``) and data of the policy directories."""

    modules: tuple[tuple[str, str], ...]
    data: Mapping[str, Any] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.modules)


def merge_data(data: dict[str, Any], path: Sequence[str], value: Any) -> None:
    """Put ``value`` at ``path`` in ``data``, merging objects as opa's loader does."""
    node = data
    for part in path:
        node = node.setdefault(part, {})
    if isinstance(value, Mapping):
        _deep_merge(node, value)


def _deep_merge(into: dict[str, Any], value: Mapping[str, Any]) -> None:
    for key, item in value.items():
        if isinstance(item, Mapping) and isinstance(into.get(key), dict):
            _deep_merge(into[key], item)
        else:
            into[key] = item


def rule_action(name: str) -> Action | None:
    """What a rule of ``data.main`` means to conftest (None: not a result rule)."""
    for prefix, action in _PREFIXES:
        if name == prefix or name.startswith(prefix + "_"):
            return action
    return None


class RegoEngine:
    """One interpreter loaded with the modules and data; queried per object."""

    def __init__(self, policies: RegoPolicies) -> None:
        from regopy import Interpreter  # imported late: only policy runs need it

        self._interpreter = Interpreter()
        for where, text in policies.modules:
            try:
                self._interpreter.add_module(where, text)
            except Exception as err:  # regopy raises RegoError
                raise PolicyLoadError(where, f"Rego module not loaded: {err}") from None
        self._interpreter.add_data_json(json.dumps(dict(policies.data)))
        self._where = ", ".join(w for w, _ in policies.modules)
        # Compiled once: a query of the bundle takes a third of a plain query's time.
        try:
            self._bundle = self._interpreter.build(f"data.{NAMESPACE}")
        except Exception as err:  # regopy raises RegoError for a module that does not compile
            raise PolicyLoadError(self._where, f"Rego does not compile: {err}") from None

    def results(self, obj: Manifest) -> dict[str, Any]:
        """``data.main`` for ``obj`` as input (the rules' values), {} when undefined."""
        self._interpreter.set_input_term(json.dumps(obj, default=str))
        output = self._interpreter.query_bundle(self._bundle)
        if not output.ok():
            raise PolicyLoadError(self._where, f"Rego evaluation failed: {output}")
        text = str(output)
        if text == "undefined":
            return {}
        parsed = json.loads(text)
        expressions = parsed.get("expressions") or [{}]
        value = expressions[0]
        return value if isinstance(value, dict) else {}


def findings_of(
    results: Mapping[str, Any], *, subject: str, where: str, policy: str
) -> Iterator[Finding]:
    """conftest's failures and warnings from one object's ``data.main``."""
    for rule in sorted(results):
        action = rule_action(rule)
        if action is None:
            continue
        entries = results[rule]
        if not isinstance(entries, list):
            entries = [entries] if entries not in (None, False, True) else []
        for entry in entries:
            message = entry.get("msg") if isinstance(entry, Mapping) else entry
            yield Finding(
                check=Check.REGO,
                action=action,
                subject=subject,
                where=where,
                message=str(message),
                policy=f"{policy}:{NAMESPACE}.{rule}",
            )


def load_dir(root: Path) -> tuple[list[tuple[str, str]], dict[str, Any]]:
    """The ``.rego`` modules of ``root`` (recursively) and its data files
    (JSON/YAML that is no Kubernetes object), as opa's loader places them."""
    from gitwave.engine.yamlio import iter_documents  # the one YAML reader

    modules: list[tuple[str, str]] = []
    data: dict[str, Any] = {}
    for path in sorted(root.rglob("*")):
        if not path.is_file():
            continue
        rel = path.relative_to(root)
        suffix = path.suffix.lower()
        if suffix == ".rego":
            modules.append((str(path), path.read_text(encoding="utf-8")))
        elif suffix in (".json", ".yaml", ".yml"):
            text = path.read_text(encoding="utf-8")
            values = (
                [json.loads(text)]
                if suffix == ".json"
                else [d.value for d in iter_documents(text, file=str(rel))]
            )
            for value in values:
                if isinstance(value, Mapping) and "apiVersion" in value and "kind" in value:
                    continue  # a Kubernetes object: a policy, binding or param
                merge_data(data, rel.parent.parts, value)
    return modules, data


__all__ = ["NAMESPACE", "RegoEngine", "RegoPolicies", "findings_of", "load_dir", "rule_action"]
