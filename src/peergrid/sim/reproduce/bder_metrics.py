"""The report's indicators (Tables 4 and 5, 000_bder.md §4.2–4.3) of one day of one design.

Definitions (currency, kWh; one day; summed over days and households for a week):

- ``import_cost``: what the community pays for its exchange with the external grid, net:
  energy bought at the import price κ_t less energy sold at the feed-in price κ_t/2. Baseline
  and trade-only: every household's own retail contract. Grid-only: the community's exchange
  at the feeder's root (exchanges inside are free, seed L621). Combined: the households'
  retail contracts plus the branch losses, bought at κ_t (the DSO's cost).
- ``trade_cost``: the gross payment for bilateral trades, what the buyers pay at the trade
  prices ξ (Table 4's "total trade costs", which counts the internal transfer once); zero
  without trading. The coefficients' charge ``Σ γ|d|`` is not a payment and is not in it (the
  report's table leaves it out too: its trade rows are zero-sum); ``coefficient_cost`` keeps it.
- ``total_cost`` = ``import_cost`` + ``trade_cost`` (Table 4's "total costs").
- ``total_import_kwh``: energy bought at the import price (the same contracts as
  ``import_cost``; in combined, the losses included). ``peak_import_kwh``: the part of it in the
  report's peak hours 06–09 and 17–20 (periods starting at 6, 7, 8, 17, 18, 19).
- ``exchange_kwh``: energy exchanged between households. Trading designs: the traded
  quantity, each trade counted once (half of ``Σ|d_ij|Δt`` over both sides of every pair).
  Grid-only: the energy that households inject and other households take inside the feeder,
  per hour the smaller of the households' total injection and total withdrawal. Baseline: 0.
- prosumer / consumer splits of the import and trade costs: per household (its retail
  contract; its net trade payment); not defined in grid-only, where only the community has a
  contract, nor for the combined design's losses (``loss_cost``), which no household pays.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from peergrid.mechanisms.admm import BderCase, BderResult

PEAK_HOURS = (6, 7, 8, 17, 18, 19)


@dataclass(frozen=True)
class DayMetrics:
    """One design on one day; ``nan`` where an indicator is not defined (module doc)."""

    total_cost: float
    import_cost: float
    trade_cost: float
    total_import_kwh: float
    peak_import_kwh: float
    exchange_kwh: float
    prosumer_import_cost: float
    consumer_import_cost: float
    prosumer_trade_cost: float
    consumer_trade_cost: float
    loss_cost: float
    coefficient_cost: float
    objective: float  # the design's own objective (retail + coefficients + losses)

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def day_metrics(case: BderCase, result: BderResult) -> DayMetrics:
    """The indicators of ``result`` on ``case`` (module doc)."""
    dt = case.period_hours
    kappa = case.prices.import_per_kwh
    kappa_fi = case.prices.feed_in_per_kwh
    peak = np.zeros(case.periods, dtype=bool)
    peak[[h for h in PEAK_HOURS if h < case.periods]] = True
    prosumer = np.array([h.is_prosumer for h in case.households])
    s = result.schedules
    nan = float("nan")
    if result.design == "grid-only":
        assert result.network is not None
        root = result.network.root_p_kw
        bought = np.maximum(root, 0.0)
        sold = np.maximum(-root, 0.0)
        import_cost = float((bought @ kappa - sold @ kappa_fi) * dt)
        import_kwh = bought * dt
        pro_imp = con_imp = nan
        loss_cost = 0.0
    else:
        retail = (s.import_kw @ kappa - s.export_kw @ kappa_fi) * dt  # (H,)
        import_kwh = s.import_kw.sum(axis=0) * dt
        loss_cost = 0.0
        if result.design == "combined":
            assert result.network is not None
            loss_cost = float(result.cost_parts.get("losses", 0.0))
            import_kwh = import_kwh + result.network.loss_kw * dt
        import_cost = float(retail.sum()) + loss_cost
        pro_imp = float(retail[prosumer].sum())
        con_imp = float(retail[~prosumer].sum())
    if result.trades is not None:
        tr = result.trades
        buys = np.minimum(tr.quantity_kw, 0.0)
        trade_cost = float(-(tr.price * buys).sum() * dt)
        pay = tr.payments(case.n_households, dt)
        pro_tr, con_tr = float(pay[prosumer].sum()), float(pay[~prosumer].sum())
        exchange = float(np.abs(tr.quantity_kw).sum() * dt / 2)
    else:
        trade_cost = 0.0
        pro_tr = con_tr = 0.0 if result.design == "baseline" else nan
        if result.design == "grid-only":
            inject = np.maximum(s.net_kw, 0.0).sum(axis=0)
            take = np.maximum(-s.net_kw, 0.0).sum(axis=0)
            exchange = float(np.minimum(inject, take).sum() * dt)
        else:
            exchange = 0.0
    return DayMetrics(
        total_cost=import_cost + trade_cost,
        import_cost=import_cost,
        trade_cost=trade_cost,
        total_import_kwh=float(import_kwh.sum()),
        peak_import_kwh=float(import_kwh[peak].sum()),
        exchange_kwh=exchange,
        prosumer_import_cost=pro_imp,
        consumer_import_cost=con_imp,
        prosumer_trade_cost=pro_tr,
        consumer_trade_cost=con_tr,
        loss_cost=loss_cost,
        coefficient_cost=float(result.cost_parts.get("coefficients", 0.0)),
        objective=result.cost,
    )
