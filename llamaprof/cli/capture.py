"""``llamaprof capture``: run llama-server under nsys with a real HTTP workload, and record it.

Progress goes to stderr, one line per step; the summary of each captured run to stdout.
Exit status 0 when every run was captured and recorded, 1 with a one-line reason
otherwise, 130 when cancelled (Ctrl-C or SIGTERM: every process is stopped; runs finished
before the cancel are kept, the one in progress is not).
"""

from __future__ import annotations

import shlex
import signal
import sys
import time
from pathlib import Path

import click

from llamaprof.capture.config import (
    CaptureConfig,
    Variant,
    Workload,
    parse_env,
)
from llamaprof.capture.runner import BackgroundCapture, CaptureProgress
from llamaprof.cli.output import write_out
from llamaprof.errors import ConfigError
from llamaprof.policy import default_reports_dir

EPILOG = """\b
Examples:
  llamaprof capture --server llama-server --model m.gguf -- -ngl 99 -fa on
  llamaprof capture --server llama-server --model m.gguf --no-profile --requests 16 \\
      --concurrency 4 --prompt-tokens 512 --n-predict 128 -- -ngl 99
  llamaprof capture --server llama-server --model m.gguf --config "-fa on" \\
      --config "-fa off" --repeat 3 -- -ngl 99
  llamaprof capture --server llama-server --model m.gguf --cuda-graph-nodes \\
      --env GGML_CUDA_GRAPH_OPT=1 -- -ngl 99

\b
Each --config is one config of an A/B set: server args added after the shared ones
(after --), with optional leading KEY=VALUE environment words, e.g.
--config "GGML_CUDA_DISABLE_GRAPHS=1 -fa on". The configs run one after another with the
same workload, each --repeat times. The server always gets --host 127.0.0.1 --port N.

\b
Every wait is bounded: --health-timeout for /health, --stop-timeout for llama-server to
exit on SIGINT, --report-timeout for nsys to write its report and for the export. An nsys
that is still running then is stopped with every process it started, and the capture
fails with the cause (a report nsys had written completely is kept, with a note).
Without an NVIDIA driver (nvidia-smi fails) the capture runs, after a warning: its report
then holds only what nsys traces on the CPU, no CUDA data.
"""


class _Printer:
    """Turns progress snapshots into stderr lines: on each step, each answered request, and
    every 5 s while waiting; with ``show_log``, new server log lines too."""

    def __init__(self, show_log: bool) -> None:
        self.show_log = show_log
        self._key: tuple | None = None
        self._last = 0.0
        self._tail: tuple[str, ...] = ()

    def __call__(self, p: CaptureProgress) -> None:
        key = (p.run, p.step, p.requests_done)
        now = time.monotonic()
        if key != self._key or now - self._last >= 5:
            self._key, self._last = key, now
            click.echo(p.line(), err=True)
        if self.show_log:
            for line in _new_lines(self._tail, p.log_tail):
                click.echo(f"  | {line}", err=True)
            self._tail = p.log_tail


def _new_lines(before: tuple[str, ...], after: tuple[str, ...]) -> tuple[str, ...]:
    """The lines of ``after`` not already seen at the end of ``before``."""
    for k in range(min(len(before), len(after)), 0, -1):
        if before[-k:] == after[:k]:
            return after[k:]
    return after


def _summary(record: dict, reports: Path) -> str:
    t = record["totals"]
    rate = t.get("predicted_per_second")
    prompt_rate = t.get("prompt_per_second")
    files = [record.get("report"), record.get("sqlite"), record["name"] + ".llamaprof.json"]
    lines = [
        f"captured {record['name']} ({record['label']}): {t['requests']} requests, "
        f"{t['prompt_tokens']} prompt + {t['generated_tokens']} generated tokens, "
        f"generation {rate:.1f} tokens/s, prompt {prompt_rate:.1f} tokens/s"
        if rate and prompt_rate
        else f"captured {record['name']} ({record['label']}): {t['requests']} requests",
        "  in " + str(reports) + ": " + ", ".join(f for f in files if f),
    ]
    lines += [f"  note: {problem}" for problem in record.get("problems", [])]
    return "\n".join(lines)


