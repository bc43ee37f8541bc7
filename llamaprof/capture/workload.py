"""The HTTP workload: streamed requests to llama-server's ``/completion``, sequential or
concurrent, each timed on the wall clock.

Every request is sent with ``"stream": true``: llama-server answers with server-sent events,
one ``data: {...}`` line (and a blank line) per generated token, then a final event with
``"stop": true`` that carries ``timings``, ``tokens_predicted``, ``tokens_evaluated`` and
``stop_type``; an error before the first token is a plain HTTP error (400 with a JSON
``{"error": {...}}``), an error later a ``data: {"error": {...}}`` event (``error: {...}``
in older builds) that ends the stream. The arrival of the first event that carries a
generated token is the request's first token: with concurrent requests, a request may wait
for a slot before its prompt is processed, so ``start + timings.prompt_ms`` would be wrong.

Each stream is read to its end before a request counts as done, so no request holds
llama-server's exit back once the workload returns. A cancel shuts the sockets of the
requests in flight: llama-server notices the closed connection when it next writes a
token, cancels the task, and can then exit cleanly on one SIGINT. Only loopback addresses
are ever contacted.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import socket
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests
import urllib3
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

    def init_poolmanager(self, *args, **kwargs) -> None:
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
        "stream": True,
    }
    if workload.ignore_eos:
        body["ignore_eos"] = True
    return body


def sse_events(
    chunks: Iterable[bytes], clock: Callable[[], int] = time.time_ns
) -> Iterator[tuple[int, str, str]]:
    """Server-sent events from the chunks of a response body, as they arrive.

    Yields ``(arrival, field, data)``: ``clock()`` when the chunk that completed the event
    arrived, the event's field (``data``, or ``error`` in older llama-server builds) and its
    data (the lines of a multi-line event joined by newlines). Comment lines (``:``) and
    other fields are skipped; an event cut off by the stream's end is still yielded.

    >>> list(sse_events([b'data: {"a": 1}\\n', b'\\n: ping\\n\\ndata: 2'], clock=lambda: 7))
    [(7, 'data', '{"a": 1}'), (7, 'data', '2')]
    """
    buffer = b""
    field: str | None = None
    lines: list[str] = []

    def line_done(raw: bytes) -> bool:
        """Take one line; True when it ends an event."""
        nonlocal field
        line = raw.rstrip(b"\r").decode("utf-8", "replace")
        if not line:
            return bool(lines)
        name, _, value = line.partition(":")
        if name in ("data", "error"):
            field = field or name
            lines.append(value[1:] if value.startswith(" ") else value)
        return False

    now = 0
    for chunk in chunks:
        now = clock()
        buffer += chunk
        *complete, buffer = buffer.split(b"\n")
        for raw in complete:
            if line_done(raw):
                yield now, field or "data", "\n".join(lines)
                field, lines = None, []
    if buffer:
        line_done(buffer)
    if lines:
        yield now, field or "data", "\n".join(lines)


@dataclass
class StreamedAnswer:
    """What one streamed answer held: the final event, the first token's arrival, or why
    it failed."""

    final: dict | None = None
    first_token_ns: int | None = None
    error: str | None = None


def _event_error(field: str, event: object) -> str | None:
    """The message of an error event (``data: {"error": ...}`` or ``error: {...}``)."""
    if isinstance(event, dict) and field == "data":
        if "error" not in event:
            return None
        event = event["error"]
    elif field == "data":
        return None
    message = event.get("message") if isinstance(event, dict) else event
    return f"error in the stream: {message}"


def read_answer(chunks: Iterable[bytes], clock: Callable[[], int] = time.time_ns) -> StreamedAnswer:
    """Read llama-server's streamed answer to its end (see the module docstring).

    ``first_token_ns``: the arrival of the first event carrying generated content (text or
    token ids); when none did (the only token generated was end-of-stream, which is never
    sent), the final event's arrival if it counts a token, else None. ``error``: an error
    event, an event that is not a JSON object, a stream that ends before its final event,
    or a final event without ``timings``.
    """
    answer = StreamedAnswer()
    for arrival, field, data in sse_events(chunks, clock):
        if answer.final is not None or answer.error is not None or data.strip() == "[DONE]":
            continue  # read on to the end: the connection then serves the next request
        try:
            event = json.loads(data)
        except ValueError:
            answer.error = f"a streamed event is not JSON: {data[:80]!r}"
            continue
        answer.error = _event_error(field, event)
        if answer.error is not None:
            continue
        if not isinstance(event, dict):
            answer.error = f"a streamed event is a JSON {_json_kind(event)}, not an object"
        elif event.get("stop") is True:
            answer.final = event
            predicted = event.get("tokens_predicted")
            if answer.first_token_ns is None and isinstance(predicted, int) and predicted > 0:
                answer.first_token_ns = arrival
        elif answer.first_token_ns is None and (event.get("content") or event.get("tokens")):
            answer.first_token_ns = arrival
    if answer.error is None and answer.final is None:
        answer.error = "the stream ended before its final event"
    elif answer.error is None and not isinstance((answer.final or {}).get("timings"), dict):
        answer.error = "the final event has no timings"
    return answer


@dataclass
class WorkloadResult:
    """Each request in order (see ``run_workload``), the workload's wall time, and its
    start and end on the wall clock (``time.time_ns()``)."""

    requests: list[dict]
    wall_s: float
    start_ns: int = 0
    end_ns: int = 0


#: llama-server closes the connection after a streamed answer, though its headers offer
#: keep-alive (seen with the test wheel's build): a request sent on that connection races
#: the close and fails (``RemoteDisconnected``, ``BrokenPipeError``). So each request asks
#: for a connection of its own, and the server's answer says it will close it.
_ONE_ANSWER_PER_CONNECTION = {"Connection": "close"}

#: What a lost or broken connection raises while a request is sent or its stream is read.
_TRANSPORT_ERRORS = (requests.RequestException, urllib3.exceptions.HTTPError, OSError)


def _send(
    session: requests.Session, base_url: str, body: dict, timeout_s: float
) -> tuple[dict | None, str | None]:
    """Send one request and read its whole answer: (the request's fields, None) or
    (None, why it failed)."""
    start_ns = time.time_ns()
    start = time.perf_counter()
    try:
        with session.post(
            base_url + "/completion",
            json=body,
            headers=_ONE_ANSWER_PER_CONNECTION,
            stream=True,
            timeout=(5, timeout_s),
        ) as r:
            if r.status_code != 200:
                return None, _error_text(r)
            kind = r.headers.get("Content-Type", "")
            if not kind.startswith("text/event-stream"):
                return None, f"the answer is not an event stream (Content-Type: {kind or 'none'})"
            answer = read_answer(r.iter_content(chunk_size=None))
            end_ns = time.time_ns()
            elapsed = time.perf_counter() - start
    except (*_TRANSPORT_ERRORS, ValueError) as exc:
        return None, f"{type(exc).__name__}: {exc}"
    if answer.error is not None:
        return None, answer.error
    final = answer.final or {}
    return {
        "status": r.status_code,
        "start_perf": start,
        "elapsed_s": round(elapsed, 6),
        "start_ns": start_ns,
        "first_token_ns": answer.first_token_ns,
        "end_ns": end_ns,
        "timings": final["timings"],
        "tokens_predicted": final.get("tokens_predicted"),
        "tokens_evaluated": final.get("tokens_evaluated"),
        "stop_type": final.get("stop_type"),
    }, None


def run_workload(
    base_url: str,
    workload: Workload,
    *,
    cancel: threading.Event | None = None,
    on_request: Callable[[int], None] | None = None,
    tick: Callable[[], None] | None = None,
    aborter: RequestAborter | None = None,
) -> WorkloadResult:
    """Send ``workload.requests`` streamed POST /completion from ``workload.concurrency``
    clients, one connection per request (``_ONE_ANSWER_PER_CONNECTION``).

    Each request in the result: ``index``, ``client``, ``status`` (HTTP), ``start_s`` (from
    the workload's start), ``elapsed_s`` (until its stream was read to the end), the wall
    clock ``start_ns`` (just before it was sent), ``first_token_ns`` (see ``read_answer``)
    and ``end_ns`` (its stream read to the end), and from the final event ``timings``
    (exactly as returned), ``tokens_predicted``, ``tokens_evaluated``, ``stop_type``.
    ``on_request(done)`` is called after each answer, ``tick()`` about every 0.1 s.

    The first failed request (an HTTP error, an error event, a stream without its final
    event or ``timings``, a lost connection) stops the workload: CaptureFailed says which
    request and why. A set ``cancel`` shuts the requests in flight and raises
    CaptureCancelled. Every session is closed when this returns.
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
    start_ns = time.time_ns()
    t0 = time.perf_counter()

    def client(client_id: int) -> None:
        nonlocal done
        with aborter.session() as session:
            while not stop.is_set():
                with lock:
                    index = next(counter)
                if index >= total:
                    return
                fields, error = _send(session, base_url, body, workload.request_timeout_s)
                if fields is None:
                    with lock:
                        failures.append((index, error or "no answer"))
                    stop.set()
                    aborter.abort()  # the other clients stop now too
                    return
                start = fields.pop("start_perf")
                with lock:
                    results[index] = {
                        "index": index,
                        "client": client_id,
                        "status": fields.pop("status"),
                        "start_s": round(start - t0, 6),
                        **fields,
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
    end_ns = time.time_ns()
    if cancel is not None and cancel.is_set():
        raise CaptureCancelled()
    if failures:
        index, error = min(failures)
        raise CaptureFailed(f"request {index + 1} of {total} failed: {error}")
    return WorkloadResult([r for r in results if r is not None], wall_s, start_ns, end_ns)


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
