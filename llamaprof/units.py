"""Human-readable units shared by the CLI and the app.

These are for people, not for matching nsys (the nsys layouts live in
``llamaprof.render.nsys_format``). The rules:

- Three significant digits: ``1.23 ms``, ``12.3 ms``, ``123 ms``. Values of 1,000 or
  more in the largest unit keep every integer digit, with ``,`` thousands
  separators (``1,234 s``, ``12,345 GB``).
- The unit is the largest whose value is at least 1, *after* rounding, so
  999,999 ns reads ``1.00 ms``, never ``1,000 µs``. Zero reads ``0 ns`` / ``0 B``.
- Times: ``ns``, ``µs``, ``ms``, ``s``. No minutes or hours: profiles are seconds
  long. (The nsys layouts keep nsys's ASCII ``us``; these are for people.)
- Sizes are decimal like nsys's ``(MB)`` columns: 1 kB = 10^3 B, 1 MB = 10^6 B,
  1 GB = 10^9 B, 1 TB = 10^12 B (so 4,194,304 B reads ``4.19 MB``).
- Below 1 in the smallest unit (a fractional ns or byte) the value keeps three
  significant digits: ``0.5 ns``.
- Negative values (differences) get a leading ``-``: ``-1.50 ms``.
- ``None`` and NaN read ``n/a``.
"""

from __future__ import annotations

import math

__all__ = ["NA", "format_bytes", "format_in", "format_ns", "format_scaled", "signed_text"]

#: What a missing value reads as.
NA = "n/a"

_TIME_UNITS: tuple[tuple[str, float], ...] = (("ns", 1.0), ("µs", 1e3), ("ms", 1e6), ("s", 1e9))
_BYTE_UNITS: tuple[tuple[str, float], ...] = (
    ("B", 1.0),
    ("kB", 1e3),
    ("MB", 1e6),
    ("GB", 1e9),
    ("TB", 1e12),
)


def _three_digits(value: float) -> str:
    """``value`` (>= 0) with three significant digits, or every integer digit from 1,000 up."""
    if value == 0:
        return "0"
    if value < 1:
        text = f"{value:.3g}"
        return "1.00" if float(text) >= 1 else text
    for decimals in (2, 1):
        text = f"{value:.{decimals}f}"
        if float(text) < 10 ** (3 - decimals):  # 9.996 -> "10.0", not "10.00"
            return text
    return f"{value:,.0f}"


def format_scaled(value: float | int | None, units: tuple[tuple[str, float], ...]) -> str:
    """Format ``value`` (in the first unit of ``units``) in the largest fitting unit.

    ``units`` lists ``(symbol, size in the base unit)`` from the smallest up.

    >>> format_scaled(1500, (("g", 1), ("kg", 1000)))
    '1.50 kg'
    """
    if value is None:
        return NA
    try:
        number = float(value)
    except (TypeError, ValueError):
        return NA
    if math.isnan(number):
        return NA
    if math.isinf(number):
        return ("-" if number < 0 else "") + "inf"
    sign = "-" if number < 0 else ""
    magnitude = abs(number)
    chosen_symbol, chosen_size = units[0]
    for symbol, size in units:
        if magnitude >= size:
            chosen_symbol, chosen_size = symbol, size
    text = _three_digits(magnitude / chosen_size)
    # Rounding can carry into the next unit: 999.7 ns -> "1,000 ns" -> "1.00 µs".
    index = [symbol for symbol, _ in units].index(chosen_symbol)
    if index + 1 < len(units) and float(text.replace(",", "")) >= units[index + 1][1] / chosen_size:
        chosen_symbol, chosen_size = units[index + 1]
        text = _three_digits(magnitude / chosen_size)
    if float(text.replace(",", "")) == 0:
        sign = ""
    return f"{sign}{text} {chosen_symbol}"


def format_ns(value: float | int | None) -> str:
    """A duration in nanoseconds, for people.

    >>> format_ns(1_234_567), format_ns(999_999), format_ns(512), format_ns(2.5e9)
    ('1.23 ms', '1.00 ms', '512 ns', '2.50 s')
    >>> format_ns(-1_500_000), format_ns(None)
    ('-1.50 ms', 'n/a')
    """
    return format_scaled(value, _TIME_UNITS)


def format_bytes(value: float | int | None) -> str:
    """A size in bytes, for people, in decimal units (1 MB = 10^6 B, as nsys).

    >>> format_bytes(4_194_304), format_bytes(16_000_000), format_bytes(512), format_bytes(0)
    ('4.19 MB', '16.0 MB', '512 B', '0 B')
    >>> format_bytes(7_195_376_640)
    '7.20 GB'
    """
    return format_scaled(value, _BYTE_UNITS)


def format_in(value: float, symbol: str) -> str | None:
    """``value`` (ns or bytes, >= 0) as a number of ``symbol`` (``"ms"``, ``"MB"``), three
    significant digits; None for a symbol of neither scale. For a spread written in the unit
    of the value it goes with.

    >>> format_in(833_000, "ms"), format_in(1_500, "MB"), format_in(5, "tokens/s")
    ('0.833', '0.0015', None)
    """
    for units in (_TIME_UNITS, _BYTE_UNITS):
        size = dict(units).get(symbol)
        if size is not None:
            return _three_digits(abs(value) / size)
    return None


def signed_text(text: str, value: float) -> str:
    """``text`` (``value`` written for people) with a "+" in front when ``value`` is positive.

    >>> signed_text("2.50 µs", 2500), signed_text("-1.00 ms", -1e6), signed_text("0 ns", 0)
    ('+2.50 µs', '-1.00 ms', '0 ns')
    """
    return f"+{text}" if value > 0 else text
