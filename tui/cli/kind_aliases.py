"""kubectl's resource names and short names: ``deploy/web`` → (apps, Deployment, web);
``resolve_kind`` tells which kinds the sandbox serves and their scope."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from gitwave.engine.errors import GitwaveError
from gitwave.engine.scope import is_cluster_scoped
from gitwave.providers.sandbox.kinds import BUILTIN_KINDS

_ALIASES: dict[str, tuple[str, str]] = {}


def _register(group: str, kind: str, *names: str) -> None:
    for name in (kind.lower(), kind.lower() + "s", *names):
        _ALIASES[name] = (group, kind)


_register("", "Namespace", "ns")
_register("", "ConfigMap", "cm")
_register("", "Secret")
_register("", "Service", "svc")
_register("", "Pod", "po")
_register("", "ServiceAccount", "sa")
_register("", "PersistentVolumeClaim", "pvc")
_register("", "PersistentVolume", "pv")
_register("apps", "Deployment", "deploy")
_register("apps", "StatefulSet", "sts")
_register("apps", "DaemonSet", "ds")
_register("apps", "ReplicaSet", "rs")
_register("batch", "Job")
_register("batch", "CronJob", "cj")
_register("networking.k8s.io", "Ingress", "ing", "ingresses")
_register("autoscaling", "HorizontalPodAutoscaler", "hpa")
_register("apiextensions.k8s.io", "CustomResourceDefinition", "crd", "crds")


def parse_kind_name(text: str) -> tuple[str, str, str]:
    """``KIND[.group][/NAME]`` → (group, Kind, name); name is "" when absent.

    Unknown kinds keep their spelling, so custom resources work as
    ``Widget.example.com/name``.
    """
    kind_part, _, name = text.partition("/")
    base, _, group = kind_part.partition(".")
    known = _ALIASES.get(base.lower())
    if known and (not group or group == known[0]):
        return known[0], known[1], name
    return group, base, name


@dataclass(frozen=True, slots=True)
class ServedKind:
    """A kind the sandbox serves, as ``sandbox get|scale|edit`` resolved it."""

    group: str
    kind: str
    namespaced: bool


class UnknownKindError(GitwaveError):
    """A resource type the sandbox does not serve (kubectl: "the server doesn't
    have a resource type")."""


def _plural(kind: str) -> str:
    lower = kind.lower()
    if lower.endswith("y") and lower[-2:-1] not in "aeiou":
        return lower[:-1] + "ies"
    if lower.endswith(("s", "x", "ch", "sh")):
        return lower + "es"
    return lower + "s"


def _builtin_names() -> dict[str, tuple[str, str]]:
    names: dict[str, tuple[str, str]] = {}
    for group, kinds in BUILTIN_KINDS.items():
        for kind in kinds:
            for name in (kind.lower(), _plural(kind)):
                names.setdefault(name, (group, kind))
    return names


def _crd_names(crd: Mapping[str, Any]) -> tuple[str, str, bool, set[str]] | None:
    spec = crd.get("spec")
    if not isinstance(spec, Mapping) or not isinstance(spec.get("names"), Mapping):
        return None
    names = spec["names"]
    kind, group = names.get("kind"), spec.get("group")
    if not isinstance(kind, str) or not isinstance(group, str):
        return None
    spelled = {kind.lower()}
    for field in ("plural", "singular"):
        if isinstance(names.get(field), str):
            spelled.add(names[field].lower())
    spelled.update(s.lower() for s in names.get("shortNames") or [] if isinstance(s, str))
    return group, kind, spec.get("scope") != "Cluster", spelled


def resolve_kind(text: str, crds: Iterable[Mapping[str, Any]]) -> ServedKind:
    """The kind ``text`` (``deploy``, ``configmaps``, ``Widget.example.com``,
    ``widgets``; no ``/NAME``) names among the built-in kinds and the stored
    CustomResourceDefinitions ``crds``, with its scope, as kubectl resolves it.

    Raises UnknownKindError when nothing serves it."""
    base, _, group = text.partition(".")
    wanted = base.lower()
    known = _ALIASES.get(wanted) or _builtin_names().get(wanted)
    if known and (not group or group == known[0]):
        return ServedKind(known[0], known[1], not is_cluster_scoped(known[0], known[1]))
    for crd in crds:
        found = _crd_names(crd)
        if found is None:
            continue
        crd_group, kind, namespaced, spelled = found
        if wanted in spelled and (not group or group == crd_group):
            return ServedKind(crd_group, kind, namespaced)
    raise UnknownKindError(
        f'unknown resource type "{text}": the sandbox serves no such kind',
        hint="`gitwave sandbox get crd` lists the custom kinds the sandbox serves",
    )


def resource_type_names() -> list[str]:
    """The plural names of the built-in kinds the sandbox serves (``deployments``),
    sorted: what ``gitwave completion`` offers after ``sandbox get``, as
    ``kubectl get <TAB>`` offers the server's resource types."""
    return sorted({_plural(kind) for kinds in BUILTIN_KINDS.values() for kind in kinds})
