"""Fixtures for the llama.cpp comparison tests: small kernel summaries in nsys's text layout."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

HEADER = [
    "Time (%)",
    "Total Time (ns)",
    "Instances",
    "Avg (ns)",
    "Med (ns)",
    "Min (ns)",
    "Max (ns)",
    "StdDev (ns)",
    "Name",
]


def kern_sum_text(rows: list[tuple[str, int, int]]) -> str:
    """A ``cuda_gpu_kern_sum`` table as nsys 2025 prints it, from (name, total ns, instances).

    Every instance of a kernel lasts the same, so avg = med = min = max and stddev is 0.
    """
    whole = sum(total for _, total, _ in rows)
    cells = []
    for name, total, count in sorted(rows, key=lambda r: -r[1]):
        each = total // count
        cells.append(
            [
                f"{total * 100 / whole:.1f}",
                f"{total:,}",
                f"{count:,}",
                f"{each:,.1f}",
                f"{each:,.1f}",
                f"{each:,}",
                f"{each:,}",
                "0.0",
                name,
            ]
        )
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(HEADER)]
    lines = [" ** CUDA GPU Kernel Summary (cuda_gpu_kern_sum):", ""]
    header = [h.rjust(w) for h, w in zip(HEADER[:-1], widths, strict=False)]
    lines.append(" " + "  ".join([*header, HEADER[-1].center(widths[-1])]))
    lines.append(" " + "  ".join("-" * w for w in widths))
    for c in cells:
        numbers = [v.rjust(w) for v, w in zip(c[:-1], widths, strict=False)]
        lines.append(" " + "  ".join([*numbers, c[-1].ljust(widths[-1])]))
    return "\n".join(["", *lines, ""]) + "\n"


MMQ = "void mul_mat_q<(ggml_type)12, (int)64, (bool)0>(const char *, int)"
FA = "void flash_attn_ext_f16<(int)128, (int)128>(const char *, int)"
SOFT_MAX = "void soft_max_f32<(bool)1, (int)256, (int)256, float>(const float *, int)"
Q8 = "void quantize_q8_1(const float *, void *, long)"

#: A small constructed pair: flash attention on, then off (soft_max instead).
FA_ON = [(MMQ, 800_000, 10), (FA, 150_000, 10), (Q8, 50_000, 10)]
FA_OFF = [(MMQ, 700_000, 10), (SOFT_MAX, 260_000, 10), (Q8, 50_500, 10)]


def write_run(folder: Path, stem: str, rows, record: dict | None = None) -> Path:
    """Write ``<stem>.txt`` (and ``<stem>.llamaprof.json`` when a record is given)."""
    path = folder / f"{stem}.txt"
    path.write_text(kern_sum_text(rows), encoding="utf-8")
    if record is not None:
        (folder / f"{stem}.llamaprof.json").write_text(json.dumps(record), encoding="utf-8")
    return path


@pytest.fixture
def fa_pair(tmp_path: Path) -> tuple[Path, Path]:
    """The constructed fa-on / fa-off pair, without capture records."""
    return write_run(tmp_path, "fa-on", FA_ON), write_run(tmp_path, "fa-off", FA_OFF)


@pytest.fixture
def run_writer():
    """``write_run(folder, stem, rows, record=None) -> Path``, for tests that build runs."""
    return write_run


@pytest.fixture
def names() -> dict[str, str]:
    """The kernel names of the constructed pair: MMQ, FA, SOFT_MAX, Q8."""
    return {"MMQ": MMQ, "FA": FA, "SOFT_MAX": SOFT_MAX, "Q8": Q8}


@pytest.fixture(autouse=True)
def _run_cache_in_tmp(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The commands cache the runs they read: keep that cache in the test's folder."""
    monkeypatch.setenv("LLAMAPROF_CACHE_DIR", str(tmp_path / "run-cache"))
