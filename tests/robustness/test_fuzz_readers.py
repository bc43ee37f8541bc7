"""Fuzzing every reader: any input gives a Run or a one-line LlamaprofError, never a crash.

Inputs are mutations of the real nsys outputs in ../shared/data/nsys plus arbitrary
bytes and text from hypothesis. Thousands of inputs run in CI; each must end in
either a ``Run`` or a ``LlamaprofError`` whose message is one line.
"""

from __future__ import annotations

import random
import shutil
import sqlite3
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llamaprof.errors import LlamaprofError
from llamaprof.model import Run
from llamaprof.sources import load_report

from shared_data import shared_files

TEXT_FILES = shared_files("stats-text/*.txt") + shared_files("stats-csv/*.csv")
#: Real nsys 2023.4 outputs in the formats ../shared has no sample of (table, json, htable).
FORMAT_FILES = sorted(
    p
    for p in (Path(__file__).parents[1] / "sources_text" / "data" / "nsys2023.4").iterdir()
    if "column" not in p.name
)
SQLITE_FILES = [p for p in shared_files("sqlite/*.sqlite") if p.stat().st_size < 1_200_000]

_FUZZ_SETTINGS = settings(
    max_examples=400,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    database=None,
)


def _check(path: Path) -> None:
    """Read ``path`` and assert the outcome is a Run or a one-line library error."""
    try:
        run = load_report(path)
    except LlamaprofError as exc:
        message = str(exc)
        assert message and "\n" not in message, repr(message)
        return
    assert isinstance(run, Run)
    for frame in run.summaries.values():
        assert not frame.columns.duplicated().any()


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


@_FUZZ_SETTINGS
@given(data=st.binary(max_size=4096))
def test_arbitrary_bytes_never_crash(tmp_path: Path, data: bytes) -> None:
    """Arbitrary bytes are read or refused with a one-line reason."""
    _check(_write(tmp_path, "blob.txt", data))


@_FUZZ_SETTINGS
@given(text=st.text(max_size=3000))
def test_arbitrary_text_never_crashes(tmp_path: Path, text: str) -> None:
    """Arbitrary unicode text is read or refused with a one-line reason."""
    _check(_write(tmp_path, "paste.txt", text.encode("utf-8", "surrogatepass")))


_NSYS_LINES = [
    " ** CUDA API Summary (cuda_api_sum):",
    " ** CUDA GPU Kernel Summary (cuda_gpu_kern_sum):",
    " ** CUDA GPU MemOps Summary (by Time) (cuda_gpu_mem_time_sum):",
    " ** CUDA GPU MemOps Summary (by Size) (cuda_gpu_mem_size_sum):",
    " Time (%)  Total Time (ns)  Num Calls  Avg (ns)  Med (ns)  Min (ns)  Max (ns)  StdDev (ns)  Name",
    " --------  ---------------  ---------  --------  --------  --------  --------  -----------  ----",
    "     81.2   18,784,449,306     13,185   1,424,683.3  6,991.0  306  26,541,226  4,702,507.3  cudaStreamSynchronize",
    " Total (MB)  Count  Avg (MB)  Med (MB)  Min (MB)  Max (MB)  StdDev (MB)  Operation",
    "Time (%),Total Time (ns),Num Calls,Avg (ns),Med (ns),Min (ns),Max (ns),StdDev (ns),Name",
    "47.9,17388530,5,3477706.0,3468599.0,3447647,3550565,42045.9,cuMemcpyHtoD_v2",
    "SKIPPED: /tmp/x.sqlite does not contain CUDA kernel data.",
    "Processing [x.sqlite] with [/opt/nsight-systems-2025.1.3/host-linux-x64/reports/cuda_api_sum.py]... ",
    "",
    "+----------+-----------------+-----------+----------+------+",
    "| Time (%) | Total Time (ns) | Num Calls | Avg (ns) | Name |",
    "|     81.2 |             300 |         2 |    150.0 | x|y  |",
    "[",
    '  {"Time (%)": 60.0, "Total Time (ns)": 600, "Num Calls": 2, "Name": "cudaMalloc"},',
    "]",
    "<table><thead><tr><th>Total (MB)</th><th>Count</th><th>Operation</th></tr></thead>",
    "<tr><td>2.097</td><td>16</td><td>[CUDA memset]</td></tr></table>",
    "<h1>CUDA API Summary (cuda_api_sum)</h1>",
]


@_FUZZ_SETTINGS
@given(lines=st.lists(st.one_of(st.sampled_from(_NSYS_LINES), st.text(max_size=80)), max_size=40))
def test_nsys_like_line_soup_never_crashes(tmp_path: Path, lines: list[str]) -> None:
    """Shuffled fragments of real nsys tables are read or refused with a one-line reason."""
    _check(_write(tmp_path, "soup.txt", "\n".join(lines).encode()))


