"""A typed client of the DVPP contract (``Dvpp.vy``; 002_dvpp.md §1.3, §2).

The contract speaks integers: power in milliwatts (producer arrows for battery power and
contracted flexibility, consumer arrows for the residual load), state of charge in milli-percent
(0..100 000), money in micro-currency of the settlement token, prices p_c and p_f in
micro-currency per kW per coordination interval. The client takes W and states of charge in 0–1
where a user thinks in them (:class:`Rating`, :class:`Report`) and converts to the nearest mW and
m%; a value that cannot be encoded at all (not finite, a negative state of charge) is refused here
naming the field, every other bad value goes to the contract, which refuses it with a named revert
and changes nothing (:class:`~peergrid.core.errors.LedgerError` carries the reason).

The interval clock: interval ``k`` is ``[start + k·dt, start + (k+1)·dt)`` of block time
(:meth:`DvppLedger.advance_interval` moves a chain that can move its clock to the next one).
During interval ``k`` a household reads the instruction of ``k − 1`` (:meth:`read_instruction_w`,
the same value as ``peergrid.mechanisms.dvpp.setpoints`` for the same state), runs it, and
reports (:meth:`set_state`) its state and the battery power it measured, which settles ``k − 1``
for it: Eq. 6 (community sharing) or, when flexibility was contracted for ``k − 1``, Eq. 7.
The rules, also written once here for Python callers: :func:`two_interval_need_micro`,
:func:`community_share_micro`, :func:`complies`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from peergrid.core.errors import LedgerError
from peergrid.ledger.chain.base import ZERO_ADDRESS, Chain, Contract, Receipt
from peergrid.ledger.chain.gas import GasLog
from peergrid.ledger.markets.base import MarketLedger
from peergrid.ledger.markets.consortium import (
    DEFAULT_QUORUM_BPS,
    DEFAULT_VOTING_PERIOD_S,
    ConsortiumClient,
)
from peergrid.ledger.markets.escrow import Escrow

MILLIWATTS_PER_W = 1000
MW_PER_KW = 10**6
"""Milliwatts per kilowatt: prices are per kW, powers in mW."""

SOC_FULL = 100_000
MAX_POWER_MW = 2**31 - 1
MAX_HOUSEHOLDS = 64
OFFLINE_AFTER = 2
"""A household silent for more than this many intervals is deregistered by a neighbour."""

DEFAULT_INTERVAL_S = 15
"""The paper's default coordination interval (its block time)."""

DEFAULT_PRICE_COMMUNITY = 500
"""p_c, micro-currency per kW per interval: the paper's 5e8 wei/(mW·interval) with one currency
unit read as one ether (5e8 wei/mW = 5e14 wei/kW = 5e-4 units/kW = 500 micro/kW)."""

DEFAULT_PRICE_FLEXIBILITY = 1000
"""p_f, micro-currency per kW per interval (the paper's 1e9 wei/(mW·interval), read as p_c)."""

DEFAULT_TOLERANCE_MW = 10_000
DEFAULT_TOLERANCE_BPS = 100
"""Compliance: the measured battery power within 10 W + 1 % of the instruction."""


class Reason:
    """Why a household left (``Deregistered.reason``)."""

    OWN = 0
    SILENT = 1
    FUNDS = 2
    REVOKED = 3


class Kind:
    """What a report's settlement was (``Settled.kind``)."""

    COMMUNITY = 1
    FLEXIBILITY = 2
    NOT_COMPLIANT = 3


def _milliwatts(value_w: float, field: str, call: str) -> int:
    if not isinstance(value_w, int | float) or not math.isfinite(value_w):
        raise LedgerError(call, f"{field} must be a finite power in W, got {value_w!r}")
    return round(value_w * MILLIWATTS_PER_W)


def _soc_mpct(soc: float, call: str) -> int:
    if not isinstance(soc, int | float) or not math.isfinite(soc) or soc < 0:
        raise LedgerError(call, f"soc must be a state of charge from 0 to 1, got {soc!r}")
    return round(soc * SOC_FULL)


