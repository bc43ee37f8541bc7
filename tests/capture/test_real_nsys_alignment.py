"""The record's wall-clock request times line up with llama-server's activity on the nsys
timeline: a capture of the real llama-server under the real nsys (2022.4 here, no GPU).

A request's wall-clock start maps to the timeline as ``start_ns - utcEpochNs``
(``TARGET_INFO_SESSION_START_TIME``). The server reads each request with a ``recv`` (OS
runtime trace, ``OSRT_API``) on the worker thread that then sends the answer: that read
must come after the request's start, and before the client saw its first token.
"""

from __future__ import annotations

import sqlite3

import pytest

from llamaprof.capture.config import Workload
from llamaprof.capture.runner import run_capture
from llamaprof.record import read_record

pytestmark = pytest.mark.server

# The server process's socket calls: [start, end] on the timeline (ns), name, thread id.
# globalTid is the process's globalPid plus the thread id in its low 24 bits.
SOCKET_CALLS = """
SELECT o.start, o.end, s.value, o.globalTid % 16777216
FROM OSRT_API AS o JOIN StringIds AS s ON s.id = o.nameId
WHERE o.globalTid - o.globalTid % 16777216 = (SELECT globalPid FROM PROCESSES WHERE pid = ?)
  AND s.value IN ('accept', 'accept4', 'recv', 'recvfrom', 'read', 'send', 'sendto', 'write')
ORDER BY o.start
"""

READS = {"recv", "recvfrom", "read"}
SENDS = {"send", "sendto", "write"}


def test_request_times_line_up_with_the_servers_reads(make_config, reports):
    # the real nsys with llamaprof's default options (no sampling, no context switches)
    cfg = make_config(
        name="aligned",
        workload=Workload(requests=3, n_predict=8, prompt="Hello there"),
        report_timeout_s=120,
    )
    (record,) = run_capture(cfg)
    assert read_record(reports / "aligned.nsys-rep").timed
    db = sqlite3.connect(reports / "aligned.sqlite")
    try:
        (epoch,) = db.execute("SELECT utcEpochNs FROM TARGET_INFO_SESSION_START_TIME").fetchone()
        calls = db.execute(SOCKET_CALLS, (record["server"]["pid"],)).fetchall()
    finally:
        db.close()
    clock = {k: v - epoch for k, v in record["clock"].items()}
    # The capture started before nsys's session; the server answered /health within it.
    assert clock["capture_start_ns"] < 0 < clock["server_ready_ns"]
    # llama-server closes the connection after a streamed answer: each request came on a
    # connection of its own, accepted during the workload.
    accepted = [c for c in calls if c[2].startswith("accept")]
    during = [c for c in accepted if clock["workload_start_ns"] <= c[1] <= clock["workload_end_ns"]]
    assert len(during) == 3

    offsets = []
    for r in record["requests"]:
        start, first_token = r["start_ns"] - epoch, r["first_token_ns"] - epoch
        # The server's first bytes of the answer, and the thread that sent them.
        answer = next(c for c in calls if c[2] in SENDS and c[0] >= start)
        thread = answer[3]
        reads = [
            c for c in calls if c[2] in READS and c[3] == thread and start <= c[1] <= answer[0]
        ]
        assert reads, f"no read of request {r['index']} on thread {thread}"
        read_end = reads[-1][1]
        assert start <= read_end < answer[1] <= first_token
        offsets.append(read_end - start)
    print(f"request read after its start by: {[f'{o / 1e6:.3f} ms' for o in offsets]}")
    print(f"largest offset: {max(offsets) / 1e6:.3f} ms")
    assert max(offsets) < 50e6  # a few ms on an idle machine; the bound allows a loaded one
