"""Stake-weighted verification of DR settlements (001b_book.md §8.2).

The book: a validator's stake is "the total remunerated DR incentives received to date", with a
PPCoin-like "coin-age factor (for our situation the DR incentives age)", and a settlement is
"confirmed" once the DEPs collectively validate it. It gives no formula and no quorum; ours
(docs/decisions.md, "S7"), the same integers as ``DrEvents.vy``:

- **Age** is counted in confirmed DR events (the contract's ``epoch``), not in wall time, so
  that a replay gives the same stakes. A validator's incentives carry the incentive-weighted
  mean epoch at which they were received (``mean_epoch``); their age is ``epoch - mean_epoch``
  (PPCoin's coin-age of many receipts, sum(amount * age), equals total * (epoch - mean_epoch)).
- **Stake** = ``genesis + incentives + incentives * min(age, AGE_CAP) // AGE_CAP``: incentives
  count once when received and up to twice once they are ``AGE_CAP`` events old. ``genesis``
  is the operator-granted stake of the grid's other stakeholders (DSO, TSO, retailers), without
  which nobody could verify the first event.
- **Quorum**: a settlement is confirmed once validators holding more than two thirds of the
  total stake (``3 * for > 2 * total``) attest to its readings, and disputed (never paid) once
  that is out of reach (``3 * (total - against) <= 2 * total``). Stakes are read while no other
  event is being verified, so the total is fixed for the vote.
"""

from __future__ import annotations

from dataclasses import dataclass

AGE_CAP = 24
"""Confirmed events after which incentives count double (the contract's ``AGE_CAP``)."""


@dataclass(frozen=True, slots=True)
class ValidatorStake:
    """What a validator's stake is computed from (micro-currency, epochs)."""

    genesis: int = 0
    incentives: int = 0
    mean_epoch: int = 0

    def stake(self, epoch: int) -> int:
        age = max(epoch - self.mean_epoch, 0)
        return self.genesis + self.incentives + self.incentives * min(age, AGE_CAP) // AGE_CAP

    def credit(self, amount: int, epoch: int) -> ValidatorStake:
        """The validator after receiving ``amount`` of DR incentives at ``epoch``."""
        total = self.incentives + amount
        if total == 0:
            return self
        mean = (self.incentives * self.mean_epoch + amount * epoch) // total
        return ValidatorStake(self.genesis, total, mean)


def confirmed(stake_for: int, total: int) -> bool:
    """More than two thirds of the stake attested to the settlement's readings."""
    return 3 * stake_for > 2 * total


def disputed(stake_against: int, total: int) -> bool:
    """The stake that has not attested otherwise can no longer exceed two thirds."""
    return 3 * (total - stake_against) <= 2 * total
