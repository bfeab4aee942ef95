"""Kubernetes quantities: one parser for the diff stage and the compositions."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest

from gitwave.engine.api import parse_quantity


@dataclass
class QuantityCase:
    text: Any
    want: Decimal | None  # None: not a quantity


QUANTITY_CASES = [
    QuantityCase("1", Decimal(1)),
    QuantityCase("1000m", Decimal(1)),
    QuantityCase("500m", Decimal("0.5")),
    QuantityCase("0.5", Decimal("0.5")),
    QuantityCase(".5", Decimal("0.5")),
    QuantityCase("-1k", Decimal(-1000)),
    QuantityCase("1Ki", Decimal(1024)),
    QuantityCase("1Gi", Decimal(1024**3)),
    QuantityCase("1.5Gi", Decimal(1024**3) * Decimal("1.5")),
    QuantityCase("1G", Decimal(10**9)),
    QuantityCase("2M", Decimal(2_000_000)),
    QuantityCase("1k", Decimal(1000)),
    QuantityCase("1e3", Decimal(1000)),
    QuantityCase("1E", Decimal(10**18)),
    QuantityCase("1E3", Decimal(1000)),
    QuantityCase("100u", Decimal("0.0001")),
    QuantityCase("5n", Decimal("0.000000005")),
    QuantityCase(2, Decimal(2)),
    QuantityCase(0.25, Decimal("0.25")),
    QuantityCase("1 Gi", None),
    QuantityCase(" 1Gi", None),
    QuantityCase("1GB", None),
    QuantityCase("lots", None),
    QuantityCase("", None),
    QuantityCase(True, None),
    QuantityCase(None, None),
]


@pytest.mark.parametrize("case", QUANTITY_CASES, ids=lambda c: repr(c.text))
def test_parse_quantity(case: QuantityCase) -> None:
    if case.want is None:
        with pytest.raises(ValueError, match="is not a quantity"):
            parse_quantity(case.text)
    else:
        assert parse_quantity(case.text) == case.want
