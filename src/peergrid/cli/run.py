"""``peergrid demo`` and ``peergrid run``: a scenario from its first slot to its last.

A thin layer on the Python API (:func:`peergrid.run`, :meth:`peergrid.Result.save`): the
command reads the file and options, shows progress and prints the summary.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from peergrid.cli.common import Overwrite, Quiet, output_folder
from peergrid.cli.console import err, stdout

UPDATE_SECONDS = 0.25
DR_OUTPUT = Path("results/dr")
"""Where ``peergrid run`` writes a DR day without ``--output``."""


def demo(
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", metavar="<folder>", help="results folder (default results/demo)"
        ),
    ] = None,
    no_ledger: Annotated[
        bool, typer.Option("--no-ledger", metavar="", help="do not settle on chain")
    ] = False,
    overwrite: Annotated[bool, Overwrite] = False,
    quiet: Annotated[bool, Quiet] = False,
) -> None:
    """Run the built-in scenario: 55 households on the IEEE European LV feeder for one day."""
    from peergrid.sim.scenario import Scenario

    _run(Scenario(), output, quiet=quiet, overwrite=overwrite, no_ledger=no_ledger)


def run(
    scenario_file: Annotated[
        Path,
        typer.Argument(
            metavar="SCENARIO", help="scenario file (TOML); '-' reads it from standard input"
        ),
    ],
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            metavar="<folder>",
            help="results folder (default: the file's output.directory)",
        ),
    ] = None,
    no_ledger: Annotated[
        bool, typer.Option("--no-ledger", metavar="", help="do not settle on chain")
    ] = False,
    overwrite: Annotated[bool, Overwrite] = False,
    quiet: Annotated[bool, Quiet] = False,
) -> None:
    """Run a scenario file; see examples/demo.toml for every field.

    A file that says ``system = "dr-events"`` is a DR day (examples/dr-events.toml) and runs as
    ``peergrid dr run`` would run it.
    """
    from peergrid.sim.scenario import load_scenario

    if _names_system(scenario_file, "dr-events"):
        from peergrid.cli.dr import run_dr_scenario
        from peergrid.core.errors import ScenarioError

        if no_ledger:
            raise ScenarioError(
                "--no-ledger: a DR day settles on the DR contracts; it has no run without them"
            )
        run_dr_scenario(scenario_file, output or DR_OUTPUT, overwrite=overwrite)
        return
    changes = {"ledger": {"enabled": False}} if no_ledger else None
    scenario = load_scenario(scenario_file, changes=changes)
    _run(scenario, output, quiet=quiet, overwrite=overwrite, no_ledger=no_ledger)


def _names_system(path: Path, system: str) -> bool:
    """Whether a readable TOML file's top-level ``system`` is ``system``; anything else (no
    file, standard input, a file that does not parse) is left to the scenario loader's errors."""
    import tomllib

    if str(path) == "-" or not path.is_file():
        return False
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except (OSError, ValueError, RecursionError):
        # Undecodable text, malformed TOML (a ValueError), digits past Python's limit, nesting
        # past the recursion limit: the scenario loader says which, in one line.
        return False
    return data.get("system") == system