def two_interval_need_micro(p_max_mw: int, price_community: int) -> int:
    """The least free balance a registered household keeps: ``6 · P_max · p_c / 10⁶`` rounded
    up, the most it can pay in two intervals (every other household's Eq. 6 share, with the
    measured power and the residual load each at most its ``P_max``)."""
    return -(-6 * p_max_mw * price_community // MW_PER_KW)


def community_share_micro(
    measured_mw: int, p_res_mw: int, p_max_mw: int, households: int, price_community: int
) -> int:
    """Eq. 6: what a complying household takes from each other household of the interval,
    ``max(0, P_m − P_res + P_max) · p_c // ((n − 1) · 10⁶)`` (0 alone)."""
    if households < 2:
        return 0
    return (
        max(0, measured_mw - p_res_mw + p_max_mw)
        * price_community
        // ((households - 1) * MW_PER_KW)
    )


def complies(measured_mw: int, instruction_mw: int, tolerance_mw: int, tolerance_bps: int) -> bool:
    """The contract's compliance test: ``|P_m − P_set| ≤ tol + |P_set| · bps / 10 000``."""
    allowed = tolerance_mw + abs(instruction_mw) * tolerance_bps // 10_000
    return abs(measured_mw - instruction_mw) <= allowed


@dataclass(frozen=True, slots=True)
class Parameters:
    """What the contract is deployed with (each also readable from it)."""

    interval_s: int = DEFAULT_INTERVAL_S
    price_community: int = DEFAULT_PRICE_COMMUNITY
    price_flexibility: int = DEFAULT_PRICE_FLEXIBILITY
    tolerance_mw: int = DEFAULT_TOLERANCE_MW
    tolerance_bps: int = DEFAULT_TOLERANCE_BPS
    rule: str = "paper"
    quorum_bps: int = DEFAULT_QUORUM_BPS
    voting_period_s: int = DEFAULT_VOTING_PERIOD_S

    def __post_init__(self) -> None:
        if self.rule not in ("paper", "code"):
            raise LedgerError("Dvpp.constructor", f"rule must be paper or code, got {self.rule!r}")


@dataclass(frozen=True, slots=True)
class Rating:
    """A household's battery and connection: optimal operating points (discharge, charge) and
    the grid connection limit ``P_max``, W."""

    p_opt_discharge_w: float
    p_opt_charge_w: float
    p_max_w: float


@dataclass(frozen=True, slots=True)
class Report:
    """One interval's report: state of charge (0–1), residual load ``L − G`` (W, consumer
    arrows) and the battery power measured under the previous instruction (W, producer
    arrows: positive is discharge)."""

    soc: float
    p_res_w: float
    p_measured_w: float = 0.0


@dataclass(frozen=True, slots=True)
class Household:
    """A household as the contract holds it (integers; its latest report)."""

    address: str
    registered: bool
    p_opt_discharge_mw: int
    p_opt_charge_mw: int
    p_max_mw: int
    last_interval: int
    soc_mpct: int
    p_res_mw: int


@dataclass(frozen=True, slots=True)
class FlexibilityContract:
    """The open flexibility contract: ``p_flex_mw`` (producer arrows) for intervals
    ``start ≤ m < end`` at ``per_interval_micro``; ``locked_micro`` is what is left of the
    contractor's budget."""

    contractor: str
    p_flex_mw: int
    start: int
    end: int
    per_interval_micro: int
    locked_micro: int


class DvppLedger:
    """The settlement token and the DVPP contract on one chain, with the consortium's roles."""

    def __init__(
        self, chain: Chain, token: Contract, contract: Contract, *, operator: str, issuer: str
    ) -> None:
        self.chain = chain
        self.token = token
        self.contract = contract
        self.operator = operator
        self.consortium = ConsortiumClient(chain, contract, operator=operator)
        self.escrow = Escrow(chain, contract, token, issuer=issuer)
        # The clock's constants (immutables of the contract), read once.
        self._clock: tuple[int, int] | None = None

    @classmethod
    def deploy(
        cls,
        chain: Chain,
        *,
        operator: str,
        dso: str,
        issuer: str,
        supply_micro: int,
        parameters: Parameters | None = None,
        token: Contract | None = None,
        meters: str | None = None,
    ) -> DvppLedger:
        """Deploy a settlement token (unless ``token`` is given) and the DVPP contract;
        ``meters``: the meters contract that may relay signed reports
        (:mod:`peergrid.ledger.markets.dvpp_meters`; none by default)."""
        p = parameters or Parameters()
        token, contract = MarketLedger.deploy_contracts(
            chain,
            "Dvpp",
            operator=operator,
            issuer=issuer,
            supply_micro=supply_micro,
            token=token,
            market_args=(
                operator,
                dso,
                p.quorum_bps,
                p.voting_period_s,
                p.interval_s,
                p.price_community,
                p.price_flexibility,
                p.tolerance_mw,
                p.tolerance_bps,
                p.rule == "code",
                meters or ZERO_ADDRESS,
            ),
        )
        return cls(chain, token, contract, operator=operator, issuer=issuer)

    @classmethod
    def at(
        cls, chain: Chain, *, token: str, contract: str, operator: str, issuer: str
    ) -> DvppLedger:
        """The contracts already deployed at ``token`` and ``contract``."""
        token_c, dvpp_c = MarketLedger.attach_contracts(chain, "Dvpp", token=token, market=contract)
        return cls(chain, token_c, dvpp_c, operator=operator, issuer=issuer)

    @property
    def gas_log(self) -> GasLog:
        return self.chain.gas_log

    def _transact(self, sender: str, function: str, *args: object) -> Receipt:
        return self.chain.transact(sender, self.contract, function, *args)

    def _approve(self, account: str, amount_micro: int) -> None:
        self.chain.transact(account, self.token, "approve", self.contract.address, amount_micro)

    # --- households ----------------------------------------------------------------------------

    def register(
        self, household: str, rating: Rating, report: Report, deposit_micro: int
    ) -> Receipt:
        """``household`` (admitted as a prosumer) approves and registers with a deposit."""
        call = "Dvpp.register"
        args = (
            _milliwatts(rating.p_opt_discharge_w, "p_opt_discharge_w", call),
            _milliwatts(rating.p_opt_charge_w, "p_opt_charge_w", call),
            _milliwatts(rating.p_max_w, "p_max_w", call),
            _soc_mpct(report.soc, call),
            _milliwatts(report.p_res_w, "p_res_w", call),
            deposit_micro,
        )
        if deposit_micro:
            self._approve(household, deposit_micro)
        return self._transact(household, "register", *args)

    def deregister(self, household: str) -> Receipt:
        return self._transact(household, "deregister")

    def set_state(self, household: str, report: Report, *, sender: str | None = None) -> Receipt:
        """``household`` reports ``report`` (``sender`` defaults to the household itself)."""
        call = "Dvpp.set_state"
        return self._transact(
            sender or household,
            "set_state",
            household,
            _soc_mpct(report.soc, call),
            _milliwatts(report.p_res_w, "p_res_w", call),
            _milliwatts(report.p_measured_w, "p_measured_w", call),
        )

    def read_instruction_mw(self, household: str) -> int:
        """The household's set-point for this interval, mW (asked as the household)."""
        return int(self.chain.call(self.contract, "read_instruction", sender=household))

    def read_instruction_w(self, household: str) -> float:
        """The same in W, as ``peergrid.mechanisms.dvpp.setpoints`` gives it."""
        return self.read_instruction_mw(household) / MILLIWATTS_PER_W

    def read_instructions_mw(self, households: Sequence[str]) -> dict[str, int]:
        """Each household's set-point for this interval, mW, each asked as the household (the
        contract answers only its caller): one round trip on a node."""
        answers = self.chain.call_as_each(self.contract, "read_instruction", households)
        return {h: int(a) for h, a in zip(households, answers, strict=True)}

    def withdraw(self, account: str, amount_micro: int) -> Receipt:
        """Pay out the caller's free balance (a household keeps the two-interval need)."""
        return self._transact(account, "withdraw", amount_micro)

    # --- flexibility ---------------------------------------------------------------------------

    def contract_flexibility(
        self, contractor: str, p_flex_w: float, intervals: int, max_price: int | None = None
    ) -> Receipt:
        """``contractor`` (not a household) pays for ``p_flex_w`` during ``intervals``
        intervals from this one, at the current p_f (at most ``max_price``)."""
        call = "Dvpp.contract_flexibility"
        p_flex_mw = _milliwatts(p_flex_w, "p_flex_w", call)
        price = self.price_flexibility()
        budget = abs(p_flex_mw) * price // MW_PER_KW * max(intervals, 0)
        if budget:
            self._approve(contractor, budget)
        limit = price if max_price is None else max_price
        return self._transact(contractor, "contract_flexibility", p_flex_mw, intervals, limit)

    def cancel_flexibility(self, contractor: str) -> Receipt:
        return self._transact(contractor, "cancel_flexibility")

    def close_flexibility(self, caller: str) -> Receipt:
        return self._transact(caller, "close_flexibility")

    def set_flexibility_price(
        self, price_micro_per_kw: int, *, sender: str | None = None
    ) -> Receipt:
        return self._transact(sender or self.operator, "set_flexibility_price", price_micro_per_kw)

    # --- the clock -----------------------------------------------------------------------------

    def current_interval(self) -> int:
        return int(self.chain.call(self.contract, "current_interval"))

    def meters(self) -> str | None:
        """The meters contract that may relay signed reports (``None``: none)."""
        address = str(self.chain.call(self.contract, "meters"))
        return None if int(address, 16) == 0 else address

    def _clock_constants(self) -> tuple[int, int]:
        if self._clock is None:
            self._clock = (
                int(self.chain.call(self.contract, "start_time")),
                int(self.chain.call(self.contract, "interval_seconds")),
            )
        return self._clock

    def interval_seconds(self) -> int:
        return self._clock_constants()[1]

    def advance_interval(self, intervals: int = 1) -> int:
        """Move the chain's clock to the start of the interval ``intervals`` ahead; its number.

        The interval is the contract's ``(timestamp − start) // dt``, from the chain's clock and
        the two constants read once: one read before the clock moves instead of four."""
        start, dt = self._clock_constants()
        now = self.chain.timestamp()
        target = (now - start) // dt + intervals
        self.chain.advance_time(start + target * dt - now)
        return target

    # --- readers -------------------------------------------------------------------------------

    def households(self) -> list[str]:
        """Registered households in registration order (the merit order's tie-break)."""
        return [str(a) for a in self.chain.call(self.contract, "households")]

    def household(self, account: str) -> Household:
        registered, dis, ch, p_max, last, soc, p_res = self.chain.call(
            self.contract, "household", account
        )
        return Household(
            account,
            bool(registered),
            int(dis),
            int(ch),
            int(p_max),
            int(last),
            int(soc),
            int(p_res),
        )

    def household_count(self) -> int:
        return int(self.chain.call(self.contract, "household_count"))

    def p_max_mw(self) -> int:
        return int(self.chain.call(self.contract, "p_max_mw"))

    def two_interval_need(self) -> int:
        return int(self.chain.call(self.contract, "two_interval_need"))

    def price_community(self) -> int:
        return int(self.chain.call(self.contract, "price_community"))

    def price_flexibility(self) -> int:
        return int(self.chain.call(self.contract, "price_flexibility"))

    def target_mw(self) -> int:
        """P_ESS of the interval that just ended (Eqs. 2, 5), mW."""
        return int(self.chain.call(self.contract, "target_mw"))

    def flexibility(self) -> FlexibilityContract | None:
        contractor, p_flex, start, end, per_interval, locked = self.chain.call(
            self.contract, "flexibility"
        )
        if int(contractor, 16) == 0:
            return None
        return FlexibilityContract(
            str(contractor), int(p_flex), int(start), int(end), int(per_interval), int(locked)
        )

    def contracted(self) -> bool:
        """Whether flexibility is contracted for this interval."""
        return bool(self.chain.call(self.contract, "contracted"))

    def flexibility_available(self, p_flex_w: float) -> bool:
        p_flex_mw = _milliwatts(p_flex_w, "p_flex_w", "Dvpp.flexibility_available")
        return bool(self.chain.call(self.contract, "flexibility_available", p_flex_mw))

    def balance_of(self, account: str) -> int:
        return self.escrow.balance_of(account)

    def available_of(self, account: str) -> int:
        return self.escrow.available_of(account)

    def fund(self, account: str, amount_micro: int) -> Receipt:
        return self.escrow.fund(account, amount_micro)
