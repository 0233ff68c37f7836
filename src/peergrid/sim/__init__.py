"""Simulation: scenarios, the market-day runner, metrics, results and reports, and the seeds'
reproductions (:mod:`.reproduce`)."""

from peergrid.sim.results import write_results
from peergrid.sim.runner import RunResult, run_scenario
from peergrid.sim.scenario import Scenario, load_scenario, scenario_from_dict

__all__ = [
    "RunResult",
    "Scenario",
    "load_scenario",
    "run_scenario",
    "scenario_from_dict",
    "write_results",
]
