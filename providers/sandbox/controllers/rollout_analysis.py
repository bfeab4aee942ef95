"""A Rollout's ``analysis`` step, as the sandbox's Argo Rollouts controller
(``rollouts``) runs it: the AnalysisTemplates it names, each metric measured
once (``..analysis``), and the outcome that moves the Rollout on, aborts or
pauses it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from gitwave.engine.model import Manifest, ResourceKey

from ..analysis import Fetch, Measurement, Phase, measure_metric, template_args
from .base import as_map, meta_of
from .rollout_spec import GROUP


@dataclass(frozen=True, slots=True)
class AnalysisOutcome:
    """What an analysis step found: ``Successful``, ``Failed``, ``Error`` or
    ``Inconclusive``, and a message for people."""

    phase: str
    message: str


# Runs the analysis of a step: (rollout, the step's ``analysis``) -> outcome.
AnalysisRunner = Callable[[Manifest, Mapping[str, Any]], AnalysisOutcome]


def analysis_templates(obj: Manifest, analysis: Mapping[str, Any]) -> list[ResourceKey]:
    """The AnalysisTemplates a step's ``analysis`` names, in the Rollout's namespace."""
    namespace = str(meta_of(obj).get("namespace") or "")
    keys = []
    for ref in analysis.get("templates") or []:
        name = as_map(ref).get("templateName")
        if name:
            keys.append(ResourceKey(GROUP, "AnalysisTemplate", namespace, str(name)))
    return keys


def run_analysis(
    obj: Manifest,
    analysis: Mapping[str, Any],
    *,
    lookup: Callable[[ResourceKey], Manifest | None],
    fetch: Fetch,
) -> AnalysisOutcome:
    """Measure every metric of the AnalysisTemplates a step names, once: Failed
    or Error when one is, Inconclusive when one is and none failed, else
    Successful. A missing template is an Error naming it."""
    given = {
        str(as_map(a).get("name")): str(as_map(a).get("value") or "")
        for a in analysis.get("args") or []
        if as_map(a).get("name")
    }
    keys = analysis_templates(obj, analysis)
    if not keys:
        return AnalysisOutcome("Error", "the analysis step names no templateName")
    measurements: list[Measurement] = []
    for key in keys:
        template = lookup(key)
        if template is None:
            return AnalysisOutcome(
                "Error", f"AnalysisTemplate/{key.namespace}/{key.name} not found"
            )
        args = template_args(template, given)
        for metric in as_map(template.get("spec")).get("metrics") or []:
            measurements.append(measure_metric(as_map(metric), args, fetch))
    for phase in (Phase.ERROR, Phase.FAILED, Phase.INCONCLUSIVE):
        bad = [m for m in measurements if m.phase is phase]
        if bad:
            return AnalysisOutcome(phase.value, "; ".join(m.message for m in bad))
    shown = ", ".join(f"{m.metric}={m.value}" for m in measurements)
    return AnalysisOutcome(Phase.SUCCESSFUL.value, f"Metric assessed Successful: {shown}")
