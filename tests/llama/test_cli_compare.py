"""``llamaprof compare``: md, csv and json tables, normalisation, and CI exit codes."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from llamaprof.cli import main

from shared_data import SEED_TEXT, shared_file


def _compare(*args: str | Path):
    return CliRunner().invoke(main, ["compare", *map(str, args)], catch_exceptions=False)


def test_markdown_table(fa_pair: tuple[Path, Path]) -> None:
    """md: a table ready for a pull request, with family, decoded types and a Total row.

    Rows are ranked by impact (the larger of a kernel's largest change and its largest
    value): mul_mat_q (800 µs) first; a run lacking a kernel reads "—", not "0 ns".
    """
    result = _compare(*fa_pair)
    assert result.exit_code == 0
    assert result.stdout == (
        "**CUDA GPU Kernel Summary (cuda_gpu_kern_sum)**, by name; baseline `fa-on`\n"
        "\n"
        "Totals over the whole capture (not normalised).\n"
        "\n"
        "| Name | Family | fa-on (baseline) | fa-off | Δ fa-off | Δ% fa-off |\n"
        "|---|---|---:|---:|---:|---:|\n"
        "| `mul_mat_q [Q4_K]` | matmul | 800 µs | 700 µs | -100 µs | -12.5% |\n"
        "| `soft_max_f32` | attention | — | 260 µs | +260 µs | new |\n"
        "| `flash_attn_ext_f16` | attention | 150 µs | — | -150 µs | missing |\n"
        "| `quantize_q8_1` | quantize | 50.0 µs | 50.5 µs | +500 ns | +1.0% |\n"
        "| **Total** |  | 1.00 ms | 1.01 ms | +10.5 µs | +1.1% |\n"
    )
    assert result.stderr == ""


def test_csv_table(fa_pair: tuple[Path, Path], names: dict[str, str]) -> None:
    """csv: the long comparison in raw ns; a key neither side has reads 'same'."""
    result = _compare(*fa_pair, "--format", "csv")
    assert result.exit_code == 0
    soft, fa, mmq, q8 = (f'"{names[k]}"' for k in ("SOFT_MAX", "FA", "MMQ", "Q8"))
    assert result.stdout == (
        "name,run,value,baseline_value,delta,delta_pct,status\n"
        f"{mmq},fa-on,800000,800000,0,0.0,same\n"
        f"{mmq},fa-off,700000,800000,-100000,-12.5,changed\n"
        f"{soft},fa-on,0,0,0,,same\n"
        f"{soft},fa-off,260000,0,260000,,new\n"
        f"{fa},fa-on,150000,150000,0,0.0,same\n"
        f"{fa},fa-off,0,150000,-150000,-100.0,missing\n"
        f"{q8},fa-on,50000,50000,0,0.0,same\n"
        f"{q8},fa-off,50500,50000,500,1.0,changed\n"
    )


def test_json_document(fa_pair: tuple[Path, Path], names: dict[str, str]) -> None:
    """json: the documented shape, by family here, with the baseline given by label."""
    result = _compare(*fa_pair, "--format", "json", "--by", "family", "--baseline", "fa-on")
    assert result.exit_code == 0
    assert json.loads(result.stdout) == {
        "report": "cuda_gpu_kern_sum",
        "unit": "ns",
        "baseline": "fa-on",
        "runs": ["fa-on", "fa-off"],
        "window": None,
        "rows": [
            {
                "name": "matmul",
                "values": {"fa-on": 800000, "fa-off": 700000},
                "delta": {"fa-on": 0, "fa-off": -100000},
                "delta_pct": {"fa-on": 0.0, "fa-off": -12.5},
                "status": {"fa-on": "same", "fa-off": "changed"},
            },
            {
                "name": "attention",
                "values": {"fa-on": 150000, "fa-off": 260000},
                "delta": {"fa-on": 0, "fa-off": 110000},
                "delta_pct": {"fa-on": 0.0, "fa-off": 110000 * 100 / 150000},
                "status": {"fa-on": "same", "fa-off": "changed"},
            },
            {
                "name": "quantize",
                "values": {"fa-on": 50000, "fa-off": 50500},
                "delta": {"fa-on": 0, "fa-off": 500},
                "delta_pct": {"fa-on": 0.0, "fa-off": 1.0},
                "status": {"fa-on": "same", "fa-off": "changed"},
            },
        ],
    }


def test_json_new_and_missing_keys(fa_pair: tuple[Path, Path], names: dict[str, str]) -> None:
    """A kernel only one side has: status new or missing, delta_pct null where the base is 0."""
    result = _compare(fa_pair[1], "--baseline", fa_pair[0], "--format", "json")
    document = json.loads(result.stdout)
    assert document["runs"] == ["fa-on", "fa-off"]  # a --baseline path not in RUNs comes first
    soft = next(row for row in document["rows"] if row["name"] == names["SOFT_MAX"])
    assert soft == {
        "name": names["SOFT_MAX"],
        "values": {"fa-on": 0, "fa-off": 260000},
        "delta": {"fa-on": 0, "fa-off": 260000},
        "delta_pct": {"fa-on": None, "fa-off": None},
        "status": {"fa-on": "same", "fa-off": "new"},
    }


def test_top_sums_the_rest(fa_pair: tuple[Path, Path]) -> None:
    """--top keeps the rows of highest impact and sums the rest into one row; totals unchanged."""
    result = _compare(*fa_pair, "--top", "2")
    lines = result.stdout.splitlines()[6:]
    assert lines == [
        "| `mul_mat_q [Q4_K]` | matmul | 800 µs | 700 µs | -100 µs | -12.5% |",
        "| `soft_max_f32` | attention | — | 260 µs | +260 µs | new |",
        "| (2 more) |  | 200 µs | 50.5 µs | -150 µs | -74.8% |",
        "| **Total** |  | 1.00 ms | 1.01 ms | +10.5 µs | +1.1% |",
    ]


@pytest.mark.parametrize(("limit", "code"), [("1", 3), ("1.2", 0)])
def test_fail_above_small_pair(fa_pair: tuple[Path, Path], limit: str, code: int) -> None:
    """fa-off's total is 1.05% above fa-on's: a 1% limit fails CI, 1.2% passes."""
    result = _compare(*fa_pair, "--format", "csv", "--fail-above", limit)
    assert result.exit_code == code
    expected = "llamaprof: regression: fa-off: total +1.1% against fa-on (limit +1%)\n"
    assert result.stderr == (expected if code else "")


def _seed_pair(tmp_path: Path, records: bool) -> tuple[Path, Path]:
    """The seed, and a copy with mul_mat_vec 20% and flash_attn_ext_f16 10% faster."""
    text = shared_file("stats-text/" + SEED_TEXT.name).read_text(encoding="utf-8")
    assert text.count("16,650,623,556") == 1 and text.count("958,434,630") == 1
    seed = tmp_path / "seed.txt"
    seed.write_text(text, encoding="utf-8")
    faster = tmp_path / "faster.txt"
    faster.write_text(
        text.replace("16,650,623,556", "13,320,498,845").replace("958,434,630", "862,591,167"),
        encoding="utf-8",
    )
    if records:
        for stem, tokens in (("seed", 1000), ("faster", 800)):
            record = {"totals": {"requests": 4, "generated_tokens": tokens}}
            (tmp_path / f"{stem}.llamaprof.json").write_text(json.dumps(record), encoding="utf-8")
    return seed, faster


SEED_FAMILIES = {
    "matmul": 16_689_998_639,
    "attention": 1_185_941_186,
    "elementwise": 657_170_567,
    "norm": 545_414_337,
    "copy": 135_420_272,
    "rope": 93_407_271,
}
FASTER_FAMILIES = {**SEED_FAMILIES, "matmul": 13_359_873_928, "attention": 1_090_097_723}


def test_seed_pair_by_family(tmp_path: Path) -> None:
    """The seed against its faster copy, by family: only matmul and attention moved."""
    seed, faster = _seed_pair(tmp_path, records=False)
    result = _compare(seed, faster, "--by", "family", "--format", "json")
    rows = {row["name"]: row for row in json.loads(result.stdout)["rows"]}
    # ranked by impact: the larger of a family's change and its time
    assert list(rows) == ["matmul", "attention", "elementwise", "norm", "copy", "rope"]
    for family, value in SEED_FAMILIES.items():
        assert rows[family]["values"] == {"seed": value, "faster": FASTER_FAMILIES[family]}
    assert rows["matmul"]["delta"]["faster"] == -3_330_124_711
    assert rows["norm"]["status"] == {"seed": "same", "faster": "same"}


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (("--fail-above", "5"), 0),  # faster against seed: -17.7%
        (("--baseline", "faster", "--fail-above", "20"), 3),  # seed against faster: +21.6%
        (("--baseline", "faster", "--fail-above", "25"), 0),
    ],
)
def test_fail_above_seed_pair(tmp_path: Path, args: tuple[str, ...], code: int) -> None:
    """The total kernel time decides the exit status, both ways."""
    seed, faster = _seed_pair(tmp_path, records=False)
    result = _compare(seed, faster, "--format", "json", *args)
    assert result.exit_code == code
    if code:
        assert result.stderr == (
            "llamaprof: regression: seed: total +21.6% against faster (limit +20%)\n"
        )


def test_per_token_normalisation(tmp_path: Path) -> None:
    """Per token the faster copy (800 tokens) is 2.8% slower than the seed (1000 tokens)."""
    seed, faster = _seed_pair(tmp_path, records=True)
    result = _compare(
        seed,
        faster,
        "--by",
        "family",
        "--normalize",
        "per-token",
        "--format",
        "json",
        "--fail-above",
        "2",
    )
    assert result.exit_code == 3
    assert result.stderr == "llamaprof: regression: faster: total +2.8% against seed (limit +2%)\n"
    document = json.loads(result.stdout)
    assert document["unit"] == "ns/token"
    rows = {row["name"]: row for row in document["rows"]}
    # Ranked by impact, the larger of change and value: matmul (16.7 ms/token) first,
    # although it moved least (+9.8 us/token).
    assert list(rows) == ["matmul", "attention", "elementwise", "norm", "copy", "rope"]
    assert rows["matmul"]["values"] == {
        "seed": 16_689_998_639 / 1000,
        "faster": 13_359_873_928 / 800,
    }
    assert rows["rope"]["delta_pct"]["faster"] == pytest.approx(25.0)
    assert _compare(seed, faster, "--normalize", "per-token", "--fail-above", "3").exit_code == 0


def test_per_token_markdown_says_what_is_active(tmp_path: Path) -> None:
    """md names the normalisation and each run's divisor, and shows units per token."""
    seed, faster = _seed_pair(tmp_path, records=True)
    lines = _compare(seed, faster, "--by", "family", "--normalize", "per-token").stdout.splitlines()
    assert lines[2] == "Per generated token: seed ÷ 1,000 tokens; faster ÷ 800 tokens."
    assert lines[4] == "| Name | seed (baseline) | faster | Δ faster | Δ% faster |"
    assert lines[6] == "| matmul | 16.7 ms/token | 16.7 ms/token | +9.84 µs/token | +0.1% |"
    assert lines[7] == "| attention | 1.19 ms/token | 1.36 ms/token | +177 µs/token | +14.9% |"
    assert lines[-1] == "| **Total** | 19.3 ms/token | 19.9 ms/token | +544 µs/token | +2.8% |"


