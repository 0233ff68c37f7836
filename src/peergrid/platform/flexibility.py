"""The DSO's flexibility market for a day: from the grid layer's congestions to needs, offers,
the clearing (off chain by :mod:`peergrid.mechanisms.flexibility`, or on chain by
``FlexMarket.vy``) and the settlement of the metered delivery.

Per congested slot, in order of time and, within a slot, worst congestion first:

1. the members' offers for the slot are asked for once (:class:`FlexAssets`); what one need buys
   is not offered again to the next need of the same slot;
2. each congestion becomes a :class:`~peergrid.mechanisms.flexibility.FlexNeed`: the relative
   sensitivities of its area's buses, and the kW still needed once the relief of what earlier
   needs of the slot bought is counted (linear, with the same sensitivities);
3. the need is cleared: off chain, or posted on the ledger, offered by the members whose bus is in
   the area, and awarded by the contract (the awards used are the contract's, in Wh);
4. the assets deliver (:meth:`FlexAssets.deliver`: what they actually did), and the metered
   energy against the baseline settles each award: paid as bid on the delivered kWh (at most the
   award), the shortfall penalised at the penalty rate.

Money: currency per kWh off chain, micro-currency on chain (rounded down there: the figures
reported are the contract's when a ledger is used).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from peergrid.grid.congestion import Congestion
from peergrid.ledger.markets.flex_market import (
    DOWN,
    MIN_WEIGHT,
    UP,
    WEIGHT_ONE,
    FlexMarketLedger,
)
from peergrid.mechanisms.flexibility import (
    FlexAward,
    FlexClearing,
    FlexNeed,
    FlexOffer,
    clear_need,
    is_suitable,
    relative_sensitivity,
)

MICRO = 1_000_000


class FlexAssets(Protocol):
    """The members' flexible assets as the market sees them."""

    def offers(self, slot: int) -> list[FlexOffer]:
        """Every offer the members make for ``slot`` (both directions)."""
        ...

    def deliver(self, slot: int, award: FlexAward) -> float:
        """The asset behind ``award`` acts on it; the kW it actually delivered."""
        ...

    def baseline_kw(self, slot: int, member: str) -> float:
        """The member's baseline draw in ``slot`` (kW), from its meter history (the forecast)."""
        ...


@dataclass(frozen=True)
class SettledAward:
    """One award and its settlement."""

    need: FlexNeed
    award: FlexAward
    delivered_kw: float
    payment: float  # currency
    penalty: float  # currency


@dataclass
class FlexDayResult:
    """Needs, clearings and settled awards of a day."""

    slot_hours: float
    needs: list[FlexNeed] = field(default_factory=list)
    clearings: list[FlexClearing] = field(default_factory=list)
    settled: list[SettledAward] = field(default_factory=list)

    @property
    def bought_kwh(self) -> float:
        return sum(s.award.kw for s in self.settled) * self.slot_hours

    @property
    def delivered_kwh(self) -> float:
        return sum(s.delivered_kw for s in self.settled) * self.slot_hours

    @property
    def cost(self) -> float:
        return sum(s.payment for s in self.settled)

    @property
    def penalties(self) -> float:
        return sum(s.penalty for s in self.settled)

    @property
    def needed_kwh(self) -> float:
        return sum(n.kw for n in self.needs) * self.slot_hours


@dataclass
class FlexLedgerRun:
    """The ledger side: the market client and each member's account."""

    ledger: FlexMarketLedger
    accounts: Mapping[str, str]  # member -> address


def run_flex_day(
    congestions: Sequence[Congestion],
    assets: FlexAssets,
    *,
    max_price: float,
    penalty_rate: float,
    slot_hours: float,
    ledger: FlexLedgerRun | None = None,
) -> FlexDayResult:
    """Clear and settle every congestion of the day (see the module's docstring)."""
    result = FlexDayResult(slot_hours)
    by_slot: dict[int, list[Congestion]] = {}
    for c in congestions:
        by_slot.setdefault(c.slot, []).append(c)
    for slot in sorted(by_slot):
        left = {o.id: o for o in assets.offers(slot)}
        bought: list[FlexAward] = []
        for number, congestion in enumerate(by_slot[slot]):
            need = _need(congestion, number, bought, max_price)
            if need is None:
                continue
            result.needs.append(need)
            offers = list(left.values())
            placed: dict[int, FlexAward] = {}
            number = 0
            if ledger is None:
                clearing = clear_need(need, offers)
            else:
                clearing, number, placed = _clear_on_chain(
                    ledger, need, offers, penalty_rate, slot_hours
                )
            result.clearings.append(clearing)
            for award in clearing.awards:
                bought.append(award)
                rest = left[award.offer.id].kw - award.kw
                if rest > 1e-9:
                    left[award.offer.id] = _with_kw(award.offer, rest)
                else:
                    del left[award.offer.id]
            delivered = {id(a): assets.deliver(slot, a) for a in clearing.awards}
            if ledger is None:
                result.settled.extend(_settle(clearing, delivered, penalty_rate, slot_hours))
            elif number:
                result.settled.extend(
                    _settle_on_chain(ledger, assets, need, number, placed, delivered, slot_hours)
                )
    return result


