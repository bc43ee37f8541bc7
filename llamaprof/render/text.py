"""Numbers of a comparison written for people: values in units, signed changes, Δ%.

The one place where a comparison's values become text (``1.23 ms``, ``+4.5%``, ``new``); the
page, the Markdown, the charts' tooltips and the findings all write through it, so they read
the same. Units are ``llamaprof.units``'; a unit may be "per" something (``ns/token``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import pandas as pd

from llamaprof.units import format_bytes, format_in, format_ns, signed_text

__all__ = [
    "ELLIPSIS",
    "LACKING",
    "change_text",
    "format_rate",
    "gpus_text",
    "shorten_middle",
    "shorten_names",
    "shorten_run_names",
    "signed_text",
    "split_unit",
    "unit_formatter",
    "value_text",
]

#: What a table shows where a column lacks the key (rather than a misleading "0 ns").
LACKING = "—"


def format_rate(value: float | int | None) -> str:
    """Tokens per second for people: ``1,234 tokens/s``, ``56.7 tokens/s``.

    >>> format_rate(1234.4), format_rate(56.71), format_rate(None)
    ('1,234 tokens/s', '56.7 tokens/s', 'n/a')
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:,.0f} tokens/s" if abs(value) >= 100 else f"{value:,.1f} tokens/s"


_FORMATTERS: dict[str, Callable[[float], str]] = {
    "ns": format_ns,
    "bytes": format_bytes,
    "tokens/s": format_rate,
}


def split_unit(unit: str) -> tuple[str, str]:
    """``("ns", "/token")`` from ``"ns/token"``: the base unit and the per-suffix.

    >>> split_unit("ns/token"), split_unit("bytes"), split_unit("tokens/s")
    (('ns', '/token'), ('bytes', ''), ('tokens/s', ''))

    ValueError for a base unit other than "ns", "bytes" or "tokens/s".
    """
    if unit == "tokens/s":
        return unit, ""
    base, _, per = unit.partition("/")
    if base not in _FORMATTERS:
        raise ValueError(f"unknown unit {unit!r}; expected 'ns', 'bytes' (or ns/token...)")
    return base, f"/{per}" if per else ""


def unit_formatter(unit: str) -> Callable[[float], str]:
    """A function writing a value of ``unit`` for people: ``unit_formatter("ns/token")(2500)``.

    >>> unit_formatter("ns/token")(2500), unit_formatter("bytes")(4_190_000)
    ('2.50 µs/token', '4.19 MB')
    """
    base, per = split_unit(unit)
    fmt = _FORMATTERS[base]
    return lambda value: fmt(value) + per


def change_text(pct: float, status: str) -> str:
    """Δ% for people: "+12.3%", "0.0%", "new", "missing"; "" where neither side has the key.

    >>> change_text(12.34, "changed"), change_text(float("nan"), "new")
    ('+12.3%', 'new')
    """
    if status == "new":
        return "new"
    if status == "missing":
        return "missing"
    if status == "absent" or pd.isna(pct):
        return ""
    if pct == 0:
        return "0.0%"
    return f"{pct:+.1f}%"


def value_text(fmt: Callable[[float], str], value: float, std: float | None = None) -> str:
    """A value for people, with `` ± std`` for a repeat group whose runs differ, the spread
    in the value's unit and the unit written once (narrow table cells and cards).

    >>> value_text(unit_formatter("ns"), 810_000, 14_142.1)
    '810 ± 14.1 µs'
    >>> value_text(unit_formatter("ns"), 24_400_000, 833_000)
    '24.4 ± 0.833 ms'
    >>> value_text(unit_formatter("ns/token"), 24_400_000, 833_000)
    '24.4 ± 0.833 ms/token'

    A spread under a hundredth of the value's unit keeps its own (no ``8e-07 s``):

    >>> value_text(unit_formatter("ns"), 1_780_000_000, 800)
    '1.78 s ± 800 ns'
    """
    text = fmt(value)
    if std is not None and not pd.isna(std) and std > 0:
        spread = fmt(std)
        number, _, unit = text.rpartition(" ")
        spread_number, _, spread_unit = spread.rpartition(" ")
        if number and spread_number and unit != spread_unit:
            # in the value's unit (its base: "ms" of "ms/token"), where that reads well
            converted = format_in(std, unit.partition("/")[0])
            readable = converted is not None and float(converted.replace(",", "")) >= 0.01
            spread_number = converted if readable and converted else ""
        if number and spread_number:
            return f"{number} ± {spread_number} {unit}"
        text += f" ± {spread}"
    return text


#: What stands for the characters ``shorten_middle`` leaves out.
ELLIPSIS = "…"


def shorten_middle(text: str, limit: int, *, tail: float = 0.6) -> str:
    """``text`` in at most ``limit`` characters: its start, ``…``, and its end.

    Names that tell runs or kernels apart usually do so at their end (``…_before`` /
    ``…_after``, a kernel's template arguments), where a table or an axis would cut them;
    ``tail`` is the share of the kept characters taken from the end. Text within the limit
    comes back as it is.

    >>> shorten_middle("GindaChen__nsys-ai__mfu_2gpu_before", 24)
    'GindaChen…fu_2gpu_before'
    >>> shorten_middle("short", 24)
    'short'

    Raises ValueError for a limit under 3 or a tail share outside 0..1.
    """
    if limit < 3 or not 0 <= tail <= 1:
        raise ValueError(f"limit must be 3 or more and tail within 0..1, got {limit}, {tail}")
    if len(text) <= limit:
        return text
    keep = limit - len(ELLIPSIS)
    end = round(keep * tail)
    start = keep - end
    return text[:start] + ELLIPSIS + (text[-end:] if end else "")


