"""Argo Rollouts: how gitwave reads a Rollout and what promote and abort write.

Pure: a Rollout's progress for people (``rollout_view``: step, weight,
pause), and the merge patches ``kubectl argo rollouts promote|abort`` send
(``promote_patches``, ``abort_patches``), so the CLI and the TUI drive a real
Argo Rollouts controller, or the sandbox playing it, the same way. A target
that can take them offers ``RolloutPatcher``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from gitwave.engine.errors import GitwaveError, ProviderError
from gitwave.engine.health import health_of
from gitwave.engine.health.rollouts import is_paused
from gitwave.engine.model import Health, Live, Manifest, ResourceKey
from gitwave.engine.router import ProviderRouter

ROLLOUT_GROUP = "argoproj.io"
ROLLOUT_KIND = "Rollout"
ROLLOUT_API_VERSION = "argoproj.io/v1alpha1"
# The subresource a patch goes to; None: the object itself (spec).
STATUS = "status"


def is_rollout(key: ResourceKey) -> bool:
    return key.group == ROLLOUT_GROUP and key.kind == ROLLOUT_KIND


@runtime_checkable
class RolloutPatcher(Protocol):
    """Optional: a target that takes JSON merge patches (``kubectl patch
    --type merge [--subresource status]``), which is how promote and abort
    reach a Rollout's controller."""

    def merge_patch(
        self, key: ResourceKey, patch: Manifest, *, subresource: str | None = None
    ) -> Live:
        """Apply ``patch`` (RFC 7386) to the object, or to its ``subresource``;
        the object after it. Raises ProviderError when the object is absent or
        the target refuses the patch, UnreachableError when it cannot be reached."""
        ...


@dataclass(frozen=True, slots=True)
class Patch:
    """One merge patch of a promote or an abort, and where it goes."""

    body: Manifest
    subresource: str | None = None