def test_per_token_without_record_is_one_line_error(fa_pair: tuple[Path, Path]) -> None:
    """Runs without a capture record cannot be normalised: exit 1, one line, no traceback."""
    result = _compare(*fa_pair, "--normalize", "per-token")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == (
        "llamaprof: --normalize per-token needs a capture record with generated tokens beside "
        "every run; fa-on, fa-off have none (use --normalize none)\n"
    )


def test_real_sqlite_pair_api_report() -> None:
    """The GindaChen before/after exports compare by API call; warnings go to stderr in csv."""
    before = shared_file("sqlite/GindaChen__nsys-ai__mfu_2gpu_before.sqlite")
    after = shared_file("sqlite/GindaChen__nsys-ai__mfu_2gpu_after.sqlite")
    result = _compare(before, after, "--report", "cudaapisum", "--format", "json", "--top", "1")
    document = json.loads(result.stdout)
    assert document["report"] == "cuda_api_sum"
    assert document["runs"] == [
        "GindaChen__nsys-ai__mfu_2gpu_before",
        "GindaChen__nsys-ai__mfu_2gpu_after",
    ]
    assert [row["name"] for row in document["rows"]] == ["cudaStreamSynchronize", "(15 more)"]
    assert document["rows"][0]["values"] == {
        "GindaChen__nsys-ai__mfu_2gpu_before": 324_534_733,
        "GindaChen__nsys-ai__mfu_2gpu_after": 289_752_725,
    }  # sum(end - start) of cudaStreamSynchronize_v3020 in each export's RUNTIME table
    by_family = _compare(before, after, "--by", "family", "--format", "csv")
    assert by_family.stdout.splitlines()[1:] == [
        # FlashAttention's flash_fwd_kernel: 68 launches, 272_317_378 ns before (SQL sum)
        "attention,GindaChen__nsys-ai__mfu_2gpu_before,272317378,272317378,0,0.0,same",
        "attention,GindaChen__nsys-ai__mfu_2gpu_after,240755667,272317378,-31561711,-11.590046596291772,changed",
        "other,GindaChen__nsys-ai__mfu_2gpu_before,205083696,205083696,0,0.0,same",
        "other,GindaChen__nsys-ai__mfu_2gpu_after,195667463,205083696,-9416233,-4.5914098407900745,changed",
        "matmul,GindaChen__nsys-ai__mfu_2gpu_before,57799576,57799576,0,0.0,same",
        "matmul,GindaChen__nsys-ai__mfu_2gpu_after,52412276,57799576,-5387300,-9.320656608276849,changed",
    ]


