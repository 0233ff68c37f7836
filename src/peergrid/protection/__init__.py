"""S9: DC microgrid protection (001b_book.md chapter 11).

A line of an LVDC ring through a pole-to-ground fault (:mod:`~peergrid.protection.circuit`), the
differential relay of Eqs. (1)-(6) (:mod:`~peergrid.protection.relay`), the main channel and its
attacks and the ledger's block-interval model (:mod:`~peergrid.protection.channels`), the signed
samples through ``ProtectionLog.vy`` (:mod:`~peergrid.protection.ledger_channel`), and the relay's
choice between the two (:mod:`~peergrid.protection.backup`); :func:`run_case` runs one case from
a :class:`ProtectionConfig` (the one labelled configuration of every value the chapter leaves
open).
"""

from peergrid.protection.case import CaseResult, run_case
from peergrid.protection.config import (
    AttackKind,
    FaultKind,
    ProtectionConfig,
    load_protection_config,
    protection_config_from_dict,
)
from peergrid.protection.output import write_case

__all__ = [
    "AttackKind",
    "CaseResult",
    "FaultKind",
    "ProtectionConfig",
    "load_protection_config",
    "protection_config_from_dict",
    "run_case",
    "write_case",
]
