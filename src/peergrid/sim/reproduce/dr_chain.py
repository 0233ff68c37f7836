"""The reproduction's days replayed on the embedded chain through ``DrSettlement.vy``: every slot's
bids, both settlements and the rescheduled demands, checked against the off-chain settlement to
the unit, with the gas of each call."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from peergrid.ledger import EmbeddedChain
from peergrid.ledger.markets.dr_settlement import DrSettlementLedger
from peergrid.mechanisms.dr.day import DayMarket, DayOutcome
from peergrid.mechanisms.dr.two_stage import DemandResponseError

FUNDS = 10**15
"""Micro-currency given to every account (a billion currency units: never the constraint)."""


@dataclass(frozen=True)
class ChainReplay:
    """What the replay found: slots whose first / final settlement differed from off chain, and
    gas (per call kind, summed) with the number of bids settled."""

    slots: int
    numbers: tuple[int, ...]
    first_mismatches: tuple[int, ...]
    final_mismatches: tuple[int, ...]
    gas: dict[str, int]
    bids: int
    calls: dict[str, int]

    @property
    def gas_per_prosumer_per_settlement(self) -> float:
        """(settle_first + settle_final gas) / (2 × bids settled)."""
        return (self.gas["settle_first"] + self.gas["settle_final"]) / (2 * self.bids)


def replay_on_chain(
    days: list[tuple[DayMarket, DayOutcome]],
    *,
    slots: Iterable[int] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> ChainReplay:
    chain = EmbeddedChain()
    operator, issuer = chain.new_account("operator"), chain.new_account("issuer")
    ledger = DrSettlementLedger.deploy(chain, operator=operator, issuer=issuer, supply_micro=2**200)
    n = days[0][1].bids.demand_wh.shape[1]
    prosumers = [chain.new_account(f"prosumer-{p}") for p in range(n)]
    for account in [operator, *prosumers]:
        if account != operator:
            ledger.register(account)
        ledger.fund(account, FUNDS)
        ledger.deposit(account, FUNDS)
    gas = {"bid": 0, "settle_first": 0, "reschedule": 0, "settle_final": 0}
    calls = dict.fromkeys(gas, 0)
    first_bad: list[int] = []
    final_bad: list[int] = []
    everything = [(k, t) for k, (m, _) in enumerate(days) for t in range(len(m.upstream_price))]
    chosen = range(len(everything)) if slots is None else sorted(set(slots))
    total = len(chosen)
    if any(not 0 <= slot < len(everything) for slot in chosen):
        raise DemandResponseError(f"chain replay: slots are numbered 0..{len(everything) - 1}")
    done = bids_settled = 0
    for slot in chosen:
        day, t = everything[slot]
        market, outcome = days[day]
        b, first, final = outcome.bids, outcome.first, outcome.final
        ledger.open_slot(
            slot,
            upstream_price=int(market.upstream_micro[t]),
            alpha=int(market.alpha_ppm[t]),
            penalty_rate=int(market.penalty_micro[t]),
            settle_by=chain.timestamp() + 3600,
        )
        for p, account in enumerate(prosumers):
            receipt = ledger.bid(
                account,
                slot,
                demand=int(b.demand_wh[t, p]),
                price=int(b.price[t, p]),
                supply=int(b.supply_wh[t, p]),
            )
            gas["bid"] += receipt.gas_used
            calls["bid"] += 1
        receipt = ledger.settle_first(slot)
        gas["settle_first"] += receipt.gas_used
        calls["settle_first"] += 1
        state = ledger.slot(slot)
        on_chain = ledger.bids_of(slot, prosumers)
        if (
            (state.price, state.dr_price, state.cleared)
            != (first.price[t], first.dr_price[t], first.cleared_wh[t])
            or [x.bought for x in on_chain] != first.bought_wh[t].tolist()
            or [x.sold for x in on_chain] != first.sold_wh[t].tolist()
        ):
            first_bad.append(slot)
        new_demand = np.asarray(outcome.consumed_kwh[t] * 1000).round().astype(np.int64)
        for p, account in enumerate(prosumers):
            if b.buy_wh[t, p] > 0 and new_demand[p] != b.demand_wh[t, p]:
                receipt = ledger.reschedule(account, slot, int(new_demand[p]))
                gas["reschedule"] += receipt.gas_used
                calls["reschedule"] += 1
        # A seller's meter reading: what it was cleared for less its shortfall (the
        # contract takes at most the cleared quantity, so this is what it delivered).
        readings = {
            prosumers[p]: int(first.sold_wh[t, p] - final.shortfall_wh[t, p])
            for p in range(n)
            if b.sell_wh[t, p] > 0
        }
        receipt = ledger.settle_final(slot, readings)
        gas["settle_final"] += receipt.gas_used
        calls["settle_final"] += 1
        changes = [x.change for x in ledger.bids_of(slot, prosumers)]
        if (
            changes != final.money[t].tolist()
            or ledger.slot(slot).operator_change != final.operator[t]
        ):
            final_bad.append(slot)
        bids_settled += n
        done += 1
        if progress is not None:
            progress(done, total)
    return ChainReplay(
        slots=done,
        numbers=tuple(chosen),
        first_mismatches=tuple(first_bad),
        final_mismatches=tuple(final_bad),
        gas=gas,
        bids=bids_settled,
        calls=calls,
    )