def _run(
    scenario: Any, output: Path | None, *, quiet: bool, overwrite: bool, no_ledger: bool
) -> None:
    """Check where the results go, then run: nothing is computed for a run that cannot write."""
    directory = output_folder(
        output if output is not None else scenario.output_directory, overwrite=overwrite
    )
    from peergrid import public

    if no_ledger:
        scenario = scenario.replace(ledger={"enabled": False})
    anc = scenario.ancillary
    sessions = (
        f"; hourly {anc.mechanism} ancillary-service sessions "
        f"({'on' if scenario.ancillary_on_chain else 'off'} chain)"
        if anc.enabled
        else ""
    )
    market = (
        f"{scenario.households.count} households on {scenario.feeder.name}, "
        f"{scenario.market.mechanism}, {scenario.time.days} day(s) of "
        f"{scenario.time.slot_minutes}-min slots from {scenario.time.start}"
        if scenario.market.enabled
        else f"no energy market on {scenario.feeder.name}, {scenario.time.days} day(s) from "
        f"{scenario.time.start}"
    )
    evq = scenario.ev_quota.enabled
    if evq:
        market = (
            f"EV charging under quota trading on {scenario.feeder.name} "
            f"({scenario.households.count} households), 48 half-hour periods from noon "
            f"{scenario.time.start}"
        )
    unit = "periods" if evq else "slots" if scenario.market.enabled else "hours"
    err.print(
        Text.assemble(("peergrid", "bold"), f" {scenario.name}: {market}{sessions}"),
        highlight=False,
    )
    with _slot_progress(quiet, unit) as on_slot:
        result = public.run(scenario, on_slot=on_slot)
    paths = result.save(directory, overwrite=True)
    summary = result.details.summary
    if scenario.market.enabled:
        stdout().print(summary_table(summary))
        stdout().print(bills_table(result.details))
    if anc.enabled:
        stdout().print(sessions_table(summary))
    if evq:
        stdout().print(ev_quota_table(summary))
    err.print(
        Text.assemble(
            "results in ",
            (str(directory), "bold"),
            ": " + ", ".join(p.name for p in paths.values()),
        ),
        highlight=False,
    )


@contextmanager
def _slot_progress(quiet: bool, unit: str = "slots") -> Iterator[Callable[[int, int], None]]:
    """Slots (or hours: ``unit``) done, time elapsed and time left on stderr. On a terminal the
    line is redrawn at most once a second; elsewhere (a CI log, a file) it is written once, when
    the run ends."""
    progress = Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("elapsed"),
        TimeElapsedColumn(),
        TextColumn("left"),
        TimeRemainingColumn(),
        console=err,
        disable=quiet,
        transient=False,
        refresh_per_second=1,
    )
    task = progress.add_task(unit, total=None)
    last = -math.inf

    def on_slot(done: int, total: int) -> None:
        # A year is 35 040 slots: the bar's state is updated a few times a second, which is
        # plenty for the estimate of the time left, not on every slot.
        nonlocal last
        now = time.monotonic()
        if now - last >= UPDATE_SECONDS or done == total:
            last = now
            progress.update(task, completed=done, total=total)

    with progress:
        yield on_slot