def _as_map(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _steps(manifest: Manifest) -> list[Mapping[str, Any]]:
    canary = _as_map(_as_map(_as_map(manifest.get("spec")).get("strategy")).get("canary"))
    steps = canary.get("steps")
    return [_as_map(s) for s in steps] if isinstance(steps, list) else []


def _is_canary(manifest: Manifest) -> bool:
    strategy = _as_map(_as_map(manifest.get("spec")).get("strategy"))
    return strategy.get("canary") is not None


def step_index(manifest: Manifest) -> int | None:
    """``status.currentStepIndex``, or None for a Rollout without canary steps."""
    steps = _steps(manifest)
    if not steps:
        return None
    value = _as_map(manifest.get("status")).get("currentStepIndex")
    index = int(value) if isinstance(value, int) and not isinstance(value, bool) else 0
    return max(0, min(index, len(steps)))


def promote_patches(manifest: Manifest, *, full: bool = False) -> list[Patch]:
    """The patches ``kubectl argo rollouts promote [--full]`` sends for this live
    Rollout, status first: ``--full`` asks for ``status.promoteFull`` (when a
    canary is in flight); else clear the pause conditions, or, with none, move
    a canary past its current step; and lift ``spec.paused``."""
    status = _as_map(manifest.get("status"))
    patches: list[Patch] = []
    if full:
        if status.get("currentPodHash") != status.get("stableRS"):
            patches.append(Patch({"status": {"promoteFull": True}}, STATUS))
        return patches
    conditions = status.get("pauseConditions")
    index = step_index(manifest)
    if isinstance(conditions, list) and conditions:
        patches.append(Patch({"status": {"pauseConditions": None}}, STATUS))
    elif _is_canary(manifest) and index is not None:
        following = min(index + 1, len(_steps(manifest)))
        body = {"status": {"pauseConditions": None, "currentStepIndex": following}}
        patches.append(Patch(body, STATUS))
    if _as_map(manifest.get("spec")).get("paused") is True:
        patches.append(Patch({"spec": {"paused": False}}))
    return patches


def abort_patches(manifest: Manifest) -> list[Patch]:
    """The patch ``kubectl argo rollouts abort`` sends: ``status.abort``."""
    return [Patch({"status": {"abort": True}}, STATUS)]


def describe_step(step: Mapping[str, Any]) -> str:
    """One canary step as people write it: ``setWeight 20``, ``pause``, ``pause 30s``."""
    if "setWeight" in step:
        return f"setWeight {step['setWeight']}"
    if "pause" in step:
        duration = _as_map(step.get("pause")).get("duration")
        return f"pause {duration}" if duration not in (None, "") else "pause"
    if "analysis" in step:
        templates = _as_map(step.get("analysis")).get("templates")
        names = [
            str(_as_map(t).get("templateName") or _as_map(t).get("clusterTemplateName") or "?")
            for t in (templates if isinstance(templates, list) else [])
        ]
        return f"analysis {','.join(names)}" if names else "analysis"
    return next(iter(step), "step")


def current_weight(manifest: Manifest) -> int:
    """The canary's share of the replicas Argo Rollouts aims at now: the last
    ``setWeight`` up to the current step, 100 once every step is done, 0 aborted."""
    status = _as_map(manifest.get("status"))
    if status.get("abort") is True:
        return 0
    steps = _steps(manifest)
    index = step_index(manifest)
    if status.get("currentPodHash") and status.get("currentPodHash") == status.get("stableRS"):
        return 100
    if index is None or index >= len(steps):
        return 100
    for step in reversed(steps[: index + 1]):
        if "setWeight" in step:
            return int(step["setWeight"])
    return 0


@dataclass(frozen=True, slots=True)
class RolloutView:
    """A Rollout's progress as ``gitwave rollout status`` and the TUI show it."""

    key: ResourceKey
    health: Health
    strategy: str  # canary, blueGreen
    step: str  # "2/4", "-" without steps
    current_step: str  # "pause 30s", "" when every step is done
    weight: int
    paused: bool
    aborted: bool
    stable: str
    canary: str
    message: str

    @property
    def summary(self) -> str:
        """``step 2/4 (pause) weight 20%``: one cell of a table row."""
        if self.step == "-":
            return f"{self.strategy} weight {self.weight}%"
        doing = f" ({self.current_step})" if self.current_step else ""
        return f"step {self.step}{doing} weight {self.weight}%"


def rollout_view(live: Live) -> RolloutView:
    """What a live Rollout is doing."""
    manifest = live.manifest
    status = _as_map(manifest.get("status"))
    strategy = _as_map(_as_map(manifest.get("spec")).get("strategy"))
    steps = _steps(manifest)
    index = step_index(manifest)
    current = ""
    if (
        index is not None
        and index < len(steps)
        and status.get("currentPodHash") != status.get("stableRS")
        and status.get("abort") is not True
    ):
        current = describe_step(steps[index])
    stable = str(status.get("stableRS") or "")
    pod_hash = str(status.get("currentPodHash") or "")
    return RolloutView(
        key=live.key,
        health=health_of(manifest),
        strategy="blueGreen" if strategy.get("blueGreen") is not None else "canary",
        step="-" if index is None else f"{index}/{len(steps)}",
        current_step=current,
        weight=current_weight(manifest),
        paused=is_paused(manifest),
        aborted=status.get("abort") is True,
        stable=stable,
        canary=pod_hash if pod_hash != stable else "",
        message=str(status.get("message") or ""),
    )


def rollout_note(live: Live) -> str:
    """``step 1/4 (pause) weight 25%``, ``aborted``: a Rollout's progress in a row."""
    view = rollout_view(live)
    return "aborted" if view.aborted else view.summary


# ------------------------------------------------------------------ operations


class RolloutError(GitwaveError):
    """An app has no such Rollout, or its target cannot be patched."""


def app_rollouts(targets: ProviderRouter, app: str) -> list[Live]:
    """The live Rollouts ``app`` owns on ``targets``, sorted by key."""
    return [live for live in targets.list_tracked(app) if is_rollout(live.key)]


def choose_rollout(rollouts: list[Live], app: str, name: str | None) -> Live:
    """The Rollout called ``name`` (``namespace/name`` too), or the app's only
    one when no name is given. RolloutError naming the app's Rollouts otherwise."""
    names = ", ".join(f"{r.key.namespace}/{r.key.name}" for r in rollouts)
    if not rollouts:
        raise RolloutError(
            f"{app}: no Rollout (argoproj.io) among the app's live objects",
            hint=f"`gitwave status` shows what {app} holds",
        )
    if name is None:
        if len(rollouts) == 1:
            return rollouts[0]
        raise RolloutError(
            f"{app} has {len(rollouts)} Rollouts; name one: {names}",
            hint="gitwave rollout promote APP ROLLOUT",
        )
    namespace, _, short = name.rpartition("/")
    found = [r for r in rollouts if r.key.name == short and namespace in ("", r.key.namespace)]
    if len(found) != 1:
        what = "is ambiguous" if found else "is not one of its Rollouts"
        raise RolloutError(f"{app}: {name} {what} ({names})")
    return found[0]


def _patch(targets: ProviderRouter, live: Live, patches: list[Patch]) -> Live:
    provider = targets.for_live(live)
    if not isinstance(provider, RolloutPatcher):
        raise ProviderError(live.key, f"the target {targets.description} cannot patch objects")
    # The server's answer to the last patch: a cache read could still be older.
    for patch in patches:
        live = provider.merge_patch(live.key, patch.body, subresource=patch.subresource)
    return live


def promote(targets: ProviderRouter, live: Live, *, full: bool = False) -> RolloutView:
    """Promote the Rollout as ``kubectl argo rollouts promote [--full]``; its view after."""
    return rollout_view(_patch(targets, live, promote_patches(live.manifest, full=full)))


def abort(targets: ProviderRouter, live: Live) -> RolloutView:
    """Abort the Rollout as ``kubectl argo rollouts abort``; its view after."""
    return rollout_view(_patch(targets, live, abort_patches(live.manifest)))
