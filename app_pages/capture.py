"""Capture: run llama-server under nsys with a real HTTP workload, from the app.

The capture runs in a background thread owned by the app's process (one for all sessions,
``st.cache_resource``), so a rerun or another browser tab finds it, and a second capture
cannot start while one runs. Captures start only when the app listens on loopback alone,
or with LLAMAPROF_ALLOW_CAPTURE=1: a capture starts programs on this machine. The policy is
``llamaprof.policy``; the Start button's callback and the capture runner check it
again, so a click that reaches the server while Start is disabled starts nothing.

Only the Start button starts a capture: the settings are a form with ``enter_to_submit``
off, so Enter in a text field (in the browser, it would otherwise press the form's submit
button) only commits what was typed.
"""

import shlex
import shutil
from pathlib import Path

import streamlit as st

from llamaprof.capture.config import CaptureConfig, Variant, Workload, parse_env
from llamaprof.capture.preflight import no_cuda_reason
from llamaprof.capture.runner import WORKLOAD, BackgroundCapture
from llamaprof.errors import CaptureCancelled, CaptureFailed, LlamaprofError
from llamaprof.policy import capture_allowed
from llamaprof.record import parse_record, record_row, record_rows
from llamaprof.ui.sidebar import reports_sidebar


def _listen_address() -> str | None:
    """The address this app listens on (``""``: every interface), for the capture policy."""
    return st.get_option("server.address")


@st.cache_data(ttl=60, show_spinner=False)
def _no_cuda_reason() -> str | None:
    """Why a profiled capture records no CUDA data here (nvidia-smi's answer), or None."""
    return no_cuda_reason()


@st.cache_resource
def capture_job() -> BackgroundCapture:
    """The app's one capture runner, shared by every session of this server process."""
    return BackgroundCapture(listen_address=_listen_address)


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def _config_from_form(folder) -> CaptureConfig:
    """The CaptureConfig the form describes; raises LlamaprofError on bad input."""
    s = st.session_state
    try:
        server_args = shlex.split(s.capture_server_args)
        nsys_args = shlex.split(s.capture_nsys_args)
    except ValueError as exc:
        raise CaptureFailed(f"cannot split the arguments: {exc}") from None
    prompt_tokens = int(s.capture_prompt_tokens) or None
    return CaptureConfig(
        server=s.capture_server.strip(),
        model=s.capture_model.strip(),
        server_args=server_args,
        env=parse_env(_lines(s.capture_env)),
        profile=s.capture_profile,
        nsys=s.capture_nsys.strip() or None,
        nsys_args=nsys_args if s.capture_profile else [],
        cuda_graph_nodes=s.capture_graph_nodes and s.capture_profile,
        reports_dir=folder,
        name=s.capture_name.strip() or None,
        workload=Workload(
            requests=int(s.capture_requests),
            concurrency=int(s.capture_concurrency),
            prompt=None if prompt_tokens else (s.capture_prompt.strip() or None),
            prompt_tokens=prompt_tokens,
            n_predict=int(s.capture_n_predict),
        ),
        variants=[Variant.parse(line) for line in _lines(s.capture_configs)],
        repeat=int(s.capture_repeat),
        health_timeout_s=float(s.capture_health_timeout),
        report_timeout_s=float(s.capture_report_timeout) or None,
    )


def _start(folder) -> None:
    """The Start button's callback: start the capture, or keep the reason to show it."""
    st.session_state.pop("capture_message", None)
    allowed, why = capture_allowed(_listen_address())
    if not allowed:  # Start was disabled, but a client can send the click anyway
        st.session_state["capture_message"] = why
        return
    try:
        capture_job().start(_config_from_form(folder))
    except LlamaprofError as exc:
        st.session_state["capture_message"] = str(exc)


