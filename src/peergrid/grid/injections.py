"""Nodal injections of many slots, by bus, and the files they are read from.

Sign convention (load convention): ``p_kw`` and ``q_kvar`` are the active (kW) and reactive
(kvar) power *drawn* at a bus in a slot — the sum over the prosumers connected there, as the
slot's mean. Export (e.g. PV surplus) is negative. Buses are pandapower bus indices of the
feeder (``Feeder.buses``); a bus that is not listed draws nothing.

JSON file (``*.json``)::

    {
      "buses":  [3, 17, 42],                       # distinct bus indices
      "p_kw":   [[1.5, -2.0, 0.3], [0.9, -3.1, 0.0]],   # one row per slot, one value per bus
      "q_kvar": [[0.2, 0.0, 0.1], [0.1, 0.0, 0.0]],     # optional: zeros if absent
      "slots":  [0, 1]                              # optional slot labels: 0, 1, … if absent
    }

CSV file (``*.csv``): a header, then one row per slot. The first column is ``slot`` (an integer
label); each other column is ``p_kw:<bus>`` or ``q_kvar:<bus>``. Every bus has a ``p_kw``
column; a bus without a ``q_kvar`` column draws no reactive power::

    slot,p_kw:3,p_kw:17,q_kvar:3
    0,1.5,-2.0,0.2
    1,0.9,-3.1,0.1

Both are read through the one input loader (:mod:`peergrid.core.inputs`: UTF-8, at most 64 MiB;
for JSON also nesting, duplicate keys and numbers beyond the float range). Errors
(:class:`~peergrid.core.errors.GridError`) name the file and what is wrong: a bus the feeder does
not have, a missing, non-numeric or out-of-range value (by slot and bus), rows of the wrong
length, duplicate buses or slots, a file without slots or buses.

Bounds: every value finite, ``|p_kw|`` and ``|q_kvar|`` at most :data:`MAX_INJECTION_KW`;
slots labelled by integers from 0 to :data:`MAX_SLOT_LABEL`.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from peergrid.core.errors import GridError
from peergrid.core.inputs import STDIN, decode_utf8, parse_json, read_bytes, source_name
from peergrid.grid.feeders import Feeder

FloatArray = npt.NDArray[np.float64]

MAX_INJECTION_KW = 1_000_000.0
"""Largest active (kW) or reactive (kvar) power at one bus in one slot: 1 GW, beyond any
distribution feeder (a power flow of more would say nothing)."""

MAX_SLOT_LABEL = 2**32 - 2
"""Largest slot label (the ledger's largest slot)."""


@dataclass(frozen=True)
class Injections:
    """Injections of ``len(slots)`` slots at ``buses``: arrays of shape (slots, buses)."""

    buses: tuple[int, ...]
    p_kw: FloatArray
    q_kvar: FloatArray
    slots: tuple[int, ...]

    def __post_init__(self) -> None:
        shape = (len(self.slots), len(self.buses))
        for name in ("p_kw", "q_kvar"):
            values = getattr(self, name)
            if not isinstance(values, np.ndarray) or values.shape != shape:
                got = getattr(values, "shape", type(values).__name__)
                raise GridError(f"{name} must have shape (slots, buses) = {shape}, got {got}")
            bad = np.argwhere(~np.isfinite(values) | (np.abs(values) > MAX_INJECTION_KW))
            if len(bad):
                row, col = (int(x) for x in bad[0])
                raise GridError(
                    f"slot {self.slots[row]}, bus {self.buses[col]}: {name} is "
                    f"{values[row, col]} (a finite number from -{MAX_INJECTION_KW:.0f} to "
                    f"{MAX_INJECTION_KW:.0f} is required)"
                )
        for what, labels in (("bus", self.buses), ("slot", self.slots)):
            seen: set[int] = set()
            for label in labels:
                if label in seen:
                    raise GridError(f"{what} {label} appears more than once")
                seen.add(label)

    @classmethod
    def from_arrays(
        cls,
        buses: Sequence[int],
        p_kw: npt.ArrayLike,
        q_kvar: npt.ArrayLike | None = None,
        slots: Sequence[int] | None = None,
    ) -> Injections:
        """Injections from arrays of shape (slots, buses); ``q_kvar`` defaults to zeros."""
        p = np.array(p_kw, dtype=float)
        if p.ndim != 2:
            raise GridError(f"p_kw must be a 2-D array (slots, buses), got shape {p.shape}")
        q = np.zeros_like(p) if q_kvar is None else np.array(q_kvar, dtype=float)
        labels = tuple(range(p.shape[0])) if slots is None else tuple(int(s) for s in slots)
        return cls(tuple(int(b) for b in buses), p, q, labels)

    @property
    def n_slots(self) -> int:
        return len(self.slots)

    def check_buses(self, feeder: Feeder) -> None:
        """Raise :class:`GridError` naming the first bus ``feeder`` does not have."""
        known = set(feeder.buses)
        for bus in self.buses:
            if bus not in known:
                raise GridError(f"bus {bus} is not a bus of feeder {feeder.name!r}")

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "buses": list(self.buses),
            "p_kw": self.p_kw.tolist(),
            "q_kvar": self.q_kvar.tolist(),
            "slots": list(self.slots),
        }


