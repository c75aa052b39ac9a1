"""Persistence for acceptance sampling: an append-only JSONL log under ``run_dir/acceptance/``.

Every teacher proposal and every finished core trial is appended (and flushed) the moment it
arrives, keyed by the settings fingerprint, the example key, the round and the trial index. A
compile killed midway and rerun with the same arguments reads them back instead of calling the
teacher or the core again. Infrastructure failures are not stored, so a rerun retries them.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

FOLDER = "acceptance"
RECORDS_FILE = "records.jsonl"
SUMMARY_FILE = "summary.json"


def digest(*parts: Any) -> str:
    """A short stable hash of JSON-able parts."""
    text = json.dumps(parts, sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:20]


def rollout_id(*parts: Any) -> int:
    """A deterministic integer rollout id (distinct parts give distinct ids)."""
    return int(digest(*parts)[:15], 16)


class AcceptanceStore:
    """Proposals and trials of earlier runs, and an append-only log of this one's.

    Args:
        run_dir: the compile's run folder; ``None`` keeps nothing (no resume).
        fingerprint: the settings results depend on (core and teacher models, temperatures, the
            privileged flag); results stored under other settings are ignored, not reused.
    """

    def __init__(self, run_dir: str | Path | None, fingerprint: dict[str, Any]) -> None:
        self.fingerprint = digest(fingerprint)
        self.folder = Path(run_dir) / FOLDER if run_dir is not None else None
        self._records: dict[str, dict] = {}
        self._file = None
        if self.folder is not None:
            if self.folder.exists() and not self.folder.is_dir():
                raise ValueError(f"run_dir: {self.folder} is a file; pass a folder as run_dir")
            self.folder.mkdir(parents=True, exist_ok=True)
            self._load(self.folder / RECORDS_FILE)
            self._file = (self.folder / RECORDS_FILE).open("a", encoding="utf-8")
            if self._file.tell() and not _ends_with_newline(self.folder / RECORDS_FILE):
                self._file.write("\n")  # end a line cut short by a kill

    def __enter__(self) -> AcceptanceStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def proposal(self, example_key: str, round_: int, prompt: list[dict]) -> dict | None:
        """A stored teacher reply to exactly this prompt, or ``None``."""
        return self._records.get(self._proposal_key(example_key, round_, prompt))

    def put_proposal(self, example_key: str, round_: int, prompt: list[dict], completion: str):
        key = self._proposal_key(example_key, round_, prompt)
        self._append(key, {"kind": "proposal", "round": round_, "completion": completion})

    def trial(self, example_key: str, round_: int, index: int, strategy: str) -> dict | None:
        """A stored finished trial of this strategy, or ``None``."""
        return self._records.get(self._trial_key(example_key, round_, index, strategy))

    def put_trial(self, example_key: str, round_: int, index: int, strategy: str, record: dict):
        key = self._trial_key(example_key, round_, index, strategy)
        self._append(key, {"kind": "trial", "round": round_, "index": index, **record})

    def write_summary(self, summary: dict) -> None:
        if self.folder is not None:
            (self.folder / SUMMARY_FILE).write_text(json.dumps(summary, indent=2, default=str))

    def __len__(self) -> int:
        return len(self._records)

    def _proposal_key(self, example_key: str, round_: int, prompt: list[dict]) -> str:
        return digest(self.fingerprint, "proposal", example_key, round_, prompt)

    def _trial_key(self, example_key: str, round_: int, index: int, strategy: str) -> str:
        return digest(self.fingerprint, "trial", example_key, round_, index, strategy)

    def _append(self, key: str, record: dict) -> None:
        self._records[key] = record
        if self._file is not None:
            self._file.write(json.dumps({"key": key, **record}, default=str) + "\n")
            self._file.flush()

    def _load(self, path: Path) -> None:
        if not path.exists():
            return
        skipped = 0
        with path.open(encoding="utf-8") as lines:
            for line in lines:
                try:
                    record = json.loads(line)
                    self._records[record.pop("key")] = record
                except (json.JSONDecodeError, KeyError, AttributeError):
                    skipped += 1  # a line cut short when a previous run was killed
        if skipped:
            logger.warning("skipped %d unreadable line(s) in %s", skipped, path)
        if self._records:
            logger.info("resuming acceptance sampling: %d stored record(s)", len(self._records))


def _ends_with_newline(path: Path) -> bool:
    with path.open("rb") as handle:
        handle.seek(-1, 2)
        return handle.read(1) == b"\n"
