"""The opt-in log: one SQLite row per model response, and one per dead letter.

Off by default, because editor buffers can hold secrets. ``llm-flows logs on``
creates a marker file next to the database; ``log = true|false`` in the config
file overrides the marker. The database and its folder are private to the user
(modes 0600 and 0700). Writes are small and synchronous (a few milliseconds).
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from contextlib import closing
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .config import Config, data_dir
from .models.base import Response

_SCHEMA = """
CREATE TABLE IF NOT EXISTS responses (
    id INTEGER PRIMARY KEY,
    time TEXT NOT NULL,
    model TEXT NOT NULL,
    resolved_model TEXT,
    flow TEXT,
    prompt TEXT NOT NULL,
    system TEXT,
    input TEXT,
    options TEXT NOT NULL,
    response TEXT NOT NULL,
    finish_reason TEXT,
    error TEXT,
    input_tokens INTEGER,
    output_tokens INTEGER,
    duration REAL
);

CREATE TABLE IF NOT EXISTS dead_letters (
    id INTEGER PRIMARY KEY,
    time TEXT NOT NULL,
    flow_id TEXT NOT NULL,
    flow TEXT NOT NULL,
    model TEXT NOT NULL,
    state TEXT NOT NULL,
    reason TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    late_replies INTEGER NOT NULL,
    owner TEXT,
    uri TEXT
);
"""
_COLUMNS = (
    "id, time, model, resolved_model, flow, prompt, system, input, options, response, "
    "finish_reason, error, input_tokens, output_tokens, duration"
)
_DEAD_COLUMNS = "id, time, flow_id, flow, model, state, reason, attempts, late_replies, owner, uri"


def log_path() -> Path:
    """``$XDG_DATA_HOME/llm-flows/logs.db``."""
    return data_dir() / "logs.db"


def _marker() -> Path:
    return data_dir() / "logs-on"


def logging_enabled(config: Config | None = None) -> bool:
    """Whether responses are logged: the config's ``log`` key, else ``logs on|off``."""
    if config is not None and config.log is not None:
        return config.log
    return _marker().exists()


def set_logging(enabled: bool) -> None:
    """Turn logging on or off (the marker file; the config key still wins)."""
    if enabled:
        data_dir().mkdir(parents=True, exist_ok=True, mode=0o700)
        _marker().touch()
    else:
        _marker().unlink(missing_ok=True)


def _connect(path: Path) -> sqlite3.Connection:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))  # private before SQLite opens it
    os.chmod(path, 0o600)
    connection = sqlite3.connect(path)
    connection.executescript(_SCHEMA)
    return connection


#: a row for the database: its table and its values (all columns but ``id``)
Row = tuple[str, tuple[Any, ...]]
_NAMES = {"responses": _COLUMNS.split(", ", 1)[1], "dead_letters": _DEAD_COLUMNS.split(", ", 1)[1]}


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def response_row(response: Response, flow: str | None = None) -> Row:
    """The log row of a finished ``response``."""
    prompt = response.prompt
    usage = response.usage
    return "responses", (
        _now(),
        response.model.model_id,
        response.resolved_model,
        flow,
        prompt.text,
        prompt.system,
        prompt.input,
        json.dumps(prompt.options.model_dump(exclude_defaults=True)),
        response.output,
        response.finish_reason,
        response.error,
        None if usage is None else usage.input_tokens,
        None if usage is None else usage.output_tokens,
        response.duration,
    )


def dead_letter_row(entry: dict[str, Any]) -> Row:
    """The log row of a dead letter (a row of ``CommandTable.dead_letters()``)."""
    return "dead_letters", (
        _now(),
        entry["id"],
        entry["flow"],
        entry["model"],
        entry["state"],
        entry["reason"],
        entry["attempts"],
        entry["lateReplies"],
        entry.get("owner"),
        entry.get("uri"),
    )


def write_rows(rows: list[Row], path: Path | None = None) -> bool:
    """Append ``rows`` in one transaction; False (never an exception) for a full disk
    or a locked database: logging must not fail a flow."""
    try:
        with closing(_connect(path or log_path())) as db, db:
            for table, values in rows:
                marks = ", ".join("?" * len(values))
                db.execute(f"INSERT INTO {table} ({_NAMES[table]}) VALUES ({marks})", values)
    except (sqlite3.Error, OSError):
        return False
    return True


def _recent(table: str, columns: str, limit: int, path: Path | None) -> list[dict[str, Any]]:
    path = path or log_path()
    if not path.exists():
        return []
    with closing(_connect(path)) as db:
        db.row_factory = sqlite3.Row
        rows = db.execute(f"SELECT {columns} FROM {table} ORDER BY id DESC LIMIT ?", (limit,))
        return [dict(row) for row in rows.fetchall()]


def _count(table: str, path: Path | None) -> int:
    path = path or log_path()
    if not path.exists():
        return 0
    with closing(_connect(path)) as db:
        return int(db.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def log_response(
    response: Response,
    *,
    flow: str | None = None,
    config: Config | None = None,
    path: Path | None = None,
) -> bool:
    """Record a finished ``response`` if logging is on; True when a row was written.

    ``path`` (default :func:`log_path`) is for tests; ``config`` lets the
    config file's ``log`` key decide. Never raises (see :func:`write_rows`).
    """
    return logging_enabled(config) and write_rows([response_row(response, flow)], path)


class LogWriter:
    """Writes rows on a thread of its own, all that are waiting in one transaction.

    For the command table: a burst of responses costs the event loop no waiting
    and the database one commit, not one each. The thread runs while rows wait
    and is not a daemon thread, so rows handed over before exit are written.
    """

    def __init__(self) -> None:
        self._rows: list[Row] = []
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def add(self, row: Row) -> None:
        with self._lock:
            self._rows.append(row)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="llm-flows log")
                self._thread.start()

    def wait(self) -> None:
        """Until every row handed over so far is written."""
        with self._lock:
            thread = self._thread
        if thread is not None:
            thread.join()

    def _run(self) -> None:
        while True:
            with self._lock:
                rows, self._rows = self._rows, []
                if not rows:
                    self._thread = None
                    return
            write_rows(rows)


def recent_responses(limit: int = 10, path: Path | None = None) -> list[dict[str, Any]]:
    """The last ``limit`` responses, newest first (empty when nothing was logged)."""
    return _recent("responses", _COLUMNS, limit, path)


def recent_dead_letters(limit: int = 10, path: Path | None = None) -> list[dict[str, Any]]:
    """The last ``limit`` dead letters, newest first."""
    return _recent("dead_letters", _DEAD_COLUMNS, limit, path)


def count_responses(path: Path | None = None) -> int:
    return _count("responses", path)


def count_dead_letters(path: Path | None = None) -> int:
    return _count("dead_letters", path)
