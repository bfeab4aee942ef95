"""A HelmRelease's remediation, as helm-controller v2 reads and counts it.

``spec.install.remediation`` / ``spec.upgrade.remediation``: after a failed
install or upgrade, ``retries`` more attempts (< 0: for ever; 0, the
default: none), each after remediating the failure (an install: uninstalled;
an upgrade: ``strategy`` ``rollback``, the default, to the last release that
succeeded, or ``uninstall``); once the retries ran out the release is
``Stalled`` (reason ``RetriesExceeded``) and not tried again until its spec
changes (a new generation) or ``flux reconcile hr --reset`` asks
(``reconcile.fluxcd.io/resetAt``). The last failure is remediated too with
``remediateLastFailure`` (default: true when ``retries`` > 0). With
``strategy.name: RetryOnFailure`` there is no remediation and no limit: the
release is tried again every ``strategy.retryInterval`` (default
``spec.interval``).

The failure counters live in the object's status (``installFailures``,
``upgradeFailures``, ``failures``), never in a replica's memory: a restarted
controller, or the replica that takes the shard over, reads them back and
goes on counting (issue 16: the state is in the cluster). Pure: the caller
runs the remediation and writes the status.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any

from gitwave.engine.apps.fields import Reader
from gitwave.engine.controller.objects import HELM_KIND, AppObject
from gitwave.engine.controller.status import flux_condition

RESET_ANNOTATION = "reconcile.fluxcd.io/resetAt"
_REMEDIATION_KEYS = ("retries", "remediateLastFailure", "strategy", "ignoreTestFailures")
_STRATEGIES = ("RemediateOnFailure", "RetryOnFailure")


class Remedy(Enum):
    """What is done to a failed release before it is tried again."""

    NONE = "none"
    ROLLBACK = "rollback"
    UNINSTALL = "uninstall"

    @property
    def verb(self) -> str:
        """helm-controller's word for it in condition reasons (``RollbackSucceeded``)."""
        return "Rollback" if self is Remedy.ROLLBACK else "Uninstall"


@dataclass(frozen=True)
class Remediation:
    """The remediation of the action a release's next attempt runs."""

    action: str  # "install" or "upgrade"
    retries: int  # < 0: for ever
    remediate_last: bool
    remedy: Remedy  # what remediating means for this action
    retry_on_failure: bool  # strategy RetryOnFailure: no remediation, no limit
    retry_interval_s: float | None  # strategy.retryInterval

    def exhausted(self, failures: int) -> bool:
        """True once ``failures`` in a row leave no retry."""
        return not self.retry_on_failure and self.retries >= 0 and failures > self.retries

    def remedy_after(self, failures: int) -> Remedy:
        """The remediation to run after the ``failures``-th failure in a row."""
        if self.retry_on_failure:
            return Remedy.NONE
        if self.exhausted(failures) and not self.remediate_last:
            return Remedy.NONE
        return self.remedy


def _status(body: Mapping[str, Any]) -> Mapping[str, Any]:
    found = body.get("status")
    return found if isinstance(found, Mapping) else {}


def installed(body: Mapping[str, Any]) -> bool:
    """Whether a release of it is there (so its next action is an upgrade):
    the newest ``status.history`` snapshot that is not a failed attempt was not
    uninstalled (a failed install leaves none: the next action installs)."""
    history = [
        h
        for h in _status(body).get("history") or []
        if isinstance(h, Mapping) and h.get("status") != "failed"
    ]
    return bool(history) and history[0].get("status") != "uninstalled"


def read_remediation(reader: Reader, spec: Mapping[str, Any], action: str) -> Remediation:
    """``spec.<action>.remediation`` and ``.strategy``; ValidationError naming
    the field for a malformed one."""
    dotted = f"spec.{action}"
    block = reader.mapping(spec, dotted)
    strategy = reader.mapping(block, f"{dotted}.strategy")
    unknown = sorted(str(k) for k in strategy if k not in ("name", "retryInterval"))
    if unknown:
        reader.fail(f"{dotted}.strategy.{unknown[0]}: not a field; it takes name, retryInterval")
    name = reader.string(strategy, f"{dotted}.strategy.name") or _STRATEGIES[0]
    if name not in _STRATEGIES:
        reader.fail(f"{dotted}.strategy.name: {name!r} is not one of {', '.join(_STRATEGIES)}")
    interval = reader.duration(strategy, f"{dotted}.strategy.retryInterval", None)
    if interval is not None and name != "RetryOnFailure":
        reader.fail(f"{dotted}.strategy.retryInterval: only with strategy.name RetryOnFailure")
    block_rem = reader.mapping(block, f"{dotted}.remediation")
    unknown = sorted(str(k) for k in block_rem if k not in _REMEDIATION_KEYS)
    if unknown:
        reader.fail(
            f"{dotted}.remediation.{unknown[0]}: not a field of a Flux HelmRelease (v2); "
            f"{dotted}.remediation takes {', '.join(_REMEDIATION_KEYS)}"
        )
    retries = block_rem.get("retries", 0)
    if isinstance(retries, bool) or not isinstance(retries, int):
        reader.fail(f"{dotted}.remediation.retries must be a whole number, not {retries!r}")
    if reader.boolean(block_rem, f"{dotted}.remediation.ignoreTestFailures"):
        reader.fail(
            f"{dotted}.remediation.ignoreTestFailures: not supported; gitwave runs the chart's "
            "tests as post-sync hooks, whose failure fails the release (remove spec.test to "
            "release without them)"
        )
    remedy_name = reader.string(block_rem, f"{dotted}.remediation.strategy")
    if remedy_name and action == "install":
        reader.fail(
            "spec.install.remediation.strategy: not a field; a failed install is uninstalled"
        )
    if remedy_name and remedy_name not in ("rollback", "uninstall"):
        reader.fail(
            f"{dotted}.remediation.strategy: {remedy_name!r} is not one of rollback, uninstall"
        )
    last = block_rem.get("remediateLastFailure")
    if last is not None:
        last = reader.boolean(block_rem, f"{dotted}.remediation.remediateLastFailure")
    return Remediation(
        action=action,
        retries=retries,
        # helm-controller's default: remediate the last failure too when retries > 0.
        remediate_last=retries > 0 if last is None else bool(last),
        remedy=Remedy.UNINSTALL
        if action == "install" or remedy_name == "uninstall"
        else Remedy.ROLLBACK,
        retry_on_failure=name == "RetryOnFailure",
        retry_interval_s=interval,
    )


