"""`llamaprof stats` prints the same whatever format of `nsys stats` output it is given.

The same run printed by nsys in its seven formats (real nsys 2022.4 at test time; real
2023.4 outputs checked in) is printed by ``llamaprof stats`` byte for byte alike. The one
difference nsys itself makes: ``column`` and ``table`` cut names longer than 100 characters,
the machine formats (csv, tsv, json, hdoc, htable) do not, so the two groups are alike
within themselves, and alike across unless two kernels' names differ only after their 99th
character (then the cut text holds one merged row where the full names give two). Pasted
text broken by blank lines prints as the unbroken text does.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from sources_text.nsys_outputs import with_blank_lines

from llamaprof import reports
from llamaprof.cli import main
from llamaprof.sources import load_report

from conftest import NSYS_STATS_FORMATS
from shared_data import shared_files

EXPORT_NAMES = [p.name for p in shared_files("sqlite/*.sqlite")]
DATA_2023 = Path(__file__).parents[1] / "sources_text" / "data" / "nsys2023.4"


def stats(path: Path, *options: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["stats", *options, str(path)])
    return result.exit_code, result.stdout, result.stderr.replace(str(path), "PATH")


@pytest.fixture(autouse=True)
def private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLAMAPROF_CACHE_DIR", str(tmp_path / "cache"))


@pytest.mark.parametrize("name", EXPORT_NAMES)
def test_every_nsys_format_prints_alike(name: str, shared_exports: list[Path], nsys_stats) -> None:
    """Column and table print alike, the five machine formats alike, all seven when no
    name is long enough to be cut; stderr (SKIPPED lines) is the same for all."""
    export = next(p for p in shared_exports if p.name == name)
    printed = {fmt: stats(nsys_stats(export, fmt)) for fmt in NSYS_STATS_FORMATS}
    cut_group = {printed["column"], printed["table"]}
    full_group = {printed[f] for f in ("csv", "tsv", "json", "hdoc", "htable")}
    assert len(cut_group) == 1 and len(full_group) == 1, name
    ((status, stdout, stderr),) = full_group
    assert status == (0 if stdout else 1)
    assert {p[2] for p in printed.values()} == {stderr}
    run = load_report(nsys_stats(export, "csv")) if stdout else None
    kernels = run.summary(reports.KERNELS) if run else None
    names = set(kernels["name"]) if kernels is not None else set()
    if len({n if len(n) <= 100 else n[:99] for n in names}) == len(names):
        assert cut_group == full_group, name
    else:
        assert name.startswith("GindaChen__")  # the exports where cut names collide


@pytest.mark.parametrize("options", [[], ["--format", "csv"], ["--timeunit", "us"]])
def test_2023_4_table_and_column_print_alike(options: list[str]) -> None:
    """The real 2023.4 table output prints exactly as its column output, in every option."""
    table = stats(DATA_2023 / "llama3-demo.table.txt", *options)
    column = stats(DATA_2023 / "llama3-demo.column.txt", *options)
    assert table == column and table[0] == 0 and table[1].count("\n") > 20
    json_ = stats(DATA_2023 / "llama3-demo.json", *options)
    assert json_ == stats(DATA_2023 / "llama3-demo.htable.html", *options)


@pytest.mark.parametrize("name", ["llama3-demo.table.txt", "llama3-demo.column.txt"])
def test_pasted_text_with_blank_lines_prints_as_the_whole_text(name: str, tmp_path: Path) -> None:
    """A paste broken by blank lines prints exactly as the text it was pasted from."""
    source = DATA_2023 / name
    pasted = tmp_path / "pasted.txt"
    pasted.write_text(
        with_blank_lines(source.read_text(encoding="utf-8"), table=name.endswith("table.txt")),
        encoding="utf-8",
    )
    assert stats(pasted) == stats(source)
