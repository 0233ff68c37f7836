"""S8: an islanded microgrid run by agents that trade through ledger auctions (001b_book.md
chapter 10).

The island's physics (:mod:`~peergrid.microgrid.island`), its entities' minute profiles
(:mod:`~peergrid.microgrid.profiles`), the forecast agent and its scikit-learn models
(:mod:`~peergrid.microgrid.forecast`), the chapter's agents on ``MicrogridAuction.vy``
(:mod:`~peergrid.microgrid.agents`), and the SimPy run (:func:`run_microgrid`) of a scenario
(:class:`MicrogridScenario`: the one labelled configuration of every value the chapter leaves
open, and the entities).
"""

from peergrid.microgrid.config import (
    EntitySpec,
    Kind,
    MicrogridParameters,
    MicrogridScenario,
    load_microgrid_scenario,
    microgrid_scenario_from_dict,
)
from peergrid.microgrid.population import generated_island
from peergrid.microgrid.simulation import MicrogridResult, run_microgrid

__all__ = [
    "EntitySpec",
    "Kind",
    "MicrogridParameters",
    "MicrogridResult",
    "MicrogridScenario",
    "generated_island",
    "load_microgrid_scenario",
    "microgrid_scenario_from_dict",
    "run_microgrid",
]