def _mutate_bytes(data: bytes, rng: random.Random) -> bytes:
    kind = rng.randrange(6)
    buf = bytearray(data)
    if kind == 0 and buf:  # truncate
        return bytes(buf[: rng.randrange(len(buf))])
    if kind == 1 and buf:  # flip a few bytes
        for _ in range(rng.randint(1, 8)):
            buf[rng.randrange(len(buf))] = rng.randrange(256)
        return bytes(buf)
    if kind == 2:  # drop a line
        lines = data.split(b"\n")
        del lines[rng.randrange(len(lines))]
        return b"\n".join(lines)
    if kind == 3:  # duplicate a line
        lines = data.split(b"\n")
        i = rng.randrange(len(lines))
        lines.insert(i, lines[i])
        return b"\n".join(lines)
    if kind == 4:  # digits become letters or separators
        table = bytes.maketrans(
            b"0123456789", rng.choice([b"abcdefghij", b",,,,,.....", b"9876543210"])
        )
        start = rng.randrange(max(1, len(buf)))
        end = min(len(buf), start + rng.randint(1, 400))
        return bytes(buf[:start]) + bytes(buf[start:end]).translate(table) + bytes(buf[end:])
    # insert random bytes
    pos = rng.randrange(len(buf) + 1)
    return bytes(buf[:pos]) + rng.randbytes(rng.randint(1, 64)) + bytes(buf[pos:])


@pytest.mark.parametrize("source", TEXT_FILES + FORMAT_FILES, ids=lambda p: p.name)
def test_mutated_real_text_and_csv_never_crash(tmp_path: Path, source: Path) -> None:
    """600 mutations of each real nsys text/CSV/table/JSON/HTML output are read or refused
    cleanly."""
    rng = random.Random(source.name)
    original = source.read_bytes()
    for i in range(600):
        data = original
        for _ in range(rng.randint(1, 3)):
            data = _mutate_bytes(data, rng)
        _check(_write(tmp_path, f"m{i % 7}{source.suffix}", data))


@pytest.mark.parametrize("source", SQLITE_FILES, ids=lambda p: p.name)
def test_corrupted_real_sqlite_never_crashes(tmp_path: Path, source: Path) -> None:
    """Byte-level corruption and truncation of real SQLite exports are refused or read cleanly."""
    rng = random.Random(source.name)
    original = source.read_bytes()
    for i in range(40):
        buf = bytearray(original)
        if i % 4 == 0:
            buf = buf[: rng.randrange(100, len(buf))]
        else:
            for _ in range(rng.randint(1, 30)):
                pos = rng.randrange(100, len(buf))
                buf[pos] = rng.randrange(256)
        _check(_write(tmp_path, f"c{i % 3}.sqlite", bytes(buf)))


_ACTIVITY_TABLES = [
    "CUPTI_ACTIVITY_KIND_RUNTIME",
    "CUPTI_ACTIVITY_KIND_KERNEL",
    "CUPTI_ACTIVITY_KIND_MEMCPY",
    "CUPTI_ACTIVITY_KIND_MEMSET",
    "StringIds",
    "ENUM_CUDA_MEMCPY_OPER",
]
_BAD_VALUES = [None, "abc", -5, 2**62, 1.5, b"\x00\xff", ""]


def _structural_mutation(db: sqlite3.Connection, rng: random.Random) -> None:
    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    present = [t for t in _ACTIVITY_TABLES if t in tables]
    if not present:
        return
    table = rng.choice(present)
    columns = [r[1] for r in db.execute(f"PRAGMA table_info({table})")]
    kind = rng.randrange(4)
    if kind == 0:
        db.execute(f"DROP TABLE {table}")
    elif kind == 1 and len(columns) > 1:
        column = rng.choice(columns)
        try:
            db.execute(f'ALTER TABLE {table} DROP COLUMN "{column}"')
        except sqlite3.OperationalError:  # e.g. a PRIMARY KEY column cannot be dropped
            db.execute(f"DROP TABLE {table}")
    elif kind == 2:
        # CREATE TABLE AS drops NOT NULL and type constraints, so NULLs and wrong types
        # can land where nsys itself never writes them (files edited after export).
        db.execute(f"CREATE TABLE _loose AS SELECT * FROM {table}")
        db.execute(f"DROP TABLE {table}")
        db.execute(f"ALTER TABLE _loose RENAME TO {table}")
        column = rng.choice(columns)
        value = rng.choice(_BAD_VALUES)
        db.execute(
            f'UPDATE {table} SET "{column}" = ? WHERE rowid IN '
            f"(SELECT rowid FROM {table} ORDER BY random() LIMIT ?)",
            (value, rng.randint(1, 5)),
        )
    else:
        db.execute(f"DELETE FROM {table}")


@pytest.mark.parametrize("source", SQLITE_FILES, ids=lambda p: p.name)
def test_structurally_broken_exports_never_crash(tmp_path: Path, source: Path) -> None:
    """Exports with dropped tables/columns, NULLs and wrong-typed values are read or refused."""
    rng = random.Random("structure" + source.name)
    for i in range(25):
        target = tmp_path / f"s{i}.sqlite"
        shutil.copyfile(source, target)
        db = sqlite3.connect(target)
        try:
            for _ in range(rng.randint(1, 3)):
                _structural_mutation(db, rng)
            db.commit()
        finally:
            db.close()
        _check(target)
        target.unlink()
