"""``peergrid reproduce dpda``: the DPDA thesis's worked examples and comparisons, regenerated.

Every figure the thesis prints for its chapter 3 examples and its Appendix B is recomputed by
peergrid's own mechanisms and written next to the thesis's value, with a word on every
difference (the thesis's errata are documented in the digest 003_dpda.md and
docs/decisions.md). Distances are path lengths on the reduced IEEE European LV feeder, whose
bus ids are the thesis's vertex numbers, so the thesis's prosumer ids are used as buses.

Modules: :mod:`.chapter3` (the chapter 3 examples), :mod:`.appendix` (Appendix B, the Score
Matching example), :mod:`.comparison` (DPDA against the standard auction), :mod:`.report`
(writing the tables and the summary) and :mod:`.rows` (one figure, thesis against peergrid).
"""

from peergrid.sim.reproduce.dpda.appendix import APPENDIX_B_RADIUS_M, AppendixB, appendix_b
from peergrid.sim.reproduce.dpda.chapter3 import chapter_3_rows
from peergrid.sim.reproduce.dpda.comparison import mechanism_comparison
from peergrid.sim.reproduce.dpda.report import reproduce_dpda
from peergrid.sim.reproduce.dpda.rows import Row

__all__ = [
    "APPENDIX_B_RADIUS_M",
    "AppendixB",
    "Row",
    "appendix_b",
    "chapter_3_rows",
    "mechanism_comparison",
    "reproduce_dpda",
]
