"""The samples' way through the ledger: each measurement unit signs its samples block by block
and posts them to ``ProtectionLog.vy``; the relay reads back what the contract accepted (the
signatures verified on chain), checks it against the stored hash chain, and decodes the currents.

The chain here is a real EVM (the embedded one by default): the contract really recovers each
batch's signer. *When* the relay has a block is the block-interval model of
:mod:`peergrid.protection.channels`, not the chain's own clock.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from eth_utils import keccak
from numpy.typing import NDArray

from peergrid.core.errors import LedgerError
from peergrid.ledger.chain.base import Chain, Receipt
from peergrid.ledger.markets.protection_log import (
    MAX_BATCH,
    MeasurementUnit,
    ProtectionLog,
    batches_in,
)

IntArray = NDArray[np.int64]

UNITS = (1, 2)
"""The measurement units: 1 at bus 1, 2 at bus 2."""


def unit_key(unit: int, seed: str = "peergrid protection") -> bytes:
    """A reproducible signing key for a simulated unit (a real unit holds its own)."""
    return keccak(f"{seed} unit {unit}".encode())


@dataclass(frozen=True)
class LedgerCopy:
    """What the relay read back from the log: the currents (µA, 2 × n), the transactions that
    carried them and their gas."""

    values_ua: IntArray
    log_address: str
    transactions: int
    gas_used: int


def setup_log(chain: Chain) -> tuple[ProtectionLog, list[MeasurementUnit], str]:
    """Deploy a log, register both units' keys (operator), and open a gateway account."""
    operator = chain.new_account("protection operator")
    log = ProtectionLog.deploy(chain, operator=operator)
    units = [MeasurementUnit(unit, unit_key(unit)) for unit in UNITS]
    for unit in units:
        log.register_unit(unit.unit, unit.signer)
    return log, units, chain.new_account("protection gateway")


def send_through_ledger(chain: Chain, currents_ua: IntArray, blocks: IntArray) -> LedgerCopy:
    """Post every sample, each unit's samples of a block as one signed batch (split at
    :data:`MAX_BATCH`), and read the currents back from the accepted batches."""
    log, units, gateway = setup_log(chain)
    receipts: list[Receipt] = []
    edges = np.flatnonzero(np.diff(blocks)) + 1
    starts = np.concatenate(([0], edges))
    ends = np.concatenate((edges, [len(blocks)]))
    for start, end in zip(starts.tolist(), ends.tolist(), strict=True):
        for chunk in range(start, end, MAX_BATCH):
            stop = min(chunk + MAX_BATCH, end)
            for row, unit in enumerate(units):
                signed = unit.sign(log.address, chunk, currents_ua[row, chunk:stop].tolist())
                receipts.append(log.post(gateway, signed))
    read = np.zeros_like(currents_ua)
    logged = batches_in(receipts)
    for row, unit in enumerate(units):
        mine = [b for b in logged if b.unit == unit.unit]
        log.check_head(unit.unit, mine)
        for batch in mine:
            read[row, batch.first_sample : batch.first_sample + len(batch.currents_ua)] = (
                batch.currents_ua
            )
        if log.next_sample(unit.unit) != currents_ua.shape[1]:
            raise LedgerError("ProtectionLog.post", f"unit {unit.unit}: samples missing")
    return LedgerCopy(read, log.address, len(receipts), sum(r.gas_used for r in receipts))
