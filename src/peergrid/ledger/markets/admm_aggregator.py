"""A typed client of the ADMM aggregator contract (``AdmmAggregator.vy``; 000_bder.md §1.5).

The contract is the aggregator of a consensus ADMM run: configured with
θ = [n, ρ, φ, ε_p^g, ε_d^g, ε_p^t, ε_d^t, μ] (:class:`Theta`) by its operator, it admits the
``n`` agents with the global rows of their coupling copies and their trading partners, collects
every agent's copies and bids each iteration, computes the z-update, the trade prices and the
four residual sums, and declares convergence, the end of ``μ`` iterations, or a timeout.

**Fixed point** (the contract's integers; the rules are mirrored here, once):

- copies: ``round(x · 10⁶)`` (nearest, ties to even; 10⁻⁶ of the copy's unit: kW, kvar or
  per unit), ``|x| < 2⁴⁷``, four 56-bit two's complement lanes per word;
- bids: ``round(d · 10⁶)`` (10⁻⁶ kW), int32, seven 32-bit lanes per word;
- prices ``ξ``: 10⁻⁹ currency per kW and period, seven 36-bit lanes per word;
- penalties ρ, φ: 10⁻⁹, times ``2^e`` (the balancing exponent, ``|e| ≤ 16``); tolerances 10⁻⁶;
  row weights 10⁻⁶;
- ``z_g = S_g / k_g`` to the nearest integer, ties away from zero (:func:`round_half_away`);
  the price step ``φ·2^e·m / 2`` truncated toward zero (:func:`price_step`), as the EVM's SDIV.

A value that cannot be encoded (not finite, out of its lane's range) is refused here naming the
field; everything else the contract refuses with a named revert
(:class:`~peergrid.core.errors.LedgerError` carries it) and changes nothing.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

import numpy as np

from peergrid.core.errors import LedgerError
from peergrid.ledger.chain.base import Chain, Contract, Receipt
from peergrid.ledger.chain.compile import compile_contract

COPY_SCALE = 10**6
"""Integers per unit of a copy (kW, kvar or per unit)."""
BID_SCALE = 10**6
"""Integers per kW of a bid."""
PRICE_SCALE = 10**9
"""Integers per currency per kW and period of a trade price."""
PENALTY_SCALE = 10**9
TOLERANCE_SCALE = 10**6
WEIGHT_SCALE = 10**6

COPY_LANES, COPY_BITS, COPY_LIMIT = 4, 56, 2**47
BID_LANES, BID_BITS, BID_LIMIT = 7, 32, 2**31
PRICE_BITS, PRICE_LIMIT = 36, 2**35
MAX_EXPONENT = 16
MAX_WORDS = 1024
"""Most words one array of a transaction carries (the contract's bound)."""
WORDS_PER_TX = 400
"""Words the client puts in one transaction: a first write costs about 27 000 gas a word, so
400 stay well under the 2**24 gas of a transaction."""

CONTRACT = "AdmmAggregator"


class Status(IntEnum):
    CONFIGURING = 0
    RUNNING = 1
    CONVERGED = 2
    MAX_ITERATIONS = 3
    TIMED_OUT = 4


def _fixed(value: float, scale: int, field: str, call: str) -> int:
    if not isinstance(value, int | float) or not math.isfinite(value):
        raise LedgerError(call, f"field {field!r} must be a finite number, got {value!r}")
    return round(value * scale)


@dataclass(frozen=True, slots=True)
class Theta:
    """θ of the report (seed L570) and the run's dimensions: ``n_agents`` agents, ``n_rows``
    global rows of ``periods`` values; penalties and tolerances as off chain (floats);
    ``round_seconds`` the deadline of an iteration; residual balancing by ``τ = 2`` with
    ratio ``balance_ratio`` when ``adaptive``."""

    n_agents: int
    n_rows: int
    periods: int
    rho: float
    phi: float
    eps_grid_primal: float
    eps_grid_dual: float
    eps_trade_primal: float
    eps_trade_dual: float
    max_iterations: int
    round_seconds: int = 3600
    adaptive: bool = True
    balance_ratio: float = 10.0

    def encode(self) -> tuple[int | bool, ...]:
        """The constructor's arguments; a field that cannot be encoded is refused by name."""
        call = f"{CONTRACT}.constructor"
        ints = []
        for name, scale in (
            ("rho", PENALTY_SCALE),
            ("phi", PENALTY_SCALE),
            ("eps_grid_primal", TOLERANCE_SCALE),
            ("eps_grid_dual", TOLERANCE_SCALE),
            ("eps_trade_primal", TOLERANCE_SCALE),
            ("eps_trade_dual", TOLERANCE_SCALE),
        ):
            value = _fixed(getattr(self, name), scale, name, call)
            if value <= 0:
                raise LedgerError(
                    call, f"field {name!r} must be positive, got {getattr(self, name)!r}"
                )
            ints.append(value)
        for name in ("n_agents", "n_rows", "periods", "max_iterations", "round_seconds"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise LedgerError(call, f"field {name!r} must be a non-negative int, got {value!r}")
        ratio = _fixed(self.balance_ratio, 1000, "balance_ratio", call)
        return (
            self.n_agents,
            self.n_rows,
            self.periods,
            *ints,
            self.max_iterations,
            self.round_seconds,
            bool(self.adaptive),
            ratio,
        )


# --- the fixed-point rules (mirrored from the contract) -------------------------------------------


def quantize(values: np.ndarray, scale: int, limit: int, field: str, call: str) -> np.ndarray:
    """``round(values · scale)`` as int64 (nearest, ties to even); refuses what does not fit."""
    x = np.asarray(values, dtype=float)
    if not np.all(np.isfinite(x)):
        raise LedgerError(call, f"field {field!r} holds a value that is not finite")
    q = np.rint(x * scale)
    if q.size and float(np.abs(q).max()) >= limit:
        raise LedgerError(call, f"field {field!r} holds a value beyond ±{limit / scale:g}")
    return q.astype(np.int64)


def round_half_away(s: int, k: int) -> int:
    """``s / k`` to the nearest integer, ties away from zero (the contract's z-update)."""
    if s >= 0:
        return (2 * s + k) // (2 * k)
    return -((-2 * s + k) // (2 * k))


def _trunc_div(a: int, b: int) -> int:
    """Integer division truncated toward zero (the EVM's SDIV), ``b > 0``."""
    q = abs(a) // b
    return q if a >= 0 else -q


def price_step(phi_nano: int, exponent: int, mismatch: int) -> int:
    """``φ · 2^e · m / 2`` in price integers, truncated toward zero (``m`` in bid integers)."""
    num, den = phi_nano * mismatch, 2 * BID_SCALE
    if exponent >= 0:
        num <<= exponent
    else:
        den <<= -exponent
    return _trunc_div(num, den)


def words_per_row(periods: int, lanes: int) -> int:
    return -(-periods // lanes)


def pack(values: np.ndarray, lanes: int, bits: int) -> list[int]:
    """Rows of integers ``(R, T)`` as words, row by row, ``lanes`` two's complement lanes each."""
    rows = np.asarray(values, dtype=np.int64)
    per = words_per_row(rows.shape[1], lanes)
    mask = (1 << bits) - 1
    out = []
    for row in rows.tolist():
        for w in range(per):
            word = 0
            for lane, v in enumerate(row[w * lanes : (w + 1) * lanes]):
                word |= (v & mask) << (lane * bits)
            out.append(word)
    return out


def unpack(words: Sequence[int], periods: int, lanes: int, bits: int) -> np.ndarray:
    """Words back to rows ``(R, T)`` of Python ints (object array: sums may be wide)."""
    per = words_per_row(periods, lanes)
    mask, sign = (1 << bits) - 1, 1 << (bits - 1)
    rows = len(words) // per
    out = np.zeros((rows, periods), dtype=object)
    for r in range(rows):
        for t in range(periods):
            v = (int(words[r * per + t // lanes]) >> ((t % lanes) * bits)) & mask
            out[r, t] = v - (1 << bits) if v & sign else v
    return out


@dataclass(frozen=True, slots=True)
class RunState:
    """The run as the contract holds it."""

    status: Status
    iteration: int  # the iteration being collected (or the last one, once ended)
    closed: int  # the last iteration whose z and bids are published (0: the start)
    submitted: int
    deadline: int
    rho_exponent: int
    phi_exponent: int


@dataclass(frozen=True, slots=True)
class ResidualSums:
    """The integer residual sums of the last closed iteration (see the contract)."""

    r_grid_sq: int  # Σ_c w (x_c − z)², copy integers² × weight integers
    dz_sum: int  # Σ_g k_g w_g (z_g − z_g,prev)²
    r_trade_sq: int  # Σ_e (d_ij + d_ji)², bid integers²
    s_trade_sq: int  # Σ_e (d − d_prev)²


class AdmmAggregatorLedger:
    """The aggregator contract on one chain, with its operator."""

    def __init__(self, chain: Chain, contract: Contract, *, operator: str) -> None:
        self.chain = chain
        self.contract = contract
        self.operator = operator
        self.periods = int(chain.call(contract, "periods"))
        self.n_rows = int(chain.call(contract, "n_rows"))
        self.copy_words = words_per_row(self.periods, COPY_LANES)
        self.bid_words = words_per_row(self.periods, BID_LANES)

    @classmethod
    def deploy(cls, chain: Chain, theta: Theta, *, operator: str) -> AdmmAggregatorLedger:
        contract = chain.deploy(operator, compile_contract(CONTRACT), *theta.encode())
        return cls(chain, contract, operator=operator)

    @classmethod
    def at(cls, chain: Chain, address: str, *, operator: str) -> AdmmAggregatorLedger:
        """The contract already deployed at ``address``."""
        return cls(chain, chain.at(compile_contract(CONTRACT), address), operator=operator)

    def _transact(self, sender: str, function: str, *args: object) -> Receipt:
        return self.chain.transact(sender, self.contract, function, *args)

    def _read(self, function: str, *args: object) -> Any:
        return self.chain.call(self.contract, function, *args)

    # --- configuration (the operator) ---------------------------------------------------------

    def admit(
        self,
        account: str,
        *,
        rows: Sequence[int] = (),
        partners: Sequence[int] = (),
        node: int = 0,
        parent: int = 0,
        children: Sequence[int] = (),
        sender: str | None = None,
    ) -> Receipt:
        """Admit the next agent: the global rows of its copies, its partners (agent indices),
        and for the record its node, parent and children on the feeder."""
        return self._transact(
            sender or self.operator,
            "admit",
            account,
            node,
            parent,
            [int(c) for c in children],
            [int(r) for r in rows],
            [int(p) for p in partners],
        )

    def set_weights(self, weights: Sequence[float], *, sender: str | None = None) -> list[Receipt]:
        """Every row's weight (1 = none), 10⁻⁶ resolution."""
        call = f"{CONTRACT}.set_weights"
        ints = [_fixed(w, WEIGHT_SCALE, "weights", call) for w in weights]
        return [
            self._transact(
                sender or self.operator, "set_weights", first, ints[first : first + MAX_WORDS]
            )
            for first in range(0, len(ints), MAX_WORDS)
        ]

    def set_start(self, z0: np.ndarray, *, sender: str | None = None) -> list[Receipt]:
        """The start ``z̃⁰`` (rows × periods, copy integers)."""
        per = max(1, WORDS_PER_TX // self.copy_words)
        words = pack(z0, COPY_LANES, COPY_BITS)
        cw = self.copy_words
        return [
            self._transact(
                sender or self.operator, "set_start", first, words[first * cw : (first + per) * cw]
            )
            for first in range(0, len(z0), per)
        ]

    def set_prices(self, xi0: np.ndarray, *, sender: str | None = None) -> list[Receipt]:
        """The start prices ``ξ⁰`` (edges × periods, price integers; one per pair)."""
        return self._set_edges("set_prices", "prices", xi0, PRICE_BITS, PRICE_LIMIT, sender)

    def set_bids(self, d0: np.ndarray, *, sender: str | None = None) -> list[Receipt]:
        """The start bids ``d⁰`` (edges × periods, bid integers): iteration 1's dual residual
        is measured from them (zero without)."""
        return self._set_edges("set_bids", "bids", d0, BID_BITS, BID_LIMIT, sender)

    def _set_edges(
        self,
        function: str,
        field: str,
        values: np.ndarray,
        bits: int,
        limit: int,
        sender: str | None,
    ) -> list[Receipt]:
        """Per-edge start values (edges × periods, integers within ±``limit``), as words of
        ``bits``-bit lanes, in as many transactions as they need."""
        rows = np.asarray(values, dtype=np.int64)
        if rows.size and int(np.abs(rows).max()) >= limit:
            raise LedgerError(
                f"{CONTRACT}.{function}", f"field '{field}' holds a value beyond ±{limit}"
            )
        per = max(1, WORDS_PER_TX // self.bid_words)
        words = pack(rows, BID_LANES, bits)
        bw = self.bid_words
        return [
            self._transact(
                sender or self.operator, function, first, words[first * bw : (first + per) * bw]
            )
            for first in range(0, len(rows), per)
        ]

    def open(self, *, sender: str | None = None) -> Receipt:
        return self._transact(sender or self.operator, "open")

    # --- an iteration -------------------------------------------------------------------------

    def submit(
        self,
        agent: str,
        copies: np.ndarray | None,
        bids: np.ndarray | None,
        *,
        words_per_tx: int = WORDS_PER_TX,
    ) -> list[Receipt]:
        """``agent``'s copies (its rows × periods) and bids (its edges × periods), integers,
        in as many transactions as ``words_per_tx`` asks (whole rows and edges each)."""
        cw, bw = self.copy_words, self.bid_words
        c_words = [] if copies is None else pack(copies, COPY_LANES, COPY_BITS)
        b_words = [] if bids is None else pack(bids, BID_LANES, BID_BITS)
        budget = max(min(words_per_tx, MAX_WORDS), cw, bw)
        receipts = []
        row = edge = 0
        n_rows, n_edges = len(c_words) // cw, len(b_words) // bw
        while True:
            take_rows = min(n_rows - row, budget // cw)
            room = budget - take_rows * cw
            take_edges = min(n_edges - edge, room // bw)
            receipts.append(
                self._transact(
                    agent,
                    "submit",
                    row,
                    c_words[row * cw : (row + take_rows) * cw],
                    edge,
                    b_words[edge * bw : (edge + take_edges) * bw],
                )
            )
            row += take_rows
            edge += take_edges
            if row == n_rows and edge == n_edges:
                return receipts

    def update(self, caller: str | None = None, *, rows_per_tx: int = 256) -> list[Receipt]:
        """The z-update in parts of ``rows_per_tx`` rows until the iteration closes."""
        receipts = []
        k = self.state().iteration
        while True:
            receipts.append(self._transact(caller or self.operator, "update", rows_per_tx))
            state = self.state()
            if state.iteration != k or state.status != Status.RUNNING:
                return receipts

    def declare_timeout(self, caller: str) -> Receipt:
        return self._transact(caller, "declare_timeout")

    # --- reading ------------------------------------------------------------------------------

    def state(self) -> RunState:
        return RunState(
            Status(int(self._read("status"))),
            int(self._read("iteration")),
            int(self._read("closed_iteration")),
            int(self._read("submitted")),
            int(self._read("deadline")),
            int(self._read("rho_exponent")),
            int(self._read("phi_exponent")),
        )

    def residual_sums(self) -> ResidualSums:
        return ResidualSums(
            *(
                int(self._read(name))
                for name in ("last_r_grid_sq", "last_dz_sum", "last_r_trade_sq", "last_s_trade_sq")
            )
        )

    def n_edges(self) -> int:
        return int(self._read("n_edges"))

    def z(self) -> np.ndarray:
        """``z̃`` of the last closed iteration (rows × periods, copy integers)."""
        per = max(1, MAX_WORDS // self.copy_words)
        words: list[int] = []
        for first in range(0, self.n_rows, per):
            count = min(per, self.n_rows - first)
            words += self._read("z_words", first, count)
        return unpack(words, self.periods, COPY_LANES, COPY_BITS).astype(np.int64)

    def bids(self) -> np.ndarray:
        """The bids of the last closed iteration (edges × periods, bid integers)."""
        return self._edges("bid_words_of", BID_BITS)

    def prices(self) -> np.ndarray:
        """The current prices of every edge's pair (edges × periods, price integers)."""
        return self._edges("price_words_of", PRICE_BITS)

    def _edges(self, function: str, bits: int) -> np.ndarray:
        n = self.n_edges()
        per = max(1, MAX_WORDS // self.bid_words)
        words: list[int] = []
        for first in range(0, n, per):
            words += self._read(function, first, min(per, n - first))
        if not words:
            return np.zeros((0, self.periods), dtype=np.int64)
        return unpack(words, self.periods, BID_LANES, bits).astype(np.int64)
