"""Household assets and their profiles."""
