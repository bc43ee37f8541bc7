"""The Streamlit app through AppTest: every page, the comparison's numbers, adding reports."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from app.support import (
    GENERATED,
    OLD,
    ROOT,
    SEED,
    copy_report,
    downloaded,
    make_app,
    open_tab,
    tab,
)

from llamaprof.ui.pages import PAGES

from shared_data import shared_file

SEED_ID, GEN_ID = SEED.name, GENERATED.name
SEED_LABEL, GEN_LABEL = SEED.stem, GENERATED.stem
#: Every registered page: a page whose file is missing fails its smoke test.
PAGE_FILES = [p.file for p in PAGES]


def _no_errors(at) -> None:
    assert not at.exception, [e.message for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def _sidebar_text(at) -> str:
    return "\n".join([m.value for m in at.sidebar.markdown] + [c.value for c in at.sidebar.caption])


@pytest.mark.parametrize("page", PAGE_FILES)
@pytest.mark.parametrize("folder_kind", ["examples", "empty", "missing"])
def test_every_page_renders(page: str, folder_kind: str, examples_dir: Path, tmp_path: Path):
    """Each page renders without exception on the shipped examples, an empty and a missing folder."""
    folder = {
        "examples": examples_dir,
        "empty": tmp_path / "empty",
        "missing": tmp_path / "does-not-exist",
    }[folder_kind]
    if folder_kind == "empty":
        folder.mkdir()
    at = make_app(folder).run()
    at.switch_page(page).run()
    _no_errors(at)
    assert at.title[0].value  # the page drew its title, not just the sidebar


def test_first_visit_compares_the_shipped_examples(examples_dir: Path):
    """Without any choice the two examples are selected, the real run as baseline, with charts;
    only the open tab is drawn, and the link holds the whole view."""
    at = make_app(examples_dir).run()
    _no_errors(at)
    assert at.multiselect(key="compare_runs").value == [SEED_ID, GEN_ID]
    assert at.selectbox(key="compare_baseline").value == SEED_ID
    assert [t.label for t in at.tabs] == [
        "CUDA API",
        "Kernels",
        "Memory operations",
        "Throughput",
        "Timeline",
    ]
    # The open tab (CUDA API) only: its grouped bars and its Δ bars.
    assert len(at.get("vega_lite_chart")) == 2
    assert [b.key for b in at.download_button] == ["csv_api", "compare_markdown"]
    assert "2 readable runs of 2" in _sidebar_text(at)
    assert at.query_params == {
        "folder": str(examples_dir),
        "run": [SEED_LABEL, GEN_LABEL],
        "baseline": SEED_LABEL,
        "tab": "api",
        "by": "name",
        "window": "all",
        "values": "none",
    }


def test_kernel_table_and_csv_exact_values(examples_dir: Path, downloads):
    """The kernel tab's table reads the numbers of both files by impact; its CSV is exact."""
    at = open_tab(make_app(examples_dir).run(), "Kernels")
    _no_errors(at)
    assert at.query_params["tab"] == "kernels"
    assert [b.key for b in at.download_button] == ["csv_kernels", "compare_markdown"]
    shown = tab(at, "Kernels").dataframe[0].value
    assert list(shown.columns) == [
        "Name", "Family", SEED_LABEL, GEN_LABEL, f"Δ {GEN_LABEL}", f"Δ% {GEN_LABEL}",
    ]  # fmt: skip
    assert shown.head(6).values.tolist() == [
        ["mul_mat_vec", "matmul", "16.7 s", "17.8 s", "+1.15 s", "+6.9%"],
        ["flash_attn_ext_f16", "attention", "958 ms", "—", "-958 ms", "missing"],
        # Over 32 characters: the middle left out (k_bin_bcast<op_add,...> is shown too).
        ["k_bin_…op_mul,float,float,float>", "elementwise", "417 ms", "417 ms", "0 ns", "0.0%"],
        ["rms_norm_f32<1024>", "norm", "407 ms", "407 ms", "0 ns", "0.0%"],
        ["flash_attn_stream_k_fixup", "attention", "225 ms", "—", "-225 ms", "missing"],
        ["soft_max_f32", "attention", "—", "152 ms", "+152 ms", "new"],
    ]
    assert shown.iloc[-1].tolist() == ["Total", "", "19.3 s", "19.4 s", "+119 ms", "+0.6%"]
    csv = downloaded(at, "csv_kernels").decode("utf-8").splitlines()
    assert csv[0] == "name,run,value,baseline_value,delta,delta_pct,status"
    # mul_mat_vec 16_650_623_556 -> 17_803_903_556 ns; flash_attn_ext_f16 gone.
    mmv = (
        '"void mul_mat_vec<__half, __half, (int)1, (int)256>(const T1 *, const float *, '
        'const int *, float *,…"'
    )
    fa = (
        '"void flash_attn_ext_f16<(int)256, (int)256, (int)4, (int)2, (int)2, (int)1, (bool)0, '
        '(bool)0>(const…"'
    )
    assert csv[1:5] == [
        f"{mmv},{SEED_LABEL},16650623556,16650623556,0,0.0,same",
        f"{mmv},{GEN_LABEL},17803903556,16650623556,1153280000,"
        f"{1_153_280_000 * 100 / 16_650_623_556!r},changed",
        f"{fa},{SEED_LABEL},958434630,958434630,0,0.0,same",
        f"{fa},{GEN_LABEL},0,958434630,-958434630,-100.0,missing",
    ]


