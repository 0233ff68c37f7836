"""Feeders, power flow and the checks a market uses against the physical network."""
