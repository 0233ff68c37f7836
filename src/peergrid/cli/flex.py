"""``peergrid flex run``: a day of the DSO's flexibility market on a feeder (S10)."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Annotated

import typer

from peergrid.cli.common import Command, Json, Overwrite, group, number, output_folder
from peergrid.cli.console import err

flex_app = group("The DSO's flexibility market (S10): congestion needs bought from members.")


@flex_app.command("run", cls=Command)
def run_command(
    feeder_name: Annotated[
        str,
        typer.Option(
            "--feeder",
            metavar="<feeder>",
            help="a simbench LV feeder (simbench:<code>) or a catalogue feeder",
        ),
    ] = "simbench:1-LV-rural1--0-sw",
    day: Annotated[
        int, typer.Option("--day", metavar="<n>", help="day of the profile year 2016 (0: 1 Jan)")
    ] = 20,
    ev_share: Annotated[
        float,
        typer.Option("--ev-share", metavar="<share>", help="share of households with an EV, 0-1"),
    ] = 1.0,
    max_price: Annotated[
        float,
        typer.Option("--max-price", metavar="<price>", help="the DSO's maximum price per kWh"),
    ] = 0.30,
    penalty_rate: Annotated[
        float,
        typer.Option(
            "--penalty-rate", metavar="<price>", help="penalty per kWh awarded but not delivered"
        ),
    ] = 0.10,
    community_battery: Annotated[
        float,
        typer.Option(
            "--community-battery",
            metavar="<kw>",
            help="add a community battery of this power (2 h of energy), financed by the "
            "households' shares; its revenue is paid to them as dividends (0: none)",
        ),
    ] = 0.0,
    no_ledger: Annotated[
        bool, typer.Option("--no-ledger", metavar="", help="clear and settle off chain")
    ] = False,
    as_json: Annotated[bool, Json] = False,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", metavar="<folder>", help="write summary.json, slots.csv, elements.csv"
        ),
    ] = None,
    overwrite: Annotated[bool, Overwrite] = False,
) -> None:
    """Screen a forecast day for congestion, post the DSO's needs, collect offers from batteries,
    EVs and flexible loads, clear them (cheapest per effective kW first), settle the metered
    delivery on the embedded ledger, and check the day again.

    With -o, elements.csv holds every slot of the day for each congested element.
    Prints, per congested slot, the element's loading or voltage before and after and the
    flexibility bought, then the day's totals: flexibility bought and delivered (kWh), cost,
    penalties, congested slots before and after. With --community-battery, the households
    first buy the battery's shares in a crowdsale on chain, and its flexibility revenue is
    distributed to them (pull payments).
    """
    from peergrid.sim.flex_day import FlexDaySettings, run_flex_day_scenario

    number(ev_share, "--ev-share", "households' share", low=0, high=1)
    number(max_price, "--max-price", "currency per kWh", low=0, high=1e6)
    number(penalty_rate, "--penalty-rate", "currency per kWh", low=0, high=1e6)
    number(community_battery, "--community-battery", "kW", low=0, high=10_000)
    settings = FlexDaySettings(
        feeder=feeder_name,
        day=day,
        ev_share=ev_share,
        max_price=max_price,
        penalty_rate=penalty_rate,
        ledger=not no_ledger,
        community_battery_kw=community_battery,
    )
    settings.check()
    if output is not None:
        output_folder(output, overwrite=overwrite)
    result = run_flex_day_scenario(settings)
    summary = result.summary()
    rows = result.slot_rows()
    if output is not None:
        (output / "summary.json").write_text(
            json.dumps({**summary, "gas": result.gas}, indent=2, allow_nan=False) + "\n"
        )
        with (output / "slots.csv").open("w", newline="") as handle:
            fields = [
                "slot", "time", "element", "kind", "limit", "before", "after", "need_kw",
                "bought_kw", "delivered_kw",
            ]  # fmt: skip
            writer = csv.DictWriter(handle, fieldnames=fields)
            writer.writeheader()
            writer.writerows(rows)
        with (output / "elements.csv").open("w", newline="") as handle:
            writer = csv.DictWriter(
                handle, fieldnames=["slot", "time", "element", "before", "after"]
            )
            writer.writeheader()
            writer.writerows(result.element_rows())
        err.print(f"wrote summary.json, slots.csv and elements.csv to {output}", highlight=False)
    if as_json:
        typer.echo(json.dumps({**summary, "slots": rows}, indent=2, allow_nan=False))
        return
    typer.echo(f"{summary['feeder']}, {summary['day']}: {summary['needs']} needs")
    typer.echo(
        f"{'time':>5}  {'element':<8} {'limit':>7} {'before':>9} {'after':>9} {'bought kW':>9}"
    )
    for r in rows:
        typer.echo(
            f"{r['time']:>5}  {r['element']:<8} {r['limit']:>7.3f} {r['before']:>9.3f} "
            f"{r['after']:>9.3f} {r['bought_kw']:>9.3f}"
        )
    if "community_battery" in summary:
        c = summary["community_battery"]
        typer.echo(
            f"community battery {c['kw']:g} kW / {c['kwh']:g} kWh: {c['shares']} shares of "
            f"{c['holders']} households raised {c['raised']:.2f}; revenue {c['revenue']:.4f}, "
            f"dividends paid {c['dividends_paid']:.4f}"
        )
    typer.echo(
        f"flexibility bought {summary['flexibility_bought_kwh']:.3f} kWh, delivered "
        f"{summary['flexibility_kwh']:.3f} kWh; cost {summary['cost']:.4f}, penalties "
        f"{summary['penalties']:.4f}; congested slots {summary['congested_slots_before']} -> "
        f"{summary['congested_slots_after']}" + ("" if settings.ledger else " (off chain)")
    )
