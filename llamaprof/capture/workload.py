"""The HTTP workload: requests to llama-server's ``/completion``, sequential or concurrent.

Every response's ``timings`` object is kept exactly as llama-server returned it. A cancel
shuts the sockets of the requests in flight: llama-server notices the closed connection,
cancels the task, and can then exit cleanly on one SIGINT (a request in flight would
otherwise hold the exit back). Only loopback addresses are ever contacted.
"""

from __future__ import annotations

import contextlib
import itertools
import socket
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection
from urllib3.connectionpool import HTTPConnectionPool

from llamaprof.capture.config import DEFAULT_PROMPT, Workload
from llamaprof.errors import CaptureCancelled, CaptureFailed, ConfigError

_LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}


def check_loopback(base_url: str) -> None:
    """Raise ConfigError unless ``base_url`` points at this machine's loopback."""
    host = urlsplit(base_url).hostname or ""
    if host not in _LOOPBACK_HOSTS and not host.startswith("127."):
        raise ConfigError(f"llamaprof only contacts loopback addresses, not {host!r}")


class RequestAborter:
    """Hands out sessions whose sockets it tracks, so ``abort()`` can shut them all.

    ``socket.shutdown`` from another thread wakes a request blocked in ``recv``: the
    worker gets a connection error, and llama-server sees the client go away.
    """

    def __init__(self) -> None:
        self.aborted = False
        self._sockets: weakref.WeakSet[socket.socket] = weakref.WeakSet()
        self._lock = threading.Lock()
        aborter = self

        class _Connection(HTTPConnection):
            def connect(self) -> None:
                super().connect()
                aborter._track(self.sock)

        class _Pool(HTTPConnectionPool):
            ConnectionCls = _Connection

        self._pool_class = _Pool

    def _track(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.add(sock)
            if self.aborted:  # opened after abort(): shut it at once
                _shutdown(sock)

    def session(self) -> requests.Session:
        """A session that never uses a proxy and whose connections ``abort()`` can shut."""
        session = requests.Session()
        session.trust_env = False
        session.mount("http://", _TrackingAdapter(self._pool_class))
        return session

    def abort(self) -> None:
        with self._lock:
            self.aborted = True
            for sock in list(self._sockets):
                _shutdown(sock)


def _shutdown(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


class _TrackingAdapter(HTTPAdapter):
    def __init__(self, pool_class: type[HTTPConnectionPool]) -> None:
        self._pool_class = pool_class  # before super().__init__, which builds the pools
        super().__init__()

    def init_poolmanager(self, *args, **kwargs) -> None:  # type: ignore[override]
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            **self.poolmanager.pool_classes_by_scheme,
            "http": self._pool_class,
        }


def _error_text(response: requests.Response) -> str:
    """llama-server's error message (``{"error": {"message": ...}}``) or the body's start."""
    try:
        body = response.json()
        message = body["error"]["message"]
    except (ValueError, KeyError, TypeError):
        message = response.text.strip()[:200] or response.reason
    return f"HTTP {response.status_code}: {message}"


def _json_kind(value: object) -> str:
    """How a JSON value is called in messages: ``array``, ``string``, ``number``..."""
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return type(value).__name__


def resolve_prompt(session: requests.Session, base_url: str, workload: Workload) -> str | list[int]:
    """What each request sends as ``prompt``: the text, or exactly N token ids.

    For a length in tokens, ``DEFAULT_PROMPT`` is tokenized by the server (``POST
    /tokenize``) and its ids repeated to N; llama-server evaluates a list of ids as given,
    without adding BOS, so ``prompt_n`` is N.
    """
    if workload.prompt_tokens is None:
        return workload.prompt if workload.prompt is not None else DEFAULT_PROMPT
    try:
        r = session.post(
            base_url + "/tokenize",
            json={"content": DEFAULT_PROMPT, "add_special": False},
            timeout=(5, 60),
        )
    except requests.RequestException as exc:
        raise CaptureFailed(f"POST /tokenize failed: {exc}") from None
    if r.status_code != 200:
        raise CaptureFailed(f"POST /tokenize failed: {_error_text(r)}")
    try:
        data = r.json()
    except ValueError:
        data = None
    ids = data.get("tokens") if isinstance(data, dict) else None
    if not ids:
        raise CaptureFailed("POST /tokenize returned no tokens")
    return list(itertools.islice(itertools.cycle(ids), workload.prompt_tokens))


def request_body(workload: Workload, prompt: str | list[int]) -> dict:
    """The JSON body of every request: deterministic sampling, no prompt cache."""
    body = {
        "prompt": prompt,
        "n_predict": workload.n_predict,
        "temperature": workload.temperature,
        "seed": workload.seed,
        "cache_prompt": workload.cache_prompt,
        "stream": False,
    }
    if workload.ignore_eos:
        body["ignore_eos"] = True
    return body


@dataclass
class WorkloadResult:
    """Each request in order (see ``run_workload``), and the workload's wall time."""

    requests: list[dict]
    wall_s: float


def run_workload(
    base_url: str,
    workload: Workload,
    *,
    cancel: threading.Event | None = None,
    on_request: Callable[[int], None] | None = None,
    tick: Callable[[], None] | None = None,
    aborter: RequestAborter | None = None,
) -> WorkloadResult:
    """Send ``workload.requests`` POST /completion from ``workload.concurrency`` clients.

    Each request in the result: ``index``, ``client``, ``status`` (HTTP), ``start_s`` (from
    the workload's start), ``elapsed_s``, ``timings`` (exactly as returned),
    ``tokens_predicted``, ``tokens_evaluated``, ``stop_type``. ``on_request(done)`` is
    called after each answer, ``tick()`` about every 0.1 s.

    The first failed request (an HTTP error, a response without ``timings``, a lost
    connection) stops the workload: CaptureFailed says which request and why. A set
    ``cancel`` shuts the requests in flight and raises CaptureCancelled. Every session is
    closed when this returns.
    """
    check_loopback(base_url)
    workload.validate()
    aborter = aborter or RequestAborter()
    with aborter.session() as session:
        prompt = resolve_prompt(session, base_url, workload)
    body = request_body(workload, prompt)
    total = workload.requests
    results: list[dict | None] = [None] * total
    counter = itertools.count()
    lock = threading.Lock()
    failures: list[tuple[int, str]] = []
    done = 0
    stop = threading.Event()
    t0 = time.perf_counter()

    def client(client_id: int) -> None:
        nonlocal done
        with aborter.session() as session:
            while not stop.is_set():
                with lock:
                    index = next(counter)
                if index >= total:
                    return
                start = time.perf_counter()
                try:
                    r = session.post(
                        base_url + "/completion",
                        json=body,
                        timeout=(5, workload.request_timeout_s),
                    )
                    elapsed = time.perf_counter() - start
                    data = r.json() if r.status_code == 200 else None
                    error = None if data is not None else _error_text(r)
                    if data is not None and not isinstance(data, dict):
                        # Caught here: data.get() would raise in this thread, unseen.
                        error = f"the response is a JSON {_json_kind(data)}, not an object"
                    elif data is not None and not isinstance(data.get("timings"), dict):
                        error = "the response has no timings"
                except (requests.RequestException, ValueError) as exc:
                    error = f"{type(exc).__name__}: {exc}"
                if error is not None:
                    with lock:
                        failures.append((index, error))
                    stop.set()
                    aborter.abort()  # the other clients stop now too
                    return
                with lock:
                    results[index] = {
                        "index": index,
                        "client": client_id,
                        "status": r.status_code,
                        "start_s": round(start - t0, 6),
                        "elapsed_s": round(elapsed, 6),
                        "timings": data["timings"],
                        "tokens_predicted": data.get("tokens_predicted"),
                        "tokens_evaluated": data.get("tokens_evaluated"),
                        "stop_type": data.get("stop_type"),
                    }
                    done += 1
                    count = done
                if on_request is not None:
                    on_request(count)

    threads = [
        threading.Thread(target=client, args=(i,), name=f"llamaprof-client-{i}", daemon=True)
        for i in range(min(workload.concurrency, total))
    ]
    for t in threads:
        t.start()
    while any(t.is_alive() for t in threads):
        if cancel is not None and cancel.is_set() and not stop.is_set():
            stop.set()
            aborter.abort()
        if tick is not None:
            tick()
        for t in threads:
            t.join(timeout=0.1 / len(threads))
    wall_s = time.perf_counter() - t0
    if cancel is not None and cancel.is_set():
        raise CaptureCancelled()
    if failures:
        index, error = min(failures)
        raise CaptureFailed(f"request {index + 1} of {total} failed: {error}")
    return WorkloadResult([r for r in results if r is not None], wall_s)


def fetch_metrics(base_url: str) -> dict[str, float] | None:
    """``GET /metrics`` as {sample name: value}; None when the server runs without --metrics."""
    check_loopback(base_url)
    with requests.Session() as session:
        session.trust_env = False
        try:
            r = session.get(base_url + "/metrics", timeout=(5, 30))
        except requests.RequestException:
            return None
    if r.status_code != 200:
        return None
    return parse_metrics(r.text)


def parse_metrics(text: str) -> dict[str, float]:
    """Prometheus text exposition -> {name (with labels, if any): value}.

    >>> parse_metrics("# HELP x\\nllamacpp:tokens_predicted_total 16\\n")
    {'llamacpp:tokens_predicted_total': 16.0}
    """
    out: dict[str, float] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, _, value = line.rpartition(" ")
        with contextlib.suppress(ValueError):
            out[name.strip()] = float(value)
    return out


def summarize(requests_done: list[dict], wall_s: float) -> dict:
    """Totals over the requests' ``timings``.

    ``prompt_per_second`` and ``predicted_per_second`` are token-weighted (all tokens over
    all the server's processing time); ``generated_per_wall_second`` is generated tokens
    over the workload's wall time, the throughput seen by concurrent clients.

    >>> summarize([{"timings": {"prompt_n": 10, "prompt_ms": 20.0, "predicted_n": 8,
    ...   "predicted_ms": 16.0, "cache_n": 0}}], 0.05)["predicted_per_second"]
    500.0
    """
    timings = [r["timings"] for r in requests_done]

    def total(key: str) -> float:
        return sum(t.get(key) or 0 for t in timings)

    prompt_n, prompt_ms = int(total("prompt_n")), total("prompt_ms")
    predicted_n, predicted_ms = int(total("predicted_n")), total("predicted_ms")
    return {
        "requests": len(requests_done),
        "prompt_tokens": prompt_n,
        "generated_tokens": predicted_n,
        "cached_tokens": int(total("cache_n")),
        "prompt_ms": prompt_ms,
        "predicted_ms": predicted_ms,
        "prompt_per_second": prompt_n / prompt_ms * 1000 if prompt_ms else None,
        "predicted_per_second": predicted_n / predicted_ms * 1000 if predicted_ms else None,
        "wall_s": wall_s,
        "generated_per_wall_second": predicted_n / wall_s if wall_s else None,
    }
