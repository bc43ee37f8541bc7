"""`llamaprof stats`: stdout, stderr and exit status, in process and as the installed script.

The in-process tests feed the command a Run built from the seed by this folder's own
parser, so the contract is pinned independently of the readers; the end-to-end tests
run the real readers on the real files in ../shared/data/nsys (skipped when a reader or
the data is absent).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from llamaprof import reports
from llamaprof.cli import main
from llamaprof.model import KernelNaming, ReportFormat, Run
from llamaprof.render.nsys_format import render_column, render_csv, render_json, title_line

from shared_data import SEED_TEXT, shared_file

SIZE_SKIP = "does not contain GPU memory data."


def invoke(*args: str):
    return CliRunner().invoke(main, ["stats", *args], catch_exceptions=False)


@pytest.fixture
def seed_run(seed, monkeypatch) -> Run:
    """`load_report` returns the seed's three tables; the size report is skipped."""
    frames, _blocks = seed
    run = Run(
        path=Path("seed.txt"),
        format=ReportFormat.STATS_TEXT,
        summaries=dict(frames),
        skipped={reports.MEM_SIZE: SIZE_SKIP},
    )
    monkeypatch.setattr("llamaprof.loading.load_report", lambda path: run)
    return run


def test_default_prints_every_table_like_nsys(seed, seed_run) -> None:
    """With no options every table the file holds is printed as nsys prints it; the rest is SKIPPED on stderr."""
    _frames, blocks = seed
    result = invoke("seed.txt")
    assert result.exit_code == 0
    assert result.stdout == "\n".join(blocks.values())
    assert result.stderr == f"SKIPPED: seed.txt {SIZE_SKIP}\n"


def test_one_report_by_old_name(seed, seed_run) -> None:
    """A pre-2023 report name selects that one table."""
    _frames, blocks = seed
    result = invoke("seed.txt", "--report", "gpukernsum")
    assert (result.exit_code, result.stdout, result.stderr) == (0, blocks[reports.KERNELS], "")


def test_reports_keep_the_order_asked_and_print_once(seed, seed_run) -> None:
    """Reports print in the order asked, comma lists work, and a report asked twice prints once."""
    _frames, blocks = seed
    result = invoke("seed.txt", "-r", "cuda_gpu_mem_time_sum,cudaapisum", "-r", "cuda_api_sum")
    assert result.exit_code == 0
    assert result.stdout == blocks[reports.MEM_TIME] + "\n" + blocks[reports.API]


def test_csv_with_one_report_is_exactly_the_csv(seed_run) -> None:
    """CSV for one report is the CSV alone, nothing before or after it."""
    result = invoke("seed.txt", "--format", "csv", "--report", "cuda_api_sum")
    assert result.exit_code == 0
    assert result.stdout == render_csv(seed_run, reports.API)
    assert result.stdout.startswith("Time (%),Total Time (ns),Num Calls,Avg (ns),")
    assert result.stderr == ""


def test_csv_with_several_reports_names_each(seed_run) -> None:
    """CSV for several reports puts each report's title line before its CSV."""
    result = invoke("seed.txt", "--format", "csv")
    assert result.exit_code == 0
    expected = "\n".join(
        f"{title_line(name)}\n\n{render_csv(seed_run, name)}"
        for name in (reports.API, reports.KERNELS, reports.MEM_TIME)
    )
    assert result.stdout == expected
    assert result.stderr == f"SKIPPED: seed.txt {SIZE_SKIP}\n"


def test_json_is_one_object(seed_run) -> None:
    """JSON is one object keyed by report, with numbers in the unit asked."""
    result = invoke("seed.txt", "--format", "json", "--timeunit", "ms")
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert list(data) == [reports.API, reports.KERNELS, reports.MEM_TIME]
    assert data[reports.API][0]["Total Time (ms)"] == 18784.4493
    assert data[reports.API][0]["Num Calls"] == 13185


def test_timeunit(seed_run) -> None:
    """--timeunit is case-insensitive and rescales every time column to 4 decimals."""
    result = invoke("seed.txt", "--timeunit", "MS", "-r", "cuda_gpu_mem_time_sum")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[2].split("  ")[1:3] == ["Total Time (ms)", "Count"]
    assert lines[4].split()[:4] == ["87.6", "2,527.4390", "5,749", "0.4396"]


