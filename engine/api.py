"""The engine's public API for providers and the composition engine.

``gitwave.providers`` and ``gitwave.compositions`` import from the engine only
through this module, ``gitwave.engine.model`` and ``gitwave.engine.errors``;
``tests/engine/test_import_hygiene.py`` fails the build when either reaches
for anything else. What is here is what a target or a composition function
needs: the Provider protocol and its optional capabilities, the health of
built-in kinds, Secret masking, scope, and the field diff a provider uses to
tell drift. A provider answers health for its own kinds itself
(``Provider.health``); nothing outside the engine adds checks to the engine's
health registry.
"""

from __future__ import annotations

from gitwave.engine.diff import diff_manifest
from gitwave.engine.health import health_of
from gitwave.engine.mask import (
    LAST_APPLIED_ANNOTATION,
    MASK,
    is_secret_manifest,
    mask_secret_manifest,
    redact,
    secret_values,
)
from gitwave.engine.model import FieldChange
from gitwave.engine.provider import (
    CLOUD_GROUP_SUFFIXES,
    BulkReader,
    ChangeFeed,
    Declaring,
    DryRunPlanner,
    Provider,
    is_cloud_group,
)
from gitwave.engine.scope import is_cluster_scoped

__all__ = [
    "CLOUD_GROUP_SUFFIXES",
    "LAST_APPLIED_ANNOTATION",
    "MASK",
    "BulkReader",
    "ChangeFeed",
    "Declaring",
    "DryRunPlanner",
    "FieldChange",
    "Provider",
    "diff_manifest",
    "health_of",
    "is_cloud_group",
    "is_cluster_scoped",
    "is_secret_manifest",
    "mask_secret_manifest",
    "redact",
    "secret_values",
]
