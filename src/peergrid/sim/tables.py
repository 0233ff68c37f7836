"""A run's tables streamed to disk in chunks, never kept in lists that grow with the run.

A year of 15-minute slots is 35 040 slot rows and, with 55 households, hundreds of thousands of
trade rows: as Python dicts that is gigabytes. :class:`TableSpool` keeps at most ``chunk_rows``
rows in memory; each full chunk becomes a frame, built as the whole table used to be
(``pd.DataFrame(rows)``), and is pickled into the run's spool folder. Pickle keeps every pandas
type as it was inferred, which CSV or Parquet chunks would not.

Pandas infers a column's type from the values it sees, so a chunk may infer differently from the
whole table: a column of ints with a None somewhere (the DPDA's ``x`` and ``y``) is float64 over
a run but int64 in a chunk without a None. :func:`_common_dtype` gives each column the type the
whole table would have had, and every chunk read back is cast to it: the files written chunk by
chunk hold what one frame of the whole run wrote, and :meth:`TableSpool.frame` is that frame.
"""

from __future__ import annotations

import shutil
import tempfile
import weakref
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from peergrid.sim.rows import (
    SESSION_COLUMNS,
    SESSION_TRADE_COLUMNS,
    TRADE_COLUMNS,
    VIOLATION_COLUMNS,
)

CHUNK_ROWS = 4096
_NULL = "null"  # a chunk's object column holding only None: it takes the type of the others


class TableSpool:
    """Rows appended one at a time, written to ``folder`` a chunk at a time."""

    def __init__(
        self,
        folder: Path,
        name: str,
        columns: Sequence[str] | None = None,
        chunk_rows: int = CHUNK_ROWS,
    ) -> None:
        self._folder, self._name = folder, name
        self._columns = list(columns) if columns is not None else None
        self._chunk_rows = chunk_rows
        self._rows: list[dict[str, Any]] = []
        self._chunks: list[Path] = []
        self._kinds: list[dict[str, str]] = []  # per chunk: column -> dtype name or _NULL
        self.rows = 0

    def append(self, row: dict[str, Any]) -> None:
        self._rows.append(row)
        self.rows += 1
        if len(self._rows) >= self._chunk_rows:
            self.flush()

    def flush(self) -> None:
        """Write the rows held in memory as one chunk."""
        if not self._rows:
            return
        frame = pd.DataFrame(self._rows, columns=self._columns)
        self._rows = []
        if self._columns is None:
            self._columns = list(frame.columns)
        path = self._folder / f"{self._name}-{len(self._chunks):06d}.pkl"
        frame.to_pickle(path)
        self._chunks.append(path)
        self._kinds.append({c: _kind(frame[c]) for c in frame.columns})

    @property
    def columns(self) -> list[str]:
        return list(self._columns or ())

    def chunks(self, columns: Sequence[str] | None = None) -> Iterator[pd.DataFrame]:
        """The table chunk by chunk (rows still in memory included), each column of the type
        the whole table has."""
        self.flush()
        dtypes = {c: _common_dtype([k[c] for k in self._kinds]) for c in self.columns}
        for path in self._chunks:
            frame: pd.DataFrame = pd.read_pickle(path)  # written by this spool: trusted
            if columns is not None:
                frame = frame[list(columns)]
            for column in frame.columns:
                if str(frame[column].dtype) != dtypes[column]:
                    frame[column] = frame[column].astype(dtypes[column])
            yield frame

    def frame(self, columns: Sequence[str] | None = None) -> pd.DataFrame:
        """The whole table (or some of its columns) in one frame."""
        parts = list(self.chunks(columns))
        if not parts:
            empty = pd.DataFrame([], columns=self._columns)
            return empty if columns is None else empty[list(columns)]
        if len(parts) == 1:
            return parts[0]
        return pd.concat(parts, ignore_index=True)


class RunTables:
    """The slots, trades and grid violations of one run, and its ancillary-service sessions
    and their trades, spooled in a temporary folder that goes when this object does (or at
    exit)."""

    def __init__(self, chunk_rows: int | None = None) -> None:
        chunk_rows = chunk_rows or CHUNK_ROWS
        self.folder = Path(tempfile.mkdtemp(prefix="peergrid-run-"))
        # Not TemporaryDirectory: its implicit clean-up warns, and a run's tables live as long
        # as its result, which nobody closes explicitly.
        self._remove = weakref.finalize(self, shutil.rmtree, self.folder, ignore_errors=True)
        self.slots = TableSpool(self.folder, "slots", chunk_rows=chunk_rows)
        self.trades = TableSpool(self.folder, "trades", TRADE_COLUMNS, chunk_rows)
        self.violations = TableSpool(self.folder, "violations", VIOLATION_COLUMNS, chunk_rows)
        self.sessions = TableSpool(self.folder, "sessions", SESSION_COLUMNS, chunk_rows)
        self.session_trades = TableSpool(
            self.folder, "session_trades", SESSION_TRADE_COLUMNS, chunk_rows
        )

    def flush(self) -> None:
        for spool in (
            self.slots,
            self.trades,
            self.violations,
            self.sessions,
            self.session_trades,
        ):
            spool.flush()

    def remove(self) -> None:
        """Delete the spooled chunks now; the tables cannot be read afterwards."""
        self._remove()


def _kind(column: pd.Series) -> str:
    if column.dtype == object and len(column) and column.isna().all():
        return _NULL
    return str(column.dtype)


def _common_dtype(kinds: list[str]) -> str:
    """The dtype pandas infers for a column over all rows, from the dtypes it inferred for
    each chunk: a None among ints makes floats, a None among bools makes objects."""
    seen = {k for k in kinds if k != _NULL}
    has_null = _NULL in kinds
    if not seen:
        return "object"
    if seen == {"bool"}:
        return "object" if has_null else "bool"
    if seen <= {"int64", "float64"}:
        return "float64" if has_null or "float64" in seen else "int64"
    if len(seen) == 1:
        return seen.pop()
    return "object"