def _need(
    congestion: Congestion, number: int, bought: Sequence[FlexAward], max_price: float
) -> FlexNeed | None:
    relief = congestion.relief_per_kw
    best = max(relief.values())
    # relief already bought in this slot for other elements (linear, same direction only)
    done = sum(
        a.kw * relief.get(a.offer.bus, 0.0)
        for a in bought
        if a.offer.direction == congestion.direction
    )
    kw = congestion.kw - done / best
    if kw <= 1e-6:
        return None
    return FlexNeed(
        id=f"{congestion.slot}-{number}",
        slot=congestion.slot,
        direction=congestion.direction,
        kw=kw,
        max_price=max_price,
        sensitivity=relative_sensitivity(relief),
        element=congestion.element,
    )


def _with_kw(offer: FlexOffer, kw: float) -> FlexOffer:
    return FlexOffer(
        offer.id, offer.member, offer.bus, kw, offer.price, offer.kind, offer.direction
    )


def _wh(kw: float, hours: float) -> int:
    return round(kw * hours * 1000)


def _clear_on_chain(
    run: FlexLedgerRun,
    need: FlexNeed,
    offers: Sequence[FlexOffer],
    penalty_rate: float,
    hours: float,
) -> tuple[FlexClearing, int, dict[int, FlexAward]]:
    """Post, offer and award on chain: the clearing, the need's number on the ledger and the
    awards by offer number."""
    ledger = run.ledger
    weights = {bus: round(w * WEIGHT_ONE) for bus, w in need.sensitivity.items()}
    weights = {bus: w for bus, w in weights.items() if w >= MIN_WEIGHT}
    if not weights:
        return FlexClearing(need), 0, {}
    number, _ = ledger.post_need(
        slot=need.slot,
        direction=DOWN if need.direction == "down" else UP,
        need_wh=max(_wh(need.kw, hours), 1),
        max_price=round(need.max_price * MICRO),
        penalty_rate=round(penalty_rate * MICRO),
        weights=weights,
    )
    placed: dict[int, FlexOffer] = {}
    for offer in offers:
        # a member offers only what suits the posted need: its bus in the area, its direction,
        # its price at most the maximum (the contract refuses the rest)
        wh = _wh(offer.kw, hours)
        if not is_suitable(offer, need) or offer.bus not in weights or wh == 0:
            continue
        k, _ = ledger.offer(
            run.accounts[offer.member],
            number,
            wh=wh,
            price=round(offer.price * MICRO),
            kind=offer.kind,
        )
        placed[k] = offer
    ledger.award(number)
    states = ledger.offers(number)
    awards: dict[int, FlexAward] = {}
    for k, offer in placed.items():
        awarded_wh = states[k - 1].awarded_wh
        if awarded_wh:
            kw = awarded_wh / 1000 / hours
            awards[k] = FlexAward(offer, kw, kw * weights[offer.bus] / WEIGHT_ONE)
    return FlexClearing(need, tuple(awards.values())), number, awards


def _settle(
    clearing: FlexClearing,
    delivered: Mapping[int, float],
    penalty_rate: float,
    hours: float,
) -> list[SettledAward]:
    out: list[SettledAward] = []
    for award in clearing.awards:
        counted = min(max(delivered[id(award)], 0.0), award.kw)
        payment = counted * hours * award.price
        penalty = (award.kw - counted) * hours * penalty_rate
        out.append(SettledAward(clearing.need, award, counted, payment, penalty))
    return out


def _settle_on_chain(
    run: FlexLedgerRun,
    assets: FlexAssets,
    need: FlexNeed,
    number: int,
    awards: Mapping[int, FlexAward],
    delivered: Mapping[int, float],
    hours: float,
) -> list[SettledAward]:
    """The meter operator reports, per award, the member's baseline and its reading net of its
    other awards in the slot; the contract pays or penalises."""
    sign = -1.0 if need.direction == "down" else 1.0
    readings: dict[int, tuple[int, int]] = {}
    for k, award in awards.items():
        baseline = assets.baseline_kw(need.slot, award.offer.member)
        metered = baseline + sign * delivered[id(award)]
        # meters count energy drawn from 0 up: shift both when the member exports
        shift = max(0.0, -min(baseline, metered))
        readings[k] = (_wh(baseline + shift, hours), _wh(metered + shift, hours))
    run.ledger.settle(number, readings)
    out: list[SettledAward] = []
    for k, award in awards.items():
        state = run.ledger.offer_of(number, k)
        out.append(
            SettledAward(
                need,
                award,
                state.delivered_wh / 1000 / hours,
                state.payment / MICRO,
                state.penalty / MICRO,
            )
        )
    return out