def read_injections(path: str | Path, feeder: Feeder | None = None) -> Injections:
    """Read a JSON or CSV injection file (format in the module docstring); ``-`` reads standard
    input, JSON if it starts with ``{``, else CSV.

    With ``feeder``, also checks that every bus is one of the feeder's buses. Every error names
    the file.
    """
    source = source_name(path)
    suffix = "" if str(path) == STDIN else Path(path).suffix.lower()
    try:
        if suffix not in (".json", ".csv", ""):
            raise GridError(f"unknown injection file type {suffix!r} (use .json or .csv)")
        if suffix == "" and str(path) != STDIN:
            raise GridError("unknown injection file type (name it .json or .csv)")
        data = read_bytes(path, what="injection file", error=GridError)
        text = decode_utf8(data, source, error=GridError)
        if suffix == ".json" or (suffix == "" and text.lstrip().startswith("{")):
            injections = _from_json(parse_json(text, source, error=GridError))
        else:
            injections = _from_csv(text)
        if feeder is not None:
            injections.check_buses(feeder)
    except GridError as exc:
        message = str(exc)
        if message.startswith(f"{source}: "):
            raise
        raise GridError(f"{source}: {message}") from None
    return injections


def write_injections(path: str | Path, injections: Injections) -> None:
    """Write ``injections`` as JSON or CSV (by the file's suffix), readable by
    :func:`read_injections`."""
    path = Path(path)
    if path.suffix.lower() == ".json":
        path.write_text(json.dumps(injections.to_json_dict()))
    elif path.suffix.lower() == ".csv":
        with path.open("w", newline="") as handle:
            writer = csv.writer(handle)
            header = ["slot"]
            header += [f"p_kw:{b}" for b in injections.buses]
            header += [f"q_kvar:{b}" for b in injections.buses]
            writer.writerow(header)
            for i, slot in enumerate(injections.slots):
                row = [str(slot)]
                row += [repr(float(x)) for x in injections.p_kw[i]]
                row += [repr(float(x)) for x in injections.q_kvar[i]]
                writer.writerow(row)
    else:
        raise GridError(f"unknown injection file type {path.suffix!r} (use .json or .csv)")


def _from_json(data: Any) -> Injections:
    if not isinstance(data, dict):
        raise GridError("expected a JSON object with 'buses' and 'p_kw'")
    unknown = sorted(set(data) - {"buses", "p_kw", "q_kvar", "slots"})
    if unknown:
        raise GridError(f"unknown field {unknown[0]!r} (fields: buses, p_kw, q_kvar, slots)")
    for key in ("buses", "p_kw"):
        if key not in data:
            raise GridError(f"missing field {key!r}")
    buses = _int_list(data["buses"], "buses")
    p_rows = data["p_kw"]
    if not isinstance(p_rows, list):
        raise GridError("'p_kw' must be a list of rows, one per slot")
    slots = _int_list(data["slots"], "slots") if "slots" in data else list(range(len(p_rows)))
    if len(slots) != len(p_rows):
        raise GridError(f"{len(slots)} slots but {len(p_rows)} rows of 'p_kw'")
    _check_labels(buses, slots)
    p = _matrix(p_rows, "p_kw", buses, slots)
    q = _matrix(data["q_kvar"], "q_kvar", buses, slots) if "q_kvar" in data else np.zeros_like(p)
    return Injections(tuple(buses), p, q, tuple(slots))


def _check_labels(buses: Sequence[int], slots: Sequence[int]) -> None:
    if not slots:
        raise GridError("no slots: the file must hold at least one slot of injections")
    if not buses:
        raise GridError("no buses: the file must name at least one bus")
    for slot in slots:
        if not 0 <= slot <= MAX_SLOT_LABEL:
            raise GridError(f"slot {slot} must be an integer from 0 to {MAX_SLOT_LABEL}")


