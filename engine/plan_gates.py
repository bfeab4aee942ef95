"""How the plan applies a gated object (``model.InstallGate``): a HelmRelease's
CRDs, applied as ``install.crds`` says until the release is installed and as
``upgrade.crds`` says after, as helm-controller does."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from gitwave.engine.diff import diff_manifest
from gitwave.engine.graph import ResourceGraph, order_key
from gitwave.engine.model import ApplyMode, Live, Resource, ResourceKey


def apply_modes(
    resources: Iterable[Resource], live: Iterable[Live | None]
) -> dict[ResourceKey, ApplyMode]:
    """How each gated object (``Resource.install_gate``: a HelmRelease's CRDs)
    is applied: its ``on_upgrade`` mode when an object of its release is
    live (in ``live``: the observed desired objects and the app's tracked
    ones), else its ``on_install`` mode. Objects without a gate are not listed."""
    gated = [r for r in resources if r.install_gate is not None]
    if not gated:
        return {}
    seen = [s for s in live if s is not None]
    modes: dict[ResourceKey, ApplyMode] = {}
    for resource in gated:
        gate = resource.install_gate
        assert gate is not None
        installed = any(gate.installed_by(s.labels) for s in seen)
        modes[resource.key] = gate.on_upgrade if installed else gate.on_install
    return modes


def forced_modes(
    modes: Mapping[ResourceKey, ApplyMode], live: Mapping[ResourceKey, Live | None]
) -> dict[ResourceKey, ApplyMode]:
    """``modes`` as ``sync --force`` applies them: a gated object that is live
    is replaced by the source whatever its policy (the user asked for every
    object to be re-applied, a CRD a Create or Skip policy leaves as it is
    too). An absent object keeps its mode: a Skip policy still never creates
    one (Skip means the release never installs its CRDs)."""
    return {
        key: ApplyMode.APPLY if live.get(key) is not None else mode for key, mode in modes.items()
    }


def left_as_is(
    graph: ResourceGraph,
    live: Mapping[ResourceKey, Live | None],
    modes: Mapping[ResourceKey, ApplyMode],
    ignore: Mapping[ResourceKey, tuple[str, ...]],
) -> list[str]:
    """A warning for each live gated object that differs from the source and
    that its mode leaves as it is (a CRD a new chart version changed)."""
    warnings = []
    for key, mode in sorted(modes.items(), key=lambda item: order_key(item[0])):
        seen = live.get(key)
        if mode.applies_updates or seen is None:
            continue
        resource = graph.resources[key]
        ignored = ignore.get(key, ())
        if diff_manifest(resource.manifest, seen.manifest, ignore=ignored):
            gate = resource.install_gate
            assert gate is not None
            warnings.append(
                f"{key.display} differs from the chart but is left as it is: "
                f"{gate.subject} applies CRDs with policy {mode.value} now; "
                "set CreateReplace to update them"
            )
    return warnings


__all__ = ["apply_modes", "forced_modes", "left_as_is"]
