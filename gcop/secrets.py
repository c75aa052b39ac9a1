"""Credentials never shown: :func:`redact` cuts them out of any text gcop prints or records.

A server may echo a request's ``Authorization`` header, or a library its API key, in an error
message; such messages reach the terminal, the cost ledger and ``results.json``.
"""

from __future__ import annotations

import os
import re

MASK = "***"
_SHAPES = re.compile(  # what a credential looks like wherever it appears
    r"(?i)\b(?:bearer|basic)\s+[\w.~+/=-]{6,}"  # an Authorization header's value
    r"|\bsk-[\w-]{12,}|\b(?:hf_|gsk_|xai-)[A-Za-z0-9]{20,}"  # OpenAI, Anthropic, HF, Groq, xAI
    r"|\b(?:api[-_]?key|token|password|secret)[\"']?\s*[:=]\s*[\"']?[^\s\"',}]{6,}"  # key=value
)
_SECRET_VARIABLE = re.compile(r"(?i)(^|_)(API_?KEY|TOKEN|SECRET|PASSWORD|PASS)$")


def redact(text: str, *secrets: str | None) -> str:
    """``text`` with credentials replaced by ``***``: the ``secrets`` given, the values of
    environment variables named like credentials (``OPENAI_API_KEY``, ``HF_TOKEN``), and anything
    shaped like one (``Bearer ...``, ``sk-...``, ``api_key=...``).

    >>> redact("401: header was 'Bearer sk-abc123def456ghi'")
    "401: header was '***'"
    >>> redact("token expired for mypassword1", "mypassword1")
    'token expired for ***'
    """
    values = [*secrets, *(v for k, v in os.environ.items() if _SECRET_VARIABLE.search(k))]
    for value in sorted({v for v in values if v and len(v) >= 6}, key=len, reverse=True):
        text = text.replace(value, MASK)
    return _SHAPES.sub(MASK, text)
