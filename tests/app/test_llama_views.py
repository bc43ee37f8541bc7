"""The compare page's llama.cpp views through AppTest: families, normalisation, config, repeats, findings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from app.support import GENERATED, SEED, copy_report, downloaded, make_app, open_tab, tab

SEED_LABEL, GEN_LABEL = SEED.stem, GENERATED.stem


def _no_errors(at) -> None:
    assert not at.exception, [e.message for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def _record(folder: Path, name: str, fa: str, tokens: int, group: str | None = None) -> None:
    """A capture record beside ``<name>.txt``: server args, env, totals, optional repeat group."""
    record = {
        "schema": 1,
        "name": name,
        "server_args": {"-m": "gemma-3-4b-f16.gguf", "-fa": fa, "-ngl": "99"},
        "env": {"CUDA_VISIBLE_DEVICES": "0"},
        "totals": {"generated_tokens": tokens, "requests": 4},
    }
    if group:
        record["repeat"] = {"group": group}
    (folder / f"{name}.llamaprof.json").write_text(json.dumps(record), encoding="utf-8")


@pytest.fixture
def recorded_pair(tmp_path: Path) -> Path:
    """Copies of the two examples with capture records: -fa on (1000 tokens), -fa off (2000)."""
    folder = tmp_path / "recorded"
    copy_report(SEED, folder, "fa.txt")
    copy_report(GENERATED, folder, "nofa.txt")
    _record(folder, "fa", "on", 1000)
    _record(folder, "nofa", "off", 2000)
    return folder


def _family_view(folder: Path):
    at = open_tab(make_app(folder).run(), "Kernels")
    at.segmented_control(key="compare_kernels_by").set_value("family").run()
    _no_errors(at)
    return at


def test_by_family_diff_table_exact_values(examples_dir: Path, downloads):
    """By family, the kernel tab diffs families: attention in the fa run is the sum of its four flash_attn rows."""
    at = _family_view(examples_dir)
    assert at.query_params["by"] == "family"
    kernels_tab = tab(at, "Kernels")
    shown = kernels_tab.dataframe[0].value
    assert shown.values.tolist() == [
        ["matmul", "16.7 s", "17.8 s", "+1.15 s", "+6.9%"],
        ["attention", "1.19 s", "152 ms", "-1.03 s", "-87.2%"],
        ["elementwise", "657 ms", "657 ms", "0 ns", "0.0%"],
        ["norm", "545 ms", "545 ms", "0 ns", "0.0%"],
        ["copy", "135 ms", "135 ms", "0 ns", "0.0%"],
        ["rope", "93.4 ms", "93.4 ms", "0 ns", "0.0%"],
        ["Total", "19.3 s", "19.4 s", "+119 ms", "+0.6%"],
    ]
    # The stacked family bars (coloured by family), the Δ bars by family, and the Δ bars
    # of the family drilled into (matmul, the first).
    specs = [json.loads(c.proto.spec) for c in kernels_tab.get("vega_lite_chart")]
    assert specs[0]["encoding"]["color"]["field"] == "family"
    assert [s.get("title") for s in specs[1:]] == [
        "Δ GPU kernel time by family vs " + SEED_LABEL,
        "Δ matmul kernels vs " + SEED_LABEL,
    ]
    # The CSV download holds the exact family rows:
    # matmul: 16_650_623_556 + 14_449_912 + 12_504_441 + 10_182_623 + 1_759_995 + 478_112
    # attention (fa): 958_434_630 + 225_183_495 + 1_740_533 + 582_528 (flash_attn rows);
    # attention (no fa): soft_max_f32 alone.
    assert downloaded(at, "csv_kernels_family").decode("utf-8").splitlines()[:5] == [
        "name,run,value,baseline_value,delta,delta_pct,status",
        f"matmul,{SEED_LABEL},16689998639,16689998639,0,0.0,same",
        f"matmul,{GEN_LABEL},17843278639,16689998639,1153280000,"
        f"{1_153_280_000 * 100 / 16_689_998_639!r},changed",
        f"attention,{SEED_LABEL},1185941186,1185941186,0,0.0,same",
        f"attention,{GEN_LABEL},151800480,1185941186,-1034140706,"
        f"{-1_034_140_706 * 100 / 1_185_941_186!r},changed",
    ]


def test_drill_down_into_matmul_lists_its_kernels(examples_dir: Path):
    """Choosing matmul in the drill-down lists its six kernels across both runs."""
    at = _family_view(examples_dir)
    drill = at.selectbox(key="compare_family_drill")
    assert drill.options[:2] == ["matmul", "attention"]
    drill.select("matmul").run()
    _no_errors(at)
    table = tab(at, "Kernels").dataframe[-1].value
    # Names over 32 characters lose their middle (the page's compact table).
    assert list(table["Name"]) == [
        "mul_mat_vec<half,half,1,256>",
        "mul_mat_vec<half,half,2,256>",
        "turing_h1688…4_sliced1x2_ldg8_tn",
        "turing_h1688…ldg8_stages_32x1_tn",
        "cutlass_75_w…x32_128x2_tn_align8",
        "splitKreduce_kernel",
    ]
    assert list(table[GEN_LABEL]) == ["17.8 s", "14.4 ms", "12.5 ms", "10.2 ms", "1.76 ms", "478 µs"]
    drill.select("attention").run()
    table = tab(at, "Kernels").dataframe[-1].value
    assert table["Name"].iloc[0] == "flash_attn_e…,2,2,1,false,false>"
    assert list(table[GEN_LABEL]) == ["—", "—", "152 ms", "—", "—"]


def test_normalisation_is_disabled_without_capture_records(examples_dir: Path):
    """Runs without records: the control is disabled, the page says why and shows totals."""
    at = make_app(examples_dir).run()
    control = at.segmented_control(key="compare_normalize")
    assert control.disabled
    assert control.value == "none"
    captions = [c.value for c in at.main.caption]
    assert (
        "Per token / per request: Needs a capture record (`<name>.llamaprof.json`) beside "
        f"every selected run; {SEED_LABEL}, {GEN_LABEL} have none."
    ) in captions
    assert "Totals over the whole capture (not normalised)." in captions


def test_per_token_values_and_labels_from_the_config(recorded_pair: Path, downloads):
    """Per token: every run divided by its own generated tokens; runs labelled by what differs."""
    at = make_app(recorded_pair).run()
    at.segmented_control(key="compare_normalize").set_value("per-token").run()
    at = open_tab(at, "Kernels")
    _no_errors(at)
    assert at.query_params["values"] == "per-token"
    captions = [c.value for c in at.main.caption]
    assert "Per generated token: -fa on ÷ 1,000 tokens; -fa off ÷ 2,000 tokens." in captions
    shown = tab(at, "Kernels").dataframe[0].value
    assert list(shown.columns) == [
        "Name", "Family", "-fa on", "-fa off", "Δ -fa off", "Δ% -fa off",
    ]  # fmt: skip
    # 16_650_623_556 ns / 1000 tokens and 17_803_903_556 ns / 2000 tokens.
    assert shown.head(2).values.tolist() == [
        ["mul_mat_vec", "matmul", "16.7 ms/token", "8.90 ms/token", "-7.75 ms/token", "-46.5%"],
        ["flash_attn_ext_f16", "attention", "958 µs/token", "—", "-958 µs/token", "missing"],
    ]
    per_token, base = 17_803_903_556 / 2000, 16_650_623_556 / 1000
    assert downloaded(at, "csv_kernels").decode("utf-8").splitlines()[2].split(",")[-5:] == [
        repr(per_token), repr(base), repr(per_token - base),
        repr((per_token - base) * 100.0 / base), "changed",
    ]  # fmt: skip
    # The run cards too: 19_307_352_272 ns / 1000 and 19_426_491_566 ns / 2000 tokens.
    metrics = [(m.label, m.value) for m in at.metric]
    assert metrics[0] == ("GPU kernel time/token", "19.3 ms")
    assert metrics[2] == ("GPU kernel time/token", "9.71 ms")
    at = open_tab(at, "CUDA API")
    api = tab(at, "CUDA API").dataframe[0].value
    assert list(api.columns)[1] == "-fa on"
    assert api["-fa on"][0].endswith("ms/token")  # the API view is normalised too
    at.toggle(key="compare_labels_by_config").set_value(False).run()
    assert list(tab(at, "CUDA API").dataframe[0].value.columns)[1:3] == ["fa", "nofa"]


def test_download_is_per_token_with_config_labels(recorded_pair: Path, downloads):
    """The Markdown download shows the page's per-token values and labels, not totals."""
    at = make_app(recorded_pair).run()
    at.segmented_control(key="compare_normalize").set_value("per-token").run()
    _no_errors(at)
    text = downloaded(at, "compare_markdown").decode("utf-8")
    kernels = text.split("**CUDA GPU Kernel Summary (cuda_gpu_kern_sum)**")[1].split("\n\n**")[0]
    lines = kernels.splitlines()
    assert text.startswith(
        "# llamaprof comparison: -fa off vs -fa on\n\n"
        "Per generated token: -fa on ÷ 1,000 tokens; -fa off ÷ 2,000 tokens.\n\n"
    )
    assert lines[0] == ", by name; baseline `-fa on`"
    # 16_650_623_556 ns / 1000 tokens and 17_803_903_556 ns / 2000 tokens; the totals
    # 19_307_352_272 / 1000 and 19_426_491_566 / 2000.
    assert lines[4] == (
        "| `mul_mat_vec` | matmul | 16.7 ms/token | 8.90 ms/token | -7.75 ms/token | -46.5% |"
    )
    assert lines[-1] == "| **Total** |  | 19.3 ms/token | 9.71 ms/token | -9.59 ms/token | -49.7% |"