def test_warnings_in_markdown_and_stderr(tmp_path: Path) -> None:
    """Runs from different nsys versions carry a warning: quoted in md, on stderr in json."""
    seed = shared_file("stats-text/" + SEED_TEXT.name)
    after = shared_file("sqlite/GindaChen__nsys-ai__mfu_2gpu_after.sqlite")
    md = _compare(seed, after, "--top", "1").stdout.splitlines()
    assert md[4] == (
        "> ⚠ Different nsys versions: seed__llama-server-gemma3-4b-f16__nsys2025.1.3: 2025.1.3; "
        "GindaChen__nsys-ai__mfu_2gpu_after: 2026.2.1.210."
    )
    result = _compare(seed, after, "--format", "json", "--top", "1")
    assert result.stderr == (
        "llamaprof: warning: Different nsys versions: seed__llama-server-gemma3-4b-f16__nsys2025.1.3: "
        "2025.1.3; GindaChen__nsys-ai__mfu_2gpu_after: 2026.2.1.210.\n"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--by", "family", "--report", "api"), "--by family needs the kernel report"),
        (("--report", "nvtx_sum"), "unknown report 'nvtx_sum'"),
        (("--baseline", "nope"), "'nope' is neither one of the runs"),
    ],
)
def test_usage_errors(fa_pair: tuple[Path, Path], args: tuple[str, ...], message: str) -> None:
    """Bad options are usage errors (exit 2) that say what is wrong."""
    result = _compare(*fa_pair, *args)
    assert result.exit_code == 2
    assert message in result.stderr


