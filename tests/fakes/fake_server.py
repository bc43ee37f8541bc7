#!/usr/bin/env python3
"""A STAND-IN for a llama-server that never finishes loading, for the health-timeout test.

It listens where told (``--host H --port N``, other arguments ignored) and answers every
``GET /health`` with 503 ``Loading model``, as llama-server does while it loads a model, and
exits with status 0 on SIGINT or SIGTERM. Every other test uses the real llama-server.
"""

from __future__ import annotations

import signal
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class _Loading(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # the http.server API names it so
        body = b'{"error":{"code":503,"message":"Loading model","type":"unavailable_error"}}'
        self.send_response(503)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


def main(argv: list[str]) -> int:
    host, port = "127.0.0.1", 8080
    for i, token in enumerate(argv[:-1]):
        if token == "--host":
            host = argv[i + 1]
        elif token == "--port":
            port = int(argv[i + 1])
    if "--version" in argv:
        print("version: 0.0.0-stand-in (build 0, commit none)", file=sys.stderr)
        return 0
    server = ThreadingHTTPServer((host, port), _Loading)

    def stop(_signum, _frame):
        raise SystemExit(0)

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    print(f"stand-in server: loading model forever on http://{host}:{port}", flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
