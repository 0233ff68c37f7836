"""A run's summary as a typed object: every figure of ``summary.json`` with its type and unit.

:func:`peergrid.sim.metrics.summarise` computes the figures as a mapping (what ``summary.json``
holds); :class:`RunSummary` is the same figures as attributes, for code and for the report's
headline. A test holds the two together: every figure a run reports is a field here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

SERVICES_FIGURES = (
    "certificates_issued",
    "certificates_cancelled",
    "otc_kwh",
    "flexibility_kwh",
    "dividends_paid",
)
"""The services' headline figures, in ``summary.json`` only when the run had services."""


class RunSummary(BaseModel):
    """The summary figures of a run. Money is in the scenario's ``currency``, energy in kWh.

    ::

        result = peergrid.run(peergrid.Scenario())
        s = result.summary
        f"{s.self_sufficiency:.0%} self-sufficient, {s.p2p_traded_kwh:.1f} kWh traded"
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    scenario: str = Field(description="the scenario's name")
    mechanism: str = Field(
        description="the clearing mechanism (the sessions' market when the energy market is off)"
    )
    feeder: str = Field(description="the feeder")
    households: int = Field(description="number of households")
    households_with_pv: int = Field(description="households with PV")
    slots: int = Field(description="slots run")
    currency: str = Field(description="the currency of every money figure")
    consumption_kwh: float = Field(description="the households' consumption, kWh")
    pv_production_kwh: float = Field(description="their PV production, kWh")
    p2p_contracted_kwh: float = Field(description="peer-to-peer energy contracted, kWh")
    p2p_traded_kwh: float = Field(description="peer-to-peer energy the buyers' meters confirm")
    p2p_undelivered_kwh: float = Field(description="energy contracted but not delivered, kWh")
    forecast_error: float = Field(description="relative standard deviation of the forecasts")
    orders: int = Field(description="orders placed")
    late_orders: int = Field(description="orders sent after the quotation window")
    rolled_replaced: int = Field(description="rolled orders replaced by their agent")
    rolled_withdrawn: int = Field(description="rolled orders withdrawn")
    trades_refused: int = Field(description="trades the ledger would refuse, voided")
    winners_quoted: int = Field(description="winning orders sent their quotes")
    losers_told: int = Field(description="losing orders told the clearing price")
    imported_kwh: float = Field(description="energy imported from the supplier, kWh")
    exported_kwh: float = Field(description="energy exported to the supplier, kWh")
    self_sufficiency: float = Field(description="share of consumption not imported, with market")
    self_sufficiency_baseline: float = Field(description="the same without the market")
    trades: int = Field(description="trades")
    slots_with_trades: int = Field(description="slots with at least one trade")
    average_p2p_price: float | None = Field(description="volume-weighted price, currency/kWh")
    retail_price: float = Field(description="supplier's import price, currency/kWh")
    feed_in_price: float = Field(description="supplier's export price, currency/kWh")
    community_bill: float = Field(description="the households' bills together, currency")
    community_bill_baseline: float = Field(description="the same without the market")
    community_saving: float = Field(description="the baseline bill less the bill, currency")
    dso_network_fees: float = Field(description="the DSO's fees on P2P energy, currency")
    penalties: float = Field(description="penalties on undelivered energy, currency")
    dso_imbalance: float = Field(description="the DSO's true-ups of metered deviations")
    dso_income: float = Field(description="fees + penalties + true-ups, currency")
    average_trade_distance_m: float | None = Field(description="energy-weighted path length, m")
    households_better_off: int = Field(description="households whose bill fell")
    households_worse_off: int = Field(description="households whose bill rose")
    largest_saving: float = Field(description="the largest fall of one bill, currency")
    winners_beyond_limit: int = Field(description="winners priced beyond their own limit")
    clipping_excess_kwh: float = Field(description="DPDA clipping excess sold at feed-in, kWh")
    grid_checked: bool = Field(description="whether every slot was checked with a power flow")
    grid_violations: int = Field(description="limit violations")
    grid_violations_by_kind: dict[str, int] = Field(description="violations by kind")
    slots_with_violations: int = Field(description="slots with at least one violation")
    power_flow_failures: int = Field(description="power flows that did not converge")
    v_min_pu: float | None = Field(description="lowest bus voltage, p.u.")
    v_max_pu: float | None = Field(description="highest bus voltage, p.u.")
    max_line_loading_pct: float | None = Field(description="highest line loading, %")
    max_trafo_loading_pct: float | None = Field(description="highest transformer loading, %")
    ledger: bool = Field(description="whether the trades were settled on chain")
    transactions: int = Field(description="slot transactions on chain")
    gas_used: int = Field(description="gas of the slot transactions")
    ledger_setup_transactions: int | None = Field(None, description="deployment and enrolment")
    ledger_setup_gas: int | None = Field(None, description="their gas")
    ledger_market: str | None = Field(None, description="the contract the run settled on")
    ledger_dso_balance: float | None = Field(None, description="the DSO's balance, currency")
    ledger_fills_refused: int | None = Field(None, description="fills the contract refused")
    ledger_unpaid: float | None = Field(None, description="charges members could not pay")
    ledger_money_conserved: bool | None = Field(None, description="money conserved on chain")
    ledger_surplus: float | None = Field(None, description="rounding left in the contract")
    ledger_trades_below_one_wh: int | None = Field(None, description="trades below 1 Wh")
    # The ancillary-service sessions (004_vdma.md), when the run has them.
    ancillary_only: bool | None = Field(None, description="the sessions alone, no energy market")
    ancillary_mechanism: str | None = Field(None, description="the sessions' market")
    ancillary_on_chain: bool | None = Field(None, description="cleared on the order book")
    ancillary_sessions: int | None = Field(None, description="sessions (hours × pools)")
    ancillary_asks: int | None = Field(None, description="asks (requests for service)")
    ancillary_offers: int | None = Field(None, description="offers of service")
    ancillary_asked_kwh: float | None = Field(None, description="service asked, kWh")
    ancillary_offered_kwh: float | None = Field(None, description="service offered, kWh")
    ancillary_matched_kwh: float | None = Field(None, description="service matched, kWh")
    ancillary_up_matched_kwh: float | None = Field(None, description="of it upward (AS+), kWh")
    ancillary_down_matched_kwh: float | None = Field(None, description="downward (AS−), kWh")
    ancillary_unsatisfied_kwh: float | None = Field(
        None, description="asked but not matched: to external resources, kWh"
    )
    ancillary_unsold_kwh: float | None = Field(None, description="offered but not matched, kWh")
    ancillary_trades: int | None = Field(None, description="matches")
    ancillary_average_price: float | None = Field(
        None, description="matched-kWh-weighted price, currency/kWh"
    )
    ancillary_min_price: float | None = Field(None, description="lowest match price")
    ancillary_max_price: float | None = Field(None, description="highest match price")
    ancillary_sessions_checked: int | None = Field(None, description="checked by AC power flow")
    ancillary_infeasible_sessions: int | None = Field(
        None, description="sessions whose matches break a grid limit"
    )
    ancillary_violations: int | None = Field(None, description="limits broken, over sessions")
    ancillary_gas_used: int | None = Field(None, description="gas of the sessions on chain")
    ancillary_cost_eur: float | None = Field(None, description="their cost by Eq. 1, €")
    ancillary_cost_eur_per_session: float | None = Field(None, description="€ per session")

    # The EV quota day (001b_book.md ch. 9), when the run is one; money in tokens (0.01 CNY).
    ev_quota_only: bool | None = Field(None, description="the EV quota day, run alone")
    ev_quota_evs: int | None = Field(None, description="EVs, each its own charging station")
    ev_quota_periods: int | None = Field(None, description="half-hour periods, noon to noon")
    ev_quota_transformer_kva: float | None = Field(None, description="transformer rating, kVA")
    ev_quota_loading_limit_pct: float | None = Field(None, description="its loading limit, %")
    ev_quota_min_margin_kw: float | None = Field(None, description="smallest capacity margin")
    ev_quota_auctions: int | None = Field(None, description="periods with a quota auction")
    ev_quota_min_beta: float | None = Field(None, description="lowest satisfaction rate β")
    ev_quota_trades: int | None = Field(None, description="quota trades")
    ev_quota_traded_kw: float | None = Field(None, description="quota traded, kW")
    ev_quota_average_price: float | None = Field(
        None, description="kW-weighted quota price, tokens/kWh"
    )
    ev_quota_min_price: float | None = Field(None, description="lowest quota trade price")
    ev_quota_max_price: float | None = Field(None, description="highest quota trade price")
    ev_quota_auction_paid: float | None = Field(None, description="paid for quota, tokens")
    ev_quota_auction_balance: float | None = Field(
        None, description="buyers' payments less sellers' receipts (0: money conserved)"
    )
    ev_quota_charging_fees: float | None = Field(None, description="charging fees, tokens")
    ev_quota_energy_needed_kwh: float | None = Field(None, description="EVs' need, kWh")
    ev_quota_energy_delivered_kwh: float | None = Field(None, description="delivered, kWh")
    ev_quota_satisfaction: float | None = Field(None, description="delivered / needed")
    ev_quota_min_satisfaction: float | None = Field(None, description="lowest of one EV")
    ev_quota_evs_fully_charged: int | None = Field(None, description="EVs given all they need")
    ev_quota_peak_charging_kw: float | None = Field(None, description="largest charging, kW")
    ev_quota_peak_trafo_loading_pct: float | None = Field(
        None, description="highest transformer loading with quotas, %"
    )
    ev_quota_overload_periods: int | None = Field(
        None, description="periods with the transformer above its limit, with quotas"
    )
    ev_quota_baseline_energy_delivered_kwh: float | None = Field(
        None, description="delivered without quotas (uncoordinated), kWh"
    )
    ev_quota_baseline_satisfaction: float | None = Field(None, description="the same, share")
    ev_quota_baseline_peak_charging_kw: float | None = Field(
        None, description="largest charging without quotas, kW"
    )
    ev_quota_baseline_peak_trafo_loading_pct: float | None = Field(
        None, description="highest transformer loading without quotas, %"
    )
    ev_quota_baseline_overload_periods: int | None = Field(
        None, description="periods above the limit without quotas"
    )
    ev_quota_baseline_violations: int | None = Field(
        None, description="grid limits broken without quotas"
    )

    # The platform's services (docs/systems/s10.md, "In a run"), when the run has them.
    certificates_issued: int | None = Field(
        None, description="guarantees of origin issued, certificates (one per Wh of PV)"
    )
    certificates_cancelled: int | None = Field(
        None, description="of them cancelled for the producers' buyers, certificates (Wh)"
    )
    otc_kwh: float | None = Field(None, description="OTC contracted energy settled, kWh")
    flexibility_kwh: float | None = Field(None, description="flexibility delivered, kWh")
    dividends_paid: float | None = Field(
        None, description="community battery dividends claimed by its holders, currency"
    )
    services_certificate_producers: int | None = Field(None, description="PV producers")
    services_metered_pv_wh: int | None = Field(None, description="their metered PV, Wh")
    services_otc_contracts: int | None = Field(None, description="OTC contracts signed")
    services_otc_refused: int | None = Field(None, description="refused by the grid check")
    services_otc_paid: float | None = Field(None, description="OTC buyers paid sellers")
    services_flexibility_needs: int | None = Field(None, description="needs posted by the DSO")
    services_flexibility_bought_kwh: float | None = Field(None, description="awarded, kWh")
    services_flexibility_cost: float | None = Field(None, description="paid by the DSO")
    services_flexibility_penalties: float | None = Field(None, description="paid to the DSO")
    services_congested_slots_before: int | None = Field(
        None, description="slots congested on the metered draw"
    )
    services_congested_slots_after: int | None = Field(
        None, description="of them still congested with the flexibility delivered"
    )
    services_battery_raised: float | None = Field(None, description="crowdsale raised")
    services_battery_revenue: float | None = Field(None, description="battery's net revenue")
    services_money_conserved: bool | None = Field(None, description="services' tokens conserved")
    services_transactions: int | None = Field(None, description="services' transactions")
    services_gas_used: int | None = Field(None, description="their gas")
    services_ledger_s: float | None = Field(None, description="wall time on their chain, s")
    services_screening_s: float | None = Field(None, description="congestion screening, s")

    @classmethod
    def from_mapping(cls, figures: Mapping[str, Any]) -> RunSummary:
        """The typed view of ``summary.json``'s figures (its ``timings_s`` aside)."""
        return cls.model_validate({k: v for k, v in figures.items() if k != "timings_s"})

    def to_dict(self) -> dict[str, Any]:
        """The figures as ``summary.json`` holds them (without the ledger's when off chain, the
        ancillary-service sessions' when the run had none, the EV quota day's when it was not
        one)."""
        figures = self.model_dump()
        if not self.ledger:
            figures = {k: v for k, v in figures.items() if not k.startswith("ledger_")}
        if self.ancillary_sessions is None:
            figures = {k: v for k, v in figures.items() if not k.startswith("ancillary_")}
        if self.certificates_issued is None:
            figures = {
                k: v
                for k, v in figures.items()
                if k not in SERVICES_FIGURES and not k.startswith("services_")
            }
        if self.ev_quota_evs is None:
            figures = {k: v for k, v in figures.items() if not k.startswith("ev_quota_")}
        elif self.ev_quota_baseline_satisfaction is None:
            figures = {k: v for k, v in figures.items() if not k.startswith("ev_quota_baseline_")}
        return figures
