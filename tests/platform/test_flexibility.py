"""The flexibility day's wiring: needs from congestions, clearing off and on chain alike, the
relief already bought in a slot counted, and the metered settlement (paid or penalised)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from peergrid.grid.congestion import Congestion
from peergrid.ledger import EmbeddedChain
from peergrid.ledger.markets.flex_market import FlexMarketLedger
from peergrid.mechanisms.flexibility import FlexAward, FlexOffer
from peergrid.platform.flexibility import FlexLedgerRun, run_flex_day

HOURS = 0.25


@dataclass
class Assets:
    """m1 at bus 1: a battery, 6 kW at 0.12; m2 at bus 2: a load, 8 kW at 0.05 delivering 80 %."""

    delivered: list[tuple[str, float]] = field(default_factory=list)

    def offers(self, slot: int) -> list[FlexOffer]:
        return [
            FlexOffer("m1/battery", "m1", 1, 6.0, 0.12, "battery"),
            FlexOffer("m2/load", "m2", 2, 8.0, 0.05, "flexible_load"),
        ]

    def deliver(self, slot: int, award: FlexAward) -> float:
        kw = award.kw * (0.8 if award.offer.kind == "flexible_load" else 1.0)
        self.delivered.append((award.offer.id, kw))
        return kw

    def baseline_kw(self, slot: int, member: str) -> float:
        return 10.0


def congestion(element: str, kw: float, relief: dict[int, float]) -> Congestion:
    return Congestion(5, element, "trafo_overload", 106.0, 100.0, "down", kw, relief)


TRAFO = congestion("trafo 0", 10.0, {1: 0.6, 2: 0.3})


def open_ledger() -> FlexLedgerRun:
    chain = EmbeddedChain()
    dso, meter, issuer = (chain.new_account(n) for n in ("dso", "meter", "issuer"))
    ledger = FlexMarketLedger.deploy(
        chain, dso=dso, meter_operator=meter, issuer=issuer, supply_micro=10**15
    )
    accounts = {}
    for member, bus in (("m1", 1), ("m2", 2)):
        accounts[member] = chain.new_account(member)
        ledger.register(accounts[member], bus)
    for account in [dso, *accounts.values()]:
        ledger.fund(account, 10**9)
        ledger.deposit(account, 10**9)
    return FlexLedgerRun(ledger, accounts)


@pytest.mark.parametrize("on_chain", [False, True])
def test_worked_day(on_chain: bool) -> None:
    run = open_ledger() if on_chain else None
    result = run_flex_day(
        [TRAFO], Assets(), max_price=0.3, penalty_rate=0.10, slot_hours=HOURS, ledger=run
    )
    (need,) = result.needs
    assert need.kw == 10.0 and dict(need.sensitivity) == {1: 1.0, 2: 0.5}
    # m2 first (0.05 / 0.5 = 0.10 per effective kW): 8 kW for 4; then m1's 6 kW for the other 6
    settled = {s.award.offer.member: s for s in result.settled}
    assert settled["m2"].award.kw == pytest.approx(8.0)
    assert settled["m1"].award.kw == pytest.approx(6.0)
    assert settled["m2"].delivered_kw == pytest.approx(6.4)
    assert settled["m1"].payment == pytest.approx(6 * HOURS * 0.12)  # 0.18
    assert settled["m2"].payment == pytest.approx(6.4 * HOURS * 0.05)  # 0.08
    assert settled["m2"].penalty == pytest.approx(1.6 * HOURS * 0.10)  # 0.04
    assert settled["m1"].penalty == 0
    assert result.cost == pytest.approx(0.26) and result.penalties == pytest.approx(0.04)
    assert result.bought_kwh == pytest.approx(14 * HOURS)
    assert result.delivered_kwh == pytest.approx(12.4 * HOURS)
    if run is not None:
        ledger = run.ledger
        assert ledger.balance_of(run.accounts["m1"]) == 10**9 + 180_000
        assert ledger.balance_of(run.accounts["m2"]) == 10**9 + 80_000 - 40_000


def test_relief_already_bought_in_the_slot_counts() -> None:
    # a line fed through bus 1 only: m1's 6 kW already relieve it by 3.6, the need of 5 / 0.6
    # kW at bus 1 is covered
    line = congestion("line 3", 5.0, {1: 0.6})
    result = run_flex_day(
        [TRAFO, line], Assets(), max_price=0.3, penalty_rate=0.1, slot_hours=HOURS
    )
    assert len(result.needs) == 1
    # a larger line need: what is left, from what is left to offer (nothing at bus 1)
    bigger = congestion("line 3", 9.0, {1: 0.6})
    result = run_flex_day(
        [TRAFO, bigger], Assets(), max_price=0.3, penalty_rate=0.1, slot_hours=HOURS
    )
    assert [n.kw for n in result.needs] == [10.0, pytest.approx(3.0)]
    assert result.clearings[1].awards == ()


def test_price_cap_and_empty_area() -> None:
    result = run_flex_day(
        [TRAFO], Assets(), max_price=0.04, penalty_rate=0.1, slot_hours=HOURS, ledger=open_ledger()
    )
    assert result.settled == [] and len(result.needs) == 1
