"""AWS throttling (issue 10 item 19a): boto3's standard retry mode waits out
ThrottlingException answers with backoff, so a burst of throttling costs time,
not a failed sync; throttling that does not stop becomes a retriable
ProviderError saying so, which the sync's retry policy tries again later.

A local proxy in front of the emulator answers the first requests with the
error AWS sends when it throttles; everything else reaches moto unchanged."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from typing import Any

import pytest

from gitwave.engine.errors import ProviderError
from gitwave.engine.model import ChangeAction, Manifest
from gitwave.providers.aws import AwsConfig, AwsProvider
from tests.providers.throttle_proxy import Answer, ThrottlingProxy

from .conftest import resource

THROTTLED = Answer(
    400,
    {
        "Content-Type": "application/x-amz-json-1.0",
        "x-amzn-query-error": "Throttling;Sender",
    },
    json.dumps(
        {"__type": "com.amazonaws.sqs#ThrottlingException", "message": "Rate exceeded"}
    ).encode(),
)


def test_a_burst_of_throttling_is_waited_out(
    config: AwsConfig, make_provider: Callable[..., AwsProvider], manifest: Callable[..., Manifest]
) -> None:
    queue = resource(manifest("queue"))
    assert config.endpoint_url is not None
    with ThrottlingProxy(config.endpoint_url, THROTTLED, reject=2) as proxy:
        provider = make_provider(config=dataclasses.replace(config, endpoint_url=proxy.url))

        entry = provider.apply(queue)

        assert entry.action is ChangeAction.CREATED
        assert len(proxy.rejected) == 2
        first_forwarded = next(s for s in proxy.seen if not s.rejected)
        assert first_forwarded.at > proxy.rejected[-1].at, "retried after the throttling"
        live = provider.observe(queue.key)
        assert live is not None


def test_throttling_that_does_not_stop_is_a_retriable_error_saying_so(
    config: AwsConfig, make_provider: Callable[..., AwsProvider], manifest: Callable[..., Manifest]
) -> None:
    queue = resource(manifest("queue"))
    assert config.endpoint_url is not None
    with ThrottlingProxy(config.endpoint_url, THROTTLED, reject=-1) as proxy:
        provider = make_provider(config=dataclasses.replace(config, endpoint_url=proxy.url))

        with pytest.raises(ProviderError) as caught:
            provider.apply(queue)

        tries = len(proxy.rejected)
    error: Any = caught.value
    assert error.retriable
    assert "ThrottlingException" in str(error) or "Throttling" in str(error)
    assert "throttled; trying again later can help" in str(error)
    assert tries >= 4, "boto3's standard mode: each call and 3 retries, then the error"
