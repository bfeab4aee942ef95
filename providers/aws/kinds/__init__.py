"""The AWS kinds gitwave manages, one module each (Crossplane provider-aws shapes).

Importing this package registers every kind; look handlers up with
``handler_for(group, kind)``.
"""

from . import bucket, dbinstance, dbsubnetgroup, metricalarm, queue, recordset, securitygroup
from .base import Context, Desired, KindHandler, Observed, Readiness, TagStyle
from .registry import handler_for, handlers

__all__ = [
    "Context",
    "Desired",
    "KindHandler",
    "Observed",
    "Readiness",
    "TagStyle",
    "bucket",
    "dbinstance",
    "dbsubnetgroup",
    "handler_for",
    "handlers",
    "metricalarm",
    "queue",
    "recordset",
    "securitygroup",
]
