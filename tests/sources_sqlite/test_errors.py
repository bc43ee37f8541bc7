"""Files the SQLite reader refuses, each with a one-line reason."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from llamaprof.errors import ReportParseError
from llamaprof.sources.magic import SQLITE_MAGIC
from llamaprof.sources.sqlite_export import read_sqlite

from shared_data import shared_file


def _refusal(path: Path) -> str:
    with pytest.raises(ReportParseError) as caught:
        read_sqlite(path)
    message = str(caught.value)
    assert "\n" not in message
    assert caught.value.path == path
    return caught.value.reason


def test_empty_file(tmp_path: Path):
    """An empty file is refused as empty (SQLite would open it as an empty database)."""
    path = tmp_path / "empty.sqlite"
    path.write_bytes(b"")
    assert _refusal(path) == "is empty"


def test_not_sqlite_at_all(tmp_path: Path):
    """A text file is not an SQLite database."""
    path = tmp_path / "notes.sqlite"
    path.write_text("hello\n")
    assert _refusal(path) == "is not an SQLite database (no SQLite header)"


def test_random_bytes_after_the_magic(tmp_path: Path):
    """The SQLite magic followed by garbage is refused with SQLite's own diagnosis."""
    path = tmp_path / "garbage.sqlite"
    path.write_bytes(SQLITE_MAGIC + bytes(range(256)) * 20)
    assert _refusal(path).startswith("is not a readable SQLite database (")


def test_truncated_real_export(tmp_path: Path):
    """A real export cut in half is refused, not half-read."""
    source = shared_file("sqlite/Sh1mwww__llama3-inference__demo.sqlite").read_bytes()
    path = tmp_path / "cut.sqlite"
    path.write_bytes(source[: len(source) // 2])
    assert _refusal(path).startswith("is not a readable SQLite database (")


def test_sqlite_that_is_not_an_nsys_export(tmp_path: Path):
    """A valid SQLite database without StringIds, CUPTI_* or TARGET_INFO_* tables is refused."""
    path = tmp_path / "app.sqlite"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE users (id INTEGER, name TEXT)")
    con.commit()
    con.close()
    assert _refusal(path) == (
        "is an SQLite database but not an nsys export "
        "(no StringIds, CUPTI_* or TARGET_INFO_* tables)"
    )


def test_export_without_string_ids(tmp_path: Path):
    """CUPTI tables without StringIds cannot be named: refused with that reason."""
    path = tmp_path / "pruned.sqlite"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE CUPTI_ACTIVITY_KIND_RUNTIME (start INT, end INT, nameId INT)")
    con.commit()
    con.close()
    assert _refusal(path) == "is an nsys export without its StringIds table; names cannot be read"


def test_activity_table_without_a_needed_column(tmp_path: Path):
    """A table missing a column its report needs is refused, naming the column."""
    path = tmp_path / "edited.sqlite"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE StringIds (id INTEGER PRIMARY KEY, value TEXT)")
    con.execute("CREATE TABLE CUPTI_ACTIVITY_KIND_KERNEL (start INT, end INT, shortName INT)")
    con.commit()
    con.close()
    assert _refusal(path) == "table CUPTI_ACTIVITY_KIND_KERNEL lacks column(s) demangledName"


def test_values_too_large_for_durations(tmp_path: Path):
    """Values whose difference overflows 64 bits leave the rows out instead of crashing."""
    path = tmp_path / "huge.sqlite"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE StringIds (id INTEGER PRIMARY KEY, value TEXT)")
    con.execute("CREATE TABLE CUPTI_ACTIVITY_KIND_RUNTIME (start INT, end INT, nameId INT)")
    con.execute("INSERT INTO StringIds VALUES (1, 'cudaFree')")
    con.execute(
        "INSERT INTO CUPTI_ACTIVITY_KIND_RUNTIME VALUES (?, ?, 1), (0, 5, 1)",
        (-(2**63), 2**63 - 1),
    )
    con.commit()
    con.close()
    run = read_sqlite(path)
    assert run.summaries["cuda_api_sum"][["total_ns", "count"]].values.tolist() == [[5, 1]]
    assert run.info.warnings == [
        "1 row of CUPTI_ACTIVITY_KIND_RUNTIME with a missing or non-integer value left out."
    ]


def test_the_shared_data_folder_is_opened_read_only(tmp_path: Path):
    """Reading writes nothing beside the file: no journal, no -wal/-shm, same bytes."""
    folder = tmp_path / "ro"
    folder.mkdir()
    source = shared_file("sqlite/0x822a5b87__test-cuda__report1.sqlite")
    path = folder / source.name
    path.write_bytes(source.read_bytes())
    path.chmod(0o444)
    folder.chmod(0o555)
    try:
        read_sqlite(path)
        assert sorted(p.name for p in folder.iterdir()) == [source.name]
        assert path.read_bytes() == source.read_bytes()
    finally:
        folder.chmod(0o755)
