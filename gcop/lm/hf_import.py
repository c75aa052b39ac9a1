"""One lock for importing transformers (and peft, which imports it) from any thread.

transformers 5 resolves ``from transformers import X`` lazily, and two threads doing it at once
can fail with ``ImportError: cannot import name 'X' from 'transformers'`` (in a fresh process
with 8 threads importing two names at once, 3 runs in 5 failed here). gcop loads a local model
on first use, from whichever thread asks first, so every such import in gcop runs under
:data:`HF_IMPORT_LOCK`::

    with HF_IMPORT_LOCK, optional_imports():
        from transformers import AutoTokenizer
"""

from __future__ import annotations

import threading

HF_IMPORT_LOCK = threading.RLock()
