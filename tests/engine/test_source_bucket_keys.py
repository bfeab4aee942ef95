"""Object keys of a Flux Bucket are untrusted: only a relative path inside the
prefix is written (``engine.source_bucket.check_object_key``)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from gitwave.engine.errors import SourceError
from gitwave.engine.source_bucket import BucketRef, check_object_key

REF = BucketRef(subject="Bucket/apps/store", endpoint="http://127.0.0.1:9", bucket="b", prefix="m/")


@dataclass(frozen=True)
class Case:
    reason: str
    key: str
    safe: bool


CASES = [
    Case("a file under the prefix", "m/app/web.yaml", True),
    Case("a dot in a name", "m/.sourceignore", True),
    Case("a parent segment", "m/../escape.yaml", False),
    Case("a parent segment at the end", "m/a/..", False),
    Case("an absolute key", "/etc/passwd", False),
    Case("an empty segment", "m//web.yaml", False),
    Case("a current-directory segment", "m/./web.yaml", False),
    Case("a backslash", "m/..\\escape.yaml", False),
    Case("a NUL", "m/web\x00.yaml", False),
    Case("outside the prefix", "other/web.yaml", False),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.reason)
def test_only_relative_keys_inside_the_prefix_are_written(case: Case) -> None:
    if case.safe:
        check_object_key(case.key, REF)
        return
    with pytest.raises(SourceError) as raised:
        check_object_key(case.key, REF)
    assert "Bucket/apps/store" in str(raised.value)
    assert "http://127.0.0.1:9" in str(raised.value)
