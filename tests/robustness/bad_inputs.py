"""Every kind of bad input the issue lists, built in a folder for the CLI and app tests.

``make_bad_folder(folder, export)`` writes them next to ``good.sqlite`` (a copy of
``export``, a real SQLite export); ``EXACT`` and ``GIST`` say what each must be refused
with. Multi-GB files are sparse: they use no disk.
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

from shared_data import SEED_TEXT

GIB = 1024**3
NOT_A_REPORT = (
    "is not an nsys report (expected an SQLite export, .nsys-rep, "
    "or what `nsys stats` prints: text, CSV, JSON or HTML)"
)


def copy_export(export: Path, dest: Path) -> sqlite3.Connection:
    """Copy the real export to ``dest`` (writable) and open it for damaging."""
    shutil.copyfile(export, dest)
    dest.chmod(0o644)
    return sqlite3.connect(dest)


def loosen(db: sqlite3.Connection, table: str) -> None:
    """Recreate ``table`` without its NOT NULL constraints (a file edited after export)."""
    db.execute(f"CREATE TABLE _loose AS SELECT * FROM {table}")
    db.execute(f"DROP TABLE {table}")
    db.execute(f"ALTER TABLE _loose RENAME TO {table}")


def _empty(folder: Path, export: Path) -> None:
    (folder / "empty.txt").write_bytes(b"")


def _random(folder: Path, export: Path) -> None:
    data = bytes(range(256)) * 20
    for name in ("random.txt", "noise.sqlite", "junk.nsys-rep", "random.csv"):
        (folder / name).write_bytes(data)


def _binary_txt(folder: Path, export: Path) -> None:
    (folder / "binary.txt").write_bytes(b"\x7fELF\x02\x01\x01\x00" + b"\x00\x01\xff" * 500)


def _unknown_csv(folder: Path, export: Path) -> None:
    (folder / "unknown.csv").write_text("Foo,Bar,Baz\n1,2,3\n4,5,6\n")


def _truncated(folder: Path, export: Path) -> None:
    data = export.read_bytes()
    (folder / "truncated.sqlite").write_bytes(data[: len(data) // 3])


def _corrupt(folder: Path, export: Path) -> None:
    data = bytearray(export.read_bytes())
    data[100:4096] = bytes(range(256)) * 15 + bytes(range(156))  # the schema page
    (folder / "corrupt.sqlite").write_bytes(bytes(data))


def _not_nsys(folder: Path, export: Path) -> None:
    db = sqlite3.connect(folder / "notnsys.sqlite")
    db.execute("CREATE TABLE contacts (name TEXT, phone TEXT)")
    db.execute("INSERT INTO contacts VALUES ('a', '1')")
    db.commit()
    db.close()


def _missing_column(folder: Path, export: Path) -> None:
    db = copy_export(export, folder / "nocolumn.sqlite")
    db.execute("ALTER TABLE CUPTI_ACTIVITY_KIND_KERNEL DROP COLUMN demangledName")
    db.commit()
    db.close()


def _sparse(folder: Path, export: Path) -> None:
    with (folder / "huge.txt").open("wb") as fh:
        fh.truncate(3 * GIB)
    with (folder / "huge-text.txt").open("wb") as fh:
        fh.write(SEED_TEXT.read_bytes() * 30)  # sniffs as text: the reader must refuse it
        fh.truncate(3 * GIB)
    with (folder / "huge.csv").open("wb") as fh:
        fh.write(
            b"Time (%),Total Time (ns),Num Calls,Avg (ns),Med (ns),Min (ns),Max (ns),"
            b"StdDev (ns),Name\n" + b"47.9,17388530,5,3477706.0,3468599.0,1,2,3.0,x\n" * 2000
        )
        fh.truncate(3 * GIB)  # fmt: skip
    with (folder / "huge.sqlite").open("wb") as fh:
        fh.write(export.read_bytes()[:100])
        fh.truncate(3 * GIB)


BUILDERS = (_empty, _random, _binary_txt, _unknown_csv, _truncated, _corrupt, _not_nsys,
            _missing_column, _sparse)  # fmt: skip

#: Bad inputs whose reason is worded by the format sniffer and the text readers (exact).
EXACT = {
    "empty.txt": "is empty",
    "random.txt": NOT_A_REPORT,
    "noise.sqlite": NOT_A_REPORT,
    "junk.nsys-rep": NOT_A_REPORT,
    "random.csv": NOT_A_REPORT,
    "binary.txt": NOT_A_REPORT,
    "unknown.csv": NOT_A_REPORT,
    "huge.txt": NOT_A_REPORT,
    "huge-text.txt": "is too big for a text report (over 256 MB)",
    "huge.csv": "is too big for a text report (over 256 MB)",
    "missing.txt": "cannot be read (No such file or directory)",
    "a-folder": "is a folder, not a report file",
}
#: Bad inputs the SQLite reader words (its wording may be refined: the gist is pinned).
GIST = {
    "truncated.sqlite": "is not a readable SQLite database",
    "corrupt.sqlite": "is not a readable SQLite database",
    "huge.sqlite": "is not a readable SQLite database",
    "notnsys.sqlite": "is an SQLite database but not an nsys export",
    "nocolumn.sqlite": "CUPTI_ACTIVITY_KIND_KERNEL lacks column(s) demangledName",
}


def make_bad_folder(folder: Path, export: Path) -> Path:
    """Write every bad input of EXACT and GIST (but ``missing.txt``) and ``good.sqlite``."""
    for build in BUILDERS:
        build(folder, export)
    (folder / "a-folder").mkdir()
    shutil.copyfile(export, folder / "good.sqlite")
    (folder / "good.sqlite").chmod(0o644)
    return folder