def _int_list(values: Any, name: str) -> list[int]:
    if not isinstance(values, list):
        raise GridError(f"'{name}' must be a list of integers")
    result = []
    for value in values:
        if isinstance(value, bool) or not isinstance(value, int):
            raise GridError(f"'{name}' must hold integers, got {value!r}")
        result.append(value)
    return result


def _matrix(rows: Any, name: str, buses: list[int], slots: list[int]) -> FloatArray:
    if not isinstance(rows, list) or len(rows) != len(slots):
        count = len(rows) if isinstance(rows, list) else type(rows).__name__
        raise GridError(f"'{name}' must be a list of {len(slots)} rows (one per slot), got {count}")
    out = np.empty((len(slots), len(buses)))
    for i, row in enumerate(rows):
        if not isinstance(row, list) or len(row) != len(buses):
            got = len(row) if isinstance(row, list) else type(row).__name__
            raise GridError(
                f"slot {slots[i]}: '{name}' row must have {len(buses)} values (one per bus), "
                f"got {got}"
            )
        for j, value in enumerate(row):
            out[i, j] = _number(value, name, slots[i], buses[j])
    return out


def _number(value: Any, name: str, slot: int, bus: int) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        shown = json.dumps(value)
        shown = shown if len(shown) <= 40 else shown[:36] + "…"
        raise GridError(f"slot {slot}, bus {bus}: {name} is {shown}, not a number")
    return _finite(float(value), name, slot, bus)


def _finite(value: float, name: str, slot: int, bus: int) -> float:
    if not math.isfinite(value) or abs(value) > MAX_INJECTION_KW:
        raise GridError(
            f"slot {slot}, bus {bus}: {name} is {value} (a finite number from "
            f"-{MAX_INJECTION_KW:.0f} to {MAX_INJECTION_KW:.0f} is required)"
        )
    return value


def _from_csv(text: str) -> Injections:
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        rows = [row for row in reader if row and any(cell.strip() for cell in row)]
    except csv.Error as exc:
        raise GridError(f"line {reader.line_num}: not valid CSV: {exc}") from None
    if not rows:
        raise GridError("empty file (expected a header: slot,p_kw:<bus>,…)")
    header = [cell.strip() for cell in rows[0]]
    if header[0] != "slot":
        raise GridError(f"the first column must be 'slot', got {header[0]!r}")
    columns: dict[tuple[str, int], int] = {}
    for index, name in enumerate(header[1:], start=1):
        kind, sep, bus_text = name.partition(":")
        if not sep or kind not in ("p_kw", "q_kvar"):
            raise GridError(f"column {name!r}: expected p_kw:<bus> or q_kvar:<bus>")
        try:
            bus = int(bus_text)
        except ValueError:
            raise GridError(f"column {name!r}: bus {bus_text!r} is not an integer") from None
        if (kind, bus) in columns:
            raise GridError(f"column {name!r} appears more than once")
        columns[(kind, bus)] = index
    buses = [bus for kind, bus in columns if kind == "p_kw"]
    if not buses:
        raise GridError("no p_kw:<bus> column")
    for kind, bus in columns:
        if kind == "q_kvar" and ("p_kw", bus) not in columns:
            raise GridError(f"column q_kvar:{bus} has no matching p_kw:{bus} column")
    body = rows[1:]
    slots: list[int] = []
    p = np.zeros((len(body), len(buses)))
    q = np.zeros((len(body), len(buses)))
    for i, row in enumerate(body):
        line = i + 2
        if len(row) != len(header):
            raise GridError(f"line {line}: {len(row)} values, the header has {len(header)}")
        slot_text = row[0].strip()
        if not slot_text.isdigit() or len(slot_text) > 12:
            raise GridError(f"line {line}: slot {row[0]!r} is not an integer from 0")
        slot = int(slot_text)
        slots.append(slot)
        for j, bus in enumerate(buses):
            p[i, j] = _cell(row[columns[("p_kw", bus)]], "p_kw", slot, bus)
            if ("q_kvar", bus) in columns:
                q[i, j] = _cell(row[columns[("q_kvar", bus)]], "q_kvar", slot, bus)
    _check_labels(buses, slots)
    return Injections(tuple(buses), p, q, tuple(slots))


def _cell(text: str, name: str, slot: int, bus: int) -> float:
    text = text.strip()
    if not text:
        raise GridError(f"slot {slot}, bus {bus}: {name} is missing")
    try:
        value = float(text)
    except ValueError:
        raise GridError(f"slot {slot}, bus {bus}: {name} is {text!r}, not a number") from None
    return _finite(value, name, slot, bus)
