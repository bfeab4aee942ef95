"""The graph kept across processes (``graph_cache``): read back, it is the graph
``build_graph`` makes of the same objects (stages, steps, edges, facts, the
skipped hooks); any change to what the graph reads gives a new build; an entry
this cache did not write is never used; a build that fails is never kept."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

from gitwave.engine.errors import CycleError
from gitwave.engine.graph import ResourceGraph, build_graph
from gitwave.engine.graph_cache import MIN_OBJECTS, GraphFiles, cached_graph, graph_files
from gitwave.engine.model import Dependency, Resource, ResourceKey
from gitwave.engine.render.disk_cache import DiskRenderCache
from gitwave.engine.render.values import Rendered, RenderTool


def _resource(
    kind: str,
    name: str,
    *,
    annotations: dict[str, str] | None = None,
    spec: dict[str, Any] | None = None,
    namespace: str = "app",
) -> Resource:
    api = "apps/v1" if kind == "Deployment" else "batch/v1" if kind == "Job" else "v1"
    group = api.split("/")[0] if "/" in api else ""
    metadata: dict[str, Any] = {"name": name}
    if namespace:
        metadata["namespace"] = namespace
    if annotations:
        metadata["annotations"] = annotations
    manifest: dict[str, Any] = {"apiVersion": api, "kind": kind, "metadata": metadata}
    if spec is not None:
        manifest["spec"] = spec
    return Resource(ResourceKey(group, kind, namespace, name), api, manifest)


def _pod(config: str) -> dict[str, Any]:
    return {
        "template": {
            "spec": {"containers": [{"name": "c", "envFrom": [{"configMapRef": {"name": config}}]}]}
        }
    }


def _objects() -> list[Resource]:
    """A render with every part of a graph: waves, hooks of several phases,
    a skipped hook, depends-on, pod references, a namespace."""
    found = [_resource("Namespace", "app", namespace="")]
    for i in range(MIN_OBJECTS):
        found.append(
            _resource(
                "ConfigMap", f"cfg-{i}", annotations={"argocd.argoproj.io/sync-wave": str(i % 3)}
            )
        )
        found.append(
            _resource(
                "Deployment",
                f"web-{i}",
                spec=_pod(f"cfg-{i}"),
                annotations={"argocd.argoproj.io/sync-wave": str(i % 3)},
            )
        )
    found.append(
        _resource(
            "Job",
            "migrate",
            annotations={
                "argocd.argoproj.io/hook": "PreSync,PostSync",
                "argocd.argoproj.io/hook-delete-policy": "HookSucceeded",
            },
        )
    )
    found.append(_resource("Job", "never", annotations={"argocd.argoproj.io/hook": "Skip"}))
    found.append(_resource("Job", "on-fail", annotations={"argocd.argoproj.io/hook": "SyncFail"}))
    found.append(
        _resource(
            "ConfigMap",
            "last",
            annotations={
                "gitwave.dev/depends-on": "Deployment.apps/app/web-0",
                "argocd.argoproj.io/sync-options": "Prune=false",
            },
        )
    )
    return found


def _same(built: ResourceGraph, kept: ResourceGraph) -> None:
    assert kept.order == built.order
    assert kept.stages == built.stages
    assert kept.fail_stages == built.fail_stages
    assert dict(kept.facts) == dict(built.facts)
    assert kept.skipped == built.skipped
    assert kept.dag.nodes == built.dag.nodes
    assert kept.dag.edges == built.dag.edges
    assert list(kept.resources) == list(built.resources)
    for key, resource in built.resources.items():
        assert kept.resources[key] is resource


@pytest.fixture(autouse=True)
def _cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITWAVE_CACHE", str(tmp_path / "cache"))


def _fresh_files() -> GraphFiles:
    # What another process sees: the same directory, nothing in memory.
    return GraphFiles(graph_files().root)


def test_a_kept_graph_is_the_graph_built_from_the_same_objects() -> None:
    objects = _objects()
    extra = (
        Dependency(
            ResourceKey("", "ConfigMap", "app", "cfg-1"),
            ResourceKey("", "ConfigMap", "app", "cfg-4"),
        ),
    )
    before = _fresh_files().digest(objects, extra)
    built = cached_graph(objects, extra_edges=extra)
    files = _fresh_files()
    digest = files.digest(objects, extra)
    # The graph now shares strings with the manifests: the key must not change.
    assert digest is not None and digest == before
    kept = files.load(digest, objects)
    assert kept is not None, "the first build was kept"
    _same(build_graph(objects, extra_edges=extra), kept)
    _same(built, kept)
    assert ResourceKey("batch", "Job", "app", "never") in kept.skipped
    assert [s.label for s in kept.fail_stages] == ["SyncFail wave 0"]


@dataclass(frozen=True)
class Case:
    reason: str
    edit: int  # which object changes
    annotations: dict[str, str]


@pytest.mark.parametrize(
    "case",
    [
        Case("a changed sync-wave", 1, {"argocd.argoproj.io/sync-wave": "7"}),
        Case("a new hook", 3, {"argocd.argoproj.io/hook": "PostSync"}),
        Case("a new depends-on", 5, {"gitwave.dev/depends-on": "ConfigMap/app/cfg-9"}),
    ],
    ids=lambda c: c.reason,
)
def test_any_change_the_graph_reads_builds_it_again(case: Case) -> None:
    objects = _objects()
    cached_graph(objects)
    changed = list(objects)
    old = changed[case.edit]
    manifest = {
        **old.manifest,
        "metadata": {**old.manifest["metadata"], "annotations": case.annotations},
    }
    changed[case.edit] = replace(old, manifest=manifest)
    files = _fresh_files()
    assert files.digest(changed, ()) != files.digest(objects, ())
    graph = cached_graph(changed)
    _same(build_graph(changed), graph)
    assert graph.facts[old.key] != build_graph(objects).facts[old.key]


def test_an_edge_from_compose_is_part_of_the_key() -> None:
    objects = _objects()
    files = _fresh_files()
    edge = (
        ResourceKey("", "ConfigMap", "app", "cfg-1"),
        ResourceKey("", "ConfigMap", "app", "cfg-4"),
    )
    assert files.digest(objects, ()) != files.digest(objects, (edge,))


def test_an_entry_this_cache_did_not_write_is_ignored() -> None:
    objects = _objects()
    cached_graph(objects)
    files = _fresh_files()
    digest = files.digest(objects, ())
    assert digest is not None
    (entry,) = files.root.glob("*.json")
    signature, _, payload = entry.read_bytes().partition(b"\n")
    # Its last byte changed, the signature kept: not this cache's entry.
    doctored = payload[:-1] + bytes([payload[-1] ^ 1])
    entry.write_bytes(signature + b"\n" + doctored)
    assert files.load(digest, objects) is None


def test_a_build_that_fails_is_never_kept() -> None:
    objects = _objects()
    cycle = [
        (
            ResourceKey("", "ConfigMap", "app", "cfg-3"),
            ResourceKey("", "ConfigMap", "app", "cfg-6"),
        ),
        (
            ResourceKey("", "ConfigMap", "app", "cfg-6"),
            ResourceKey("", "ConfigMap", "app", "cfg-3"),
        ),
    ]
    for _ in range(2):
        with pytest.raises(CycleError):
            cached_graph(objects, extra_edges=cycle)
    assert not list(graph_files().root.glob("*.json"))


def test_small_renders_keep_no_file() -> None:
    cached_graph(_objects()[: MIN_OBJECTS - 1])
    assert not list(graph_files().root.glob("*.json"))


def test_kept_desired_digests_are_of_the_objects_as_rendered() -> None:
    # One process binds an object's ${…} reference (a new Resource in the graph);
    # the next cannot (the referenced object is gone): the digest it reads back
    # for that object must be the unbound object's, never the bound one's.
    from gitwave.engine.app_memo import desired_digests
    from gitwave.engine.app_pipeline import desired_of
    from gitwave.engine.model import Owner
    from gitwave.engine.plan_memo import desired_digest

    desired = desired_of(_objects())
    assert desired.key, "a render this big has a graph key"
    owner = Owner("demo", "src")
    key = ResourceKey("", "ConfigMap", "app", "cfg-2")
    unbound = desired.graph.resources[key]
    bound = replace(unbound, manifest={**unbound.manifest, "data": {"endpoint": "db:5432"}})
    bound_graph = replace(desired.graph, resources={**desired.graph.resources, key: bound})

    first = desired_digests(desired, bound_graph, {}, owner)
    assert first[key] == desired_digest(bound, ignore=(), owner=owner)
    later = desired_digests(desired, desired.graph, {}, owner)
    assert later[key] == desired_digest(unbound, ignore=(), owner=owner) != first[key]
    other = ResourceKey("", "ConfigMap", "app", "cfg-3")
    assert (
        later[other]
        == first[other]
        == desired_digest(desired.graph.resources[other], ignore=(), owner=owner)
    )


def _read_back(cache: DiskRenderCache, key_text: str, objects: list[Resource]) -> Rendered:
    """``objects`` as another process reads them back from the render cache."""
    cache.put(key_text, Rendered(tuple(objects), "c0ffee", ".", RenderTool.DIRECTORY))
    found = DiskRenderCache(cache.root).get(key_text)
    assert found is not None
    return found


def test_a_render_read_back_is_keyed_by_its_entry_and_any_other_objects_by_content() -> None:
    cache = DiskRenderCache(graph_files().root.with_name("renders"))
    objects = _objects()
    read = _read_back(cache, "key-1", objects)
    files = _fresh_files()
    by_entry = files.digest(read.resources, ())
    by_content = files.digest(objects, ())
    assert by_entry is not None and by_content is not None and by_entry != by_content
    # Read back again (another process): the same entry, the same key.
    again = DiskRenderCache(cache.root).get("key-1")
    assert again is not None and files.digest(again.resources, ()) == by_entry
    # The same objects in a list are that render; equal copies of them, or one
    # object swapped, are not: keyed by their content.
    assert files.digest(list(read.resources), ()) == by_entry
    assert files.digest([replace(r) for r in read.resources], ()) == by_content
    swapped = list(read.resources)
    swapped[5] = _resource("ConfigMap", "cfg-2", annotations={"argocd.argoproj.io/sync-wave": "9"})
    assert files.digest(swapped, ()) == files.digest([*objects[:5], swapped[5], *objects[6:]], ())
    # The entry rewritten with a changed sync-wave: another entry, another key,
    # and the graph read for it is the graph of the new objects.
    objects[5] = swapped[5]
    changed = _read_back(cache, "key-1", objects)
    assert files.digest(changed.resources, ()) not in (by_entry, None)
    assert cached_graph(changed.resources).stages == build_graph(objects).stages
    assert cached_graph(read.resources).stages == build_graph(_objects()).stages
