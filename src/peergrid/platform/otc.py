"""OTC bilateral contracts in the trading cycle: the grid check at registration, netting the
contracted energy off the meters before the pool market clears, and the slot's settlement.

Registration (:func:`register_otc`). Before a contract is proposed on chain, its flow is checked
on the feeder with the grid layer's AC check
(:class:`~peergrid.grid.powerflow.PowerFlowCheck`): the seller injects, and the buyer draws,
the contract's power (Wh per slot over the slot's length) at their buses, on top of the
background the DSO gives (kW drawn per bus: the forecast's worst slot, say). A contract whose
flow breaks a voltage, line or transformer limit is refused with :class:`GridError` naming the
violations, and nothing is sent.

Each slot (:func:`pool_residual`, then :func:`settle_otc_slot`): each active contract's energy is
taken off the seller's metered production and the buyer's metered consumption, and what
remains goes to the pool market; once the pool has cleared, the contracts are settled on chain
against the meters with deviations at the pool's price.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from peergrid.core.errors import GridError
from peergrid.grid.feeders import Feeder
from peergrid.grid.powerflow import PowerFlowCheck, SlotCheck
from peergrid.ledger.chain.base import Receipt
from peergrid.ledger.markets.otc import OtcContract, OtcLedger

SECONDS_PER_HOUR = 3600


def contract_kw(wh_per_slot: int, slot_seconds: int) -> float:
    """The contract's constant power, kW."""
    return wh_per_slot / 1000 / (slot_seconds / SECONDS_PER_HOUR)


@dataclass(frozen=True, slots=True)
class OtcProposal:
    """What a member proposes (energy Wh per slot, price micro-currency per kWh)."""

    seller: str
    buyer: str
    seller_bus: int
    buyer_bus: int
    price_micro_per_kwh: int
    wh_per_slot: int
    first_slot: int
    last_slot: int


def grid_check(
    feeder: Feeder,
    proposal: OtcProposal,
    slot_seconds: int,
    background_kw: Mapping[int, float] | None = None,
) -> SlotCheck:
    """The AC check of the contract's flow (seller injecting, buyer drawing its power) on top of
    ``background_kw`` (bus -> kW drawn)."""
    buses = [proposal.seller_bus, proposal.buyer_bus, *(background_kw or {})]
    known = set(feeder.buses)
    for bus in buses:
        if bus not in known:
            raise GridError(f"feeder {feeder.name!r} has no bus {bus}")
    kw = contract_kw(proposal.wh_per_slot, slot_seconds)
    p = np.array([-kw, kw, *(background_kw or {}).values()], dtype=float)
    if not np.isfinite(p).all():
        raise GridError("background_kw holds a value that is not finite")
    return PowerFlowCheck(feeder, buses).check(proposal.first_slot, p)


def register_otc(
    ledger: OtcLedger,
    feeder: Feeder,
    proposal: OtcProposal,
    *,
    proposer: str,
    background_kw: Mapping[int, float] | None = None,
) -> int:
    """Check the contract on the grid, then propose it on chain from ``proposer`` (its seller or
    buyer); the contract's id. :class:`GridError` if the flow breaks a limit (nothing sent)."""
    if proposer not in (proposal.seller, proposal.buyer):
        raise ValueError("the proposer must be the contract's seller or buyer")
    check = grid_check(feeder, proposal, ledger.slot_seconds(), background_kw)
    if not check.passed:
        found = (
            ", ".join(
                f"{v.kind} at {v.element} ({v.value:.3g} > {v.limit:.3g})" for v in check.violations
            )
            if check.converged
            else "the power flow does not converge"
        )
        raise GridError(f"OTC contract {proposal.seller} -> {proposal.buyer} refused: {found}")
    as_seller = proposer == proposal.seller
    return ledger.propose(
        proposer,
        proposal.buyer if as_seller else proposal.seller,
        as_seller=as_seller,
        price_micro_per_kwh=proposal.price_micro_per_kwh,
        wh_per_slot=proposal.wh_per_slot,
        first_slot=proposal.first_slot,
        last_slot=proposal.last_slot,
    )


@dataclass(frozen=True, slots=True)
class Residual:
    """What each member brings to the pool market after its OTC contracts (Wh)."""

    production_wh: Mapping[str, int]
    consumption_wh: Mapping[str, int]


def pool_residual(
    contracts: Sequence[OtcContract],
    production_wh: Mapping[str, int],
    consumption_wh: Mapping[str, int],
) -> Residual:
    """Take each contract's energy off its seller's production and its buyer's consumption
    (never below zero: a shortfall is the contract's deviation, settled at the pool price)."""
    production = dict(production_wh)
    consumption = dict(consumption_wh)
    for c in contracts:
        production[c.seller] = max(0, production.get(c.seller, 0) - c.wh_per_slot)
        consumption[c.buyer] = max(0, consumption.get(c.buyer, 0) - c.wh_per_slot)
    return Residual(production, consumption)


def settle_otc_slot(
    ledger: OtcLedger,
    slot: int,
    pool_price_micro_per_kwh: int,
    production_wh: Mapping[str, int],
    consumption_wh: Mapping[str, int],
    contracts: Sequence[OtcContract] | None = None,
) -> tuple[Receipt, ...]:
    """Settle ``slot`` of every contract due in it against the meters (a member without a
    reading metered nothing)."""
    due = ledger.active_in(slot) if contracts is None else contracts
    readings = [
        (c.id, int(production_wh.get(c.seller, 0)), int(consumption_wh.get(c.buyer, 0)))
        for c in due
    ]
    if not readings:
        return ()
    return ledger.settle(slot, pool_price_micro_per_kwh, readings)
