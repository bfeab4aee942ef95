"""The ReplicaSets a Rollout owns, as the sandbox's Argo Rollouts controller
(``rollouts``) keeps them: stable and canary at their split, older ones at
zero as history.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from gitwave.engine.model import Manifest

from .base import as_map, meta_of, owner_reference, spec_of
from .rollout_spec import HASH_LABEL, split_of, template_hash, template_of


def children(owner: Manifest, existing: Sequence[Manifest]) -> list[Manifest]:
    """The ReplicaSets a Rollout owns: stable and canary at their split, older
    ones kept at zero as history (``revisionHistoryLimit``, default 10)."""
    status = as_map(owner.get("status"))
    if not status.get("currentPodHash"):
        return []
    split = split_of(owner, status)
    name = str(meta_of(owner).get("name"))
    by_name = {
        str(meta_of(rs).get("name")): rs for rs in existing if rs.get("kind") == "ReplicaSet"
    }
    wanted: dict[str, Manifest] = {}
    counts = {split.stable: split.stable_count, split.canary: split.canary_count}
    for pod_hash, count in counts.items():
        rs_name = f"{name}-{pod_hash}"
        held = by_name.get(rs_name)
        if held is not None:
            rs = json.loads(json.dumps(held))
            rs.pop("status", None)
        elif pod_hash == template_hash(owner):
            rs = _replica_set(owner, pod_hash)
        else:
            continue  # a stable ReplicaSet deleted by hand: nothing to scale
        rs["spec"]["replicas"] = count
        wanted[rs_name] = rs
    keep = max(int(spec_of(owner).get("revisionHistoryLimit", 10) or 0), 0)
    old = sorted(n for n in by_name if n not in wanted)
    for rs_name in old[len(old) - keep :] if keep else []:
        rs = json.loads(json.dumps(by_name[rs_name]))
        rs.pop("status", None)
        rs["spec"]["replicas"] = 0
        wanted[rs_name] = rs
    return list(wanted.values())


def _replica_set(owner: Manifest, pod_hash: str) -> Manifest:
    meta = meta_of(owner)
    template = json.loads(json.dumps(template_of(owner)))
    template_meta = template.setdefault("metadata", {})
    labels = {**as_map(template_meta.get("labels")), HASH_LABEL: pod_hash}
    template_meta["labels"] = labels
    selector = json.loads(json.dumps(as_map(spec_of(owner).get("selector"))))
    selector.setdefault("matchLabels", {})[HASH_LABEL] = pod_hash
    return {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {
            "name": f"{meta.get('name')}-{pod_hash}",
            "namespace": meta.get("namespace", ""),
            "labels": labels,
            "ownerReferences": [owner_reference(owner)],
        },
        "spec": {"replicas": 0, "selector": selector, "template": template},
    }
