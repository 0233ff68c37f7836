"""Gas accounting: one record per transaction, summarised per contract function.

Every transaction a :class:`~peergrid.ledger.chain.Chain` sends (deployments included, under the
function name ``"constructor"``) appends a :class:`GasRecord` with the gas the transaction used,
as a receipt states it: intrinsic cost (21 000 plus calldata) plus execution, less the capped
refund. Reverted calls are not sent and leave no record. The simulation reports "transactions
and gas used" from :meth:`GasLog.summary`; ``slot`` ties a settlement's records to its slot.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass


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

    @property
    def mean(self) -> float:
        return self.total / self.count

    @property
    def call(self) -> str:
        return f"{self.contract}.{self.function}"


class GasLog:
    """An append-only list of :class:`GasRecord`, with summaries."""

    def __init__(self) -> None:
        self._records: list[GasRecord] = []

    def add(self, record: GasRecord) -> None:
        if record.gas < 0:
            raise ValueError(f"gas must be non-negative, got {record.gas}")
        self._records.append(record)

    @property
    def records(self) -> tuple[GasRecord, ...]:
        return tuple(self._records)

    def __len__(self) -> int:
        return len(self._records)

    def __iter__(self) -> Iterator[GasRecord]:
        return iter(tuple(self._records))

    @property
    def total(self) -> int:
        """Gas of every recorded transaction."""
        return sum(r.gas for r in self._records)

    def for_slot(self, slot: int) -> list[GasRecord]:
        """The records of transactions that belong to ``slot``."""
        return [r for r in self._records if r.slot == slot]

    def summary(self) -> list[GasSummary]:
        """Count, total and mean gas per ``(contract, function)``, in order of first use."""
        totals: dict[tuple[str, str], list[int]] = {}
        for r in self._records:
            entry = totals.setdefault((r.contract, r.function), [0, 0])
            entry[0] += 1
            entry[1] += r.gas
        return [
            GasSummary(contract=c, function=f, count=n, total=t)
            for (c, f), (n, t) in totals.items()
        ]

    def clear(self) -> None:
        self._records.clear()