def test_api_view_and_baseline_switch(examples_dir: Path, downloads):
    """Choosing the other run as baseline flips the sign of every change."""
    at = make_app(examples_dir).run()
    api = tab(at, "CUDA API").dataframe[0].value
    assert list(api["Name"][:3]) == ["cudaStreamSynchronize", "cudaMemcpyAsync", "cudaLaunchKernel"]
    assert list(api[f"Δ {GEN_LABEL}"][:3]) == ["+119 ms", "0 ns", "+60.7 ms"]
    csv = downloaded(at, "csv_api").decode("utf-8").splitlines()
    assert csv[2] == (
        f"cudaStreamSynchronize,{GEN_LABEL},18903588600,18784449306,119139294,"
        f"{119_139_294 * 100 / 18_784_449_306!r},changed"
    )
    at.selectbox(key="compare_baseline").select(GEN_ID).run()
    _no_errors(at)
    api = tab(at, "CUDA API").dataframe[0].value
    assert list(api[f"Δ {SEED_LABEL}"][:3]) == ["-119 ms", "0 ns", "-60.7 ms"]
    assert at.query_params["baseline"] == GEN_LABEL
    # The cards follow: the new baseline is marked, the other run's change is negative.
    base_card = at.get_by_key("header_gemma3_4b_f16_nofa_generated")
    assert base_card.markdown[0].value.endswith(f"**{GEN_LABEL}** (baseline)")
    assert [(m.label, m.value, m.proto.delta) for m in base_card.get("metric")] == [
        ("GPU kernel time", "19.4 s", ""), ("CUDA API time", "23.3 s", ""),
    ]  # fmt: skip
    other_card = at.get_by_key("header_gemma3_4b_f16_fa_seed")
    # Kernel totals 19_307_352_272 vs 19_426_491_566 ns: -119_139_294 ns, -0.6%.
    assert [(m.label, m.value, m.proto.delta) for m in other_card.get("metric")] == [
        ("GPU kernel time", "19.3 s", "-119 ms (-0.6%)"),
        ("CUDA API time", "23.1 s", "-180 ms (-0.8%)"),
    ]


