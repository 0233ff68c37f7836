"""``peergrid agent``: one household's agent trading on a running service."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Annotated

import typer

from peergrid.core.errors import PeergridError


def agent(
    service: Annotated[
        str,
        typer.Option("--service", metavar="<url>", help="the service, e.g. http://127.0.0.1:8000"),
    ],
    key: Annotated[
        Path,
        typer.Option("--key", metavar="<path>", help="the member's key file (hex), from keys/"),
    ],
    profile: Annotated[
        str,
        typer.Option(
            "--profile", metavar="<name>", help="simbench household load profile, e.g. H0-A"
        ),
    ],
    consumption_kwh: Annotated[
        float,
        typer.Option("--consumption-kwh", metavar="<kwh>", help="yearly consumption"),
    ] = 3500.0,
    pv: Annotated[
        str | None,
        typer.Option(
            "--pv", metavar="<name>", help="simbench PV profile, e.g. PV3 (default: none)"
        ),
    ] = None,
    pv_kwp: Annotated[
        float, typer.Option("--pv-kwp", metavar="<kwp>", help="installed PV power, with --pv")
    ] = 5.0,
    meter_key: Annotated[
        Path | None,
        typer.Option(
            "--meter-key", metavar="<path>", help="also post the meter's readings with this key"
        ),
    ] = None,
    scenario_file: Annotated[
        Path | None,
        typer.Option(
            "--scenario",
            metavar="<path>",
            help="tariffs, behaviour, forecast error and profile day (default: the demo's)",
        ),
    ] = None,
    hour: Annotated[
        float,
        typer.Option(
            "--hour", metavar="<hour>", help="the profile's time of day at market minute 0"
        ),
    ] = 0.0,
    cycles: Annotated[
        int | None,
        typer.Option("--cycles", metavar="<n>", help="stop after n cycles (default: run on)"),
    ] = None,
) -> None:
    """Run one household's agent: signed orders from its profile and forecast, every cycle."""
    import numpy as np

    from peergrid.api.agent import (
        Community,
        HouseholdAgent,
        Meter,
        check_profile_names,
        net_profiles,
        price_model,
    )
    from peergrid.api.client import ServiceClient, read_key
    from peergrid.assets.household import Household
    from peergrid.sim.scenario import Scenario, load_scenario

    if not consumption_kwh > 0:
        raise PeergridError(f"--consumption-kwh must be above 0, got {consumption_kwh}")
    if pv is not None and not pv_kwp > 0:
        raise PeergridError(f"--pv-kwp must be above 0 with --pv, got {pv_kwp}")
    if cycles is not None and cycles < 1:
        raise PeergridError(f"--cycles must be at least 1, got {cycles}")
    signer = read_key(key)
    meter = read_key(meter_key) if meter_key is not None else None
    scenario = load_scenario(scenario_file) if scenario_file is not None else Scenario()
    check_profile_names(profile, pv)
    client = ServiceClient(service)
    with client:
        members = {m["address"].lower(): m for m in client.market()["members"]}
        member = members.get(signer.address.lower())
        if member is None:
            raise PeergridError(
                f"--key {key}: {signer.address} is not a member of the market at {client.url}"
            )
        household = Household(
            id=member["agent"],
            bus=int(member["bus"]),
            load_profile=profile,
            annual_consumption_kwh=consumption_kwh,
            pv_profile=pv,
            pv_kwp=pv_kwp if pv is not None else 0.0,
        )
        # the agent's own draws: another household with the same scenario draws others
        seed = [scenario.seed, int(signer.address, 16) % 2**32]
        (net,) = net_profiles(
            [household],
            start=scenario.time.start,
            days=scenario.time.days,
            slot_minutes=scenario.time.slot_minutes,
            forecast_error=scenario.market.forecast_error,
            rng=np.random.default_rng([*seed, 1]),
            hour=hour,
        )
        trader = HouseholdAgent(
            household.id,
            member["bus"],
            signer,
            net,
            price_model(scenario),
            np.random.default_rng([*seed, 2]),
            scenario.market.min_order_kwh,
        )
        meters = [Meter(household.id, meter, net)] if meter is not None else []
        community = Community(client, [trader], meters, say=typer.echo, report=True)
        community.check_members()
        typer.echo(f"{household.id} on bus {household.bus} trading on {client.url}", err=True)
        try:
            community.run(threading.Event(), cycles=cycles)
        except KeyboardInterrupt:
            typer.echo("stopped", err=True)
