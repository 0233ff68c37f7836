"""Devices behind the meter and their profiles: households, loads, PV, batteries and EVs.

The device models (:mod:`~peergrid.assets.load`, :mod:`~peergrid.assets.pv`,
:mod:`~peergrid.assets.battery`, :mod:`~peergrid.assets.ev`) hold a device's parameters and
physics, checked when built; they depend on numpy only, so that any scheduler (the grid's OPF,
a market, a coordinator) can use them.
"""
