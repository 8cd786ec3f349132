"""The result store: one JSON record per finished job plus an index that can always be rebuilt.

Layout of a store folder::

    records/<key[:2]>/<key>.json   one record per job, written to a temporary name and renamed
    index.jsonl                    one line per record write: {"key": ..., "row": {flat columns}}
    .lock                          advisory lock (fcntl) serialising index updates

A record is renamed into place whole, so a crash leaves either no record or a complete one
(stray ``.tmp-*`` files are ignored and cleaned up). The index is only a cache of the records'
flat rows: it is checked against the record files on every read, lines for missing records are
dropped, records missing from it are added, and a lost or unreadable index is rebuilt from the
records. Several sweeps may write to one store at once: records are whole-file renames and index
lines are appended under the lock in one ``write``.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..errors import GanevalError

RECORD_SCHEMA = "ganeval-sweep-record/1"
HEAD = ("key", "status", "error", "data", "metric", "run", "label", "source", "step", "seed", "n_samples",
        "checkpoint_sha256", "features", "device", "ganeval", "attempts", "elapsed_s", "finished_at")


def default_store() -> Path:
    """``$GANEVAL_STORE``, else ``~/.cache/ganeval/results``."""
    env = os.environ.get("GANEVAL_STORE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "ganeval" / "results"


def flat_row(rec: dict[str, Any]) -> dict[str, Any]:
    """A record as one flat row: the HEAD columns plus ``<metric>.<field>`` for scalar fields."""
    ck = rec.get("checkpoint") or {}
    row = {"key": rec.get("key"), "status": rec.get("status"), "error": rec.get("error"), "data": rec.get("data"),
           "metric": rec.get("metric"), "run": ck.get("run"), "label": ck.get("label"), "source": ck.get("path"),
           "step": ck.get("step"), "seed": rec.get("seed"), "n_samples": rec.get("n_samples"),
           "checkpoint_sha256": ck.get("sha256"), "features": (rec.get("features") or {}).get("name"),
           "device": rec.get("device"), "ganeval": rec.get("ganeval"), "attempts": rec.get("attempts"),
           "elapsed_s": rec.get("elapsed_s"), "finished_at": rec.get("finished_at")}
    for k, v in (rec.get("result") or {}).items():
        if v is None or isinstance(v, (int, float, str, bool)):
            row[f"{rec.get('metric')}.{k}"] = v
    return row


class Store:
    """A folder of job records (see the module docstring).

    Args:
        root: the store folder (created on first write).
    """

    def __init__(self, root: str | os.PathLike[str] | None = None):
        self.root = Path(root).expanduser() if root is not None else default_store()
        if self.root.exists() and not self.root.is_dir():
            raise GanevalError(f"{self.root}: the result store must be a folder; choose another --store.")

    # -- paths and locking ----------------------------------------------------------------------
    def _record_path(self, key: str) -> Path:
        return self.root / "records" / key[:2] / f"{key}.json"

    @property
    def index_path(self) -> Path:
        return self.root / "index.jsonl"

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.root.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.root / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                import fcntl

                fcntl.flock(fd, fcntl.LOCK_EX)
            except ImportError:  # pragma: no cover  (Windows: index lines may interleave; reads repair it)
                pass
            yield
        finally:
            os.close(fd)  # closing releases the lock

    # -- records --------------------------------------------------------------------------------
    def get(self, key: str) -> dict[str, Any] | None:
        """The record of ``key``, or None when absent or unreadable (a torn file counts as absent)."""
        try:
            rec = json.loads(self._record_path(key).read_text())
        except (OSError, ValueError):
            return None
        return rec if isinstance(rec, dict) and rec.get("key") == key else None

    def done(self, key: str) -> bool:
        """Whether ``key`` has a successful record (failed jobs run again on the next sweep)."""
        rec = self.get(key)
        return rec is not None and rec.get("status") == "ok"

    def put(self, record: dict[str, Any]) -> Path:
        """Write one record atomically (temporary file + rename), then append its index line.

        Raises:
            GanevalError: the store folder is not writable.
        """
        key = record["key"]
        record = {"schema": RECORD_SCHEMA, **record}
        path = self._record_path(key)
        text = json.dumps(record, indent=1, allow_nan=False)
        tmp = None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
            with os.fdopen(fd, "w") as fh:
                fh.write(text)
            os.replace(tmp, path)
            tmp = None
            line = (json.dumps({"key": key, "row": flat_row(record)}, allow_nan=False) + "\n").encode()
            with self._locked():
                fd2 = os.open(self.index_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
                try:
                    os.write(fd2, line)
                finally:
                    os.close(fd2)
        except OSError as exc:
            raise GanevalError(f"{self.root}: cannot write to the result store ({exc}); choose a writable --store.") from exc
        finally:
            if tmp is not None and os.path.exists(tmp):
                os.unlink(tmp)
        return path

    def keys(self) -> set[str]:
        """Keys of every record file present (temporary files excluded)."""
        base = self.root / "records"
        if not base.is_dir():
            return set()
        return {p.stem for p in base.glob("*/*.json") if not p.name.startswith(".")}

    def records(self) -> Iterator[dict[str, Any]]:
        """Every readable record (reads each file: slow for big stores; :meth:`rows` uses the index)."""
        for key in sorted(self.keys()):
            rec = self.get(key)
            if rec is not None:
                yield rec

    # -- index ----------------------------------------------------------------------------------
    def _read_index(self) -> dict[str, dict[str, Any]] | None:
        try:
            lines = self.index_path.read_text().splitlines()
        except FileNotFoundError:
            return None
        out: dict[str, dict[str, Any]] = {}
        for line in lines:
            try:
                d = json.loads(line)
                out[d["key"]] = d["row"]
            except (ValueError, KeyError, TypeError):
                return None  # torn or corrupt: rebuild from the records
        return out

    def rebuild_index(self) -> int:
        """Rewrite the index from the record files (atomically); removes stale temporary files.

        Returns:
            The number of records indexed.
        """
        with self._locked():
            rows = [flat_row(r) for r in self.records()]
            fd, tmp = tempfile.mkstemp(dir=self.root, prefix=".tmp-index-")
            with os.fdopen(fd, "w") as fh:
                fh.writelines(json.dumps({"key": r["key"], "row": r}, allow_nan=False) + "\n" for r in rows)
            os.replace(tmp, self.index_path)
            cutoff = time.time() - 3600  # another writer's temporary file is younger than this
            for p in (self.root / "records").glob("*/.tmp-*"):
                with contextlib.suppress(OSError):
                    if p.stat().st_mtime < cutoff:
                        p.unlink()
        return len(rows)

    def rows(self) -> list[dict[str, Any]]:
        """One flat row per record, from the index, repaired against the record files."""
        if not self.root.is_dir():
            return []
        present = self.keys()
        index = self._read_index()
        if index is None:
            self.rebuild_index()
            index = self._read_index() or {}
        missing = present - index.keys()
        rows = {k: v for k, v in index.items() if k in present}
        for key in missing:  # written, but the writer died before its index line
            rec = self.get(key)
            if rec is not None:
                rows[key] = flat_row(rec)
        if missing or len(rows) != len(index):
            self.rebuild_index()
        return [rows[k] for k in sorted(rows)]


def load_results(store: str | os.PathLike[str] | Store | None = None) -> Any:
    """Every record of a result store as a pandas DataFrame (no checkpoint is read).

    Args:
        store: the store folder (default :func:`default_store`).

    Returns:
        pandas.DataFrame, one row per job: ``key, status, error, data, metric, run, label, source,
        step, seed, n_samples, checkpoint_sha256, features, device, ganeval, attempts, elapsed_s,
        finished_at`` and ``<metric>.<field>`` for every scalar result field.
    """
    import pandas as pd

    st = store if isinstance(store, Store) else Store(store)
    rows = st.rows()
    return pd.DataFrame(rows, columns=None if rows else list(HEAD))


def export_results(store: str | os.PathLike[str] | Store | None, path: str | os.PathLike[str]) -> Path:
    """Write :func:`load_results` to ``path``: ``.csv`` or ``.parquet`` (pyarrow), atomically.

    Raises:
        GanevalError: another suffix, or pyarrow missing for Parquet.
    """
    out = Path(path)
    df = load_results(store)
    suffix = out.suffix.lower()
    if suffix not in (".csv", ".parquet"):
        raise GanevalError(f"{out}: export to a .csv or .parquet file.")
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.tmp-")
    os.close(fd)
    try:
        if suffix == ".csv":
            df.to_csv(tmp, index=False)
        else:
            try:
                import pyarrow  # noqa: F401
            except ImportError as exc:
                raise GanevalError("Parquet export needs pyarrow: pip install pyarrow (or export to .csv).") from exc
            df.to_parquet(tmp, index=False, engine="pyarrow")
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return out