def test_select_two_of_three_runs(examples_dir: Path, downloads):
    """With three runs the user picks which two to compare; the tables follow the selection."""
    copy_report(SEED, examples_dir, "again-fa.txt")
    at = make_app(examples_dir).run()
    at.multiselect(key="compare_runs").set_value(["again-fa.txt", SEED_ID]).run()
    at = open_tab(at, "Kernels")
    _no_errors(at)
    assert at.selectbox(key="compare_baseline").value == "again-fa.txt"
    kern = tab(at, "Kernels").dataframe[0].value
    assert list(kern.columns) == [
        "Name", "Family", "again-fa", SEED_LABEL, f"Δ {SEED_LABEL}", f"Δ% {SEED_LABEL}",
    ]  # fmt: skip
    assert set(kern[f"Δ% {SEED_LABEL}"]) == {"0.0%"}
    rows = downloaded(at, "csv_kernels").decode("utf-8").splitlines()[1:]
    assert {row.rsplit(",", 1)[1] for row in rows} == {"same"}
    assert at.query_params["run"] == ["again-fa", SEED_LABEL]


def test_fewer_than_two_runs_says_so(examples_dir: Path):
    """Unselecting a run leaves one: the page asks for two instead of failing."""
    at = make_app(examples_dir).run()
    at.multiselect(key="compare_runs").unselect(GEN_ID).run()
    _no_errors(at)
    assert at.info[0].value == "Pick at least two runs to compare."


def test_copied_report_shows_up(examples_dir: Path):
    """A report copied into the folder appears in the run list and the options on the next run."""
    at = make_app(examples_dir).run()
    assert "2 readable runs of 2" in _sidebar_text(at)
    copy_report(GENERATED, examples_dir / "sub", "copied-in.txt")
    at.run()
    _no_errors(at)
    assert "3 readable runs of 3" in _sidebar_text(at)
    # Its name is unique in the folder: no folder in front (a second copied-in.txt would
    # make both read sub/copied-in and other/copied-in).
    assert [m.value for m in at.sidebar.markdown] == [
        f"**{SEED_LABEL}**", f"**{GEN_LABEL}**", "**copied-in**",
    ]  # fmt: skip
    assert at.multiselect(key="compare_runs").options == [SEED_LABEL, GEN_LABEL, "copied-in"]
    copy_report(GENERATED, examples_dir / "other", "copied-in.txt")
    at.run()
    assert at.multiselect(key="compare_runs").options == [
        SEED_LABEL, GEN_LABEL, "other/copied-in", "sub/copied-in",
    ]  # fmt: skip


def test_file_still_being_written_is_not_read(examples_dir: Path, monkeypatch: pytest.MonkeyPatch):
    """A file modified within the settle time is listed as being written, then read."""
    monkeypatch.setattr("llamaprof.discover.SETTLE_S", 3600)  # "just now" for the whole test
    at = make_app(examples_dir).run()
    fresh = examples_dir / "fresh.txt"
    fresh.write_bytes(SEED.read_bytes()[:500])  # half a report, mtime now
    at.run()
    _no_errors(at)
    assert "being written" in _sidebar_text(at)
    assert "2 readable runs of 3" in _sidebar_text(at)
    fresh.write_bytes(SEED.read_bytes())
    os.utime(fresh, (OLD, OLD))
    at.run()
    assert "3 readable runs of 3" in _sidebar_text(at)


def test_deleted_selected_run_is_dropped(examples_dir: Path):
    """A selected run whose file disappears leaves the selection without an error."""
    copy_report(SEED, examples_dir, "third.txt")
    at = make_app(examples_dir).run()
    at.multiselect(key="compare_runs").set_value([SEED_ID, GEN_ID, "third.txt"]).run()
    at.selectbox(key="compare_baseline").select("third.txt").run()
    (examples_dir / "third.txt").unlink()
    at.run()
    _no_errors(at)
    assert at.multiselect(key="compare_runs").value == [SEED_ID, GEN_ID]
    assert at.selectbox(key="compare_baseline").value == SEED_ID


def test_unreadable_file_is_listed_and_the_rest_works(examples_dir: Path):
    """A file that is no report shows its reason in the run list; the comparison still renders."""
    (examples_dir / "garbage.txt").write_text("hello, this is not nsys\n")
    os.utime(examples_dir / "garbage.txt", (OLD, OLD))
    at = make_app(examples_dir).run()
    _no_errors(at)
    text = _sidebar_text(at)
    assert "2 readable runs of 3" in text
    assert "cannot be read: is not an nsys report" in text
    assert len(at.get("vega_lite_chart")) == 2


