"""The Python API: what a researcher calls from a notebook, and what the command line calls.

The names here are handed on by the package itself (``peergrid.clear``, ``peergrid.feeders``,
``peergrid.run``, ``peergrid.Scenario``; ``peergrid.mechanisms()`` is the mechanisms package,
callable), so a notebook needs one import::

    import peergrid

    scenario = peergrid.Scenario.load("examples/demo.toml")
    result = peergrid.run(scenario.replace(time={"days": 2}))
    result.households[["household", "bill", "baseline_bill"]]

The command line is a thin layer on these functions: it reads files and options, calls them
and prints what they return.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from peergrid.core.errors import PeergridError
from peergrid.core.orders import Order, orders_from_dicts
from peergrid.core.trades import Clearing
from peergrid.grid.feeder_types import FeederInfo

if TYPE_CHECKING:
    import pandas as pd

    from peergrid.ledger import Chain
    from peergrid.platform.settlement import Settlement
    from peergrid.sim.runner import RunResult
    from peergrid.sim.scenario import Scenario
    from peergrid.sim.summary import RunSummary


def run(
    scenario: Scenario | str | Path,
    *,
    chain: Chain | None = None,
    on_slot: Callable[[int, int], None] | None = None,
) -> Result:
    """Run a scenario (or the scenario file at a path) from its first slot to its last.

    The ledger settles on ``chain`` when given (an open :class:`~peergrid.ledger.Chain`, left
    open for you to read its state afterwards), else where the scenario's ``[ledger]`` says;
    ``on_slot(done, total)`` is called after every slot::

        result = peergrid.run(peergrid.Scenario().replace(ledger={"enabled": False}))
        result.summary.self_sufficiency, result.trades["quantity_kwh"].sum()

    A bad scenario raises :class:`~peergrid.core.errors.ScenarioError` before any work.
    """
    from peergrid.sim.runner import run_scenario
    from peergrid.sim.scenario import Scenario, load_scenario

    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    return Result(run_scenario(scenario, on_slot, chain=chain))


@dataclass(frozen=True, eq=False)
class Result:
    """What :func:`run` returns: a run's tables as pandas DataFrames, its summary and report.

    Units are in the column names (``_kwh``, ``_kw``, ``_pu``, ``_pct``, ``_m``); money columns
    (``price`` per kWh, ``value``, ``bill``, ``penalties``, ``grid_fee``) are in the scenario's
    ``tariffs.currency``. The per-slot and per-trade tables are kept on disk during the run and
    read when asked for, so keep a frame in a variable if you use it twice::

        result = peergrid.run("examples/demo.toml")
        trades = result.trades
        trades.groupby("seller")["quantity_kwh"].sum()
        result.report("report.html")
    """

    details: RunResult
    """The runner's own result: the households as objects, the timings, the tables' files."""

    @property
    def scenario(self) -> Scenario:
        """The scenario exactly as it ran::

        result.scenario.households.count, result.scenario.to_toml()
        """
        return self.details.scenario

    @property
    def slots(self) -> pd.DataFrame:
        """One row per slot: orders, clearing price, energy, money, grid state, ledger gas::

        result.slots.plot(x="time", y="clearing_price")
        """
        return self.details.slots

    @property
    def trades(self) -> pd.DataFrame:
        """One row per trade: slot, buyer, seller, kWh, price, value, fee, path length::

        result.trades.groupby("seller")["quantity_kwh"].sum()
        """
        return self.details.trades

    @property
    def households(self) -> pd.DataFrame:
        """One row per household: energy, P2P bought and sold, import, export, bills::

        result.households.set_index("household")["bill_change"].sort_values()
        """
        return self.details.bills

    @property
    def violations(self) -> pd.DataFrame:
        """Every grid limit violated: slot, kind, element, value, limit::

        result.violations.groupby("kind").size()
        """
        return self.details.violations

    @property
    def sessions(self) -> pd.DataFrame:
        """One row per ancillary-service session (hour and pool): asks, offers, kWh asked,
        matched, unsatisfied and unsold, prices, the AC check's verdict, gas and € on chain;
        empty when the scenario has no ``[ancillary]`` sessions::

            result.sessions.groupby("pool")[["matched_kwh", "unsatisfied_kwh"]].sum()
        """
        return self.details.sessions

    @property
    def session_trades(self) -> pd.DataFrame:
        """One row per match of the sessions: hour, pool, ask and offer, buses, kWh, price::

        result.session_trades.groupby(["ask_bus", "offer_bus"])["quantity_kwh"].sum()
        """
        return self.details.session_trades

    @property
    def ev_quota_periods(self) -> pd.DataFrame:
        """One row per half-hour period of the EV quota day (noon to noon): the capacity margin,
        the EVs' demand, β, the auction (orders, trades, quota prices min/mean/max), charging,
        fees and the transformer's loading, with quotas and in the baseline; empty when the
        scenario has no ``[ev_quota]`` day::

            periods = result.ev_quota_periods
            periods.plot(x="time", y=["trafo_loading_pct", "baseline_trafo_loading_pct"])
        """
        return self._ev_quota_table("periods")

    @property
    def evs(self) -> pd.DataFrame:
        """One row per EV of the EV quota day: its stay, energy needed and delivered,
        satisfaction, quota bought and sold, auction payment (negative: income) and charging
        fees in tokens, and the baseline's delivery::

            result.evs.set_index("ev")["satisfaction"].sort_values()
        """
        return self._ev_quota_table("evs")

    @property
    def ev_quota_trades(self) -> pd.DataFrame:
        """One row per quota trade of the EV quota day: period, buyer, seller, kW, price, value::

        result.ev_quota_trades.groupby("period")["value"].sum()
        """
        return self._ev_quota_table("trades")

    @property
    def ev_quotas(self) -> pd.DataFrame:
        """One row per EV and period it asked for quota in: demand, initial and final quota,
        what it charged (kW), its auction payment and charging fee (tokens)::

            result.ev_quotas.groupby("period")[["initial_kw", "final_kw"]].sum()
        """
        return self._ev_quota_table("quotas")

    def _ev_quota_table(self, name: str) -> pd.DataFrame:
        day = self.details.ev_quota
        if day is None:
            import pandas as pd

            return pd.DataFrame()
        frame: pd.DataFrame = getattr(day, name)
        return frame.copy()

    @cached_property
    def summary(self) -> RunSummary:
        """The summary figures, typed (see :class:`~peergrid.sim.summary.RunSummary`)."""
        from peergrid.sim.summary import RunSummary

        return RunSummary.from_mapping(self.details.summary)

    @property
    def ledger(self) -> Settlement | None:
        """The settlement the run used (None off chain): its members' accounts
        (``address_of``), balances, the DSO's balance and the gas log. Readable while its chain
        is open, so give :func:`run` a chain of your own to read it after the run::

            from peergrid.ledger import open_chain

            with open_chain("embedded") as chain:
                result = peergrid.run(scenario, chain=chain)
                result.ledger.balances_micro(), result.ledger.money_conserved()
        """
        return self.details.ledger

    @property
    def timings(self) -> dict[str, float]:
        """Wall time of each stage of the run, seconds::

        max(result.timings.items(), key=lambda stage: stage[1])
        """
        return dict(self.details.timings)

    def report(self, path: str | Path) -> Path:
        """Write the self-contained HTML report to ``path``; its path::

        result.report("report.html")
        """
        from peergrid.sim.report import write_report

        return write_report(self.details, Path(path))

    def save(self, folder: str | Path, *, overwrite: bool = False) -> dict[str, Path]:
        """Write every result file into ``folder`` as ``peergrid run`` does; their paths.

        A folder that holds anything is refused unless ``overwrite``::

            files = result.save("results/my-day", overwrite=True)
            files["summary"]
        """
        from peergrid.sim.results import write_results

        return write_results(self.details, Path(folder), overwrite=overwrite)


def clear(
    orders: Sequence[Order] | Sequence[Mapping[str, Any]],
    mechanism: str = "dpda",
    *,
    feeder: str | None = None,
    params: Mapping[str, Any] | None = None,
) -> Clearing:
    """Clear one order book with a mechanism of ``peergrid.mechanisms()``.

    ``orders`` are :class:`~peergrid.core.orders.Order` objects or their JSON form
    (``{"id": "b1", "side": "buy", "price": 0.25, "quantity_kwh": 2.0}``; optional ``agent``,
    ``bus``, ``max_distance_m``, ``submitted_at``). A mechanism that prices grid distance
    (``dpda+score``, ``mcafee+score``) needs the ``feeder`` whose buses the orders name, and so
    do the ancillary-service markets NCDA and OCDA (``ncda``, ``ocda``; ``cda`` uses it, when
    given, to check the buses and measure the trades' paths);
    ``params`` are the mechanism's parameters (names, units, defaults: ``peergrid.mechanisms()``)::

        clearing = peergrid.clear(
            [
                {"id": "b1", "side": "buy", "price": 0.30, "quantity_kwh": 2},
                {"id": "s1", "side": "sell", "price": 0.10, "quantity_kwh": 3},
            ],
            mechanism="mcafee",
        )
        clearing.price, clearing.trades

    A bad order, an unknown mechanism or feeder, or a bad parameter raises a
    :class:`~peergrid.core.errors.PeergridError` naming it, before anything is cleared.
    """
    from peergrid.mechanisms.registry import mechanism_spec

    spec = mechanism_spec(mechanism)
    book = _orders(orders)
    spec.check_params(dict(params or {}))
    if feeder is not None:
        from peergrid.grid.feeders import check_feeder_name

        check_feeder_name(feeder)
    if spec.needs_feeder:
        from peergrid.mechanisms.registry import clear as clear_with

        grid = None
        if feeder is not None:
            from peergrid.grid.feeders import load_feeder

            grid = load_feeder(feeder)
        return clear_with(mechanism, book, dict(params or {}), feeder=grid)
    distances = None
    if spec.needs_distances:
        if feeder is None:
            raise PeergridError(f"mechanism {mechanism!r} needs a feeder: give feeder=<name>")
        from peergrid.grid.distance import distance_matrix
        from peergrid.grid.feeders import load_feeder

        distances = distance_matrix(load_feeder(feeder))
    return spec.clear(book, dict(params or {}), distances)


def _orders(orders: Sequence[Order] | Sequence[Mapping[str, Any]]) -> list[Order]:
    if all(isinstance(o, Order) for o in orders):
        return [o for o in orders if isinstance(o, Order)]
    if any(isinstance(o, Order) for o in orders):
        raise PeergridError("orders: give Order objects or their JSON form, not both")
    return orders_from_dicts(o for o in orders if not isinstance(o, Order))


def feeders() -> list[FeederInfo]:
    """Every feeder of the catalogue, each with its name and a one-line description.

    SimBench's LV grids are one entry, ``simbench:<code>``::

        [f.name for f in peergrid.feeders()]
    """
    from peergrid.grid.feeders import list_feeders

    return list_feeders()