def test_config_expander_marks_the_differing_arg(recorded_pair: Path):
    """The configuration table lists -fa first, marked and highlighted; the toggle hides the rest."""
    at = make_app(recorded_pair).run()
    config = next(e for e in at.main.expander if e.label == "Configuration")
    table = config.dataframe[0].value
    assert list(table.columns) == ["differs", "setting", "-fa on", "-fa off"]
    # -m is llamaprof's own flag in a capture (it passes the model): never a difference.
    assert table.to_dict("records") == [
        {"differs": True, "setting": "arg -fa", "-fa on": "on", "-fa off": "off"},
        {"differs": False, "setting": "arg -ngl", "-fa on": "99", "-fa off": "99"},
        {"differs": False, "setting": "env CUDA_VISIBLE_DEVICES", "-fa on": "0", "-fa off": "0"},
    ]
    styles = config.dataframe[0].proto.arrow_data.styler.styles
    assert styles.count("background-color: rgba(255, 189, 69, 0.25)") >= 1
    at.toggle(key="compare_config_only_diff").set_value(True).run()
    config = next(e for e in at.main.expander if e.label == "Configuration")
    assert list(config.dataframe[0].value["setting"]) == ["arg -fa"]


def test_repeats_are_grouped_with_mean_spread_and_noise(tmp_path: Path, downloads):
    """Two repeats per config: one column per config, means ± spread, a change within the
    spread marked noise, everywhere: table, cards, findings, download."""
    folder = tmp_path / "repeats"
    for i, tokens in enumerate((1000, 1250), start=1):
        copy_report(SEED, folder, f"fa-{i}.txt")
        copy_report(GENERATED, folder, f"nofa-{i}.txt")
        _record(folder, f"fa-{i}", "on", tokens, group="fa-on")
        _record(folder, f"nofa-{i}", "off", tokens, group="fa-off")
    at = make_app(folder).run()
    at.multiselect(key="compare_runs").set_value(
        ["fa-1.txt", "fa-2.txt", "nofa-1.txt", "nofa-2.txt"]
    ).run()
    at.segmented_control(key="compare_normalize").set_value("per-token").run()
    at = open_tab(at, "Kernels")
    _no_errors(at)
    kernels = tab(at, "Kernels").dataframe[0].value
    assert list(kernels.columns) == [
        "Name", "Family", "-fa on", "-fa off", "Δ -fa off", "Δ% -fa off",
    ]  # fmt: skip
    # mul_mat_vec per token: fa on 16_650_623.556 and 13_320_498.845 (mean 14_985_561.2,
    # std 2_354_737); fa off 17_803_903.556 and 14_243_122.845 (mean 16_023_513.2,
    # std 2_517_870): +1_037_952 is within the spread.
    # flash_attn_ext_f16: 958_434_630 ns * (1/1000 + 1/1250) / 2 = 862_591.2 ns/token, gone.
    assert kernels.head(2).values.tolist() == [
        [
            "mul_mat_vec", "matmul", "15.0 ± 2.35 ms/token",
            "16.0 ± 2.52 ms/token", "+1.04 ms/token", "+6.9% (noise)",
        ],
        [
            "flash_attn_ext_f16", "attention", "863 ± 136 µs/token", "—",
            "-863 µs/token", "missing",
        ],
    ]  # fmt: skip
    assert any(
        "Repeats grouped (-fa on: 2 runs; -fa off: 2 runs)" in c.value for c in at.main.caption
    )
    # The cards show each config's mean ± spread: totals per token 19_307_352.272 and
    # 15_445_881.818 ns for -fa on.
    assert [(m.label, m.value, m.proto.delta) for m in at.metric][::2] == [
        ("GPU kernel time/token", "17.4 ± 2.73 ms", ""),
        ("GPU kernel time/token", "17.5 ± 2.75 ms", "+107 µs (+0.6%)"),
    ]
    findings = [m.value for m in at.main.markdown if m.value.startswith("**-fa off")]
    # Totals per token: -fa off +107_225 ns/token on average: within the spread.
    assert findings[0] == (
        "**-fa off: total up 0.6%.** -fa off totals 17.5 ms/token against the baseline's "
        "17.4 ms/token (+107 µs/token) (within the spread of the repeats: noise)."
    )
    assert findings[1].endswith(
        "(+1.04 ms/token, +6.9%) (within the spread of the repeats: noise)."
    )
    assert findings[2] == (
        "**-fa off: improvement in attention: flash_attn_ext_f16 (gone).** flash_attn_ext_f16 "
        "(attention) went from 863 µs/token to 0 ns/token (-863 µs/token, gone)."
    )
    # The Markdown download compares the same groups, with the same numbers.
    text = downloaded(at, "compare_markdown").decode("utf-8")
    assert text.startswith("# llamaprof comparison: -fa off vs -fa on\n")
    kernel_rows = text.split("**CUDA GPU Kernel Summary")[1].split("\n\n**")[0].splitlines()
    assert kernel_rows[4] == (
        "| `mul_mat_vec` | matmul | 15.0 ± 2.35 ms/token | 16.0 ± 2.52 ms/token "
        "| +1.04 ms/token | +6.9% (noise) |"
    )
    assert at.query_params["run"] == ["fa-1", "fa-2", "nofa-1", "nofa-2"]