def test_one_run_is_a_usage_error(fa_pair: tuple[Path, Path]) -> None:
    """A comparison needs two runs."""
    result = _compare(fa_pair[0])
    assert result.exit_code == 2
    assert "compare needs at least two runs" in result.stderr


def test_unreadable_run_is_one_line(tmp_path: Path, fa_pair: tuple[Path, Path]) -> None:
    """A file that is no report: exit 1 and one line naming it."""
    junk = tmp_path / "junk.txt"
    junk.write_text("hello\n")
    result = _compare(fa_pair[0], junk)
    assert result.exit_code == 1
    assert result.stderr.startswith("llamaprof: junk.txt: ")
    assert result.stderr.count("\n") == 1


def test_colliding_labels_get_their_folder(tmp_path: Path, run_writer, names) -> None:
    """Two runs with one file name read apart by their folder."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    one = run_writer(tmp_path / "a", "run", [(names["Q8"], 100, 1)])
    two = run_writer(tmp_path / "b", "run", [(names["Q8"], 150, 1)])
    document = json.loads(_compare(one, two, "--format", "json").stdout)
    assert document["runs"] == ["a/run", "b/run"]
    assert document["rows"][0]["delta"] == {"a/run": 0, "b/run": 50}


def _repeats(folder: Path, run_writer, names: dict[str, str]) -> list[Path]:
    """Two repeats each of fa on and fa off, with capture records saying so."""
    mmq, fa, soft, q8 = names["MMQ"], names["FA"], names["SOFT_MAX"], names["Q8"]

    def record(group: str, index: int) -> dict:
        return {
            "server_args": {"-ngl": "99", "-fa": group[3:]},
            "env": {},
            "repeat": {"group": group, "index": index, "of": 2},
            "totals": {"requests": 4, "generated_tokens": 100},
        }

    return [
        run_writer(
            folder,
            "on-1",
            [(mmq, 800_000, 10), (fa, 150_000, 10), (q8, 50_000, 10)],
            record("fa-on", 1),
        ),
        run_writer(
            folder,
            "on-2",
            [(mmq, 820_000, 10), (fa, 154_000, 10), (q8, 50_000, 10)],
            record("fa-on", 2),
        ),
        run_writer(
            folder,
            "off-1",
            [(mmq, 700_000, 10), (soft, 260_000, 10), (q8, 50_500, 10)],
            record("fa-off", 1),
        ),
        run_writer(
            folder,
            "off-2",
            [(mmq, 830_000, 10), (soft, 264_000, 10), (q8, 50_500, 10)],
            record("fa-off", 2),
        ),
    ]


def test_repeats_markdown(tmp_path: Path, run_writer, names) -> None:
    """Repeats compare as groups: mean ± std, and changes within the spread marked noise.

    Every run has a record, so groups are labelled by what differs between their configs.
    """
    result = _compare(*_repeats(tmp_path, run_writer, names))
    assert result.exit_code == 0
    assert result.stdout.splitlines()[2:] == [
        "Totals over the whole capture (not normalised). Repeats grouped (-fa on: 2 runs; "
        "-fa off: 2 runs): means ± standard deviation; a change within the spread reads (noise).",
        "",
        "| Name | Family | -fa on (baseline) | -fa off | Δ -fa off | Δ% -fa off |",
        "|---|---|---:|---:|---:|---:|",
        # mul_mat_q: 810 ± 14.1 vs 765 ± 91.9 us: the -45 us change is within the spread.
        "| `mul_mat_q [Q4_K]` | matmul | 810 ± 14.1 µs | 765 ± 91.9 µs | -45.0 µs | -5.6% (noise) |",
        "| `soft_max_f32` | attention | — | 262 ± 2.83 µs | +262 µs | new |",
        "| `flash_attn_ext_f16` | attention | 152 ± 2.83 µs | — | -152 µs | missing |",
        "| `quantize_q8_1` | quantize | 50.0 µs | 50.5 µs | +500 ns | +1.0% |",
        "| **Total** |  | 1.01 ± 0.017 ms | 1.08 ± 0.0948 ms | +65.5 µs | +6.5% (noise) |",
    ]


def test_repeats_json_and_fail_above(tmp_path: Path, run_writer, names) -> None:
    """json carries each group's std and noise mark; a total rise within the spread passes CI."""
    runs = _repeats(tmp_path, run_writer, names)
    result = _compare(*runs, "--by", "family", "--format", "json", "--fail-above", "1")
    assert result.exit_code == 0  # +6.5% on average, but within the fa-off runs' spread
    document = json.loads(result.stdout)
    assert document["runs"] == ["-fa on", "-fa off"]
    matmul = next(row for row in document["rows"] if row["name"] == "matmul")
    assert matmul["values"] == {"-fa on": 810_000.0, "-fa off": 765_000.0}
    assert matmul["std"] == {
        "-fa on": pytest.approx(14_142.1356),
        "-fa off": pytest.approx(91_923.8816),
    }
    assert matmul["noise"] == {"-fa on": False, "-fa off": True}
    single = _compare(*runs, "--no-repeats", "--format", "json", "--fail-above", "1")
    assert single.exit_code == 3  # run by run, off-2 (1.1445 ms) is 14.4% above on-1
    # one labelling rule for repeats: the config, then the repeat index
    assert json.loads(single.stdout)["runs"] == ["-fa on #1", "-fa on #2", "-fa off #1", "-fa off #2"]
    assert single.stderr.splitlines() == [
        "llamaprof: regression: -fa on #2: total +2.4% against -fa on #1 (limit +1%)",
        "llamaprof: regression: -fa off #1: total +1.1% against -fa on #1 (limit +1%)",
        "llamaprof: regression: -fa off #2: total +14.4% against -fa on #1 (limit +1%)",
    ]
    by_file = _compare(*runs, "--no-repeats", "--labels", "file", "--format", "json")
    assert json.loads(by_file.stdout)["runs"] == ["on-1", "on-2", "off-1", "off-2"]


