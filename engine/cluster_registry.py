"""The clusters a person registered with ``gitwave cluster add``.

Stored as JSON in the state directory (``clusters.json``, 0600 in the 0700
directory). An entry says where a cluster is (its server URL) and how to reach
it: a kubeconfig context (the file's path and the context's name, never the
credentials themselves) or a named sandbox (its own store under
``clusters/NAME`` in the state directory). Nothing secret is written here.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gitwave.engine.clusters import IN_CLUSTER_NAME, Cluster, ClusterKind, pairs
from gitwave.engine.errors import ValidationError
from gitwave.engine.private_files import FILE_MODE, private_directory

REGISTRY_FILE = "clusters.json"
SANDBOX_CLUSTERS_DIR = "clusters"
_NAME = re.compile(r"[a-z0-9]([-a-z0-9.]{0,61}[a-z0-9])?")
_LABEL_KEY = re.compile(
    r"([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?"
)


@dataclass(frozen=True)
class RegisteredCluster:
    """One ``gitwave cluster add`` entry: the cluster and how to reach it."""

    cluster: Cluster
    context: str = ""  # a kubeconfig context (ClusterKind.KUBECONFIG)
    kubeconfig: str = ""  # the kubeconfig path(s) given with --kubeconfig ("": the default)

    def as_dict(self) -> dict[str, Any]:
        cluster = self.cluster
        return {
            "name": cluster.name,
            "server": cluster.server,
            "kind": cluster.kind.value,
            "context": self.context,
            "kubeconfig": self.kubeconfig,
            "labels": dict(cluster.labels),
            "namespaces": list(cluster.namespaces),
        }

    @classmethod
    def from_dict(cls, value: Mapping[str, Any], where: str) -> RegisteredCluster:
        try:
            kind = ClusterKind(str(value["kind"]))
            cluster = Cluster(
                name=str(value["name"]),
                server=str(value["server"]),
                kind=kind,
                labels=pairs(value.get("labels")),
                namespaces=tuple(str(n) for n in value.get("namespaces") or ()),
                origin="registry",
            )
        except (KeyError, ValueError, TypeError, AttributeError) as exc:
            raise ValidationError(where, f"malformed cluster entry: {exc}") from None
        return cls(
            cluster=cluster,
            context=str(value.get("context") or ""),
            kubeconfig=str(value.get("kubeconfig") or ""),
        )


def check_name(name: str) -> str:
    """``name`` if it can name a cluster (a DNS subdomain, not ``in-cluster``)."""
    if not _NAME.fullmatch(name):
        raise ValidationError(
            f"cluster {name!r}", "a cluster name is lower-case letters, digits, '-' and '.'"
        )
    if name == IN_CLUSTER_NAME:
        raise ValidationError(
            f"cluster {name!r}", "in-cluster is the current target; it cannot be registered"
        )
    return name


def parse_labels(items: Sequence[str]) -> tuple[tuple[str, str], ...]:
    """``k=v`` flags as sorted pairs; ValidationError naming a malformed one."""
    labels: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not _LABEL_KEY.fullmatch(key) or len(value) > 63:
            raise ValidationError(f"--label {item}", "expected KEY=VALUE (a Kubernetes label)")
        labels[key] = value
    return pairs(labels)


class ClusterRegistry:
    """The registered clusters of one state directory."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        self.path = state_dir / REGISTRY_FILE

    def entries(self) -> list[RegisteredCluster]:
        """Every entry, sorted by name. ValidationError for a corrupt file."""
        try:
            raw = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return []
        try:
            value = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ValidationError(str(self.path), f"not JSON: {exc.msg}") from None
        items = value.get("clusters") if isinstance(value, dict) else None
        if not isinstance(items, list):
            raise ValidationError(str(self.path), 'expected {"clusters": [...]}')
        found = [RegisteredCluster.from_dict(item, str(self.path)) for item in items]
        return sorted(found, key=lambda e: e.cluster.name)

    def get(self, name: str) -> RegisteredCluster | None:
        return next((e for e in self.entries() if e.cluster.name == name), None)

    def add(self, entry: RegisteredCluster, *, replace: bool = False) -> None:
        """Register ``entry``; ValidationError when its name or server is taken
        (unless ``replace``: the entry of that name is replaced)."""
        name = check_name(entry.cluster.name)
        kept = []
        for other in self.entries():
            if other.cluster.name == name:
                if not replace:
                    raise ValidationError(
                        f"cluster {name}",
                        "is already registered",
                        hint=f"`gitwave cluster rm {name}` first, or add it with --replace",
                    )
                continue
            if other.cluster.server == entry.cluster.server:
                raise ValidationError(
                    f"cluster {name}",
                    f"server {entry.cluster.server} is already registered as {other.cluster.name}",
                )
            kept.append(other)
        self._write([*kept, entry])

    def remove(self, name: str) -> RegisteredCluster:
        """Forget ``name`` (a sandbox cluster's objects stay in its store);
        ValidationError when it is not registered."""
        entries = self.entries()
        found = next((e for e in entries if e.cluster.name == name), None)
        if found is None:
            known = ", ".join(e.cluster.name for e in entries) or "none"
            raise ValidationError(f"cluster {name}", f"is not registered (registered: {known})")
        self._write([e for e in entries if e is not found])
        return found

    def sandbox_dir(self, name: str) -> Path:
        """Where the sandbox cluster ``name`` keeps its objects."""
        return self.state_dir / SANDBOX_CLUSTERS_DIR / check_name(name)

    def _write(self, entries: Sequence[RegisteredCluster]) -> None:
        private_directory(self.state_dir)
        text = json.dumps(
            {"clusters": [e.as_dict() for e in sorted(entries, key=lambda e: e.cluster.name)]},
            indent=2,
        )
        fd, tmp = tempfile.mkstemp(dir=self.state_dir, prefix=".clusters-", suffix=".json")
        try:
            os.fchmod(fd, FILE_MODE)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text + "\n")
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