def test_a_report_unreadable_for_want_of_nsys_reads_once_nsys_is_there(
    examples_dir: Path, real_nsys: str, monkeypatch: pytest.MonkeyPatch
):
    """A real .nsys-rep while $LLAMAPROF_NSYS names no nsys: listed with the reason; that
    reason is about the machine, not the file, so it is not kept: with nsys back, the next
    rerun reads the report (through the real nsys export)."""
    report = examples_dir / "panda.nsys-rep"
    report.write_bytes(shared_file("nsys-rep/Pandananana__python-hpc__q1_1.nsys-rep").read_bytes())
    os.utime(report, (OLD, OLD))
    monkeypatch.setenv("LLAMAPROF_NSYS", str(examples_dir / "no-nsys-here"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(examples_dir.parent / "user-cache"))
    at = make_app(examples_dir).run()
    _no_errors(at)
    assert "2 readable runs of 3" in _sidebar_text(at)
    assert "was not found on $LLAMAPROF_NSYS" in _sidebar_text(at)
    monkeypatch.setenv("LLAMAPROF_NSYS", real_nsys)
    at.run()
    _no_errors(at)
    assert "3 readable runs of 3" in _sidebar_text(at)


def test_upload_through_the_uploader(examples_dir: Path):
    """Uploaded files are saved under safe names without overwriting, and become runs."""
    at = make_app(examples_dir).run()
    at.switch_page("app_pages/add.py").run()
    at.file_uploader(key="uploader").upload(f"../{SEED_ID}", SEED.read_bytes(), "text/plain").run()
    _no_errors(at)
    assert [s.value for s in at.success] == [
        f"Added `../{SEED_ID}` as `gemma3-4b-f16-fa-seed-2.txt`."
    ]
    saved = examples_dir / "gemma3-4b-f16-fa-seed-2.txt"
    assert saved.read_bytes() == SEED.read_bytes()
    assert (examples_dir / SEED_ID).read_bytes() == SEED.read_bytes()  # not overwritten
    at.run()  # a rerun keeps the uploader's file: it must not be saved twice
    assert sorted(p.name for p in examples_dir.glob("*.txt")) == [
        "gemma3-4b-f16-fa-seed-2.txt", SEED_ID, GEN_ID,
    ]  # fmt: skip
    os.utime(saved, (OLD, OLD))
    at.run()
    assert "3 readable runs of 3" in _sidebar_text(at)


def test_upload_of_a_non_report_is_refused(examples_dir: Path):
    """A file that is no nsys output is not kept, the reason is shown, the uploader is emptied."""
    at = make_app(examples_dir).run()
    at.switch_page("app_pages/add.py").run()
    at.file_uploader(key="uploader").upload("notes.txt", b"just some notes\n", "text/plain").run()
    assert not at.exception
    assert len(at.error) == 1 and at.error[0].value.startswith("notes.txt was not added: is not an")
    assert not (examples_dir / "notes.txt").exists()
    assert [(u.key, u.value) for u in at.file_uploader] == [("uploader-2", [])]


def test_upload_of_a_report_that_cannot_be_read_is_not_added(examples_dir: Path):
    """A truncated export passes the sniff but not the read: not added, with the reason."""
    export = shared_file("sqlite/0x822a5b87__test-cuda__report1.sqlite").read_bytes()
    at = make_app(examples_dir).run()
    at.switch_page("app_pages/add.py").run()
    at.file_uploader(key="uploader").upload(
        "truncated.sqlite", export[: len(export) // 3], "application/octet-stream"
    ).run()
    assert not at.exception
    assert not at.success
    assert [e.value for e in at.error] == [
        "truncated.sqlite was not added: is not a readable SQLite database "
        "(database disk image is malformed)"
    ]
    assert sorted(p.name for p in examples_dir.iterdir() if p.is_file()) == [SEED_ID, GEN_ID]
    assert "2 readable runs of 2" in _sidebar_text(at)
    assert [(u.key, u.value) for u in at.file_uploader] == [("uploader-2", [])]


def test_paste_text_adds_a_run(examples_dir: Path):
    """Pasted `nsys stats` text is saved as a .txt report named after the given name."""
    at = make_app(examples_dir).run()
    at.switch_page("app_pages/add.py").run()
    at.text_area(key="paste_text").input(GENERATED.read_text())
    at.text_input(key="paste_name").input("my run/fa off")
    at.button(key="paste_add").click().run()
    _no_errors(at)
    assert [s.value for s in at.success] == ["Added the pasted text as `fa_off.txt`."]
    assert (examples_dir / "fa_off.txt").read_text() == GENERATED.read_text()
    assert at.text_area(key="paste_text").value == ""


def test_paste_of_garbage_is_refused(examples_dir: Path):
    """Text without an nsys table is not saved; the page says why."""
    at = make_app(examples_dir).run()
    at.switch_page("app_pages/add.py").run()
    at.text_area(key="paste_text").input("no tables here")
    at.button(key="paste_add").click().run()
    assert not at.exception
    assert len(at.error) == 1
    assert sorted(p.name for p in examples_dir.glob("*.txt")) == [SEED_ID, GEN_ID]


def test_add_by_path(examples_dir: Path, tmp_path: Path):
    """A report outside the folder is linked in by its path."""
    outside = copy_report(GENERATED, tmp_path / "big", "huge-run.txt")
    at = make_app(examples_dir).run()
    at.switch_page("app_pages/add.py").run()
    at.text_input(key="add_path").input(str(outside))
    at.button(key="add_path_button").click().run()
    _no_errors(at)
    assert (examples_dir / "huge-run.txt").resolve() == outside.resolve()
    assert "3 readable runs of 3" in _sidebar_text(at)


def test_single_run_link_to_a_run_no_longer_there_says_so(examples_dir: Path):
    """``/run?run=gone``: the page shows the first run and says the link's is not there;
    choosing a run clears the note."""
    at = make_app(examples_dir).run()
    at.query_params["run"] = "nosuchrun"
    at.switch_page("app_pages/run.py").run()
    _no_errors(at)
    assert [w.value for w in at.warning] == ["The link names a run not in the folder: nosuchrun."]
    at.selectbox(key="single_run").select(GEN_ID).run()
    at.selectbox(key="single_run").select(SEED_ID).run()
    assert not at.warning


def test_single_run_page(examples_dir: Path):
    """The single-run page shows the chosen run's summaries with exact values; its link keeps
    the run and the tab."""
    at = make_app(examples_dir).run()
    at.switch_page("app_pages/run.py").run()
    at.selectbox(key="single_run").select(GEN_ID).run()
    _no_errors(at)
    assert [m.value for m in at.metric][:2] == ["19.4 s", "23.3 s"]
    at = open_tab(at, "CUDA GPU Kernel Summary", key="run_tab")
    kernels = tab(at, "CUDA GPU Kernel Summary")
    exact = kernels.expander[0].dataframe[0].value
    assert list(exact["total_ns"][:2]) == [17_803_903_556, 416_796_498]
    shown = kernels.dataframe[0].value
    assert list(shown["Total"][:2]) == ["17.8 s", "417 ms"]
    assert shown["Kernel"][0] == "mul_mat_vec<half,half,1,256>"  # whole, not cut to 12
    assert at.query_params == {
        "folder": str(examples_dir), "run": GEN_LABEL, "window": "all", "tab": "kernels",
    }  # fmt: skip
    # text has no event times: the window selector offers the whole capture only, and says why
    assert at.selectbox(key="run_window").disabled
    # The seed's text has no size table, and nsys did not say it skipped one.
    at = open_tab(at, "CUDA GPU MemOps Summary (by Size)", key="run_tab")
    assert [i.value for i in tab(at, "CUDA GPU MemOps Summary (by Size)").info] == [
        "This report holds no CUDA GPU MemOps Summary (by Size) table."
    ]


def test_single_run_window_and_phases(tmp_path: Path):
    """A capture with its record: the Single-run page opens on the workload window, shows the
    record's phases and the serving findings; a link with ``window=decode`` shows the decode
    window's numbers (those of ``llamaprof stats --window decode``: 4,080 kernels, 166 ms of
    kernel time, 175 ms of API time)."""
    for suffix in (".sqlite", ".llamaprof.json"):
        copy_report(ROOT / "reports" / f"serving-timeline-generated{suffix}", tmp_path)
    at = make_app(tmp_path).run()
    at.query_params.update({"run": "serving-timeline-generated", "window": "decode"})
    at.switch_page("app_pages/run.py").run()
    _no_errors(at)
    assert at.selectbox(key="run_window").value == "decode"
    assert [m.value for m in at.metric][:2] == ["166 ms", "175 ms"]
    phases = at.dataframe[0].value  # the phases table comes first
    assert phases["Phase"].tolist()[:3] == ["load", "workload", "request 1"]
    assert phases["Duration (ms)"].tolist()[:2] == [1250.0, 224.215568]
    texts = [m.value for m in at.markdown]
    assert "**Start-up: 1.25 s, 2.20 GB uploaded to the GPU.** " in " ".join(texts)
    assert "**GPU idle 14.4% of the decode window.** " in " ".join(texts)  # not "capture"
    at = open_tab(at, "CUDA GPU Kernel Summary", key="run_tab")
    exact = tab(at, "CUDA GPU Kernel Summary").expander[0].dataframe[0].value
    assert (int(exact["total_ns"].sum()), int(exact["count"].sum())) == (166_380_255, 4_080)
    assert at.query_params["window"] == "decode"
    # another window: the load window holds the weights upload, not the decode kernels
    at.selectbox(key="run_window").select("load").run()
    assert at.query_params["window"] == "load"
    assert [m.value for m in at.metric][2] == "2.20 GB"


def test_capture_record_gives_label_and_config(examples_dir: Path):
    """A capture record beside a report shows its label and llama-server arguments in the run
    list; the run keeps its name (the one its links carry)."""
    record = {"label": "gemma f16, flash attention on", "config": {"args": ["-ngl", "81", "-fa"]}}
    (examples_dir / "gemma3-4b-f16-fa-seed.llamaprof.json").write_text(json.dumps(record))
    at = make_app(examples_dir).run()
    _no_errors(at)
    assert at.multiselect(key="compare_runs").options == [SEED_LABEL, GEN_LABEL]
    first = at.sidebar.markdown[0]
    assert (first.value, first.help) == (f"**{SEED_LABEL}**", "-ngl 81 -fa")
    assert at.sidebar.caption[1].value.endswith(
        " · 10.6 kB  \ngemma f16, flash attention on  \n`-ngl 81 -fa`"
    )
    # One run of two has a record: labels by file name, as `llamaprof compare` does.
    assert list(tab(at, "CUDA API").dataframe[0].value.columns)[1] == SEED_LABEL


def test_choices_survive_a_page_switch(examples_dir: Path):
    """The compare selection and baseline are kept while the user visits another page."""
    at = make_app(examples_dir).run()
    at.selectbox(key="compare_baseline").select(GEN_ID).run()
    at.switch_page("app_pages/run.py").run()
    at.switch_page("app_pages/compare.py").run()
    _no_errors(at)
    assert at.multiselect(key="compare_runs").value == [SEED_ID, GEN_ID]
    assert at.selectbox(key="compare_baseline").value == GEN_ID


def test_changed_report_is_read_again(examples_dir: Path):
    """A report replaced in place is re-read: its numbers change on the next run."""
    at = make_app(examples_dir).run()
    assert at.metric[2].value == "19.4 s"  # the generated run's kernel time
    gen = examples_dir / GEN_ID
    gen.write_bytes(SEED.read_bytes())
    os.utime(gen, (OLD + 60, OLD + 60))
    at.run()
    _no_errors(at)
    assert at.metric[2].value == "19.3 s"


def test_sidebar_folder_setting_switches_folders(examples_dir: Path, tmp_path: Path):
    """Typing another folder in the sidebar shows that folder's runs."""
    other = tmp_path / "other"
    copy_report(SEED, other, "only-one.txt")
    at = make_app(examples_dir).run()
    at.sidebar.text_input(key="reports_dir").input(str(other)).run()
    _no_errors(at)
    assert "1 readable run of 1" in _sidebar_text(at)
    assert at.info[0].value.startswith("Comparing needs at least two readable reports")


def test_real_sqlite_exports_compare(tmp_path: Path):
    """Two real SQLite exports: the run list shows nsys version, GPU count and names, and date;
    headers the bytes."""
    folder = tmp_path / "sqlite-runs"
    for n in (1, 2):
        src = shared_file(f"sqlite/0x822a5b87__test-cuda__report{n}.sqlite")
        copy_report(src, folder, f"report{n}.sqlite")
    at = make_app(folder).run()
    _no_errors(at)
    assert [c.value for c in at.sidebar.caption][1:] == [
        "sqlite · nsys 2026.1.1.204 · 1 GPU: NVIDIA GeForce RTX 4060 Ti · 2026-01-25 02:26 UTC · 578 kB",
        "sqlite · nsys 2026.1.1.204 · 1 GPU: NVIDIA GeForce RTX 4060 Ti · 2026-01-25 05:56 UTC · 610 kB",
    ]
    assert [m.value for m in at.metric] == ["537 µs", "975 ms", "4.84 ms", "1.12 s"]
    assert [c.value for c in at.main.caption if c.value.startswith(("H→D", "1 GPU"))] == [
        "H→D 800 MB · D→H 400 MB · D→D 0 B · span 1.10 s · GPU busy 8.4%",
        "1 GPU: NVIDIA GeForce RTX 4060 Ti",
        "H→D 800 MB · D→H 400 MB · D→D 0 B · span 1.35 s · GPU busy 7.1%",
        "1 GPU: NVIDIA GeForce RTX 4060 Ti",
    ]


def test_comparability_warning_for_different_nsys(tmp_path: Path):
    """Runs recorded by different nsys versions compare with a warning saying so."""
    folder = tmp_path / "mixed"
    copy_report(
        shared_file("sqlite/0x822a5b87__test-cuda__report1.sqlite"), folder, "report1.sqlite"
    )
    copy_report(SEED, folder)
    at = make_app(folder).run()
    _no_errors(at)
    assert [w.value for w in at.warning] == [
        f"Different nsys versions: {SEED_LABEL}: 2025.1.3; report1: 2026.1.1.204."
    ]


def test_upload_several_files_at_once(empty_folder: Path):
    """Several files dropped together are all saved, each under its own name."""
    at = make_app(empty_folder).run()
    at.switch_page("app_pages/add.py").run()
    at.file_uploader(key="uploader").set_value(
        [
            ("fa on.txt", SEED.read_bytes(), "text/plain"),
            ("fa off.txt", GENERATED.read_bytes(), "text/plain"),
        ]
    ).run()
    _no_errors(at)
    assert [s.value for s in at.success] == [
        "Added `fa on.txt` as `fa_on.txt`.",
        "Added `fa off.txt` as `fa_off.txt`.",
    ]
    assert sorted(p.name for p in empty_folder.iterdir()) == ["fa_off.txt", "fa_on.txt"]


def test_file_names_are_shown_literally(examples_dir: Path):
    """Markdown characters in a file name are escaped in the run list, not interpreted."""
    copy_report(SEED, examples_dir, "fa_on*[q8].txt")
    at = make_app(examples_dir).run()
    _no_errors(at)
    assert at.sidebar.markdown[0].value == "**fa\\_on\\*\\[q8\\]**"
