"""Human units: three significant digits, the largest unit that fits, decimal sizes."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from llamaprof.units import NA, format_bytes, format_ns


@pytest.mark.parametrize(
    ("ns", "text"),
    [
        (0, "0 ns"),
        (0.5, "0.5 ns"),
        (7, "7.00 ns"),
        (512, "512 ns"),
        (999.4, "999 ns"),
        (999.7, "1.00 µs"),  # rounding carries into the next unit
        (1_000, "1.00 µs"),
        (12_345, "12.3 µs"),
        (99_999, "100 µs"),  # not "100.0 us"
        (999_999, "1.00 ms"),
        (1_234_567, "1.23 ms"),
        (18_784_449_306, "18.8 s"),
        (1_234_000_000_000, "1,234 s"),
        (-1_500_000, "-1.50 ms"),
        (-0.0001, "-0.0001 ns"),
    ],
)
def test_format_ns(ns: float, text: str) -> None:
    """Durations read with three significant digits in the largest unit that fits."""
    assert format_ns(ns) == text


@pytest.mark.parametrize(
    ("size", "text"),
    [
        (0, "0 B"),
        (512, "512 B"),
        (1_000, "1.00 kB"),
        (524_288, "524 kB"),
        (4_194_304, "4.19 MB"),  # decimal MB, as nsys
        (16_000_000, "16.0 MB"),
        (7_195_376_640, "7.20 GB"),
        (2e15, "2,000 TB"),
    ],
)
def test_format_bytes(size: float, text: str) -> None:
    """Sizes read in decimal units with three significant digits."""
    assert format_bytes(size) == text


@pytest.mark.parametrize("value", [None, float("nan"), "abc"])
def test_missing_values(value) -> None:
    """None, NaN and non-numbers read n/a."""
    assert format_ns(value) == NA
    assert format_bytes(value) == NA


def test_numpy_values() -> None:
    """numpy scalars format like Python numbers."""
    np = pytest.importorskip("numpy")
    assert format_ns(np.int64(1_234_567)) == "1.23 ms"
    assert format_bytes(np.float64(4_194_304)) == "4.19 MB"
    assert format_ns(np.float64("nan")) == NA


@given(st.floats(min_value=0, max_value=1e18, allow_nan=False))
def test_three_significant_digits_below_1000(value: float) -> None:
    """Any duration reads between 1 and 999 in its unit (except seconds), with three significant digits."""
    text, unit = format_ns(value).split(" ")
    assert unit in ("ns", "µs", "ms", "s")
    number = float(text.replace(",", ""))
    if unit != "s" and value >= 1:
        assert 1 <= number < 1000
    if 1 <= number < 1000:
        assert len(text.replace(".", "").lstrip("0")) == 3
