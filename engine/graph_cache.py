"""The graph of a render kept across processes, so a fresh `gitwave plan` of an
unchanged commit does not read 10,000 objects' annotations and pod specs
again to find the same stages (the graph build was about 30 % of such a plan).

``build_graph`` is a pure function of the objects it is given and the extra
edges (and of gitwave's code). So its result is kept under a digest of exactly
those: each object's key, apiVersion and whole manifest, in order, the extra
edges, and the mtimes of gitwave's modules. Any edit (a sync-wave, a
depends-on, a pod's ConfigMap, an object added, dropped or renamed, a new
gitwave) gives another digest, and the graph is built again: a kept graph is
only ever the graph of the same input.

The digest is of ``marshal``'s bytes (version 0, whose bytes depend on the
values only; the value can be read back from them, so equal bytes are equal
values), hashed with BLAKE2b keyed by the cache directory's secret, so no
file holds a plain digest of a Secret's values. When the objects are, one for
one, a render this process read back from the render cache, their part of
the input is that entry's signature instead (``disk_cache.content_digest``, a
keyed digest of the bytes they were decoded from): one hash of the render, not
one marshal of 10,000 manifests. Entries are signed plain-data files
(``SignedFiles``) in ``$GITWAVE_CACHE/graphs`` holding numbers and strings only: positions into
the objects given, the stages, the edges and each object's ``NodeFacts``. An
entry that is unsigned, from other code, or does not fit the objects given is
a miss. Only renders of ``MIN_OBJECTS`` or more are
kept; a build that raises (a cycle, a bad annotation) is never kept, so the
error is raised again each time.

Beside a graph, the plan memo's desired digests of its objects
(``plan_memo.desired_digest``) are kept per owner and ignore rules, under the
graph's digest: what they hash is part of the graph's input.
"""

from __future__ import annotations

import hashlib
import logging
import marshal
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import Any

from gitwave.engine.dag import Dag
from gitwave.engine.graph import ResourceGraph, Stage, build_graph
from gitwave.engine.model import (
    Dependency,
    HookDeletePolicy,
    HookPhase,
    NodeFacts,
    Resource,
    ResourceKey,
)
from gitwave.engine.plan_memo import code_identity
from gitwave.engine.render.disk_cache import content_digest
from gitwave.engine.signed_files import SignedFiles, gc_paused

__all__ = ["GraphFiles", "cached_graph", "graph_files", "keyed_graph"]

_log = logging.getLogger(__name__)

FORMAT = 1
# Smaller renders build their graph in milliseconds; a fleet of small apps
# would otherwise write a file each.
MIN_OBJECTS = 100

_PHASES = {phase.value: phase for phase in HookPhase}
_POLICIES = {policy.value: policy for policy in HookDeletePolicy}

Edge = Dependency | tuple[ResourceKey, ResourceKey]