def summary_table(s: dict[str, Any]) -> Table:
    cur = s["currency"]
    table = Table(title=Text(f"Market summary: {s['scenario']}"), show_header=False)
    table.add_column("figure")
    table.add_column("value", justify="right")

    def row(label: str, value: str) -> None:
        table.add_row(Text(label), Text(value))

    row("households (with PV)", f"{s['households']} ({s['households_with_pv']})")
    row(
        "consumption / PV production",
        f"{s['consumption_kwh']:.1f} / {s['pv_production_kwh']:.1f} kWh",
    )
    row(
        "P2P energy contracted / metered",
        f"{s['p2p_contracted_kwh']:.2f} / {s['p2p_traded_kwh']:.2f} kWh in {s['trades']} trades",
    )
    row(
        "orders: winners / losers told",
        f"{s['orders']}: {s['winners_quoted']} / {s['losers_told']}",
    )
    row(
        "late orders rolled (replaced / withdrawn)",
        f"{s['late_orders']} ({s['rolled_replaced']} / {s['rolled_withdrawn']})",
    )
    row("imported from supplier", f"{s['imported_kwh']:.2f} kWh")
    row("exported to supplier", f"{s['exported_kwh']:.2f} kWh")
    row(
        "self-sufficiency (no market)",
        f"{s['self_sufficiency']:.1%} ({s['self_sufficiency_baseline']:.1%})",
    )
    avg = s["average_p2p_price"]
    row(
        "average P2P price / retail / feed-in",
        f"{avg:.4f} / {s['retail_price']:.4f} / {s['feed_in_price']:.4f} {cur}/kWh"
        if avg is not None
        else f"no trade / {s['retail_price']:.4f} / {s['feed_in_price']:.4f} {cur}/kWh",
    )
    row(
        "community bill (no market)",
        f"{s['community_bill']:.2f} ({s['community_bill_baseline']:.2f}) {cur}",
    )
    row(
        "undelivered contracts: energy / penalties",
        f"{s['p2p_undelivered_kwh']:.2f} kWh / {s['penalties']:.4f} {cur}",
    )
    row(
        "DSO income: fees + penalties + true-ups",
        f"{s['dso_network_fees']:.4f} + {s['penalties']:.4f} + {s['dso_imbalance']:.4f} = "
        f"{s['dso_income']:.4f} {cur}",
    )
    if s["average_trade_distance_m"] is not None:
        row("average trade distance (energy-weighted)", f"{s['average_trade_distance_m']:.1f} m")
    row(
        "households better / worse off",
        f"{s['households_better_off']} / {s['households_worse_off']}",
    )
    if s["grid_checked"]:
        kinds = ", ".join(f"{k} {v}" for k, v in s["grid_violations_by_kind"].items()) or "none"
        row(
            "grid violations",
            f"{s['grid_violations']} in {s['slots_with_violations']} slots ({kinds})",
        )
        row(
            "voltage range / max line / trafo loading",
            f"{s['v_min_pu']:.4f}-{s['v_max_pu']:.4f} p.u. / {s['max_line_loading_pct']:.1f} % / "
            f"{s['max_trafo_loading_pct']:.1f} %",
        )
        if s["power_flow_failures"]:
            row("power flows not converged", str(s["power_flow_failures"]))
    else:
        row("grid violations", "not checked (grid.power_flow = false)")
    if s["ledger"]:
        row(
            "ledger transactions (gas)",
            f"{s['transactions']} in slots ({s['gas_used']:,} gas) + "
            f"{s['ledger_setup_transactions']} setup ({s['ledger_setup_gas']:,} gas)",
        )
        row("money conserved on chain", "yes" if s["ledger_money_conserved"] else "NO")
        if s["ledger_unpaid"]:
            row(
                "owed on chain but not paid (deposits too low)",
                f"{s['ledger_unpaid']:.4f} {s['currency']}",
            )
        if s["trades_refused"] or s["ledger_fills_refused"]:
            row(
                "trades the ledger cannot settle (limits, < 1 Wh)",
                str(s["trades_refused"] + s["ledger_fills_refused"]),
            )
    else:
        row("ledger", "off")
    return table


def sessions_table(s: dict[str, Any]) -> Table:
    """The ancillary-service sessions' figures (the ``ancillary_*`` keys of the summary)."""
    table = Table(title=Text(f"Ancillary-service sessions: {s['scenario']}"), show_header=False)
    table.add_column("figure")
    table.add_column("value", justify="right")

    def row(label: str, value: str) -> None:
        table.add_row(Text(label), Text(value))

    where = "on chain" if s["ancillary_on_chain"] else "off chain"
    row("market, sessions", f"{s['ancillary_mechanism']} {where}, {s['ancillary_sessions']}")
    row("asks / offers", f"{s['ancillary_asks']} / {s['ancillary_offers']}")
    row(
        "asked / offered / matched",
        f"{s['ancillary_asked_kwh']:,.1f} / {s['ancillary_offered_kwh']:,.1f} / "
        f"{s['ancillary_matched_kwh']:,.1f} kWh in {s['ancillary_trades']} matches",
    )
    row(
        "matched up (AS+) / down (AS-)",
        f"{s['ancillary_up_matched_kwh']:,.1f} / {s['ancillary_down_matched_kwh']:,.1f} kWh",
    )
    row(
        "unsatisfied (to external resources) / unsold",
        f"{s['ancillary_unsatisfied_kwh']:,.1f} / {s['ancillary_unsold_kwh']:,.1f} kWh",
    )
    avg = s["ancillary_average_price"]
    row(
        "price: average (lowest-highest)",
        f"{avg:.4f} ({s['ancillary_min_price']:.4f}-{s['ancillary_max_price']:.4f}) "
        f"{s['currency']}/kWh"
        if avg is not None
        else "no match",
    )
    if s["ancillary_sessions_checked"]:
        row(
            "sessions breaking a grid limit",
            f"{s['ancillary_infeasible_sessions']} of {s['ancillary_sessions_checked']} "
            f"({s['ancillary_violations']} limits broken)",
        )
    else:
        row("sessions breaking a grid limit", "not checked (grid.power_flow = false)")
    if s["ancillary_cost_eur"] is not None:
        row(
            "gas, cost (Eq. 1) per session",
            f"{s['ancillary_gas_used']:,} gas, {s['ancillary_cost_eur_per_session']:.4f} €",
        )
    return table