# Headers for people over ``record_rows``' columns (kept machine-readable for scripts).
_RECORD_COLUMNS = {
    "run": "Run",
    "config": "Config",
    "profiled": st.column_config.CheckboxColumn("Profiled"),
    "started": "Started",
    "requests": st.column_config.NumberColumn("Requests"),
    "generated_tokens": st.column_config.NumberColumn("Generated tokens"),
    "generation_tok_s": st.column_config.NumberColumn("Generation tok/s", format="%.1f"),
    "prompt_tok_s": st.column_config.NumberColumn("Prompt tok/s", format="%.1f"),
    "throughput_tok_s": st.column_config.NumberColumn(
        "Tokens/s (wall)", format="%.1f", help="Generated tokens over the workload's wall time"
    ),
    "report": "Report",
    "problem": "Problem",
}


def _same_folder(a, b) -> bool:
    try:
        return Path(a).resolve() == Path(b).resolve()
    except OSError:
        return False


def _show_results(job: BackgroundCapture) -> None:
    if job.records:
        # the same columns as the folder's table
        rows = [record_row(parse_record(r, r["name"])) for r in job.records]
        st.dataframe(
            rows, key="capture_results", hide_index=True, column_config=_RECORD_COLUMNS
        )
    if job.cancelled:
        if job.cancel_reason == CaptureCancelled().reason:
            st.warning(
                "The capture was cancelled: every process was stopped and nothing of the "
                "run in progress was kept."
            )
        else:  # what could not be stopped, said as it is
            st.warning(f"The capture was cancelled: {job.cancel_reason}")
    elif job.error is not None:
        st.error(f"The capture failed: {job.error}")
        if job.error.stderr_tail:
            st.code(job.error.stderr_tail, language=None)
    elif job.records:
        st.success(
            f"Captured {len(job.records)} run{'s' * (len(job.records) != 1)}; "
            f"{'they are' if len(job.records) != 1 else 'it is'} in the run list."
        )


def _progress_view(folder) -> None:
    """The capture's progress (refreshing itself every second while one runs)."""
    job = capture_job()
    if not job.running:
        if st.session_state.get("capture_seen_running"):
            st.session_state["capture_seen_running"] = False
            st.rerun(scope="app")  # stop refreshing; the run list picks up the new runs
        # The last capture's outcome, where it wrote (the job is the server's, shared by
        # every session): not a stale line on a page about another folder.
        if job.reports_dir is not None and _same_folder(job.reports_dir, folder):
            _show_results(job)
        return
    st.session_state["capture_seen_running"] = True
    p = job.progress
    if p is None:
        st.info("Starting…")
    else:
        st.markdown(f"**Run {p.run} of {p.runs}: `{p.name}`** ({p.label})")
        st.caption(f"{p.step} · {p.elapsed_s:.0f} s in this run · {p.total_elapsed_s:.0f} s in all")
        if p.step == WORKLOAD and p.requests_total:
            st.progress(
                p.requests_done / p.requests_total,
                text=f"{p.requests_done} of {p.requests_total} requests answered",
            )
        if p.log_tail:
            st.code("\n".join(p.log_tail), language=None)
    if job.records:
        st.caption("Captured so far: " + ", ".join(r["name"] for r in job.records))
    st.button(
        "Cancel capture",
        key="capture_cancel",
        on_click=job.cancel,
        help="Stops llama-server and nsys cleanly and keeps nothing of the run in progress.",
    )


folder, _items = reports_sidebar()
st.title("Capture")
st.markdown(
    "Start llama-server under `nsys profile`, send it a workload over HTTP, stop it with one "
    "SIGINT, and save the report, its SQLite export and a record of the run "
    f"(`NAME.llamaprof.json`) into `{folder}`. The same as `llamaprof capture` on the "
    "command line."
)
allowed, why = capture_allowed(_listen_address())
job = capture_job()
if allowed:
    st.caption(why)
else:
    st.warning(why)

