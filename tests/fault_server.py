"""An OpenAI-compatible chat server on 127.0.0.1 that injects scripted faults, for tests.

Each request is numbered in arrival order (from 1); ``faults`` maps a number to what that request
gets instead of a normal reply:

- an HTTP status (``429``, ``500``, ``401``, ...) with an error body, and a ``Retry-After`` header
  on 429/5xx when ``retry_after`` is set;
- ``"slow"``: the normal reply after ``slow_s`` seconds;
- ``"garbage"``: HTTP 200 with a body that is not JSON;
- ``"hang"``: no reply at all until the server closes.

The server is bounded: request ``max_requests + 1`` and later get HTTP 400 (which nothing retries,
so a runaway loop fails at once), and it closes itself after ``lifetime_s`` seconds, ending any
hung request.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

Fault = int | str
Reply = Callable[[list[dict]], str]
GARBAGE = b'{"choices": [ this is not json'


def repeat(script: Sequence[Fault | None], times: int) -> dict[int, Fault]:
    """``faults`` for a script replayed ``times`` times (``None`` or ``"ok"``: no fault).

    >>> repeat(["ok", 429, "hang"], 2)
    {2: 429, 3: 'hang', 5: 429, 6: 'hang'}
    """
    return {
        number: fault
        for number, fault in enumerate(list(script) * times, start=1)
        if fault not in (None, "ok")
    }


class FaultServer:
    """A chat-completions server answering ``reply(messages)``, with the faults of ``faults``.

    ``requests`` counts every request received, ``served`` the normal replies sent and
    ``injected`` lists the faults in the order they were given.
    """

    def __init__(
        self,
        reply: Reply,
        faults: dict[int, Fault] | None = None,
        *,
        slow_s: float = 0.1,
        retry_after: float | None = None,
        max_requests: int = 1000,
        lifetime_s: float = 60.0,
    ) -> None:
        self.reply, self.faults = reply, dict(faults or {})
        self.slow_s, self.retry_after, self.max_requests = slow_s, retry_after, max_requests
        self.requests = self.served = 0
        self.injected: list[Fault] = []
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        self._timer = threading.Timer(lifetime_s, self.close)
        self._timer.daemon = True
        self._timer.start()

    @property
    def api_base(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def fault_for(self, number: int, messages: list[dict]) -> Fault | None:
        """What request ``number`` gets instead of a normal reply (``None``: a normal reply)."""
        return self.faults.get(number)

    def close(self) -> None:
        with self._lock:
            if self._closed.is_set():
                return
            self._closed.set()
        self._timer.cancel()
        self.server.shutdown()
        self.server.server_close()

    def _next_fault(self, messages: list[dict]) -> Fault | None:
        with self._lock:
            self.requests += 1
            if self.requests > self.max_requests:
                fault: Fault | None = 400
            else:
                fault = self.fault_for(self.requests, messages)
            if fault is not None:
                self.injected.append(fault)
        return fault

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))))
                fault = fake._next_fault(body["messages"])
                if fault == "hang":
                    fake._closed.wait()
                    return
                if isinstance(fault, int):
                    return self._send(fault, json.dumps({"error": {"message": f"{fault}"}}))
                if fault == "garbage":
                    return self._send(200, GARBAGE)
                if fault == "slow":
                    time.sleep(fake.slow_s)
                content = fake.reply(body["messages"])
                with fake._lock:
                    fake.served += 1
                self._send(200, json.dumps(_completion(body["model"], content)))

            def _send(self, status: int, data: str | bytes) -> None:
                data = data.encode() if isinstance(data, str) else data
                try:
                    self.send_response(status)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(data)))
                    if fake.retry_after is not None and (status == 429 or status >= 500):
                        self.send_header("retry-after", str(fake.retry_after))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:
                    pass  # the client gave up (timeout) and closed the connection

        return Handler


def _completion(model: str, content: str) -> dict:
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex[:8]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 12, "completion_tokens": 6, "total_tokens": 18},
    }
