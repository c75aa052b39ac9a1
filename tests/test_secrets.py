"""Credentials never shown (issue 31): a server that echoes the Authorization header does not
get the API key printed, with or without ``-v``."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from gcop.cli import main

KEY = "sk-test-0123456789abcdefSECRET"


class EchoingServer:
    """Answers every request 401, quoting the request's Authorization header back."""

    def __init__(self, status: int) -> None:
        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                self.rfile.read(int(self.headers.get("content-length", 0)))
                said = self.headers.get("authorization")
                body = json.dumps({"error": {"message": f"bad credentials: {said}"}}).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.http.daemon_threads = True
        threading.Thread(target=self.http.serve_forever, daemon=True).start()
        self.api_base = f"http://127.0.0.1:{self.http.server_address[1]}/v1"

    def close(self) -> None:
        self.http.shutdown()
        self.http.server_close()


@pytest.mark.parametrize("status, verbose", [(401, False), (401, True), (500, False)])
def test_an_echoed_key_is_not_printed(tmp_path, monkeypatch, capsys, status, verbose):
    from gcop.lm import retries

    monkeypatch.setattr(retries, "BACKOFF_BASE_S", 0.001)
    server = EchoingServer(status)
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.setenv("OPENAI_API_BASE", server.api_base)
    try:
        args = ["evaluate", "--core", "openai/m", "--n", "1", "--out", str(tmp_path / "e")]
        assert main(["-v", *args] if verbose else args) == 2
    finally:
        server.close()
    out, err = capsys.readouterr()
    assert "bad credentials" in err and "***" in err  # the server's words, without the key
    assert KEY not in out + err and KEY[3:20] not in out + err
    written = [p.read_text(errors="replace") for p in tmp_path.rglob("*") if p.is_file()]
    assert not any(KEY in text for text in written)


def test_redact_cuts_credentials_out_of_any_text(monkeypatch):
    from gcop.secrets import redact

    monkeypatch.setenv("MY_SERVICE_TOKEN", "tok-abcdef")
    assert redact("Authorization: Bearer abc.def-123") == "Authorization: ***"
    assert redact("sent tok-abcdef and sk-ant-0123456789abcdef") == "sent *** and ***"
    assert redact("{'api_key': 'plain-secret-1'}") == "{'***'}"
    assert redact("max_tokens=512, token_budget=64") == "max_tokens=512, token_budget=64"
    assert redact("no key here", None) == "no key here"