def shorten_names(names: Sequence[str], limit: int, *, tail: float = 0.6) -> dict[str, str]:
    """Each of ``names`` shortened by ``shorten_middle`` (``tail``: the share of the kept
    characters taken from the end), still telling them apart.

    Where two shortened names would read the same, those take more of their end; where they
    still do (names alike at both ends: template arguments differing early), each keeps its
    start up to just past where it differs from the others, then its end, in up to twice
    ``limit`` characters; else it stays whole. A shorter name never hides which one is meant.

    >>> names = ["run-q4_k_m-ctx4096-fa-on", "run-q4_k_s-ctx4096-fa-on", "f16"]
    >>> list(shorten_names(names, 16).values())
    ['…m-ctx4096-fa-on', '…s-ctx4096-fa-on', 'f16']
    >>> k = ["elementwise<128,4,impl<copy_kernel(Tensor &)::[lambda() (instance 3)]>>",
    ...      "elementwise<128,2,impl<copy_kernel(Tensor &)::[lambda() (instance 3)]>>"]
    >>> list(shorten_names(k, 20).values())
    ['elementwise<128,4,…ance 3)]>>', 'elementwise<128,2,…ance 3)]>>']
    """
    unique = list(dict.fromkeys(names))
    out: dict[str, str] = {}
    pending = unique
    for share in sorted({tail, max(tail, 0.8), 1.0}):
        short = {name: shorten_middle(name, limit, tail=share) for name in pending}
        pending = _settle(pending, short, out)
        if not pending:
            break
    if pending:
        short = {name: _past_difference(name, pending, limit) for name in pending}
        pending = _settle(pending, short, out)
    out.update({name: name for name in pending})
    return {name: out[name] for name in unique}


_SEPARATORS = "-_./ "


def shorten_run_names(names: Sequence[str], limit: int) -> dict[str, str]:
    """Run names for narrow headers: a name longer than ``limit`` first drops the start it
    shares with another of ``names`` (cut after a separator, ``-_./`` or a space), which
    tells nothing apart, then ``shorten_names`` shortens what is left.

    >>> names = ["gemma3-4b-f16-fa-seed", "gemma3-4b-f16-nofa-generated", "serving-timeline"]
    >>> list(shorten_run_names(names, 16).values())
    ['…fa-seed', '…nofa-generated', 'serving-timeline']
    >>> list(shorten_run_names(["serving-generated", "serving-generated-nofa"], 9).values())
    ['…enerated', '…ted-nofa']
    """
    unique = list(dict.fromkeys(names))
    trimmed: dict[str, str] = {}
    for name in unique:
        others = (other for other in unique if other != name)
        shared = max((_first_difference(name, other) for other in others), default=0)
        cut = max((i + 1 for i, c in enumerate(name[:shared]) if c in _SEPARATORS), default=0)
        trimmed[name] = ELLIPSIS + name[cut:] if len(name) > limit and cut >= 4 else name
    whole = shorten_names([n for n in unique if trimmed[n] == n], limit)
    # a trimmed name keeps its end: its start is gone already
    out = {
        name: whole[name] if trimmed[name] == name else shorten_middle(trimmed[name], limit, tail=1)
        for name in unique
    }
    if len(set(out.values())) < len(unique):  # two read the same: shorten the whole names
        return shorten_names(unique, limit)
    return out


def _settle(pending: list[str], short: dict[str, str], out: dict[str, str]) -> list[str]:
    """Keep (in ``out``) the shortened names that clash with no other; return the rest."""
    seen: dict[str, int] = {}
    for text in [*short.values(), *out.values()]:
        seen[text] = seen.get(text, 0) + 1
    clashing = [name for name in pending if seen[short[name]] > 1]
    out.update({name: short[name] for name in pending if name not in clashing})
    return clashing


def _past_difference(name: str, group: Sequence[str], limit: int) -> str:
    """``name``'s start up to two characters past its first difference with the rest of
    ``group``, ``…``, and its end: at most ``2 * limit`` characters (else ``name`` whole)."""
    others = [other for other in group if other != name]
    differs = max((_first_difference(name, other) for other in others), default=0)
    head = name[: differs + 2]
    end = max(limit - len(head) - len(ELLIPSIS), limit // 2)
    text = head + ELLIPSIS + name[-end:]
    return text if len(text) <= 2 * limit and len(text) < len(name) else name


def _first_difference(a: str, b: str) -> int:
    """The index of the first character where ``a`` and ``b`` differ (the shorter's length
    when one starts the other)."""
    shortest = min(len(a), len(b))
    return next((i for i in range(shortest) if a[i] != b[i]), shortest)


def gpus_text(names: list[str | None]) -> str:
    """``1 GPU: NVIDIA A100``, ``2 GPUs: 2 × NVIDIA H100``, ``2 GPUs (not named in the
    report)`` for a run's ``llamaprof.analyze.overview.run_gpus``.

    >>> gpus_text(["A100", "A100"]), gpus_text([None, None])
    ('2 GPUs: 2 × A100', '2 GPUs (not named in the report)')
    """
    count = f"{len(names)} GPU{'s' * (len(names) != 1)}"
    known = [n for n in names if n]
    if not known:
        return f"{count} (not named in the report)"
    counts: dict[str, int] = {}
    for name in known:
        counts[name] = counts.get(name, 0) + 1
    listed = ", ".join(f"{n} × {name}" if n > 1 else name for name, n in counts.items())
    return f"{count}: {listed}"
