"""Gas accounting: running totals per contract function, and a window of recent records.

Every transaction a :class:`~peergrid.ledger.chain.Chain` sends (deployments included, under the
function name ``"constructor"``) is added to its :class:`GasLog` as a :class:`GasRecord` with the
gas the transaction used, as a receipt states it: intrinsic cost (21 000 plus calldata) plus
execution, less the capped refund. Reverted calls are not sent and leave no record. The
simulation reports "transactions and gas used" from :meth:`GasLog.summary`; ``slot`` ties a
settlement's records to its slot.

Bounded memory: a year of 15-minute slots is millions of transactions, so the log does not keep
them all. It keeps running aggregates of every transaction (count, total, least and most gas per
contract function, and the grand totals: ``len(log)`` and :attr:`GasLog.total`) and only the
last ``keep_records`` records themselves (:attr:`GasLog.records`, :attr:`GasLog.last`,
:meth:`GasLog.for_slot`); :attr:`GasLog.dropped` says how many left the window.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass

DEFAULT_KEEP_RECORDS = 65_536
"""Records a :class:`GasLog` keeps by default: a few hundred slots' worth, a few megabytes."""


@dataclass(frozen=True, slots=True)
class GasRecord:
    """The gas one transaction used."""

    contract: str
    function: str
    gas: int
    slot: int | None = None


@dataclass(frozen=True, slots=True)
class GasSummary:
    """All transactions of one contract function: how many and how much gas."""

    contract: str
    function: str
    count: int
    total: int
    min: int = 0
    max: int = 0

    @property
    def mean(self) -> float:
        return self.total / self.count

    @property
    def call(self) -> str:
        return f"{self.contract}.{self.function}"


class GasLog:
    """Aggregates of every :class:`GasRecord` added, and the last ``keep_records`` of them.

    ``keep_records=None`` keeps every record (unbounded: for short runs and tests that need
    them all).
    """

    def __init__(self, keep_records: int | None = DEFAULT_KEEP_RECORDS) -> None:
        if keep_records is not None and keep_records < 1:
            raise ValueError(f"keep_records must be at least 1 (or None), got {keep_records}")
        self._records: deque[GasRecord] = deque(maxlen=keep_records)
        # (contract, function) -> [count, total, min, max], in order of first use.
        self._totals: dict[tuple[str, str], list[int]] = {}
        self._count = 0
        self._total = 0

    @property
    def keep_records(self) -> int | None:
        """How many records the window holds (``None``: all)."""
        return self._records.maxlen

    def add(self, record: GasRecord) -> None:
        gas = record.gas
        if gas < 0:
            raise ValueError(f"gas must be non-negative, got {gas}")
        self._records.append(record)
        self._count += 1
        self._total += gas
        entry = self._totals.get((record.contract, record.function))
        if entry is None:
            self._totals[(record.contract, record.function)] = [1, gas, gas, gas]
        else:
            entry[0] += 1
            entry[1] += gas
            if gas < entry[2]:
                entry[2] = gas
            if gas > entry[3]:
                entry[3] = gas

    @property
    def records(self) -> tuple[GasRecord, ...]:
        """The records in the window, oldest first (all of them if none was dropped)."""
        return tuple(self._records)

    @property
    def last(self) -> GasRecord:
        """The latest record; :class:`IndexError` if there is none."""
        if not self._records:
            raise IndexError("the gas log is empty")
        return self._records[-1]

    @property
    def dropped(self) -> int:
        """Records that left the window (still counted in every aggregate)."""
        return self._count - len(self._records)

    def __len__(self) -> int:
        """Every transaction recorded, the dropped ones included."""
        return self._count

    def __iter__(self) -> Iterator[GasRecord]:
        """The records in the window, oldest first."""
        return iter(tuple(self._records))

    @property
    def total(self) -> int:
        """Gas of every recorded transaction."""
        return self._total

    def for_slot(self, slot: int) -> list[GasRecord]:
        """The records of ``slot`` still in the window."""
        return [r for r in self._records if r.slot == slot]

    def summary(self) -> list[GasSummary]:
        """Count, total, mean, least and most gas per ``(contract, function)``, in order of
        first use, over every transaction recorded."""
        return [
            GasSummary(contract=c, function=f, count=n, total=t, min=lo, max=hi)
            for (c, f), (n, t, lo, hi) in self._totals.items()
        ]

    def clear(self) -> None:
        self._records.clear()
        self._totals.clear()
        self._count = 0
        self._total = 0


# --- the VDMA paper's Eq. 1: gas priced in euro -------------------------------------------------
# 004_vdma.md §2.7 (L156–L162): C_ϵ = G · F̄ · H_ϵ, with F̄ = 3.2·10⁻⁹ eth per gas and
# H_ϵ = 273.90 €/eth (25 June 2019), so one gas costs 8.7648·10⁻⁷ € and 114 093 gas cost 0.10 €.

GWEI_PER_GAS = 3.2
"""F̄ of Eq. 1: the daily average fee, 3.2·10⁻⁹ eth per gas."""
EUR_PER_ETH = 273.90
"""H_ϵ of Eq. 1: €/eth on 25 June 2019."""
EUR_PER_GAS = GWEI_PER_GAS * 1e-9 * EUR_PER_ETH
"""F̄ · H_ϵ = 8.7648·10⁻⁷ €."""


def cost_eur(
    gas: float, *, gwei_per_gas: float = GWEI_PER_GAS, eur_per_eth: float = EUR_PER_ETH
) -> float:
    """Eq. 1 of the VDMA paper: ``C = G · F̄ · H``, with F̄ in gwei per gas."""
    return gas * gwei_per_gas * 1e-9 * eur_per_eth
