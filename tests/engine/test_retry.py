"""The retry layer waits at least what the target asked for (HTTP 429
``Retry-After``, carried on the error as ``retry_after_s``), and a
self-healing app falls back to Argo CD's self-heal backoff once its retry
spec ran out, or without one (issue 10 item 19)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import tenacity

from gitwave.engine.apps import RetrySpec
from gitwave.engine.errors import ProviderError
from gitwave.engine.model import ResourceKey
from gitwave.engine.retry import (
    MAX_TARGET_DELAY_S,
    SELF_HEAL_BACKOFF,
    CommitRetry,
    retry_delay,
    retrying,
    target_delay,
)

KEY = ResourceKey("", "ConfigMap", "shop", "settings")
SPEC = RetrySpec(limit=2, duration_s=0.1, factor=2, max_duration_s=1)


def throttled(seconds: float) -> ProviderError:
    return ProviderError(KEY, "throttled (HTTP 429)", retriable=True, retry_after_s=seconds)


@dataclass(frozen=True)
class Case:
    reason: str
    retry: RetrySpec | None
    then: RetrySpec | None
    failures: int
    asked: float
    want: float | None


CASES = [
    Case("the backoff when the target says nothing", SPEC, None, 1, 0.0, 0.1),
    Case("at least what the target asked for", SPEC, None, 1, 7.0, 7.0),
    Case("the backoff when it is longer", SPEC, None, 2, 0.15, 0.2),
    Case("no retry spec, no self-heal: tried once", None, None, 1, 7.0, None),
    Case("no retry spec, self-heal: 2 s first", None, SELF_HEAL_BACKOFF, 1, 0.0, 2.0),
    Case("self-heal backoff triples", None, SELF_HEAL_BACKOFF, 3, 0.0, 18.0),
    Case("self-heal backoff is capped at 5 minutes", None, SELF_HEAL_BACKOFF, 9, 0.0, 300.0),
    Case("after the spec ran out, self-heal takes over", SPEC, SELF_HEAL_BACKOFF, 3, 0.0, 18.0),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.reason)
def test_commit_retry_delay(case: Case) -> None:
    retry = CommitRetry("abc")
    delay = None
    for _ in range(case.failures):
        delay = retry.failed(
            case.retry,
            now=100.0,
            jitter=lambda: 0.0,
            retriable=True,
            then=case.then,
            at_least=case.asked,
        )

    assert delay == pytest.approx(case.want) if case.want is not None else delay is None
    assert retry.next_at == (None if case.want is None else pytest.approx(100.0 + case.want))


def test_a_target_asking_for_hours_is_asked_again_after_the_cap() -> None:
    assert target_delay(throttled(86400)) == MAX_TARGET_DELAY_S
    assert target_delay(ValueError("no delay here")) == 0.0
    assert retry_delay(SPEC, 1, jitter=lambda: 0.0, at_least=target_delay(throttled(3))) == 3.0


def test_a_command_that_waits_in_place_sleeps_what_the_target_asked_for() -> None:
    slept: list[float] = []
    attempts: list[int] = []

    def attempt() -> str:
        attempts.append(1)
        if len(attempts) == 1:
            raise throttled(4.0)
        return "synced"

    def asked(state: tenacity.RetryCallState) -> float:
        assert state.outcome is not None
        return target_delay(state.outcome.exception()) if state.outcome.failed else 0.0

    runner = retrying(
        SPEC,
        should_retry=lambda state: bool(state.outcome and state.outcome.failed),
        before_sleep=lambda state, delay: None,
        sleep=slept.append,
        jitter=lambda: 0.0,
        asked=asked,
    )

    assert runner(attempt) == "synced"
    assert slept == [4.0], "the 0.1 s backoff would have come back too early"
