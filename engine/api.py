"""The engine's public API for providers and the composition engine.

``gitwave.providers`` and ``gitwave.compositions`` import from the engine only
through this module, ``gitwave.engine.model`` and ``gitwave.engine.errors``;
``tests/engine/test_import_hygiene.py`` fails the build when either reaches
for anything else. What is here is what a target or a composition function
needs: the Provider protocol and its optional capabilities, the health of
built-in kinds, Secret masking, scope, the field diff a provider uses to
tell drift, field paths (read, write, remove a field by path) and
Kubernetes quantities. A provider answers health for its own kinds itself
(``Provider.health``); nothing outside the engine adds checks to the
engine's health registry.
"""

from __future__ import annotations

from gitwave.engine.diff import SameValue, diff_manifest
from gitwave.engine.field_managers import field_managers
from gitwave.engine.fieldpath import (
    MISSING_FIELD,
    FieldPath,
    FieldPathError,
    delete_field,
    format_path,
    get_field,
    parse_path,
    set_field,
    to_pointer,
    without_paths,
)
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
from gitwave.engine.private_files import private_database, private_directory
from gitwave.engine.provider import (
    CLOUD_GROUP_SUFFIXES,
    BulkReader,
    ChangeFeed,
    Declaring,
    DependencyReader,
    DryRunPlanner,
    ObjectLister,
    Provider,
    ValueComparer,
    is_cloud_group,
)
from gitwave.engine.quantity import parse_quantity
from gitwave.engine.scope import is_cluster_scoped

__all__ = [
    "CLOUD_GROUP_SUFFIXES",
    "LAST_APPLIED_ANNOTATION",
    "MASK",
    "MISSING_FIELD",
    "BulkReader",
    "ChangeFeed",
    "Declaring",
    "DependencyReader",
    "DryRunPlanner",
    "FieldChange",
    "FieldPath",
    "FieldPathError",
    "ObjectLister",
    "Provider",
    "SameValue",
    "ValueComparer",
    "delete_field",
    "diff_manifest",
    "field_managers",
    "format_path",
    "get_field",
    "health_of",
    "is_cloud_group",
    "is_cluster_scoped",
    "is_secret_manifest",
    "mask_secret_manifest",
    "parse_path",
    "parse_quantity",
    "private_database",
    "private_directory",
    "redact",
    "secret_values",
    "set_field",
    "to_pointer",
    "without_paths",
]
