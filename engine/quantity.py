"""Kubernetes resource quantities (``500m``, ``1.5Gi``, ``2e3``) as exact Decimals.

One parser for the diff stage (``"1Gi"`` and ``"1024Mi"`` are the same
request) and the composition engine (Crossplane's ``convert`` transform with
``format: quantity``).

Why not ``kubernetes.utils.parse_quantity``: the engine never imports the
``kubernetes`` package (``tests/engine/test_import_hygiene.py``), and
``kubernetes/__init__`` imports the whole generated client before ``utils``
can be reached (about 860 modules and 1.8 s on the 2-core machines).
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

__all__ = ["parse_quantity"]

_QUANTITY = re.compile(
    r"([+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))"
    r"(?:(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)|[eE]([+-]?[0-9]+))?"
)
_BINARY_SUFFIX = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_DECIMAL_SUFFIX = {"n": -9, "u": -6, "m": -3, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}


def parse_quantity(value: Any) -> Decimal:
    """The value of a quantity: ``"500m"`` → 0.5, ``"1Gi"`` → 1073741824,
    ``"1E3"`` → 1000, ``2`` → 2. A number is taken as it is.

    Raises ValueError for anything else: text with spaces or an unknown
    suffix (``"1 Gi"``, ``"1GB"``), a bool, None.
    """
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a quantity")
    if isinstance(value, int | float):
        return Decimal(str(value))
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not a quantity")
    match = _QUANTITY.fullmatch(value)
    if match is None:
        raise ValueError(f"{value!r} is not a quantity")
    number, suffix, exponent = match.groups()
    amount = Decimal(number)
    if exponent is not None:
        return amount.scaleb(int(exponent))
    if suffix in _BINARY_SUFFIX:
        return amount * (1 << _BINARY_SUFFIX[suffix])
    if suffix in _DECIMAL_SUFFIX:
        return amount.scaleb(_DECIMAL_SUFFIX[suffix])
    return amount