def test_findings_cite_their_numbers(examples_dir: Path):
    """The Findings section names the total change and the biggest kernel changes with values."""
    at = make_app(examples_dir).run()
    _no_errors(at)
    assert "Findings" in [s.value for s in at.subheader]
    texts = [m.value for m in at.main.markdown if m.value.startswith(f"**{GEN_LABEL}")]
    # Kernel totals: 19_307_352_272 ns (fa) and 19_426_491_566 ns: +119_139_294 ns, +0.62%.
    assert texts[0] == (
        f"**{GEN_LABEL}: total up 0.6%.** {GEN_LABEL} totals 19.4 s against the "
        "baseline's 19.3 s (+119 ms)."
    )
    assert texts[1] == (
        f"**{GEN_LABEL}: regression in matmul: mul_mat_vec (+6.9%).** mul_mat_vec (matmul) went "
        "from 16.7 s to 17.8 s (+1.15 s, +6.9%)."
    )
    # soft_max_f32's +152 ms is under 1% of the baseline's total: no finding of its own.
    assert texts[2] == (
        f"**{GEN_LABEL}: improvement in attention: flash_attn_ext_f16 (gone).** flash_attn_ext_f16 "
        "(attention) went from 958 ms to 0 ns (-958 ms, gone)."
    )
    assert len(texts) == 4


