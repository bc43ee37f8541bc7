"""The streamed workload's client side: server-sent events, the first token, errors.

The real llama-server's format (checked against the test wheel's build, see
llamaprof/capture/workload.py) is sent here by a scripted loopback server, so that
what the real server rarely does (an error mid-stream, a stream cut short, the
``error:`` events of older builds) is tested too. The real server is in test_capture.py.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from llamaprof.capture.config import Workload
from llamaprof.capture.workload import read_answer, run_workload, sse_events
from llamaprof.errors import CaptureFailed

TIMINGS = {"cache_n": 0, "prompt_n": 3, "prompt_ms": 1.5, "predicted_n": 2, "predicted_ms": 4.0}


def event(obj: object, field: str = "data") -> bytes:
    return f"{field}: {json.dumps(obj)}\n\n".encode()


def token(text: str, n: int) -> bytes:
    return event({"index": 0, "content": text, "tokens": [300 + n], "stop": False,
                  "id_slot": -1, "tokens_predicted": n, "tokens_evaluated": 3})  # fmt: skip


def final(predicted: int = 2, timings: dict | None = TIMINGS) -> bytes:
    body = {"index": 0, "content": "", "tokens": [], "id_slot": 0, "stop": True,
            "tokens_predicted": predicted, "tokens_evaluated": 3, "stop_type": "limit"}  # fmt: skip
    if timings is not None:
        body["timings"] = timings
    return event(body)


# --- parsing -----------------------------------------------------------------------------


def test_sse_events_across_chunks():
    """Lines split across chunks, CRLF endings, comments, multi-line data, a last event
    without its blank line; each event timed by the chunk that completed it."""
    ticks = iter(range(1, 100))
    chunks = [b'data: {"a"', b": 1}\r\n", b"\r\n: ping\n\ndata: x\ndata: y\n\nerror: {}", b"\n"]
    assert list(sse_events(chunks, clock=lambda: next(ticks))) == [
        (3, "data", '{"a": 1}'),  # its blank line came with the third chunk
        (3, "data", "x\ny"),
        (4, "error", "{}"),
    ]


def test_read_answer_takes_the_first_token_and_the_final_event():
    """The first event with generated content is the first token (not an empty event
    before it); the final event gives timings and token counts; [DONE] is ignored."""
    ticks = iter(range(10, 100, 10))
    chunks = [
        event({"content": "", "tokens": [], "stop": False}),
        token(" the", 1),
        token(" end", 2),
        final(),
        b"data: [DONE]\n\n",
    ]
    answer = read_answer(chunks, clock=lambda: next(ticks))
    assert (answer.first_token_ns, answer.error) == (20, None)
    assert (answer.final["timings"], answer.final["stop_type"]) == (TIMINGS, "limit")


@pytest.mark.parametrize(
    ("chunks", "first", "error"),
    [
        ([final(predicted=1)], 10, None),  # only end-of-stream generated: never sent
        ([final(predicted=0)], None, None),
        ([token("a", 1)], 10, "the stream ended before its final event"),
        ([token("a", 1), final(timings=None)], 10, "the final event has no timings"),
        ([token("a", 1), event({"error": {"code": 500, "message": "boom"}})], 10,
         "error in the stream: boom"),
        ([event({"code": 500, "message": "old"}, field="error")], None, "error in the stream: old"),
        ([b"data: {not json\n\n", final()], None, "a streamed event is not JSON: '{not json'"),
        ([event([1]), final()], None, "a streamed event is a JSON array, not an object"),
    ],
    ids=["eos-only", "nothing", "cut", "no-timings", "error-event", "error-field", "not-json",
         "array"],
)  # fmt: skip
def test_read_answer_edge_cases(chunks, first, error):
    ticks = iter(range(10, 100, 10))
    answer = read_answer(chunks, clock=lambda: next(ticks))
    assert (answer.first_token_ns, answer.error) == (first, error)


# --- through HTTP ------------------------------------------------------------------------


@pytest.fixture
def scripted_server():
    """A loopback server answering POST /completion with a script: a list of bytes (sent
    as HTTP chunks) and numbers (seconds to wait). Records each request's headers and the
    client's port."""
    state: dict = {"script": [], "status": 200, "type": "text/event-stream", "seen": []}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            state["seen"].append((self.client_address[1], self.headers.get("Connection"), body))
            self.send_response(state["status"])
            self.send_header("Content-Type", state["type"])
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            self.wfile.flush()
            for step in state["script"]:
                if isinstance(step, int | float):
                    time.sleep(step)
                    continue
                self.wfile.write(b"%x\r\n%s\r\n" % (len(step), step))
                self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()

        def log_message(self, *args):
            pass

    class Server(ThreadingHTTPServer):
        daemon_threads = True

        def handle_error(self, request, client_address):
            pass  # a client that stops reading after a failure

    server = Server(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state["url"] = f"http://127.0.0.1:{server.server_address[1]}"
    yield state
    server.shutdown()
    server.server_close()
    thread.join()


def test_first_token_is_when_the_token_arrived(scripted_server):
    """Headers at once, an empty event, then the first token after 0.3 s and the final
    event 0.3 s later: first_token_ns is the token's arrival, end_ns the stream's end.
    Each request has a connection of its own (llama-server closes it after a stream)."""
    scripted_server["script"] = [
        0.1,
        event({"content": "", "tokens": [], "stop": False}),
        0.2,
        token(" a", 1),
        0.3,
        token(" b", 2),
        final(),
    ]
    result = run_workload(scripted_server["url"], Workload(requests=2, prompt="hi", n_predict=2))
    first, second = result.requests
    for r in (first, second):
        assert r["first_token_ns"] - r["start_ns"] >= 0.3e9
        assert r["end_ns"] - r["first_token_ns"] >= 0.3e9
        assert (r["timings"], r["tokens_predicted"], r["tokens_evaluated"], r["stop_type"]) == (
            TIMINGS,
            2,
            3,
            "limit",
        )
    assert result.start_ns <= first["start_ns"] and second["end_ns"] <= result.end_ns
    assert first["end_ns"] <= second["start_ns"]
    (port1, conn1, body1), (port2, conn2, _) = scripted_server["seen"]
    assert (conn1, conn2) == ("close", "close") and port1 != port2
    assert body1["stream"] is True


@pytest.mark.parametrize(
    ("script", "status", "kind", "message"),
    [
        ([token("a", 1), event({"error": {"code": 500, "message": "boom"}})], 200,
         "text/event-stream", "error in the stream: boom"),
        ([token("a", 1), b"error: {\"message\": \"old\"}\n\n"], 200, "text/event-stream",
         "error in the stream: old"),
        ([token("a", 1)], 200, "text/event-stream", "the stream ended before its final event"),
        ([b"{\"content\": \"a\"}"], 200, "application/json",
         "the answer is not an event stream (Content-Type: application/json)"),
        ([b"{\"error\": {\"code\": 503, \"message\": \"Loading model\"}}"], 503,
         "application/json", "HTTP 503: Loading model"),
    ],
    ids=["error-event", "old-error-field", "cut", "not-a-stream", "http-error"],
)  # fmt: skip
def test_a_failed_stream_fails_the_workload(scripted_server, script, status, kind, message):
    scripted_server.update(script=script, status=status, type=kind)
    with pytest.raises(CaptureFailed) as info:
        run_workload(scripted_server["url"], Workload(requests=2, prompt="hi", n_predict=2))
    assert str(info.value) == f"request 1 of 2 failed: {message}"
