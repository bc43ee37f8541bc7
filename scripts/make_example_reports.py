#!/usr/bin/env python3
"""Write the two example runs shipped in ``reports/``, so the first ``streamlit run`` compares.

- ``reports/gemma3-4b-f16-fa-seed.txt``: REAL. The ``nsys stats`` output printed in
  the walkthrough the project started from (``../shared/seed/*.md``: llama-server,
  gemma-3-4b-it f16, ``-ngl 81 -t 8 -c 0 -fa``, nsys 2025.1.3), cut out of the
  post's code block byte for byte.
- ``reports/gemma3-4b-f16-nofa-generated.txt``: GENERATED from the seed, a plausible
  flash-attention-off run, so that the comparison shows what changes. It is not a
  measurement. What this script changes, per decoded token and layer (36,040 =
  34 layers x 1,060 tokens in the seed):

  * the ``flash_attn_ext_f16`` and ``flash_attn_stream_k_fixup`` rows are removed;
  * attention runs as two more matrix-vector products (KQ and KQV) in the
    ``mul_mat_vec<__half, __half, (int)1, (int)256>`` row (+72,080 instances,
    16,000 ns each) and one ``soft_max_f32`` launch (36,040 instances, 4,212 ns);
  * ``cudaLaunchKernel`` gains one call per added launch minus the removed ones,
    at the seed's average cost; ``cudaStreamSynchronize`` waits for the extra
    GPU time;
  * the memory operations are unchanged.

  Averages are recomputed as total / count and Time (%) over the new totals, as
  nsys does; medians scale with the average; min, max and stddev are kept.

Run: ``.venv/bin/python scripts/make_example_reports.py`` (reads ``../shared/seed``).
"""

from __future__ import annotations

import argparse
import re
import sys
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SEED_MD = ROOT.parent / "shared" / "seed" / "nsys-llamacpp-profiling-walkthrough.md"
SEED_OUT = "gemma3-4b-f16-fa-seed.txt"
GENERATED_OUT = "gemma3-4b-f16-nofa-generated.txt"

FA_PREFIXES = ("void flash_attn_ext_f16<", "void flash_attn_stream_k_fixup<")
MUL_MAT_VEC = "void mul_mat_vec<__half, __half, (int)1, (int)256>"
SOFT_MAX = (
    "void soft_max_f32<(bool)1, (int)0, (int)0>(const float *, const float *, float *, "
    "int, int, float, float, float, float, unsigned int, float)"
)
ADDED_MMV = (72_080, 16_000)  # instances, ns each
ADDED_SOFT_MAX = (36_040, 4_212)


def extract_seed(markdown: str) -> str:
    """The ``nsys stats`` output block of the walkthrough, exactly as printed there."""
    match = re.search(r"```\n( \*\* CUDA API Summary.*?)```", markdown, re.S)
    if match is None:
        raise SystemExit("the walkthrough has no `nsys stats` output block")
    # The post leaves blank lines before its closing fence; nsys ends with one newline.
    return match.group(1).rstrip("\n") + "\n"


def _num(text: str) -> Decimal:
    return Decimal(text.replace(",", ""))


def _fmt(value: Decimal, decimals: int) -> str:
    q = Decimal(1).scaleb(-decimals) if decimals else Decimal(1)
    v = value.quantize(q, rounding=ROUND_HALF_UP)
    return f"{v:,.{decimals}f}"