def test_repeats_of_one_config_compare_run_by_run(tmp_path: Path, run_writer, names) -> None:
    """Two repeats of one config alone leave no groups to compare: they compare run by run,
    labelled by their whole config (nothing differs) and repeat index."""
    runs = _repeats(tmp_path, run_writer, names)
    document = json.loads(_compare(runs[0], runs[1], "--format", "json").stdout)
    assert document["runs"] == ["-ngl 99 -fa on #1", "-ngl 99 -fa on #2"]
    assert document["rows"][0]["values"] == {"-ngl 99 -fa on #1": 800_000, "-ngl 99 -fa on #2": 820_000}


def test_labels_from_config(tmp_path: Path, run_writer, names) -> None:
    """--labels config names runs by what differs in their records: '-fa on' vs '-fa off'."""
    runs = _repeats(tmp_path, run_writer, names)
    result = _compare(runs[0], runs[2], "--labels", "config", "--format", "json")
    document = json.loads(result.stdout)
    assert document["baseline"] == "-fa on"
    assert document["runs"] == ["-fa on", "-fa off"]


def test_broken_capture_record_is_a_warning_not_a_failure(fa_pair: tuple[Path, Path]) -> None:
    """A broken record beside one run: the comparison is printed, the record ignored with a warning."""
    on, off = fa_pair
    without_record = _compare(on, off).stdout
    (on.parent / "fa-on.llamaprof.json").write_text("{not json", encoding="utf-8")
    result = _compare(on, off, "--normalize", "none")
    assert result.exit_code == 0
    assert result.stdout == without_record
    assert (
        result.stdout.splitlines()[-1] == "| **Total** |  | 1.00 ms | 1.01 ms | +10.5 µs | +1.1% |"
    )
    assert result.stderr == (
        "llamaprof: warning: capture record ignored: fa-on: not a valid capture record: "
        "Expecting property name enclosed in double quotes: line 1 column 2 (char 1)\n"
    )


