"""Simulation: scenarios, the market-day runner, metrics and reports."""