class Table:
    """One text table of ``nsys stats``: header, rows of cells, and its layout rules."""

    def __init__(self, lines: list[str]) -> None:
        header, dashes, *rows = lines
        # Column extents come from the dashes line: one run of '-' per column.
        self.spans = [m.span() for m in re.finditer(r"-+", dashes)]
        self.headers = [header[a:b].strip() for a, b in self._wide(header)]
        self.rows = [[row[a:b].strip() for a, b in self._wide(row)] for row in rows]

    def _wide(self, line: str) -> list[tuple[int, int]]:
        # Numbers are right-aligned to the dashes; the last (text) column runs to the end.
        spans = list(self.spans)
        spans[-1] = (spans[-1][0], max(spans[-1][1], len(line)))
        return spans

    def col(self, name: str) -> int:
        return self.headers.index(name)

    def render(self) -> list[str]:
        text_col = len(self.headers) - 1
        widths = [max(len(h), *(len(r[i]) for r in self.rows)) for i, h in enumerate(self.headers)]
        # nsys centres every header, the odd space going to the right (unlike str.center).
        head = [" " * ((w - len(h)) // 2) + h.ljust(w - (w - len(h)) // 2)
                for h, w in zip(self.headers, widths, strict=True)]  # fmt: skip
        out = [" " + "  ".join(head), " " + "  ".join("-" * w for w in widths)]
        for r in self.rows:
            cells = [c.ljust(widths[i]) if i == text_col else c.rjust(widths[i])
                     for i, c in enumerate(r)]  # fmt: skip
            out.append(" " + "  ".join(cells))
        return out


def _split_sections(text: str) -> list[tuple[list[str], Table | None, list[str]]]:
    """(lines before, table, lines after) chunks; tables start at a 'Time (%)' header line."""
    lines = text.split("\n")
    chunks: list[tuple[list[str], Table | None, list[str]]] = []
    before: list[str] = []
    i = 0
    while i < len(lines):
        if lines[i].lstrip().startswith("Time (%)"):
            j = i + 2
            while j < len(lines) and lines[j].strip():
                j += 1
            chunks.append((before, Table(lines[i:j]), []))
            before = []
            i = j
        else:
            before.append(lines[i])
            i += 1
    chunks.append((before, None, []))
    return chunks


def _set_stats(table: Table, row: list[str], total: Decimal, count: Decimal) -> None:
    tcol, ccol = table.col("Total Time (ns)"), table.headers[2]
    old_avg = _num(row[table.col("Avg (ns)")])
    avg = total / count
    row[tcol] = _fmt(total, 0)
    row[table.col(ccol)] = _fmt(count, 0)
    row[table.col("Avg (ns)")] = _fmt(avg, 1)
    med = _num(row[table.col("Med (ns)")]) * avg / old_avg
    row[table.col("Med (ns)")] = _fmt(med, 1)


def _recompute_pct(table: Table) -> None:
    tcol, pcol = table.col("Total Time (ns)"), table.col("Time (%)")
    total = sum(_num(r[tcol]) for r in table.rows)
    for r in table.rows:
        r[pcol] = _fmt(_num(r[tcol]) * 100 / total, 1)
    table.rows.sort(key=lambda r: -_num(r[tcol]))  # stable: ties keep their order


def _truncate(name: str) -> str:
    return name if len(name) <= 100 else name[:99] + "…"


def make_generated(seed: str) -> str:
    """The flash-attention-off counterpart of the seed output (see the module docstring)."""
    chunks = _split_sections(seed)
    api, kern = chunks[0][1], chunks[1][1]
    assert api is not None and kern is not None

    # Kernels.
    tcol, ncol = kern.col("Total Time (ns)"), kern.col("Name")
    removed = [r for r in kern.rows if r[ncol].startswith(FA_PREFIXES)]
    kern.rows = [r for r in kern.rows if not r[ncol].startswith(FA_PREFIXES)]
    removed_ns = sum(_num(r[tcol]) for r in removed)
    removed_launches = sum(_num(r[kern.col("Instances")]) for r in removed)
    mmv = next(r for r in kern.rows if r[ncol].startswith(MUL_MAT_VEC))
    n, each = ADDED_MMV
    mmv_total = _num(mmv[tcol]) + n * each
    _set_stats(kern, mmv, mmv_total, _num(mmv[kern.col("Instances")]) + n)
    n_sm, each_sm = ADDED_SOFT_MAX
    sm = ["0.0", "0", "0", "1", "1", "3,968", "24,031", "1,112.6", _truncate(SOFT_MAX)]
    _set_stats(kern, sm, Decimal(n_sm * each_sm), Decimal(n_sm))
    sm[kern.col("Med (ns)")] = _fmt(Decimal(4_192), 1)
    kern.rows.append(sm)
    _recompute_pct(kern)
    added_ns = n * each + n_sm * each_sm
    added_launches = n + n_sm

    # API: one launch per kernel instance; synchronisation waits for the GPU.
    acol, ccol = api.col("Total Time (ns)"), api.col("Num Calls")
    for r in api.rows:
        if r[api.col("Name")] == "cudaLaunchKernel":
            calls = _num(r[ccol]) + added_launches - removed_launches
            _set_stats(api, r, (calls * _num(r[api.col("Avg (ns)")])).to_integral_value(), calls)
        elif r[api.col("Name")] == "cudaStreamSynchronize":
            _set_stats(api, r, _num(r[acol]) + added_ns - removed_ns, _num(r[ccol]))
    _recompute_pct(api)

    out: list[str] = []
    for before, table, _ in chunks:
        out.extend(line.replace("dev1-gemma-4b.sqlite", "gemma3-4b-f16-nofa-generated.sqlite")
                   for line in before)  # fmt: skip
        if table is not None:
            out.extend(table.render())
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seed", type=Path, default=SEED_MD, help="the walkthrough markdown")
    parser.add_argument("--out", type=Path, default=ROOT / "reports", help="output folder")
    args = parser.parse_args(argv)
    seed = extract_seed(args.seed.read_text(encoding="utf-8"))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / SEED_OUT).write_text(seed, encoding="utf-8")
    (args.out / GENERATED_OUT).write_text(make_generated(seed), encoding="utf-8")
    print(f"wrote {args.out / SEED_OUT} and {args.out / GENERATED_OUT}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
