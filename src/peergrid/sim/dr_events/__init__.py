"""S7: a DR day on an LV feeder through the DR contracts of 001b_book.md chapter 8."""

from peergrid.sim.dr_events.config import DrDaySettings, load_dr_settings
from peergrid.sim.dr_events.run import DrDayResult, run_dr_day

__all__ = ["DrDayResult", "DrDaySettings", "load_dr_settings", "run_dr_day"]
