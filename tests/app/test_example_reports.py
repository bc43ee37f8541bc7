"""The shipped example runs: the real one is the walkthrough's output, the other is reproducible."""

from __future__ import annotations

import importlib.util

import pytest
from app.support import EXAMPLES, GENERATED, ROOT, SEED

from llamaprof import reports
from llamaprof.sources import load_report
from llamaprof.sources.stats_text import parse_stats_text

_spec = importlib.util.spec_from_file_location(
    "make_example_reports", ROOT / "scripts" / "make_example_reports.py"
)
assert _spec is not None and _spec.loader is not None
make = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(make)

WALKTHROUGH = ROOT.parent / "shared" / "seed" / "nsys-llamacpp-profiling-walkthrough.md"


def test_seed_example_is_the_walkthrough_output():
    """The real example is the `nsys stats` block of the walkthrough, byte for byte."""
    if not WALKTHROUGH.exists():
        pytest.skip(f"walkthrough not available: {WALKTHROUGH}")
    assert SEED.read_text(encoding="utf-8") == make.extract_seed(WALKTHROUGH.read_text("utf-8"))


def test_generated_example_is_reproducible():
    """The generated example is exactly what the script makes from the seed."""
    assert GENERATED.read_text(encoding="utf-8") == make.make_generated(SEED.read_text("utf-8"))


def test_table_layout_reproduces_nsys():
    """Re-printing the seed's tables from its parsed frames gives nsys's own text back."""
    seed = SEED.read_text(encoding="utf-8")
    run = parse_stats_text(seed, SEED)
    assert sorted(run.summaries) == sorted([reports.API, reports.KERNELS, reports.MEM_TIME])
    assert make.render_in_place(seed, run) == seed


def test_generated_example_is_consistent():
    """Generated rows keep avg = total / count and Time (%) over the new totals, as nsys."""
    run = load_report(GENERATED)
    kern = run.summary(reports.KERNELS)
    assert "flash_attn" not in " ".join(kern["name"])
    mmv = kern.iloc[0]
    assert (mmv["total_ns"], mmv["count"], mmv["avg_ns"]) == (17_803_903_556, 325_189, 54_749.4)
    soft = kern[kern["name"].str.startswith("void soft_max_f32")].iloc[0]
    assert (soft["total_ns"], soft["count"], soft["avg_ns"]) == (151_800_480, 36_040, 4_212.0)
    pct = (kern["total_ns"] * 100 / kern["total_ns"].sum()).round(1)
    assert list(pct) == list(kern["time_pct"])
    api = run.summary(reports.API).set_index("name")
    seed_api = load_report(SEED).summary(reports.API).set_index("name")
    # One launch per added kernel instance (72,080 + 36,040) minus the 72,148 removed.
    assert (
        api.loc["cudaLaunchKernel", "count"] - seed_api.loc["cudaLaunchKernel", "count"] == 35_972
    )
    assert sorted(p.name for p in EXAMPLES.glob("*.txt")) == [SEED.name, GENERATED.name]
