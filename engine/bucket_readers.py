"""Which S3 client reads Flux ``Bucket`` sources: the command line registers a
factory at start-up, ``engine.source_bucket`` calls it when a Bucket is fetched.

Apart from the fetch itself on purpose: every command registers its reader,
and importing the fetch (its dataclasses, the TLS trust of certSecretRef) for
that cost each command about 7 ms, most of them reading no Bucket at all.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gitwave.engine.source_bucket import BucketReader

_readers: list[Callable[[], BucketReader]] = []


def register_bucket_reader(factory: Callable[[], BucketReader]) -> None:
    """Make ``factory()`` the reader of Bucket sources (a later one replaces it)."""
    _readers[:] = [factory]


def bucket_reader_factory() -> Callable[[], BucketReader] | None:
    """The registered reader's factory; None when nothing registered one."""
    return _readers[0] if _readers else None
