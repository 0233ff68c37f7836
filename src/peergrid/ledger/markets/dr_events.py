"""A typed client of ``DrEvents.vy``: the DR contracts of chapter 8 on chain.

Who calls what (001b_book.md §8.2–8.3):

1. The operator (the DSO) deploys the contract, :meth:`DrEventsLedger.register` s each prosumer
   with its meter, :meth:`~DrEventsLedger.add_validator` s the grid's other stakeholders with a
   genesis stake, and :meth:`~DrEventsLedger.set_rates` (reward and penalty rates, shortfall
   tolerance, the grid-state threshold and the event length).
2. Each meter :meth:`~DrEventsLedger.post_reading` s its prosumer's net consumption slot by slot.
   The contract keeps the baselines and the grid's energy state, and starts an event when the
   state crosses the threshold; the operator then :meth:`~DrEventsLedger.command` s the
   interested prosumers' profiles.
3. Anyone :meth:`~DrEventsLedger.close_event` s an event whose readings are in (the contract
   computes flexibility, rewards and penalties); validators :meth:`~DrEventsLedger.attest` to the
   digest of its readings (:func:`readings_digest`), and the event is confirmed and paid, or
   disputed, by stake.

Units: Wh (signed net consumption), micro-currency per kWh, micro-currency. The rules are the
contract's docstring; the same integers come from :mod:`peergrid.mechanisms.dr.baselines` and
:mod:`peergrid.mechanisms.dr.stake` off chain.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum

from eth_abi import encode
from eth_utils import keccak, to_checksum_address

from peergrid.ledger.chain.base import Chain, Contract, Receipt
from peergrid.ledger.chain.compile import compile_contract

CONTRACT = "DrEvents"
MAX_EVENT_SLOTS = 12
MAX_PARTICIPANTS = 128
MAX_VALIDATORS = 256


class EventPhase(IntEnum):
    NONE = 0
    ACTIVE = 1
    VERIFYING = 2
    CONFIRMED = 3
    DISPUTED = 4
    CANCELLED = 5


@dataclass(frozen=True, slots=True)
class EventState:
    """A DR event as the contract holds it."""

    phase: EventPhase
    start: int
    duration: int
    trigger_slot: int
    trigger_state: int
    reward_rate: int
    penalty_rate: int
    tolerance: int
    participants: int
    missing: int
    digest: bytes
    total_stake: int
    stake_for: int
    stake_against: int
    total_reward: int
    total_penalty: int


@dataclass(frozen=True, slots=True)
class ParticipationState:
    """One prosumer's part in an event (profiles cut to the event's length)."""

    baseline: tuple[int, ...]
    commanded: tuple[int, ...]
    actual: tuple[int, ...]
    delivered: int
    flexibility: int
    shortfall: int
    reward: int
    penalty: int
    penalty_paid: int


def readings_digest(
    contract: str,
    event_id: int,
    start: int,
    duration: int,
    readings: Sequence[tuple[str, Sequence[int]]],
) -> bytes:
    """The digest a validator attests to: the contract's address, the event and, for each
    participant in the order it was commanded, its readings in the event's slots (what
    ``close_event`` computes on chain)."""
    digest = keccak(
        encode(["address", "uint256", "uint256", "uint256"], [contract, event_id, start, duration])
    )
    for who, values in readings:
        padded = [int(v) for v in values] + [0] * (MAX_EVENT_SLOTS - len(values))
        digest = keccak(
            encode(["bytes32", "address", f"int256[{MAX_EVENT_SLOTS}]"], [digest, who, padded])
        )
    return digest


class DrEventsLedger:
    """The settlement token and the ``DrEvents`` contract, with the operator and the issuer that
    funds participants' token accounts."""

    def __init__(
        self, chain: Chain, token: Contract, market: Contract, *, operator: str, issuer: str
    ) -> None:
        self.chain = chain
        self.token = token
        self.market = market
        self.operator = operator
        self.issuer = issuer

    @classmethod
    def deploy(
        cls,
        chain: Chain,
        *,
        operator: str,
        issuer: str,
        supply_micro: int,
        slots_per_day: int = 24,
        token: Contract | None = None,
    ) -> DrEventsLedger:
        """Deploy the contract (by the operator), and a settlement token with ``supply_micro``
        to ``issuer`` unless ``token`` is given."""
        if token is None:
            token = chain.deploy(
                issuer,
                compile_contract("SettlementToken"),
                "peergrid settlement token",
                "PGS",
                issuer,
                supply_micro,
            )
        market = chain.deploy(operator, compile_contract(CONTRACT), token.address, slots_per_day)
        return cls(chain, token, market, operator=operator, issuer=issuer)

    # --- the operator ----------------------------------------------------------------------------

    def register(self, prosumer: str, meter: str) -> Receipt:
        return self.chain.transact(self.operator, self.market, "register", prosumer, meter)

    def add_validator(self, validator: str, genesis_micro: int) -> Receipt:
        return self.chain.transact(
            self.operator, self.market, "add_validator", validator, genesis_micro
        )

    def set_rates(
        self,
        *,
        reward_rate: int,
        penalty_rate: int,
        tolerance_wh: int = 0,
        threshold_wh: int = 0,
        duration: int = 1,
    ) -> Receipt:
        return self.chain.transact(
            self.operator,
            self.market,
            "set_rates",
            reward_rate,
            penalty_rate,
            tolerance_wh,
            threshold_wh,
            duration,
        )

    def command(self, event_id: int, prosumer: str, commanded: Sequence[int]) -> Receipt:
        return self.chain.transact(
            self.operator, self.market, "command", event_id, prosumer, [int(v) for v in commanded]
        )

    def cancel_event(self, event_id: int) -> Receipt:
        return self.chain.transact(self.operator, self.market, "cancel_event", event_id)

    # --- meters, validators, anyone ---------------------------------------------------------------

    def post_reading(self, meter: str, slot: int, wh: int) -> Receipt:
        return self.chain.transact(meter, self.market, "post_reading", slot, int(wh))

    def close_event(self, caller: str, event_id: int) -> Receipt:
        return self.chain.transact(caller, self.market, "close_event", event_id)

    def attest(self, validator: str, event_id: int, digest: bytes) -> Receipt:
        return self.chain.transact(validator, self.market, "attest", event_id, digest)

    def digest_of(self, event_id: int, readings: Sequence[tuple[str, Sequence[int]]]) -> bytes:
        """:func:`readings_digest` of ``readings`` for this contract's ``event_id``."""
        e = self.event(event_id)
        return readings_digest(self.market.address, event_id, e.start, e.duration, readings)

    # --- money -----------------------------------------------------------------------------------

    def fund(self, account: str, amount_micro: int) -> Receipt:
        """The issuer transfers tokens to ``account``'s own token account."""
        return self.chain.transact(self.issuer, self.token, "transfer", account, amount_micro)

    def deposit(self, account: str, amount_micro: int) -> Receipt:
        """``account`` approves the contract and deposits (two transactions)."""
        self.chain.transact(account, self.token, "approve", self.market.address, amount_micro)
        return self.chain.transact(account, self.market, "deposit", amount_micro)

    def withdraw(self, account: str, amount_micro: int) -> Receipt:
        return self.chain.transact(account, self.market, "withdraw", amount_micro)

    # --- views -----------------------------------------------------------------------------------

    def event(self, event_id: int) -> EventState:
        row = list(self.chain.call(self.market, "event_state", event_id))
        values: list[object] = [EventPhase(int(row[0]))]
        for k, v in enumerate(row[1:], start=1):
            values.append(bytes(v) if k == 10 else int(v))
        return EventState(*values)  # type: ignore[arg-type]

    def participants(self, event_id: int) -> list[str]:
        return [
            to_checksum_address(a) for a in self.chain.call(self.market, "participants", event_id)
        ]

    def participation(self, event_id: int, prosumer: str) -> ParticipationState:
        n = self.event(event_id).duration
        row = list(self.chain.call(self.market, "participation", event_id, prosumer))
        baseline, commanded, actual = (tuple(int(v) for v in row[k][:n]) for k in range(3))
        rest = [int(v) for v in row[3:]]
        return ParticipationState(baseline, commanded, actual, *rest)

    def active_event(self) -> int:
        return int(self.chain.call(self.market, "active_event"))

    def event_count(self) -> int:
        return int(self.chain.call(self.market, "event_count"))

    def grid_state(self, slot: int) -> int:
        return int(self.chain.call(self.market, "grid_state", slot))

    def baseline_sum(self, prosumer: str, time_of_day: int) -> tuple[int, int]:
        total, count = self.chain.call(self.market, "baseline_sum", prosumer, time_of_day)
        return int(total), int(count)

    def stake_of(self, validator: str) -> int:
        return int(self.chain.call(self.market, "stake_of", validator))

    def total_stake(self) -> int:
        return int(self.chain.call(self.market, "total_stake"))

    def incentives_of(self, account: str) -> int:
        return int(self.chain.call(self.market, "incentives_of", account))

    def epoch(self) -> int:
        return int(self.chain.call(self.market, "epoch"))

    def balance_of(self, account: str) -> int:
        return int(self.chain.call(self.market, "balance_of", account))

    def locked(self, account: str) -> int:
        return int(self.chain.call(self.market, "locked", account))

    def total_balance(self) -> int:
        return int(self.chain.call(self.market, "total_balance"))

    def token_balance(self, account: str) -> int:
        return int(self.chain.call(self.token, "balanceOf", account))