def test_all_requested_reports_skipped_exits_1(seed_run) -> None:
    """When no requested report is in the file, stdout stays empty (or {}) and the status is 1."""
    result = invoke("seed.txt", "--report", "gpumemsizesum")
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == f"SKIPPED: seed.txt {SIZE_SKIP}\n"
    as_json = invoke("seed.txt", "--report", "gpumemsizesum", "--format", "json")
    assert (as_json.exit_code, as_json.stdout) == (1, "{}\n")


def test_skip_reason_defaults_to_nsys_wording(monkeypatch) -> None:
    """A report neither present nor explained by the reader is skipped with nsys's own reason."""
    run = Run(path=Path("empty.sqlite"), format=ReportFormat.SQLITE)
    monkeypatch.setattr("llamaprof.loading.load_report", lambda path: run)
    result = invoke("empty.sqlite")
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == (
        "SKIPPED: empty.sqlite does not contain CUDA trace data.\n"
        "SKIPPED: empty.sqlite does not contain CUDA kernel data.\n"
        "SKIPPED: empty.sqlite does not contain GPU memory data.\n"
        "SKIPPED: empty.sqlite does not contain GPU memory data.\n"
    )


def test_base_and_mangled_names(seed, monkeypatch) -> None:
    """--base prints the base-name variant; --mangled without that variant prints demangled names and says so."""
    frames, _blocks = seed
    base = frames[reports.KERNELS].copy()
    base["name"] = [f"kernel_{i}" for i in range(len(base))]
    run = Run(
        path=Path("x.sqlite"),
        format=ReportFormat.SQLITE,
        summaries=dict(frames),
        kernel_variants={KernelNaming.BASE: base},
    )
    monkeypatch.setattr("llamaprof.loading.load_report", lambda path: run)
    result = invoke("x.sqlite", "--base", "-r", "cuda_gpu_kern_sum", "-f", "csv")
    assert result.exit_code == 0 and result.stderr == ""
    assert result.stdout.splitlines()[1].endswith(",kernel_0")
    mangled = invoke("x.sqlite", "--mangled", "-r", "cuda_gpu_kern_sum", "-f", "csv")
    assert mangled.exit_code == 0
    assert mangled.stdout == render_csv(run, reports.KERNELS)
    assert mangled.stderr == (
        "llamaprof: note: x.sqlite holds no mangled kernel names; printing demangled names\n"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--base", "--mangled"], "--base and --mangled cannot be used together."),
        (["--report", "osrt_sum"], "unknown report 'osrt_sum'"),
        (["--format", "xml"], "'xml' is not one of 'column', 'csv', 'json'"),
        (["--timeunit", "min"], "'min' is not one of 'ns', 'us', 'ms', 's'"),
    ],
)
def test_usage_errors_exit_2(seed_run, args: list[str], message: str) -> None:
    """Conflicting flags and unknown names or choices are usage errors with status 2."""
    result = invoke("seed.txt", *args)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert message in result.stderr


def test_missing_file_is_one_line(tmp_path: Path) -> None:
    """A missing file is one line on stderr and status 1."""
    result = invoke(str(tmp_path / "nope.sqlite"))
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == "llamaprof: nope.sqlite: cannot be read (No such file or directory)\n"


def test_folder_is_one_line(tmp_path: Path) -> None:
    """A folder is one line on stderr and status 1."""
    folder = tmp_path / "captures"
    folder.mkdir()
    result = invoke(str(folder))
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == "llamaprof: captures: is a folder, not a report file\n"


def test_random_bytes_is_one_line(tmp_path: Path) -> None:
    """Bytes that are no report are one line on stderr and status 1."""
    blob = tmp_path / "blob.bin"
    blob.write_bytes(bytes(range(256)) * 8)
    result = invoke(str(blob))
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr.startswith("llamaprof: blob.bin: ")
    assert result.stderr.count("\n") == 1


