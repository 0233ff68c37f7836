"""``peergrid reproduce ...``: a seed document's tables and comparisons, regenerated."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from rich.text import Text

from peergrid.cli.common import Command, Overwrite, Quiet, group, output_folder
from peergrid.cli.console import err, stdout
from peergrid.core.errors import PeergridError

reproduce_app = group("Regenerate a seed document's tables and comparisons.")

Output = typer.Option(
    "--output", "-o", metavar="<folder>", help="folder for the tables and summary.md"
)


@reproduce_app.command("dpda", cls=Command)
def reproduce_dpda_command(
    output: Annotated[Path, Output] = Path("results/reproduce-dpda"),
    overwrite: Annotated[bool, Overwrite] = False,
) -> None:
    """The DPDA thesis: chapter 3 examples, Appendix B (Tables B.1-B.4), DPDA against DAM."""
    output_folder(output, overwrite=overwrite)
    from peergrid.sim.reproduce.dpda import reproduce_dpda

    paths = reproduce_dpda(output)
    _wrote(output, paths)


@reproduce_app.command("vdma", cls=Command)
def reproduce_vdma_command(
    output: Annotated[Path, Output] = Path("results/reproduce-vdma"),
    overwrite: Annotated[bool, Overwrite] = False,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json",
            metavar="",
            help="print the headline as one JSON object, last on stdout: "
            '{"constraint_satisfaction": {"cda", "ncda", "ocda"}, "eur_per_shout", '
            '"eur_per_day_per_brp", "eur_per_day_clearing"}',
        ),
    ] = False,
    runs: Annotated[
        int, typer.Option("--runs", metavar="<n>", min=1, help="sessions per value of s")
    ] = 100,
    rounds: Annotated[
        int,
        typer.Option("--rounds", metavar="<n>", min=1, help="cost study: sessions per network"),
    ] = 300,
    seed: Annotated[int, typer.Option("--seed", metavar="<n>", help="seed of every draw")] = 2019,
    pool: Annotated[
        str, typer.Option("--pool", metavar="up|down", help="the pool every session clears")
    ] = "up",
    roles: Annotated[
        str,
        typer.Option(
            "--roles",
            metavar="generators-offer|loads-offer",
            help="which devices offer the service (L142-L143) and which ask for it",
        ),
    ] = "generators-offer",
    quiet: Annotated[bool, Quiet] = False,
) -> None:
    """The VDMA paper: CDA, NCDA and OCDA on CIGRE MV checked by AC power flows (share within
    the limits, network indices), and the on-chain cost per shout and per day (Eq. 1).

    Each value of s gets its runs of random shouts (Table 1's 23 devices, each shouting with
    probability 1/2); every session is cleared by the three mechanisms and checked against the
    grid layer's default limits. The cost study measures gas on the order book contract over
    --rounds NCDA sessions (f = 0.5) on the feeder's 15 nodes and on random trees of 5 to 50
    nodes. The default run takes a few minutes.
    """
    from peergrid.grid.service import check_pool
    from peergrid.sim.reproduce.vdma import (
        ShoutRoles,
        StudySettings,
        VdmaSettings,
        reproduce_vdma,
    )

    check_pool(pool)
    known = [r.value for r in ShoutRoles]
    if roles not in known:
        raise PeergridError(f"--roles: expected one of {', '.join(known)}, got {roles!r}")
    output_folder(output, overwrite=overwrite)
    settings = VdmaSettings(
        study=StudySettings(runs=runs, seed=seed, pool=pool, roles=ShoutRoles(roles)),
        rounds=rounds,
    )
    with stage_progress(quiet) as progress:
        result = reproduce_vdma(output, settings, progress=progress)
    _wrote(output, result.paths)
    if as_json:
        typer.echo(json.dumps(result.headline, allow_nan=False))
    else:
        stdout().print(headline_table(result.headline))


@reproduce_app.command("ev-quota", cls=Command)
def reproduce_ev_quota_command(
    output: Annotated[Path, Output] = Path("results/reproduce-ev-quota"),
    overwrite: Annotated[bool, Overwrite] = False,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json",
            metavar="",
            help="print the headline as one JSON object, last on stdout: "
            '{"margin_kw", "beta", "trades", "payments", "table4_fee_rows_matched", ...}',
        ),
    ] = False,
) -> None:
    """The EV charging quota chapter (001b ch. 9): Tables 1-4 with ours beside them, and
    the chapter's inconsistencies (343 kW printed, 323 kW used by every table; the fee and
    auction-payment columns) with our reading in summary.md."""
    output_folder(output, overwrite=overwrite)
    from peergrid.sim.reproduce.ev_quota import reproduce_ev_quota

    result = reproduce_ev_quota(output)
    _wrote(output, result.paths)
    if as_json:
        typer.echo(json.dumps(result.headline, allow_nan=False))
        return
    figures = result.headline
    table = Table(title="Chapter 9 reproduced (peergrid reproduce ev-quota)")
    for column in ("figure", "chapter", "ours"):
        table.add_column(column)
    table.add_row("margin kW", "343 (printed)", f"{figures['margin_kw']:g}")
    table.add_row("β", "0.83", f"{figures['beta']:.6f}")
    table.add_row("Table 2 quotas matched", "8", str(len(figures["table2_rows_matched"])))
    table.add_row("trades (Algorithm 1)", "-", str(len(figures["trades"])))
    table.add_row("Table 4 fees matched", "8", str(len(figures["table4_fee_rows_matched"])))
    table.add_row(
        "Table 4 payments matched (mid-point / uniform 23)",
        "8",
        f"{len(figures['table4_payment_rows_matched'])} / "
        f"{len(figures['table4_payment_rows_matched_uniform_last'])}",
    )
    stdout().print(table)


@reproduce_app.command("dvpp", cls=Command)
def reproduce_dvpp_command(
    output: Annotated[Path, Output] = Path("results/reproduce-dvpp"),
    overwrite: Annotated[bool, Overwrite] = False,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json",
            metavar="",
            help="print the headline as one JSON object, last on stdout: "
            '{"self_sufficiency", "self_consumption", "efficiency"}, each keyed perfect, 15s, '
            "30s, 1min, 5min, 15min, 1h, none (shares in 0-1)",
        ),
    ] = False,
    days: Annotated[
        int, typer.Option("--days", metavar="<n>", help="days of May simulated (1-28)")
    ] = 7,
    households: Annotated[
        int, typer.Option("--households", metavar="<n>", help="PV-battery households")
    ] = 20,
    seed: Annotated[int, typer.Option("--seed", metavar="<n>", help="seed of every draw")] = 2019,
    rule: Annotated[
        str, typer.Option("--rule", metavar="paper|code", help="the heuristic's keep-or-drop rule")
    ] = "paper",
    curve: Annotated[
        str,
        typer.Option(
            "--curve",
            metavar="system|inverter",
            help="converter efficiency: a whole battery system's (default) or a fit to a "
            "commercial battery inverter's Sandia curve",
        ),
    ] = "system",
    pv_sizes: Annotated[
        str,
        typer.Option(
            "--pv-sizes",
            metavar="simbench|equal",
            help="each house's PV size drawn from SimBench's LV plants (default) or one size "
            "for all; both scaled to the paper's 80.4 kWh a week on average",
        ),
    ] = "simbench",
    feeder: Annotated[
        str, typer.Option("--feeder", metavar="<name>", help="LV feeder of the AC check")
    ] = "ieee-eu-lv",
    warmup_hours: Annotated[
        int,
        typer.Option(
            "--warmup-hours",
            metavar="<h>",
            help="hours of the run's end simulated first, not counted (the batteries' start)",
        ),
    ] = 24,
    quiet: Annotated[bool, Quiet] = False,
) -> None:
    """The DVPP paper's Table 1: SSR, SCR and efficiency for perfect coordination, intervals
    of 15 s to 1 h and none, second by second, beside the paper's values.

    20 households with 8 kWh batteries over the sunniest week of May (TRY 2010 region 5) on
    stochastic loads (richardsonpy, GPL-3.0: pip install 'peergrid[studies]') and PV
    (pvlib, each house's size drawn from SimBench's LV plants), switching within the minute; the
    orderings of the digest's checks D.20-D.22, an AC check on an LV feeder and Eq. 8's
    block-size model in summary.md. The default run takes a few minutes.
    """
    from peergrid.sim.dvpp.grid_check import feeder_for
    from peergrid.sim.dvpp.profiles import require_richardsonpy
    from peergrid.sim.reproduce.dvpp import DvppSettings, reproduce_dvpp

    require_richardsonpy()

    settings = DvppSettings(
        households=households,
        days=days,
        seed=seed,
        rule=rule,  # type: ignore[arg-type]  # checked by DvppSettings
        curve=curve,
        feeder=feeder,
        warmup_hours=warmup_hours,
        pv_sizes=pv_sizes,
    )
    grid = feeder_for(feeder, households)  # refused before anything is written
    output_folder(output, overwrite=overwrite)
    with stage_progress(quiet) as progress:
        result = reproduce_dvpp(output, settings, progress=progress, feeder=grid)
    _wrote(output, result.paths)
    if as_json:
        typer.echo(json.dumps(result.headline, allow_nan=False))
        return
    table = Table(title="DVPP Table 1 reproduced (peergrid reproduce dvpp)")
    for column in ("case", "SSR %", "SCR %", "η %", "paper SSR / SCR / η"):
        table.add_column(column)
    from peergrid.sim.reproduce.dvpp import CASE_KEYS, PAPER_TABLE1

    for key in CASE_KEYS:
        paper = PAPER_TABLE1[key]
        table.add_row(
            key,
            f"{100 * result.headline['self_sufficiency'][key]:.1f}",
            f"{100 * result.headline['self_consumption'][key]:.1f}",
            f"{100 * result.headline['efficiency'][key]:.1f}",
            f"{paper[0]} / {paper[1]} / {paper[2]}",
        )
    stdout().print(table)


@reproduce_app.command("dr-scheduling", cls=Command)
def reproduce_dr_scheduling_command(
    output: Annotated[Path, Output] = Path("results/reproduce-dr-scheduling"),
    overwrite: Annotated[bool, Overwrite] = False,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json",
            metavar="",
            help="print the headline as one JSON object, last on stdout: "
            '{"profit_gap_to_aggregator", "peak_reduction", "price_load_correlation", '
            '"dr_participation"}',
        ),
    ] = False,
    prosumers: Annotated[
        int, typer.Option("--prosumers", metavar="<n>", help="prosumers in the market (2-140)")
    ] = 100,
    episodes: Annotated[
        int, typer.Option("--episodes", metavar="<n>", help="Q-learning episodes per day")
    ] = 1000,
    participation: Annotated[
        float,
        typer.Option("--participation", metavar="<share>", help="share rescheduling in stage 2"),
    ] = 0.6,
    chain_every: Annotated[
        int,
        typer.Option(
            "--chain-every",
            metavar="<n>",
            help="replay every n-th of the 48 slots on the embedded chain (1: all, about 4 min "
            "for 100 prosumers; 0: none)",
        ),
    ] = 8,
    seed: Annotated[int, typer.Option("--seed", metavar="<n>", help="seed of every draw")] = 2020,
    quiet: Annotated[bool, Quiet] = False,
) -> None:
    """Chapter 7 (001a): learned prosumer bids, the two-stage DR settlement and the
    centralised aggregator, over two days of 24 hourly slots.

    The book's rules: Eq. (1), uniform clearing (demand descending, supply ascending), the DR
    price of Eqs. (2)-(3) with alpha >= 1, Eq. (4) and the bounds of Eqs. (5)-(8), registration,
    alpha and penalties set by the operator, penalties on sellers' deviations. Ours (see
    docs/decisions.md, S6): net positions, ties, the mid-point price, Eq. (3) as a clamp, the
    power balance with upstream imports, DR as a reduction paid up to the deficit, the penalty
    formula, the learner's state, actions and reward, the aggregator's model, and a synthetic
    NEM-like price history standing in for the Australian market data (roulette wheel).
    """
    from peergrid.sim.reproduce.dr_scheduling import DrSettings, reproduce_dr_scheduling

    settings = DrSettings(
        prosumers=prosumers,
        episodes=episodes,
        participation=participation,
        chain_every=chain_every,
        seed=seed,
    )
    output_folder(output, overwrite=overwrite)
    with stage_progress(quiet) as progress:
        result = reproduce_dr_scheduling(output, settings, progress=progress)
    _wrote(output, result.paths)
    if as_json:
        typer.echo(json.dumps(result.headline, allow_nan=False))
        return
    table = Table(title="Chapter 7 reproduced (peergrid reproduce dr-scheduling)")
    table.add_column("figure")
    table.add_column("value", justify="right")
    for key, value in result.headline.items():
        table.add_row(key.replace("_", " "), f"{value:.4f}")
    stdout().print(table)


@reproduce_app.command("bder", cls=Command)
def reproduce_bder_command(
    output: Annotated[Path, Output] = Path("results/reproduce-bder"),
    overwrite: Annotated[bool, Overwrite] = False,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json",
            metavar="",
            help="print one JSON object, last on stdout: per scenario (BS, GS, TS, TGS, BW, "
            'GW, TW, TGW) {"total_cost", "import_cost", "trade_cost", "total_import_kwh", '
            '"peak_import_kwh", "exchange_kwh"}, and for G, T, TG also "iterations" (summed '
            'over the days) and "gap_to_central" (the week\'s relative cost gap)',
        ),
    ] = False,
    households: Annotated[
        int, typer.Option("--households", metavar="<n>", help="households on the feeder (2-39)")
    ] = 20,
    days: Annotated[int, typer.Option("--days", metavar="<n>", help="days of each week (1-7)")] = 7,
    seed: Annotated[int, typer.Option("--seed", metavar="<n>", help="seed of every draw")] = 2018,
    max_iterations: Annotated[
        int, typer.Option("--max-iterations", metavar="<n>", help="ADMM iterations a day, at most")
    ] = 200,
    quiet: Annotated[bool, Quiet] = False,
) -> None:
    """The B-DER report's eight scenarios (BS, GS, TS, TGS, BW, GW, TW, TGW): a summer and a
    winter week of the baseline, grid-only, trade-only and combined designs, Tables 4 and 5
    with ours beside the report's, and the orderings of its section 4 checked in summary.md.

    Substitute data: simbench household and PV profiles of 21-27 June and 21-27 December
    (2016) on the simbench semiurb4 LV feeder, a stylised retail price day, feed-in at half.
    Every day is one day-ahead run of 24 hours; every distributed run is checked against the
    centralised optimum. The default (20 households, 7 days) needs about 8 minutes of CPU
    (16 minutes on a busy shared machine); --households and --days make it smaller.
    """
    from peergrid.sim.reproduce.bder import BderSettings, reproduce_bder

    settings = BderSettings(
        households=households, days=days, seed=seed, max_iterations=max_iterations
    )
    output_folder(output, overwrite=overwrite)
    with stage_progress(quiet) as progress:
        result = reproduce_bder(output, settings, progress=progress)
    _wrote(output, result.paths)
    if as_json:
        typer.echo(json.dumps(result.headline, allow_nan=False))
        return
    table = Table(title="B-DER scenarios reproduced (peergrid reproduce bder)")
    for column in (
        "scenario",
        "total cost",
        "import cost",
        "imports kWh",
        "peak kWh",
        "exchange kWh",
    ):
        table.add_column(column)
    for code, row in result.headline.items():
        table.add_row(
            code,
            f"{row['total_cost']:.2f}",
            f"{row['import_cost']:.2f}",
            f"{row['total_import_kwh']:.1f}",
            f"{row['peak_import_kwh']:.1f}",
            f"{row['exchange_kwh']:.1f}",
        )
    stdout().print(table)
    passed = sum(o.passed for o in result.orderings)
    err.print(f"orderings of the report: {passed} of {len(result.orderings)} pass (summary.md)")


def _wrote(output: Path, paths: dict[str, Path]) -> None:
    err.print(
        Text.assemble(
            f"wrote {len(paths)} files to ",
            (str(output), "bold"),
            f"; start with {paths['summary']}",
        ),
        highlight=False,
    )


@contextmanager
def stage_progress(quiet: bool) -> Iterator[Callable[[str, int, int], None]]:
    """One bar per stage on stderr (sessions cleared; gas measured on each network)."""
    progress = Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        disable=quiet,
        transient=False,
        refresh_per_second=2,
    )
    tasks: dict[str, TaskID] = {}

    def on_progress(stage: str, done: int, total: int) -> None:
        if stage not in tasks:
            tasks[stage] = progress.add_task(stage, total=total)
        progress.update(tasks[stage], completed=done, total=total)

    with progress:
        yield on_progress


def headline_table(headline: dict[str, Any]) -> Table:
    table = Table(title="VDMA reproduction", show_header=False)
    table.add_column("figure")
    table.add_column("value", justify="right")
    for mechanism, share in headline["constraint_satisfaction"].items():
        table.add_row(f"{mechanism.upper()}: solutions within the limits", f"{share:.1%}")
    table.add_row("€ per shout", f"{headline['eur_per_shout']:.4f}")
    table.add_row("€ per day per BRP", f"{headline['eur_per_day_per_brp']:.3f}")
    table.add_row("€ per day, operator's clearing", f"{headline['eur_per_day_clearing']:.3f}")
    return table
