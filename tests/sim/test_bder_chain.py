"""ADMM with the aggregator on chain (000_bder.md §6 item 7): the same iterates as off chain to
the fixed-point resolution; a household that stops answering times the run out."""

from __future__ import annotations

import numpy as np
import pytest

from peergrid.grid.opf.network import RadialNetwork
from peergrid.mechanisms.admm import AdmmSettings, BderCase, BderInputError, distributed
from peergrid.sim.bder_chain import AggregatorTimeout, ChainAggregator, run_on_chain

from ..mechanisms.admm.conftest import toy_case, toy_net

ITERATIONS = 5


@pytest.fixture(scope="module")
def case() -> BderCase:
    return toy_case(RadialNetwork.from_net(toy_net(), s_base_mva=0.01))


@pytest.mark.parametrize("design", ["trade-only", "grid-only"])
def test_on_and_off_chain_reach_the_same_iterates(case: BderCase, design: str) -> None:
    settings = AdmmSettings(max_iterations=ITERATIONS, start="baseline")
    off = distributed(case, design, settings)
    on = run_on_chain(case, design, settings)
    assert on.result.iterations == off.iterations == ITERATIONS
    for a, b in zip(off.history, on.result.history, strict=True):
        assert (a.rho, a.phi) == (b.rho, b.phi)  # the same balancing decisions
        for name in ("r_grid", "s_grid", "r_trade", "s_trade"):
            assert getattr(b, name) == pytest.approx(getattr(a, name), rel=1e-4, abs=1e-5)
        # grid-only runs with its ρ₀ = 1.0, which weighs the copies' rounding (10⁻⁶ kW) in
        # the duals 33 times more than 0.03 does: 1.0e-5 of 15.67 measured after five steps
        assert b.cost == pytest.approx(a.cost, rel=2e-6)
    # copies and bids are sent in 10⁻⁶ kW: the schedules after five local steps agree to
    # a few of those steps, the prices (10⁻⁹ per kW and period) closer still
    assert np.abs(on.result.schedules.net_kw - off.schedules.net_kw).max() < 2e-5
    if design == "trade-only":
        assert off.trades is not None and on.result.trades is not None
        assert np.abs(on.result.trades.quantity_kw - off.trades.quantity_kw).max() < 1e-5
        assert np.abs(on.result.trades.price - off.trades.price).max() < 1e-6
    gas = on.gas
    assert len(gas) == ITERATIONS
    assert all(len(g.submissions) == len(on.aggregator.agents) for g in gas)
    assert all(g.update > 0 and min(g.submissions) > 21_000 for g in gas)


@pytest.mark.parametrize("design", ["grid-only", "combined"])
def test_the_lindistflow_start_changes_only_the_initial_point_on_chain_too(
    case: BderCase, design: str
) -> None:
    """The start is the agents' and the opening's: the contract runs the same iterates.

    The combined design's start holds its trades, which the opening publishes as the first
    bids (``set_bids``) with z̃ and ξ, each rounded to the contract's resolution (10⁻⁶ kW,
    10⁻⁹ per kW and period). Measured: both stop by their residuals at iteration 1, schedules
    within 2.2e-7 kW, bids within 4.9e-7 kW, prices within 2.4e-8, costs 1e-8 apart of 15.7
    (from each household alone: 100 iterations each, costs 1.8e-6 apart).
    """
    settings = AdmmSettings(max_iterations=ITERATIONS, start="lindistflow")
    off = distributed(case, design, settings)
    on = run_on_chain(case, design, settings)
    # grid-only on the toy feeder meets its tolerances at once from this start (both sides)
    assert on.result.iterations == off.iterations <= ITERATIONS
    for a, b in zip(off.history, on.result.history, strict=True):
        assert (a.rho, a.phi) == (b.rho, b.phi)
        for name in ("r_grid", "s_grid", "r_trade", "s_trade"):
            assert getattr(b, name) == pytest.approx(getattr(a, name), rel=5e-4, abs=1e-5)
        assert b.cost == pytest.approx(a.cost, rel=2e-4)
    assert np.abs(on.result.schedules.net_kw - off.schedules.net_kw).max() < 1e-4
    if design == "combined":
        assert off.trades is not None and on.result.trades is not None
        assert np.abs(on.result.trades.quantity_kw - off.trades.quantity_kw).max() < 1e-4
        assert np.abs(on.result.trades.price - off.trades.price).max() < 1e-5
    # and it is another start than each household alone: the first iterate differs
    alone = distributed(case, design, AdmmSettings(max_iterations=1, start="baseline"))
    assert alone.history[0].cost != pytest.approx(off.history[0].cost, abs=1e-5)


class SilentAfter(ChainAggregator):
    """Household 1 stops answering in iteration 2."""

    def _submit(self, agent, copies, bids):  # type: ignore[no-untyped-def]
        if agent == 1 and self.ledger.state().iteration == 2:
            return []
        return super()._submit(agent, copies, bids)


def test_a_silent_household_times_out_never_a_wrong_result(
    case: BderCase, monkeypatch: pytest.MonkeyPatch
) -> None:
    import peergrid.sim.bder_chain as module

    monkeypatch.setattr(module, "ChainAggregator", SilentAfter)
    with pytest.raises(AggregatorTimeout, match=r"iteration 2 timed out; no submission from h001"):
        run_on_chain(case, "trade-only", AdmmSettings(max_iterations=4))


def test_what_the_contract_cannot_do_is_refused_by_name(case: BderCase) -> None:
    with pytest.raises(BderInputError, match="field 'alpha'"):
        run_on_chain(case, "grid-only", AdmmSettings(alpha=1.5))
    with pytest.raises(BderInputError, match="field 'balance_factor'"):
        run_on_chain(case, "grid-only", AdmmSettings(balance_factor=3.0))
    with pytest.raises(BderInputError, match="field 'anderson'"):
        run_on_chain(case, "trade-only", AdmmSettings(anderson=10))
    with pytest.raises(BderInputError, match="baseline"):
        run_on_chain(case, "baseline")
