"""Meter readings and settlement against metered energy (003_dpda.md §2.8, eqs. 4.8 and 4.9).

After a slot is cleared on ``BatchMarket.vy``, every order with a fill is a :class:`Position`:
its member, its side, its reference energy ``E_ref`` (the energy it traded, Wh) and its value
``V`` (what that energy was worth at the traded prices, micro-currency, fees excluded); the
contract keeps their hash. The meter role posts, in position order and 256 to a transaction, the
energy each position's member actually consumed (a buyer) or produced (a seller), ``E_meter``,
with the positions not settled yet (:func:`packed_positions`, checked against that hash); the
contract then settles, per position:

* ``credit = |E_ref - E_meter| * penalty_rate // 1000`` (the deviation penalty, both directions,
  item 17 of 003 §6), with the DSO's penalty rate frozen when the slot opened;
* ``at_meter = V * E_meter // E_ref``: the traded price applied to the metered energy (for a
  uniform clearing price p0 this is ``p0 * E_meter``).

The buyer's bill becomes ``at_meter + tariff + credit`` (4.8) and the seller's income
``at_meter - tariff - credit`` (4.9), with ``tariff`` the fee share it paid at the clearing. As
money moves, the contracted ``V`` (and the tariff) moved at the clearing, and the metered
settlement moves the rest between the member and the DSO:

* a buyer pays the DSO ``at_meter - V + credit``;
* a seller pays the DSO ``V - at_meter + credit``;
* a negative amount is paid by the DSO to the member.

Who receives what: the DSO is the counterparty of every imbalance (the grid delivered what a
buyer used beyond its trade, or absorbed what a seller injected beyond it, at the traded price)
and receives every penalty ("the DSOs stipulate the penalty", 003 §2.8; "the SO will charge an
extra fee", 004 §1.7). Money is conserved: every micro-unit a member pays the DSO receives, and
vice versa. A member that cannot pay from its free balance pays what it has and the rest is
logged as a shortfall (balances never go negative, and one member cannot block a slot's
settlement); the DSO must hold enough to pay what it owes (its fees and penalties, or a reserve
it deposits), else the transaction reverts.

:func:`metered_settlement` states this arithmetic in Python; :class:`MeterClient` posts readings.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from eth_utils import keccak, to_canonical_address

from peergrid.core.errors import LedgerError
from peergrid.ledger.chain.base import Chain, Contract, Receipt
from peergrid.ledger.chain.encoding import encoder_for

WH_PER_KWH = 1000
MAX_METERED_WH = 2**32 - 1
"""Largest reading the contract accepts (4.29 GWh)."""

MAX_READINGS_PER_CALL = 256
"""Most readings one ``post_readings`` transaction carries (the contract's bound)."""


def packed_addresses(addresses: Sequence[str]) -> bytes:
    """``addresses`` as the batch market reads them after a call's arguments: 20 bytes each,
    in order (``BatchMarket._address_at``). A malformed address raises :class:`LedgerError`."""
    try:
        return b"".join(to_canonical_address(a) for a in addresses)
    except (ValueError, TypeError) as exc:
        raise LedgerError("BatchMarket calldata", f"bad address: {exc}") from exc


@dataclass(frozen=True, slots=True)
class Position:
    """A cleared order's position: what its member traded in the slot, Wh and micro-currency."""

    member: str
    is_buy: bool
    energy_wh: int
    value_micro: int

    def as_tuple(self) -> tuple[str, bool, int, int]:
        return (self.member, self.is_buy, self.energy_wh, self.value_micro)


def positions_hash(positions: Sequence[Position]) -> bytes:
    """The hash chain the contract stores at the clearing: ``p = keccak(abi(p, position))``."""
    digest = b"\x00" * 32
    encode = encoder_for(("bytes32", "address", "bool", "uint256", "uint256"))
    for p in positions:
        digest = keccak(encode([digest, p.member, p.is_buy, p.energy_wh, p.value_micro]))
    return bytes(digest)


def packed_positions(positions: Sequence[Position]) -> bytes:
    """``positions`` as the batch market reads them after ``post_readings``'s arguments: 32 bytes
    each, in order: the member (20 bytes), is_buy (1), energy Wh (4) and value (7). A malformed
    member or an amount out of its field raises :class:`LedgerError`."""
    out = bytearray()
    for p in positions:
        if not (0 <= p.energy_wh < 2**32 and 0 <= p.value_micro < 2**56):
            raise LedgerError("BatchMarket calldata", f"position out of range: {p}")
        out += packed_addresses([p.member])
        out += bytes([int(p.is_buy)])
        out += p.energy_wh.to_bytes(4, "big") + p.value_micro.to_bytes(7, "big")
    return bytes(out)


@dataclass(frozen=True, slots=True)
class MeteredSettlement:
    """The metered settlement of one position (all micro-currency but the energies)."""

    position: Position
    metered_wh: int
    credit_micro: int
    at_meter_micro: int
    to_dso_micro: int
    from_dso_micro: int
    shortfall_micro: int

    @property
    def deviation_wh(self) -> int:
        return abs(self.position.energy_wh - self.metered_wh)

    @property
    def owed_to_dso_micro(self) -> int:
        """What the member owes the DSO (negative: what the DSO owes the member)."""
        return self.to_dso_micro + self.shortfall_micro - self.from_dso_micro

    def bill_micro(self, tariff_micro: int) -> int:
        """Eq. 4.8 for a buyer: ``at_meter + tariff + credit``."""
        return self.at_meter_micro + tariff_micro + self.credit_micro

    def income_micro(self, tariff_micro: int) -> int:
        """Eq. 4.9 for a seller: ``at_meter - tariff - credit``."""
        return self.at_meter_micro - tariff_micro - self.credit_micro


def metered_settlement(
    position: Position,
    metered_wh: int,
    penalty_micro_per_kwh: int,
    *,
    free_balance_micro: int | None = None,
) -> MeteredSettlement:
    """The contract's settlement of one position against ``metered_wh``.

    ``free_balance_micro`` is the member's free balance before it (``None``: assume it covers
    what is owed); what it cannot pay is the shortfall.
    """
    if position.energy_wh <= 0:
        raise ValueError("a position has a positive reference energy")
    if not 0 <= metered_wh <= MAX_METERED_WH:
        raise ValueError(f"metered_wh must be in 0..{MAX_METERED_WH}, got {metered_wh}")
    deviation = abs(position.energy_wh - metered_wh)
    credit = deviation * penalty_micro_per_kwh // WH_PER_KWH
    at_meter = position.value_micro * metered_wh // position.energy_wh
    if position.is_buy:
        owed = at_meter + credit - position.value_micro
    else:
        owed = position.value_micro + credit - at_meter
    to_dso = from_dso = shortfall = 0
    if owed > 0:
        to_dso = owed if free_balance_micro is None else min(owed, free_balance_micro)
        shortfall = owed - to_dso
    else:
        from_dso = -owed
    return MeteredSettlement(position, metered_wh, credit, at_meter, to_dso, from_dso, shortfall)


class MeterClient:
    """Posts a slot's meter readings to a ``BatchMarket`` contract (the meter role).

    The meter sends the readings, in position order, :data:`MAX_READINGS_PER_CALL` to a
    transaction, each transaction with every position not settled before it (packed after the
    arguments, :func:`packed_positions`): the contract checks them against the positions hash
    its clearing stored, from the chain's hash up to the first of them, so a wrong position
    reverts. Cheaper than reading each position's order word (a cold storage read, 2 100 gas),
    and a clearing closed in one transaction does not write its tallies to storage.
    """

    def __init__(self, chain: Chain, contract: Contract) -> None:
        self.chain = chain
        self.contract = contract

    def readings_for(
        self,
        slot: int,
        positions: Sequence[Position],
        metered_wh: Mapping[str, int] | Sequence[int],
    ) -> list[int]:
        """One reading per position, in position order, from readings by member address or
        already in position order."""
        call = f"{self.contract.name}.post_readings"
        if isinstance(metered_wh, Mapping):
            missing = sorted({p.member for p in positions} - set(metered_wh))
            if missing:
                raise LedgerError(call, f"no reading for {', '.join(missing)} in slot {slot}")
            return [int(metered_wh[p.member]) for p in positions]
        readings = [int(m) for m in metered_wh]
        if len(readings) != len(positions):
            raise LedgerError(
                call, f"{len(readings)} readings for {len(positions)} positions in slot {slot}"
            )
        return readings

    def post_readings(
        self,
        meter: str,
        slot: int,
        positions: Sequence[Position],
        metered_wh: Mapping[str, int] | Sequence[int],
    ) -> tuple[Receipt, ...]:
        """Post one reading per position (``metered_wh`` by member address, or in position
        order) and settle the slot against them: ``ceil(len(positions) / 256)`` transactions,
        one at least. ``positions`` are the slot's positions the meter has not passed yet."""
        readings = self.readings_for(slot, positions, metered_wh)
        return tuple(
            self.chain.transact(
                meter,
                self.contract,
                "post_readings",
                slot,
                readings[start : start + MAX_READINGS_PER_CALL],
                slot=slot,
                tail=packed_positions(positions[start:]),
            )
            for start in range(0, max(len(readings), 1), MAX_READINGS_PER_CALL)
        )
