"""Hooks in a sync: a hook's concrete instance (generateName, marked as ours),
its delete policies, and what happens to it when its wave finishes."""

from __future__ import annotations

import copy
import secrets
import string
from collections.abc import Callable, Sequence

from gitwave.engine.errors import ProviderError
from gitwave.engine.events import EventKind
from gitwave.engine.model import (
    DEFAULT_HOOK_DELETE_POLICIES,
    HookDeletePolicy,
    Propagation,
    Resource,
    ResourceKey,
    Task,
)
from gitwave.engine.sync_run import SyncRun

ANNOTATION_HOOK_OF = "gitwave.dev/hook-of"
# 36**5 suffixes: a clash is rare, three in a row means something else is wrong.
_NAME_TRIES = 3


def hook_instance(
    resource: Resource, app: str, *, taken: Callable[[ResourceKey], bool] = lambda key: False
) -> Resource:
    """A hook ready to create: a concrete name for generateName, marked as ours
    but without the app label, so hooks are never pruned as leftovers.

    ``taken`` tells whether a name is in use; a generated name never is, so a
    hook of one sync never overwrites the hook a previous sync left behind."""
    manifest = copy.deepcopy(resource.manifest)
    meta = manifest.setdefault("metadata", {})
    key = resource.key
    if not meta.get("name") and meta.get("generateName"):
        alphabet = string.ascii_lowercase + string.digits
        for _ in range(_NAME_TRIES):
            suffix = "".join(secrets.choice(alphabet) for _ in range(5))
            key = ResourceKey(key.group, key.kind, key.namespace, f"{meta['generateName']}{suffix}")
            if not taken(key):
                break
        else:
            raise ProviderError(
                resource.key, f"no free name for generateName {meta['generateName']!r}"
            )
        meta["name"] = key.name
    meta.setdefault("annotations", {})[ANNOTATION_HOOK_OF] = app
    return Resource(key, resource.api_version, manifest, resource.source)


def delete_policies(task: Task) -> frozenset[HookDeletePolicy]:
    """When the hook of ``task`` is deleted, as the graph stage read it; Argo CD's
    default for a task that carries no graph facts (one not made by make_plan)."""
    return task.facts.delete_policies if task.facts is not None else DEFAULT_HOOK_DELETE_POLICIES


def finish_hooks(run: SyncRun, hooks: Sequence[tuple[Task, Resource]], *, succeeded: bool) -> None:
    for task, hook in hooks:
        policies = delete_policies(task)
        provider = run.targets.for_resource(hook)
        run.emit(EventKind.HOOK_FINISHED, "succeeded" if succeeded else "failed", resource=hook.key)
        if (succeeded and HookDeletePolicy.HOOK_SUCCEEDED in policies) or (
            not succeeded and HookDeletePolicy.HOOK_FAILED in policies
        ):
            provider.delete(hook.key, propagation=Propagation.FOREGROUND)