def test_reader_bug_is_still_one_line(monkeypatch) -> None:
    """An unexpected reader exception still reaches the user as one line, not a traceback."""

    def broken(path):
        raise RuntimeError("boom\nwith a second line")

    monkeypatch.setattr("llamaprof.loading.load_report", broken)
    result = invoke("x.sqlite")
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == "llamaprof: x.sqlite: could not be read (boom)\n"


# ---------------------------------------------------------------------------
# End to end: the installed console script on the real files.

SCRIPT = Path(sys.executable).with_name("llamaprof")


def run_script(*args: str) -> subprocess.CompletedProcess[str]:
    if not SCRIPT.exists():
        pytest.skip(f"console script not installed: {SCRIPT}")
    env = {**os.environ, "PYTHONIOENCODING": "utf-8"}
    return subprocess.run(
        [str(SCRIPT), "stats", *args],
        capture_output=True,
        text=True,
        encoding="utf-8",
        env=env,
        timeout=240,
        check=False,
    )


def _needs(module: str) -> None:
    pytest.importorskip(module, reason=f"{module} is not written yet")


def test_script_prints_the_seed_byte_for_byte(seed) -> None:
    """The installed script prints the seed's three tables byte for byte and skips the size report."""
    _needs("llamaprof.sources.stats_text")
    _frames, blocks = seed
    path = str(SEED_TEXT)
    result = run_script(path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "\n".join(blocks.values())
    assert result.stderr == f"SKIPPED: {path} {SIZE_SKIP}\n"


def test_script_prints_a_real_csv_byte_for_byte() -> None:
    """The installed script reprints a real nsys CSV byte for byte."""
    _needs("llamaprof.sources.stats_csv")
    path = shared_file(
        "stats-csv/CodeGandee__llm-perf-opt__per-stage_decode__summary_cuda_gpu_kern_sum.csv"
    )
    result = run_script(str(path), "--format", "csv", "--report", "cuda_gpu_kern_sum")
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout == path.read_bytes().decode("utf-8")


def test_script_on_an_export_without_cuda_skips_everything() -> None:
    """An export without CUDA data gives four SKIPPED lines, empty stdout and status 1."""
    _needs("llamaprof.sources.sqlite_export")
    path = str(shared_file("sqlite/mabdullahsoyturk__cardiac-simulation__report1.sqlite"))
    result = run_script(path)
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == (
        f"SKIPPED: {path} does not contain CUDA trace data.\n"
        f"SKIPPED: {path} does not contain CUDA kernel data.\n"
        f"SKIPPED: {path} does not contain GPU memory data.\n"
        f"SKIPPED: {path} does not contain GPU memory data.\n"
    )


def test_script_on_random_bytes(tmp_path: Path) -> None:
    """The installed script refuses random bytes in one line with status 1."""
    blob = tmp_path / "random.sqlite"
    blob.write_bytes(os.urandom(4096))
    result = run_script(str(blob))
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr.startswith("llamaprof: random.sqlite: ")
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr


def test_script_missing_file() -> None:
    """The installed script names a missing file and its reason in one line."""
    result = run_script("/nonexistent/report.sqlite")
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == "llamaprof: report.sqlite: cannot be read (No such file or directory)\n"


def _cells(line: str) -> list[str]:
    return [cell.strip().replace(",", "") for cell in line.split("  ") if cell.strip()]


@pytest.mark.parametrize(
    ("report", "old_title"),
    [
        (reports.API, " ** CUDA API Summary (cudaapisum):"),
        (reports.MEM_TIME, " ** GPU MemOps Summary (by Time) (gpumemtimesum):"),
        (reports.MEM_SIZE, " ** GPU MemOps Summary (by Size) (gpumemsizesum):"),
    ],
)
def test_golden_pair_export_matches_its_2022_text(report: str, old_title: str) -> None:
    """q1_1.sqlite rendered by llamaprof has the numbers nsys 2022.4.2 printed for it
    (which had no thousands separators and short memcpy labels)."""
    _needs("llamaprof.sources.sqlite_export")
    export = shared_file("sqlite/Pandananana__python-hpc__q1_1.sqlite")
    text = shared_file("stats-text/Pandananana__python-hpc__q1_2.sh.stats.txt")
    lines = text.read_text(encoding="utf-8").splitlines()
    start = lines.index(old_title) + 4
    end = next((i for i in range(start, len(lines)) if not lines[i].strip()), len(lines))
    golden = [_cells(line)[:-1] for line in lines[start:end]]
    result = run_script(str(export), "--report", report)
    assert result.returncode == 0, result.stderr
    rendered = [_cells(line)[:-1] for line in result.stdout.splitlines()[4:]]
    assert rendered == golden


def test_every_export_renders_in_every_format(shared_nsys: Path) -> None:
    """Every real export renders each report it holds as one line per row in all formats."""
    _needs("llamaprof.sources.sqlite_export")
    from llamaprof.sources import load_report

    printed = 0
    for path in sorted((shared_nsys / "sqlite").glob("*.sqlite")):
        run = load_report(path)
        present = [name for name in reports.REPORT_NAMES if run.summary(name) is not None]
        for name in present:
            rows = len(run.summary(name))
            assert render_csv(run, name).count("\n") == rows + 1, (path.name, name)
            assert render_column(run, name).count("\n") == rows + 4, (path.name, name)
            printed += 1
        data = json.loads(render_json(run))
        assert list(data) == present, path.name
    assert printed >= 20


_SEED = "stats-text/" + SEED_TEXT.name
_EXPORT = "sqlite/0x822a5b87__test-cuda__report1.sqlite"


@pytest.mark.parametrize(
    ("source", "options"),
    [
        (_SEED, []),
        (_SEED, ["--format", "csv"]),
        (_SEED, ["--timeunit", "ms"]),
        (_EXPORT, []),
        (_EXPORT, ["--format", "csv"]),
        (_EXPORT, ["--timeunit", "us"]),
        (_EXPORT, ["--format", "csv", "-r", "gpumemsizesum"]),
    ],
)
def test_output_reads_back_to_the_same_output(
    tmp_path: Path, source: str, options: list[str]
) -> None:
    """What `llamaprof stats` prints, read back by llamaprof, prints the same again."""
    _needs("llamaprof.sources.stats_text")
    _needs("llamaprof.sources.stats_csv")
    _needs("llamaprof.sources.sqlite_export")
    path = shared_file(source)
    first = invoke(str(path), *options)
    assert first.exit_code == 0 and first.stdout
    copy = tmp_path / ("out.csv" if "csv" in options else "out.txt")
    copy.write_text(first.stdout, encoding="utf-8")
    second = invoke(str(copy), *options)
    assert second.exit_code == 0
    assert second.stdout == first.stdout


def test_2022_grid_rows_print_as_current_nsys_groups_them() -> None:
    """nsys 2022.4 text split by grid/block prints one row per kernel, with the totals,
    counts, min, max and average nsys prints for the golden SQLite export of the same run."""
    _needs("llamaprof.sources.stats_text")
    _needs("llamaprof.sources.sqlite_export")
    text = shared_file("stats-text/Pandananana__python-hpc__q1_3.sh.stats.txt")
    export = shared_file("sqlite/Pandananana__python-hpc__q1_3.sqlite")
    from_text = run_script(str(text), "-r", "gpukernsum", "-f", "csv")
    assert (from_text.returncode, from_text.stderr) == (0, "")
    assert from_text.stdout == (
        "Time (%),Total Time (ns),Instances,Avg (ns),Med (ns),Min (ns),Max (ns),StdDev (ns),Name\n"
        '93.7,227935,5,45587.0,,4224,201886,,"cudapy::__main__::reduce_kernel[abi:v1,'
        'cw51cXTLSUwv1sCUt9Uw11Ew0NRRQPKzLTg4gaGKFsG2oMQGEYakJSQB1PQB…"\n'
        '6.3,15455,4,3863.8,,2976,4767,,"cudapy::numba::cuda::cudadrv::devicearray::_assign_kernel'
        '::_3clocals_3e::kernel[abi:v2,cw51cXTLSUwv…"\n'
    )
    from_export = run_script(str(export), "-r", "gpukernsum", "-f", "csv")
    assert from_export.returncode == 0
    exact = [line.split(",")[:4] + line.split(",")[5:7] for line in from_export.stdout.splitlines()]
    merged = [line.split(",")[:4] + line.split(",")[5:7] for line in from_text.stdout.splitlines()]
    assert exact == merged
