"""The AWS kinds gitwave manages, one module each (Crossplane provider-aws shapes),
and Upbound's provider-aws kinds mapped onto them (``upbound``, ``upbound_handler``).

Importing this package registers every kind; look handlers up with
``handler_for(group, kind)``.
"""

from . import (
    bucket,
    dbinstance,
    dbsubnetgroup,
    metricalarm,
    queue,
    recordset,
    securitygroup,
    upbound,
)
from .base import Context, Desired, KindHandler, Observed, Readiness, TagStyle
from .registry import handler_for, handlers, register
from .upbound_handler import alias_handler

# Upbound's kinds run on the classic handlers registered above.
for _alias in upbound.ALIASES:
    _base = handler_for(*_alias.base)
    assert _base is not None, _alias.base
    register(alias_handler(_alias, _base))

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
    "upbound",
]
