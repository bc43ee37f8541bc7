"""SQLite's ``round(x, places)``, the rounding of every value nsys's SQL prints.

SQLite rounds half away from zero on the decimal value: ``repr`` gives the shortest decimal
that reads back as the same double, which is what SQLite rounds (``round(0.25, 1)`` is 0.3
and ``round(1.45, 1)`` is 1.5, where Python's ``round`` gives 0.2 and 1.4). The one
implementation; readers, renderers and analyses all call it.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import numpy as np

__all__ = ["round1", "round1_array", "sql_round"]


def sql_round(value: float | int | Decimal, places: int = 1) -> Decimal:
    """SQLite's ``round(value, places)`` as an exact Decimal.

    A Decimal is rounded as it is (an exact sum or quotient); a number as its shortest repr.

    >>> str(sql_round(0.25)), str(sql_round(1.45)), str(sql_round(-2.5, 0)), str(sql_round(7))
    ('0.3', '1.5', '-3', '7.0')
    """
    exact = value if isinstance(value, Decimal) else Decimal(repr(float(value)))
    return exact.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def round1(value: float | int | Decimal) -> float:
    """``round(value, 1)`` as SQLite computes it, as a float.

    >>> round1(0.25), round1(1.45), round1(-0.05)
    (0.3, 1.5, -0.1)
    """
    return float(sql_round(value, 1))


def round1_array(values: np.ndarray) -> np.ndarray:
    """``round1`` of every element, as a float64 array (NaN stays NaN)."""
    return np.array([round1(x) for x in values], dtype=np.float64)
