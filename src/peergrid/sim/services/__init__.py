"""The platform's services beside the energy market in a run: guarantees of origin, OTC
contracts, the DSO's flexibility market and a crowdfunded community battery
(:mod:`peergrid.sim.services.section` declares them, :mod:`peergrid.sim.services.run` runs
them)."""