def ev_quota_table(s: dict[str, Any]) -> Table:
    """The EV quota day's figures (the ``ev_quota_*`` keys of the summary)."""
    table = Table(
        title=Text(f"EV charging under quota trading: {s['scenario']}"), show_header=False
    )
    table.add_column("figure")
    table.add_column("value", justify="right")

    def row(label: str, value: str) -> None:
        table.add_row(Text(label), Text(value))

    def pct(value: float | None) -> str:
        return "-" if value is None else f"{value:.1f} %"

    cur = s["currency"]
    row("EVs, periods", f"{s['ev_quota_evs']}, {s['ev_quota_periods']} of 30 min")
    row(
        "transformer",
        f"{s['ev_quota_transformer_kva']:,.0f} kVA, limit {s['ev_quota_loading_limit_pct']:g} %",
    )
    row(
        "energy needed / delivered",
        f"{s['ev_quota_energy_needed_kwh']:,.1f} / {s['ev_quota_energy_delivered_kwh']:,.1f} kWh "
        f"({s['ev_quota_satisfaction']:.1%}; lowest EV {s['ev_quota_min_satisfaction']:.1%})",
    )
    row("EVs fully charged", f"{s['ev_quota_evs_fully_charged']} of {s['ev_quota_evs']}")
    row("auctions, lowest β", f"{s['ev_quota_auctions']}, {s['ev_quota_min_beta']:.3f}")
    avg = s["ev_quota_average_price"]
    row(
        "quota traded, price: average (lowest-highest)",
        f"{s['ev_quota_traded_kw']:,.1f} kW in {s['ev_quota_trades']} trades, "
        + (
            f"{avg:.2f} ({s['ev_quota_min_price']:.2f}-{s['ev_quota_max_price']:.2f}) {cur}/kWh"
            if avg is not None
            else "no trade"
        ),
    )
    row(
        "paid for quota / balance / charging fees",
        f"{s['ev_quota_auction_paid']:,.2f} / {s['ev_quota_auction_balance']:,.2f} / "
        f"{s['ev_quota_charging_fees']:,.2f} {cur}",
    )
    row(
        "transformer: peak, periods above the limit",
        f"{pct(s['ev_quota_peak_trafo_loading_pct'])}, {s['ev_quota_overload_periods']}",
    )
    row("grid limits broken (AC)", f"{s['grid_violations']}")
    if "ev_quota_baseline_satisfaction" in s:
        row(
            "without quotas: peak, periods above, delivered",
            f"{pct(s['ev_quota_baseline_peak_trafo_loading_pct'])}, "
            f"{s['ev_quota_baseline_overload_periods']}, "
            f"{s['ev_quota_baseline_satisfaction']:.1%}",
        )
    return table


def bills_table(result: Any) -> Table:
    cur = result.summary["currency"]
    table = Table(title=Text(f"Bills per household ({cur}), market against no-market baseline"))
    for column in ("household", "PV kWp", "bought P2P", "sold P2P", "bill", "baseline", "change"):
        table.add_column(column, justify="right")
    for row in result.bills.itertuples():
        table.add_row(
            row.household,
            f"{row.pv_kwp:.1f}" if row.pv_kwp else "-",
            f"{row.bought_p2p_kwh:.2f}",
            f"{row.sold_p2p_kwh:.2f}",
            f"{row.bill:.3f}",
            f"{row.baseline_bill:.3f}",
            f"{row.bill_change:+.3f}",
        )
    return table