class GraphFiles(SignedFiles):
    """The kept graphs of one cache directory."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.hits = 0  # graphs read back instead of built (what a test reads)

    def digest(self, resources: Sequence[Resource], extra_edges: Sequence[Edge]) -> str | None:
        """The key of the graph of this input; None when it has none (a value
        marshal cannot hold, no usable cache key)."""
        render = content_digest(resources)
        try:
            data = marshal.dumps(
                (
                    FORMAT,
                    code_identity(),
                    # The two kinds of input never share a key: a str, a list.
                    render or [(tuple(_key(r.key)), r.api_version, r.manifest) for r in resources],
                    [_edge(e) for e in extra_edges],
                ),
                # Version 0: no back-references and no interned-string mark, whose
                # use depends on reference counts; the bytes depend on the values.
                0,
            )
        except ValueError:
            return None  # a YAML timestamp, bytes: built every time
        secret = self._key(create=True)
        if secret is None:
            return None
        return hashlib.blake2b(data, digest_size=32, key=secret).hexdigest()

    def load(self, digest: str, resources: Sequence[Resource]) -> ResourceGraph | None:
        document = self.read(digest)
        if not isinstance(document, dict) or document.get("key") != digest:
            return None
        try:
            with gc_paused():  # the graph's containers, all kept: no garbage
                graph = _decode(document, resources)
        except (ValueError, TypeError, KeyError, IndexError) as exc:
            _log.debug("graph cache: an entry does not fit its objects (%s); ignored", exc)
            return None
        self.hits += 1
        return graph

    def save(self, digest: str, resources: Sequence[Resource], graph: ResourceGraph) -> None:
        self.write(digest, {"key": digest, **_encode(graph, resources)})

    def load_digests(self, key_text: str, count: int) -> list[str] | None:
        """The ``count`` desired digests kept under ``key_text``, or None."""
        document = self.read(key_text)
        if not isinstance(document, dict) or document.get("key") != key_text:
            return None
        digests = document.get("digests")
        if not isinstance(digests, list) or len(digests) != count:
            return None
        if not all(isinstance(d, str) for d in digests):
            return None
        return digests

    def save_digests(self, key_text: str, digests: list[str]) -> None:
        self.write(key_text, {"key": key_text, "digests": digests})


def cached_graph(
    resources: Sequence[Resource], *, extra_edges: Iterable[Edge] = ()
) -> ResourceGraph:
    """``build_graph(resources, extra_edges=...)``, read back from the cache
    directory when an earlier process built it from the same input. Raises
    what ``build_graph`` raises."""
    return keyed_graph(resources, extra_edges=extra_edges)[0]


def keyed_graph(
    resources: Sequence[Resource], *, extra_edges: Iterable[Edge] = ()
) -> tuple[ResourceGraph, str]:
    """``cached_graph``, and the digest of its input ("" when it has none:
    too few objects, or values marshal cannot hold)."""
    edges = tuple(extra_edges)
    if len(resources) < MIN_OBJECTS:
        return build_graph(resources, extra_edges=edges), ""
    files = graph_files()
    digest = files.digest(resources, edges)
    if digest is not None:
        kept = files.load(digest, resources)
        if kept is not None:
            return kept, digest
    graph = build_graph(resources, extra_edges=edges)
    if digest is not None:
        files.save(digest, resources, graph)
    return graph, digest or ""


def _key(key: ResourceKey) -> list[str]:
    return [key.group, key.kind, key.namespace, key.name]


def _edge(edge: Edge) -> tuple[Any, ...]:
    if isinstance(edge, Dependency):
        return (*_key(edge.before), *_key(edge.after), edge.reason.value)
    before, after = edge
    return (*_key(before), *_key(after))


def _encode(graph: ResourceGraph, resources: Sequence[Resource]) -> dict[str, Any]:
    """The graph as positions into ``resources`` and into its own order."""
    index_of = {r.key: i for i, r in enumerate(resources)}
    position = {key: p for p, key in enumerate(graph.order)}
    table: dict[NodeFacts, int] = {}
    for key in graph.order:
        table.setdefault(graph.facts[key], len(table))

    def stages(found: tuple[Stage, ...]) -> list[list[Any]]:
        return [[s.phase.value, s.wave, s.step, [position[k] for k in s.keys]] for s in found]

    return {
        "objects": len(resources),
        "order": [index_of[key] for key in graph.order],
        "skipped": [index_of[key] for key in graph.skipped],
        "facts": [
            [
                [p.value for p in facts.phases],
                facts.wave,
                facts.is_hook,
                sorted(d.value for d in facts.delete_policies),
                sorted(facts.sync_options),
                [_key(k) for k in facts.references],
            ]
            for facts in table
        ],
        "facts_of": [table[graph.facts[key]] for key in graph.order],
        "stages": stages(graph.stages),
        "fail_stages": stages(graph.fail_stages),
        "edges": [[position[u], position[v]] for u, v in graph.dag.edges],
    }


def _decode(document: dict[str, Any], resources: Sequence[Resource]) -> ResourceGraph:
    if document["objects"] != len(resources):
        raise ValueError("another number of objects")
    kept = [resources[int(i)] for i in document["order"]]
    keys = [r.key for r in kept]
    table = [
        NodeFacts(
            tuple(_PHASES[p] for p in phases),
            int(wave),
            is_hook=bool(is_hook),
            delete_policies=frozenset(_POLICIES[d] for d in policies),
            sync_options=frozenset(str(o) for o in options),
            references=tuple(ResourceKey(*(str(part) for part in k)) for k in references),
        )
        for phases, wave, is_hook, policies, options, references in document["facts"]
    ]
    facts_of = document["facts_of"]
    if len(facts_of) != len(keys):
        raise ValueError("facts do not match the objects")

    def stages(found: list[list[Any]]) -> tuple[Stage, ...]:
        return tuple(
            Stage(_PHASES[phase], int(wave), int(step), tuple(keys[p] for p in members))
            for phase, wave, step, members in found
        )

    return ResourceGraph(
        resources=MappingProxyType({r.key: r for r in kept}),
        dag=Dag.of_positions(keys, document["edges"]),
        order=tuple(keys),
        stages=stages(document["stages"]),
        fail_stages=stages(document["fail_stages"]),
        facts=MappingProxyType({key: table[f] for key, f in zip(keys, facts_of, strict=True)}),
        skipped=tuple(resources[int(i)].key for i in document["skipped"]),
    )


def default_graph_dir() -> Path:
    """``$GITWAVE_CACHE/graphs``, else ``$XDG_CACHE_HOME/gitwave/graphs``, else
    ``~/.cache/gitwave/graphs``."""
    if os.environ.get("GITWAVE_CACHE"):
        return Path(os.environ["GITWAVE_CACHE"]) / "graphs"
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "gitwave" / "graphs"


_FILES: dict[str, GraphFiles] = {}


def graph_files() -> GraphFiles:
    """The kept graphs of the current cache directory (``$GITWAVE_CACHE``, …)."""
    root = default_graph_dir()
    return _FILES.setdefault(str(root), GraphFiles(root))