@click.command("capture", epilog=EPILOG)
@click.option(
    "--server",
    "server",
    required=True,
    metavar="PATH",
    help="llama-server executable (a path, or a name on PATH).",
)
@click.option("--model", "model", required=True, metavar="PATH", help="GGUF model file.")
@click.option("--nsys", "nsys", metavar="PATH", help="nsys executable [default: nsys on PATH].")
@click.option(
    "--no-profile", is_flag=True, help="Run the same workload without a profiler (tokens/s only)."
)
@click.option(
    "--name", metavar="NAME", help="Run name [default: the time and the differing server args]."
)
@click.option(
    "--reports",
    type=click.Path(file_okay=False, path_type=Path),
    metavar="DIR",
    help="Where reports go [default: the app's reports folder].",
)
@click.option(
    "--requests",
    "n_requests",
    type=click.IntRange(1),
    default=8,
    show_default=True,
    help="Requests to send.",
)
@click.option(
    "--concurrency",
    type=click.IntRange(1),
    default=1,
    show_default=True,
    help="Concurrent clients (1 = sequential).",
)
@click.option("--prompt", metavar="TEXT", help="Prompt text.")
@click.option(
    "--prompt-tokens",
    type=click.IntRange(1),
    metavar="N",
    help="Prompt length in tokens (sent as token ids).",
)
@click.option(
    "--n-predict",
    type=click.IntRange(1),
    default=128,
    show_default=True,
    help="Tokens to generate per request.",
)
@click.option("--seed", type=int, default=42, show_default=True, help="Sampling seed.")
@click.option("--ignore-eos", is_flag=True, help="Always generate n_predict tokens.")
@click.option(
    "--nsys-args",
    default="",
    metavar='"..."',
    help="Extra nsys profile options, split like a shell would. Defaults, each replaced "
    "by your own: --trace=cuda,nvtx,osrt; --sample=none --cpuctxsw=none (llamaprof reads "
    "neither CPU samples nor context switches, both slow the server, and with either one "
    "nsys 2022.4 hung in about half the runs tried).",
)
@click.option(
    "--cuda-graph-nodes",
    is_flag=True,
    help="Trace CUDA graphs node by node (--cuda-graph-trace=node).",
)
@click.option(
    "--env",
    "env",
    multiple=True,
    metavar="KEY=VALUE",
    help="Environment for llama-server (repeatable), e.g. CUDA_VISIBLE_DEVICES=1.",
)
@click.option(
    "--config",
    "configs",
    multiple=True,
    metavar='"ARGS"',
    help="One config of an A/B set (repeatable); see below.",
)
@click.option(
    "--repeat", type=click.IntRange(1), default=1, show_default=True, help="Runs per config."
)
@click.option(
    "--port",
    type=click.IntRange(1, 65535),
    metavar="N",
    help="Port for llama-server [default: a free one].",
)
@click.option(
    "--health-timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=300.0,
    show_default=True,
    metavar="S",
    help="Seconds to wait for /health to answer 200.",
)
@click.option(
    "--stop-timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=30.0,
    show_default=True,
    metavar="S",
    help="Seconds llama-server gets to exit after SIGINT before escalating.",
)
@click.option(
    "--report-timeout",
    type=click.FloatRange(min=0, min_open=True),
    metavar="S",
    help="Seconds nsys gets to write its report once llama-server has exited, and the "
    "SQLite export to finish [default: 60, or as long as llama-server ran under nsys if "
    "that was longer].",
)
@click.option("--show-log", is_flag=True, help="Print the server's log as it runs.")
@click.argument("server_args", nargs=-1, type=click.UNPROCESSED, metavar="[-- SERVER_ARGS...]")
def capture(
    server: str,
    model: str,
    nsys: str | None,
    no_profile: bool,
    name: str | None,
    reports: Path | None,
    n_requests: int,
    concurrency: int,
    prompt: str | None,
    prompt_tokens: int | None,
    n_predict: int,
    seed: int,
    ignore_eos: bool,
    nsys_args: str,
    cuda_graph_nodes: bool,
    env: tuple[str, ...],
    configs: tuple[str, ...],
    repeat: int,
    port: int | None,
    health_timeout: float,
    stop_timeout: float,
    report_timeout: float | None,
    show_log: bool,
    server_args: tuple[str, ...],
) -> None:
    """Start llama-server under nsys, send it a workload, stop it cleanly, and record it.

    Writes NAME.nsys-rep, its SQLite export NAME.sqlite, NAME.llamaprof.json (the record:
    commands, versions, each request's timings, totals, the end of the server's log) into
    the reports folder. With --no-profile only the record.
    """
    if nsys and no_profile:
        raise ConfigError("give --nsys PATH or --no-profile, not both")
    try:
        split_nsys_args = shlex.split(nsys_args)
    except ValueError as exc:
        raise ConfigError(f"cannot split --nsys-args: {exc}") from None
    cfg = CaptureConfig(
        server=server,
        model=model,
        server_args=list(server_args),
        env=parse_env(env),
        profile=not no_profile,
        nsys=nsys,
        nsys_args=split_nsys_args,
        cuda_graph_nodes=cuda_graph_nodes,
        reports_dir=reports or default_reports_dir(),
        name=name,
        port=port,
        workload=Workload(
            requests=n_requests,
            concurrency=concurrency,
            prompt=prompt,
            prompt_tokens=prompt_tokens,
            n_predict=n_predict,
            seed=seed,
            ignore_eos=ignore_eos,
        ),
        variants=[Variant.parse(c) for c in configs],
        repeat=repeat,
        health_timeout_s=health_timeout,
        stop_timeout_s=stop_timeout,
        report_timeout_s=report_timeout,
    )
    if report_timeout is not None and no_profile:
        raise ConfigError("--report-timeout was given with --no-profile")
    job = BackgroundCapture(on_progress=_Printer(show_log), on_note=_warn)
    runs = job.start(cfg)  # config errors and "another capture is running" are raised here
    click.echo(
        f"capturing {len(runs)} run{'s' if len(runs) > 1 else ''} into {cfg.reports_dir}"
        + ("" if cfg.profile else " (no profiler)"),
        err=True,
    )
    previous = signal.signal(signal.SIGTERM, lambda *_: _cancel(job))
    try:
        _wait(job)
    finally:
        signal.signal(signal.SIGTERM, previous)
    for record in job.records:
        write_out(_summary(record, cfg.reports_dir) + "\n")
    if job.cancelled:
        click.echo(f"llamaprof: {job.cancel_reason}", err=True)
        sys.exit(130)
    if job.error is not None:
        if job.error.stderr_tail:
            click.echo("--- last lines of the server's output ---", err=True)
            click.echo(job.error.stderr_tail, err=True)
            click.echo("---", err=True)
        raise job.error


def _warn(note: str) -> None:
    click.echo(f"llamaprof: warning: {note}", err=True)


def _cancel(job: BackgroundCapture) -> None:
    if not job.cancel_requested:
        click.echo("cancelling: stopping llama-server and nsys...", err=True)
    job.cancel()


def _wait(job: BackgroundCapture) -> None:
    """Wait for the capture; Ctrl-C cancels it, and waits again until all has stopped."""
    while True:
        try:
            if job.wait(0.2):
                return
        except KeyboardInterrupt:
            _cancel(job)