def test_broken_capture_record_then_lacks_for_per_token(fa_pair: tuple[Path, Path]) -> None:
    """With --normalize per-token, the run with a broken record counts as having none."""
    on, off = fa_pair
    (on.parent / "fa-on.llamaprof.json").write_text("[1, 2]", encoding="utf-8")
    result = _compare(on, off, "--normalize", "per-token")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == (
        "llamaprof: warning: capture record ignored: fa-on: not a valid capture record: "
        "not a JSON object\n"
        "llamaprof: --normalize per-token needs a capture record with generated tokens beside "
        "every run; fa-on, fa-off have none (use --normalize none)\n"
    )


def test_one_run_as_export_and_as_stats_text_compares_as_one() -> None:
    """The golden pair (an export and the `nsys stats` text of the same run): the kernel the
    text cut at 100 characters (``…``) is matched to its whole name, so the comparison has one
    row, unchanged, and no nsys version warning (2022.4.2.1 and 2022.4.2 are one release)."""
    export = shared_file("sqlite/Pandananana__python-hpc__q1_1.sqlite")
    text = shared_file("stats-text/Pandananana__python-hpc__q1_2.sh.stats.txt")
    result = _compare(export, text, "--report", "kernels", "--format", "csv")
    assert (result.exit_code, result.stderr) == (0, "")
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    # sum(end - start) of the export's 5 kernel rows; the text's 5 rows add up the same
    assert [(r["value"], r["status"]) for r in rows] == [("231807", "same"), ("231807", "same")]
    assert rows[0]["name"] == rows[1]["name"]
    assert rows[0]["name"].startswith("cudapy::__main__::reduce_kernel[abi:v1,")
    assert not rows[0]["name"].endswith("…")
