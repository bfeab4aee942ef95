"""kubectl's resource names and short names: ``deploy/web`` → (apps, Deployment, web)."""

from __future__ import annotations

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
