#!/usr/bin/env python3
"""Write a synthetic nsys SQLite export shaped like the seed's capture (see scripts/synth.py).

    .venv/bin/python scripts/make_seed_scale_export.py --out /tmp/seed.sqlite
    .venv/bin/python scripts/make_seed_scale_export.py --scale 10 --out /tmp/seed-x10.sqlite

Scale 1 is ~127 MiB (1,055,205 kernels, 1,076,916 CUDA API calls); never commit one.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from synth import write_seed_scale_export  # scripts/synth.py, beside this script


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="file to write (overwritten)")
    parser.add_argument("--scale", type=float, default=1.0, help="1 = the seed, 10 = ten times")
    parser.add_argument("--seed", type=int, default=0, help="random seed (same seed, same file)")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    try:
        rows = write_seed_scale_export(args.out, scale=args.scale, seed=args.seed)
    except (ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    size = args.out.stat().st_size / 2**20
    print(
        f"{args.out}: {rows['kernel']:,} kernels, {rows['runtime']:,} API calls, "
        f"{rows['memcpy']:,} memcpy, {rows['memset']:,} memset; {size:.1f} MiB in "
        f"{time.perf_counter() - start:.1f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
