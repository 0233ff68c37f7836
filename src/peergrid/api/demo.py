"""The demo as a live market: the scenario's households' agents and meters beside the service.

:func:`demo_community` gives every household of the scenario (placed on the feeder as the
service places them, with the keys the service made) an agent that trades from its profile and
forecast, and a meter that reports its actual net energy; :class:`~peergrid.api.agent.Community`
drives them from one thread over HTTP on the loopback interface, exactly as agents elsewhere
would talk to the service. The market's minute 0 is :data:`DEMO_HOUR` o'clock of the
scenario's first day, so that the first slots have sun and trades.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from peergrid.api.agent import Community, HouseholdAgent, Meter, net_profiles, price_model
from peergrid.api.client import ServiceClient, Signer
from peergrid.api.service import Service
from peergrid.grid.feeders import load_feeder
from peergrid.sim.population import place_households
from peergrid.sim.scenario import Scenario

DEMO_SPEED = 60.0
"""``--demo``'s clock when none is given: a 15-minute slot in 15 s."""
DEMO_HOUR = 9.0


def demo_community(
    service: Service,
    scenario: Scenario,
    client: ServiceClient,
    *,
    hour: float = DEMO_HOUR,
    say: Callable[[str], None] | None = None,
) -> Community:
    """Agents and meters of every household of ``scenario`` on ``service`` (module doc)."""
    feeder = load_feeder(scenario.feeder.name)
    households = place_households(scenario.households, feeder, np.random.default_rng(scenario.seed))
    profiles = net_profiles(
        households,
        start=scenario.time.start,
        days=scenario.time.days,
        slot_minutes=scenario.time.slot_minutes,
        forecast_error=scenario.market.forecast_error,
        rng=np.random.default_rng([scenario.seed, 1]),
        hour=hour,
    )
    prices = price_model(scenario)
    keys = service.keys
    bus_of = {m.agent: m.bus for m in service.market.config.members}
    agents = [
        HouseholdAgent(
            h.id,
            bus_of[h.id],
            Signer.of(keys.members[h.id]),
            profile,
            prices,
            np.random.default_rng([scenario.seed, 2, i]),
            scenario.market.min_order_kwh,
        )
        for i, (h, profile) in enumerate(zip(households, profiles, strict=True))
    ]
    meters = [
        Meter(h.id, Signer.of(keys.meters[h.id]), profile)
        for h, profile in zip(households, profiles, strict=True)
    ]
    return Community(client, agents, meters, say=say, observer=Signer.of(keys.dso))