with st.form("capture_form", border=True, enter_to_submit=False):
    st.subheader("Server")
    st.text_input(
        "llama-server",
        key="capture_server",
        value=shutil.which("llama-server") or "llama-server",
        help="A path, or a name on PATH. It always gets --host 127.0.0.1 --port N.",
    )
    st.text_input("Model (.gguf)", key="capture_model", placeholder="/models/model.gguf")
    st.text_input(
        "Server arguments",
        key="capture_server_args",
        value="-ngl 99",
        help="Split like a shell would, e.g. `-ngl 99 -c 4096 --metrics`.",
    )
    st.text_area(
        "A/B configs (optional, one per line)",
        key="capture_configs",
        placeholder="-fa on\n-fa off\nGGML_CUDA_DISABLE_GRAPHS=1 -fa on",
        help="Each line is one config, added after the server arguments; leading "
        "KEY=VALUE words are environment. They run one after another with the same "
        "workload.",
    )
    st.number_input("Runs per config", key="capture_repeat", min_value=1, value=1, step=1)
    st.text_area(
        "Environment (KEY=VALUE, one per line)",
        key="capture_env",
        placeholder="CUDA_VISIBLE_DEVICES=0\nGGML_CUDA_DISABLE_GRAPHS=1",
    )
    st.subheader("Profiler")
    st.toggle(
        "Profile with nsys",
        key="capture_profile",
        value=True,
        help="Off: the same workload without a profiler (tokens/s only).",
    )
    no_cuda = _no_cuda_reason()
    if no_cuda:
        st.warning(
            f"{no_cuda[0].upper()}{no_cuda[1:]}: a profiled capture's report will hold no "
            "CUDA data (no kernels, CUDA API calls or memory copies), only what nsys traces "
            "on the CPU. Captures still run.",
            icon=":material/memory:",
        )
    st.text_input("nsys", key="capture_nsys", placeholder="nsys on PATH")
    st.text_input(
        "nsys options",
        key="capture_nsys_args",
        value="",
        help="Added to `nsys profile`. Unless you give your own, a capture adds "
        "--trace=cuda,nvtx,osrt, and --sample=none --cpuctxsw=none (llamaprof reads neither "
        "CPU samples nor context switches; both slow the server, and with either nsys 2022.4 "
        "hung in about half the runs tried).",
    )
    st.checkbox(
        "Trace CUDA graphs node by node (--cuda-graph-trace=node)", key="capture_graph_nodes"
    )
    st.subheader("Workload")
    cols = st.columns(4)
    cols[0].number_input("Requests", key="capture_requests", min_value=1, value=8, step=1)
    cols[1].number_input(
        "Concurrent clients", key="capture_concurrency", min_value=1, value=1, step=1
    )
    cols[2].number_input("n_predict", key="capture_n_predict", min_value=1, value=128, step=1)
    cols[3].number_input(
        "Prompt tokens (0: use the text)", key="capture_prompt_tokens", min_value=0, value=0, step=1
    )
    st.text_area("Prompt", key="capture_prompt", placeholder="(a default prompt)")
    cols = st.columns(3)
    cols[0].text_input(
        "Run name (optional)", key="capture_name", placeholder="the time and the config"
    )
    cols[1].number_input(
        "Seconds to wait for /health", key="capture_health_timeout", min_value=1, value=300, step=10
    )
    cols[2].number_input(
        "Seconds for nsys's report (0: auto)",
        key="capture_report_timeout",
        min_value=0,
        value=0,
        step=10,
        help="How long nsys may take to write its report once llama-server has exited, and "
        "the export; past it nsys is stopped with everything it started. 0: 60 s, or as long "
        "as llama-server ran under nsys if that was longer.",
    )
    st.form_submit_button(
        "Start capture",
        key="capture_start",
        type="primary",
        disabled=not allowed or job.running,
        on_click=_start,
        args=(folder,),
    )

if st.session_state.get("capture_message"):
    st.error(st.session_state["capture_message"])

st.subheader("Progress")
st.fragment(_progress_view, run_every=1.0 if job.running else None)(folder)

st.subheader("Captures in this folder")
rows = record_rows(folder)
if rows:
    st.caption(
        "Every run with a capture record, profiled or not (runs without a profiler have "
        "tokens/s only, so they are listed here rather than in the run list)."
    )
    st.dataframe(rows, key="capture_records", hide_index=True, column_config=_RECORD_COLUMNS)
else:
    st.caption("No capture records yet.")
