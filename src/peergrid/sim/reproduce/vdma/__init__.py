"""``peergrid reproduce vdma``: the VDMA paper's studies (004_vdma.md §3), regenerated.

The random-shout study of §3.2–3.4 (Table 1's devices on ``cigre-mv-vdma``, CDA, NCDA and
OCDA, each outcome checked by an AC power flow) and the cost study of §3.5 (gas measured on our
order book contract, priced with Eq. 1), written next to the paper's numbers with every
difference explained.

Modules: :mod:`peergrid.sim.ancillary.shouts` (the random shouts) and
:mod:`peergrid.sim.ancillary.network` (an outcome as nodal power, the AC check and the indices),
shared with ``peergrid run``'s ancillary-service sessions; :mod:`.study` (the runs),
:mod:`.cost` (gas on chain), :mod:`.figures`, :mod:`.summary` (``summary.md``) and :mod:`.report`
(running both and writing the files).
"""

from peergrid.sim.ancillary.shouts import ShoutParameters, ShoutRoles, draw_session
from peergrid.sim.reproduce.vdma.cost import CostStudy, run_cost_study
from peergrid.sim.reproduce.vdma.report import VdmaReproduction, VdmaSettings, reproduce_vdma
from peergrid.sim.reproduce.vdma.study import StudySettings, run_study

__all__ = [
    "CostStudy",
    "ShoutParameters",
    "ShoutRoles",
    "StudySettings",
    "VdmaReproduction",
    "VdmaSettings",
    "draw_session",
    "reproduce_vdma",
    "run_cost_study",
    "run_study",
]