def test_single_run_page_shows_findings(examples_dir: Path):
    """The single-run page lists its findings, the dominant API call with its share first."""
    at = make_app(examples_dir).run()
    at.switch_page("app_pages/run.py").run()
    _no_errors(at)
    findings = next(e for e in at.main.expander if e.label == "Key findings")
    assert findings.markdown[0].value.startswith(
        "**cudaStreamSynchronize dominates the CUDA API time"
    )


def test_first_read_shows_progress_naming_each_run(
    examples_dir: Path, monkeypatch: pytest.MonkeyPatch
):
    """The first read of the folder shows a progress bar naming each run; cached reruns do not."""
    import streamlit

    calls: list[str] = []

    class Bar:
        def progress(self, value: float, text: str) -> None:
            calls.append(f"{value:.2f} {text}")

        def empty(self) -> None:
            calls.append("done")

    def fake_progress(value: float, text: str) -> Bar:
        calls.append(f"{value:.2f} {text}")
        return Bar()

    monkeypatch.setattr(streamlit, "progress", fake_progress)
    at = make_app(examples_dir).run()
    _no_errors(at)
    assert calls == [
        "0.00 Reading reports…",
        f"0.00 Reading {SEED_LABEL} (1 of 2)…",
        f"0.50 Reading {GEN_LABEL} (2 of 2)…",
        "done",
    ]
    calls.clear()
    at.run()
    assert calls == []


def test_single_run_kernels_by_family(examples_dir: Path):
    """The single run's Kernels tab sums its kernels by family: matmul 16.7 s, 86.4% of 19.3 s."""
    at = make_app(examples_dir).run()
    at.switch_page("app_pages/run.py").run()
    at = open_tab(at, "CUDA GPU Kernel Summary", key="run_tab")
    _no_errors(at)
    table = tab(at, "CUDA GPU Kernel Summary").dataframe[-1].value
    assert list(table["Family"]) == ["matmul", "attention", "elementwise", "norm", "copy", "rope"]
    # 16_689_998_639 of 19_307_352_272 ns; 1_185_941_186 ns in 36_040 + 36_040 + 34 + 34 launches.
    assert table.iloc[0][["Time", "Share (%)", "Kernels"]].tolist() == ["16.7 s", "86.4", 6]
    assert table.iloc[1][["Time", "Share (%)", "Launches", "Kernels"]].tolist() == [
        "1.19 s", "6.1", "72,148", 4,
    ]  # fmt: skip
