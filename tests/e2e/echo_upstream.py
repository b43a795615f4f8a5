"""A tiny upstream for gateway tests: answers every request with what it received, as JSON.

Run as ``python echo_upstream.py PORT``; it serves on 127.0.0.1 until terminated.
"""

from __future__ import annotations

import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Echo(BaseHTTPRequestHandler):
    def _echo(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        payload = {
            "method": self.command,
            "path": self.path,
            "headers": {name.lower(): value for name, value in self.headers.items()},
            "body": body.decode(errors="replace"),
        }
        raw = json.dumps(payload).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    do_GET = do_POST = do_PUT = do_DELETE = _echo  # noqa: N815  the names http.server calls

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002  the base's name
        """Quiet: the test reads answers, not access lines."""


def main() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Echo)
    server.serve_forever()


if __name__ == "__main__":
    main()
