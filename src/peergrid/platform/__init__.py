"""The live trading cycle: clock, phases, roles, meters."""
