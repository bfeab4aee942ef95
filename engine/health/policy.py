"""Which health rule judges an app's objects, and what a sync of it waits for.

An app's health follows where the app came from:

- ``HealthRule.ARGO`` — Argo CD Applications and directory (implicit) apps:
  Argo CD's checks (``engine.health.registry``); an object annotated
  ``argocd.argoproj.io/ignore-healthcheck: "true"`` counts as Healthy. A sync
  waits for each wave a later wave follows; the last wave's health is
  reported, not waited for (Argo CD's operation ends Succeeded once every wave
  is applied), unless PostSync hooks follow it.
- ``HealthRule.KSTATUS`` — Flux Kustomizations: kstatus (``kstatus``), or the
  Kustomization's ``healthCheckExprs`` for their kinds. ``wait: true`` waits
  for every object; ``healthChecks`` waits only for the objects named there
  after everything is applied; neither waits for nothing but what the next
  objects need to exist (CRDs established, Namespaces active), as Flux's
  staged apply does.

Objects a cloud provider handles (AWS kinds) keep their provider's health
under both rules: kstatus describes Kubernetes objects.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass

from gitwave.engine.health.exprs import HealthExpr
from gitwave.engine.health.kstatus import kstatus_of
from gitwave.engine.model import Health, HealthCode, Live, ResourceKey
from gitwave.engine.provider import is_cloud_group

__all__ = [
    "IGNORE_HEALTHCHECK",
    "STAGE_KINDS",
    "HealthCheckRef",
    "HealthPolicy",
    "HealthRule",
]

IGNORE_HEALTHCHECK = "argocd.argoproj.io/ignore-healthcheck"
# What Flux's staged apply waits for before applying the rest: later objects
# cannot be created until these exist and are ready.
STAGE_KINDS = frozenset({("apiextensions.k8s.io", "CustomResourceDefinition"), ("", "Namespace")})


class HealthRule(enum.Enum):
    """Whose rules judge an app's objects."""

    ARGO = "argo"
    KSTATUS = "kstatus"

    @property
    def label(self) -> str:
        return "Argo CD health checks" if self is HealthRule.ARGO else "Flux (kstatus)"


@dataclass(frozen=True, slots=True)
class HealthCheckRef:
    """One entry of a Flux ``spec.healthChecks``: the object to wait for."""

    api_version: str
    key: ResourceKey


@dataclass(frozen=True, slots=True)
class HealthPolicy:
    """An app's health rule and what its syncs wait for (see the module docstring).

    ``wait`` is Flux's ``spec.wait``; ``checks`` its ``spec.healthChecks``;
    ``exprs`` its ``spec.healthCheckExprs``."""

    rule: HealthRule = HealthRule.ARGO
    wait: bool = False
    checks: tuple[HealthCheckRef, ...] = ()
    exprs: tuple[HealthExpr, ...] = ()

    def judge(self, live: Live, provider_health: Callable[[Live], Health]) -> Health:
        """The health of ``live`` under this rule; ``provider_health`` is the
        target's own reading (Argo CD's checks, or a cloud kind's)."""
        if self.rule is HealthRule.ARGO:
            if str(live.annotations.get(IGNORE_HEALTHCHECK, "")).lower() == "true":
                return Health(HealthCode.HEALTHY, f"health check ignored ({IGNORE_HEALTHCHECK})")
            return provider_health(live)
        if is_cloud_group(live.key.group):
            return provider_health(live)
        for expr in self.exprs:
            if expr.matches(live.manifest):
                return expr.evaluate(live.manifest).health
        return kstatus_of(live.manifest).health

    def waits_in_wave(self, key: ResourceKey, *, is_hook: bool, later_waves: bool) -> bool:
        """Whether a sync waits for ``key`` (applied in a wave) to be healthy
        before it goes on: hooks always (they must finish), otherwise by rule."""
        if is_hook:
            return True
        if self.rule is HealthRule.ARGO:
            return later_waves
        if self.wait:
            return True
        return (key.group, key.kind) in STAGE_KINDS

    @property
    def final_checks(self) -> tuple[HealthCheckRef, ...]:
        """The objects waited for once every wave is applied (Flux ``healthChecks``;
        ``wait: true`` waits for everything already, so none)."""
        if self.rule is HealthRule.KSTATUS and not self.wait:
            return self.checks
        return ()

    @property
    def describe(self) -> str:
        """One line for people: the rule and what a sync waits for."""
        if self.rule is HealthRule.ARGO:
            return f"{self.rule.label}; a sync waits for every wave but the last"
        if self.wait:
            waits = "wait: true, a sync waits for every object"
        elif self.checks:
            waits = f"a sync waits for {len(self.checks)} healthChecks object(s)"
        else:
            waits = "wait: false, a sync waits for no object's health"
        return f"{self.rule.label}; {waits}"