def remediation_of(obj: AppObject) -> Remediation:
    """The remediation of ``obj``'s next action (ValidationError when malformed)."""
    spec = obj.body.get("spec")
    action = "upgrade" if installed(obj.body) else "install"
    return read_remediation(Reader(obj.app_id), spec if isinstance(spec, Mapping) else {}, action)


def _reset_asked(obj: AppObject) -> str:
    annotations = (obj.body.get("metadata") or {}).get("annotations") or {}
    asked = str(annotations.get(RESET_ANNOTATION) or "")
    return "" if asked == str(_status(obj.body).get("lastHandledResetAt") or "") else asked


def _counted(obj: AppObject, field: str, chart: str = "") -> int:
    status = _status(obj.body)
    if status.get("lastAttemptedGeneration") != obj.generation or _reset_asked(obj):
        return 0
    if chart and status.get("lastAttemptedRevision") not in (None, "", chart):
        return 0  # another chart version than the one that failed
    count = status.get(field, 0)
    return count if isinstance(count, int) and not isinstance(count, bool) else 0


def failures(obj: AppObject, action: str, *, chart: str = "") -> int:
    """The failed ``action``s in a row the status records for this generation
    (and chart version ``chart``, when given): 0 after a spec change, a new
    chart version or a reset request, as counting starts again."""
    return _counted(obj, f"{action}Failures", chart)


def stalled(obj: AppObject) -> bool:
    """True when the status says the release ran out of retries at this
    generation (and no reset is asked): it is not tried again."""
    if obj.kind != HELM_KIND or _reset_asked(obj):
        return False
    status = _status(obj.body)
    if status.get("lastAttemptedGeneration") != obj.generation:
        return False
    return any(
        isinstance(c, Mapping)
        and c.get("type") == "Stalled"
        and c.get("status") == "True"
        and c.get("observedGeneration") == obj.generation
        for c in status.get("conditions") or ()
    )


@dataclass(frozen=True)
class Remedied:
    """What a remediation did: its kind, whether it worked, and what it said."""

    remedy: Remedy
    ok: bool
    message: str


def failure_patch(
    obj: AppObject,
    written: Mapping[str, Any],
    remediation: Remediation,
    count: int,
    remedied: Remedied | None,
    *,
    now: datetime,
) -> dict[str, Any]:
    """The status patch after the ``count``-th failed ``remediation.action`` in
    a row, on top of the failure status the reconcile wrote (``written``)."""
    status = _status(obj.body)
    generation = obj.generation
    patch: dict[str, Any] = {
        **handled_reset(obj),
        f"{remediation.action}Failures": count,
        "failures": _counted(obj, "failures", str(written.get("lastAttemptedRevision") or "")) + 1,
    }
    rows = [dict(c) for c in written.get("conditions") or () if isinstance(c, Mapping)]
    if remedied is not None and remedied.remedy is not Remedy.NONE:
        verb = remedied.remedy.verb
        reason = f"{verb}Succeeded" if remedied.ok else f"{verb}Failed"
        rows.append(
            flux_condition("Remediated", remedied.ok, reason, remedied.message, generation, now)
        )
        if remedied.remedy is Remedy.UNINSTALL and remedied.ok:
            # The history the failed attempt wrote (its failed snapshot first).
            found = written.get("history") or status.get("history") or []
            history = [dict(h) for h in found if isinstance(h, Mapping)]
            if history:
                history[0]["status"] = "uninstalled"
                for entry in history[1:]:
                    if entry.get("status") == "deployed":  # its objects are gone too
                        entry["status"] = "superseded"
                patch["history"] = history
    if remediation.exhausted(count):
        message = f"Failed to {remediation.action} after {count} attempt(s)"
        for row in rows:
            if row.get("type") == "Ready":
                row["reason"] = "RetriesExceeded"
                row["message"] = f"{message}: {row.get('message', '')}"
        rows.append(flux_condition("Stalled", True, "RetriesExceeded", message, generation, now))
    patch["conditions"] = rows
    return patch


def handled_reset(obj: AppObject) -> dict[str, Any]:
    """``lastHandledResetAt`` when ``obj`` asks for a reset (answered by this attempt)."""
    annotations = (obj.body.get("metadata") or {}).get("annotations") or {}
    asked = annotations.get(RESET_ANNOTATION)
    return {"lastHandledResetAt": str(asked)} if asked else {}


def cleared(obj: AppObject) -> dict[str, Any]:
    """The status patch after a release that worked: no failures in a row
    (a merge patch's nulls remove the counters)."""
    return {
        **handled_reset(obj),
        "failures": None,
        "installFailures": None,
        "upgradeFailures": None,
    }


__all__ = [
    "RESET_ANNOTATION",
    "Remediation",
    "Remedied",
    "Remedy",
    "cleared",
    "failure_patch",
    "failures",
    "handled_reset",
    "installed",
    "read_remediation",
    "remediation_of",
    "stalled",
]
