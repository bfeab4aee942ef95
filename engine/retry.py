"""Retries with Argo CD's backoff: ``syncPolicy.retry``.

One computation of the delay serves both ways gitwave retries: a command
(``gitwave sync``) that waits in place (``retrying``), and the reconcile loop
that schedules the next attempt and carries on with other apps
(``CommitRetry``). The exponential backoff itself is tenacity's
``wait_exponential``; Argo CD's semantics stay: ``limit`` retries (< 0:
unlimited), ``duration * factor**n`` capped at ``maxDuration``. The delay is
cut by up to 20 % at random so that apps failing on one outage do not retry in
lockstep.

Two more rules: a delay the target asked for (HTTP 429 ``Retry-After``, carried
as ``GitwaveError.retry_after_s``) is waited at least, capped at
``MAX_TARGET_DELAY_S``; and an app that heals itself (``selfHeal``) is never
left failed for good: once its retry spec runs out (or without one) the loop
keeps trying with Argo CD's self-heal backoff (``SELF_HEAL_BACKOFF``: 2 s,
times 3, capped at 5 minutes).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from gitwave.engine.apps import RetrySpec
from gitwave.engine.lazy_module import LazyModule

if TYPE_CHECKING:
    import tenacity
else:
    tenacity = LazyModule("tenacity")  # imported by the first retry loop, not every command

T = TypeVar("T")

_JITTER = 0.2

# Argo CD's self-heal backoff (controller.self.heal.backoff: timeout 2 s,
# factor 3, cap 300 s), with no limit: a self-healing app keeps trying.
SELF_HEAL_BACKOFF = RetrySpec(limit=-1, duration_s=2.0, factor=3.0, max_duration_s=300.0)
# A target asking for more than this is waited on for this long, then asked again.
MAX_TARGET_DELAY_S = 300.0


def target_delay(error: BaseException | None) -> float:
    """The seconds ``error``'s target asked to be left alone for (0: none), capped."""
    asked = getattr(error, "retry_after_s", 0.0) if error is not None else 0.0
    try:
        seconds = float(asked or 0.0)
    except (TypeError, ValueError):
        return 0.0
    return min(max(seconds, 0.0), MAX_TARGET_DELAY_S)


def _attempt(number: int) -> tenacity.RetryCallState:
    state = tenacity.RetryCallState(retry_object=tenacity.Retrying(), fn=None, args=(), kwargs={})
    state.attempt_number = number
    return state


def retry_delay(
    retry: RetrySpec | None,
    failures: int,
    *,
    jitter: Callable[[], float] = random.random,
    at_least: float = 0.0,
) -> float | None:
    """Seconds to wait before trying again after ``failures`` failed attempts,
    or None when no retry is left (no retry spec: Argo CD tries once).
    ``jitter`` gives [0, 1); ``at_least`` is what the target asked for
    (``target_delay``): the backoff never undercuts it."""
    if retry is None or failures < 1 or not retry.allows(failures - 1):
        return None
    wait = tenacity.wait_exponential(
        multiplier=retry.duration_s, exp_base=retry.factor, max=retry.max_duration_s
    )
    return max(float(wait(_attempt(failures))) * (1.0 - _JITTER * jitter()), at_least)


def retrying(
    retry: RetrySpec | None,
    *,
    should_retry: Callable[[tenacity.RetryCallState], bool],
    before_sleep: Callable[[tenacity.RetryCallState, float], None],
    sleep: Callable[[float], None],
    jitter: Callable[[], float] = random.random,
    asked: Callable[[tenacity.RetryCallState], float] = lambda state: 0.0,
) -> tenacity.Retrying:
    """A tenacity loop for an operation that waits in place between attempts.

    ``should_retry`` sees each attempt's outcome (a result or an exception);
    ``before_sleep`` gets the attempt and the delay about to be slept;
    ``asked`` says how long the target asked to wait after an attempt (the
    delay is at least that). When no retry is left, the last outcome stands:
    its result is returned or its exception raised, never tenacity's RetryError."""
    delays: dict[int, float | None] = {}

    def delay_of(state: tenacity.RetryCallState) -> float | None:
        number = state.attempt_number
        if number not in delays:
            delays[number] = retry_delay(retry, number, jitter=jitter, at_least=asked(state))
        return delays[number]

    def stop(state: tenacity.RetryCallState) -> bool:
        return delay_of(state) is None

    def wait(state: tenacity.RetryCallState) -> float:
        return delay_of(state) or 0.0

    def announce(state: tenacity.RetryCallState) -> None:
        before_sleep(state, delay_of(state) or 0.0)

    def last_outcome(state: tenacity.RetryCallState) -> object:
        assert state.outcome is not None
        return state.outcome.result()  # raises the attempt's exception, if it had one

    return tenacity.Retrying(
        stop=stop,
        wait=wait,
        retry=should_retry,
        before_sleep=announce,
        sleep=sleep,
        retry_error_callback=last_outcome,
    )


@dataclass
class CommitRetry:
    """Failed attempts at one commit of one app (the reconcile loop's retry state)."""

    revision: str
    failures: int = 0
    next_at: float | None = 0.0  # None: no retry left for this commit
    armed: bool = False  # next_at is a wake-up the loop has not acted on yet

    def blocks(self, revision: str, now: float) -> bool:
        """True while ``revision`` must not be tried again yet."""
        if revision != self.revision:
            return False  # a newer commit is never held back by an older one's failures
        return self.next_at is None or now < self.next_at

    def failed(
        self,
        retry: RetrySpec | None,
        *,
        now: float,
        jitter: Callable[[], float],
        retriable: bool,
        then: RetrySpec | None = None,
        at_least: float = 0.0,
    ) -> float | None:
        """Count one more failure; returns the delay before the next attempt
        (None: no retry left, or the failure cannot be helped by retrying).

        ``then`` takes over once ``retry`` has run out (or without one): the
        self-heal backoff of an app that heals itself, counted from the same
        failures. ``at_least`` is the delay the target asked for."""
        self.failures += 1
        delay = None
        if retriable:
            delay = retry_delay(retry, self.failures, jitter=jitter, at_least=at_least)
            if delay is None and then is not None:
                delay = retry_delay(then, self.failures, jitter=jitter, at_least=at_least)
        self.next_at = None if delay is None else now + delay
        self.armed = delay is not None
        return delay
