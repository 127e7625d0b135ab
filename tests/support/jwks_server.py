"""A tiny real HTTP server on 127.0.0.1 that serves a JWKS document (stdlib http.server in a thread).

The document, the HTTP status and the request count are plain attributes, so a test can rotate keys,
make the provider fail, or stop it altogether, and see exactly how often the key source fetched.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class JwksServer:
    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        self.status = 200
        self.hits = 0
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with server._lock:
                    server.hits += 1
                    status, document = server.status, server.document
                body = json.dumps(document).encode() if status == 200 else b'{"error": "unavailable"}'
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="jwks-server", daemon=True)
        self._running = False

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/.well-known/jwks.json"

    def start(self) -> JwksServer:
        self._thread.start()
        self._running = True
        return self

    def stop(self) -> None:
        """Stop serving and close the socket: later connections are refused."""
        if self._running:
            self._httpd.shutdown()
            self._running = False
        self._httpd.server_close()
        self._thread.join(timeout=5)
