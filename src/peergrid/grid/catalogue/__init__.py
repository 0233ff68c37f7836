"""The builders of the feeder catalogue, one module per source of networks.

Each builder returns a fresh :class:`~peergrid.grid.feeder_types.Feeder`;
:mod:`peergrid.grid.feeders` names them, caches them and hands out copies (``load_feeder``).

- :mod:`.ieee_eu_lv`: the IEEE European LV test feeder (balanced model) and the DPDA thesis's
  reduced tree of it, contracted by :mod:`.contraction`;
- :mod:`.cigre`: CIGRE MV with the VDMA paper's loads, generators and open switches;
- :mod:`.pandapower_nets`: pandapower's CIGRE LV, Kerber Dorfnetz and case33bw as they are;
- :mod:`.simbench`: any SimBench LV grid by its code;
- :mod:`.common`: the default household rule and what the builders share.
"""
