"""The DSO's flexibility need and its clearing: the aggregator auction of 001a_book.md chapter 5
(cheapest suitable offers until the need is covered), weighted by sensitivity.

A **need** is what the grid layer's screening found for one congested element in one slot
(:mod:`peergrid.grid.congestion`): a direction (``"down"``: members draw less, ``"up"``: draw
more), the kW that would relieve the element if drawn at the most effective bus, the DSO's
maximum price, the buses of the area (downstream of the element) and, per bus, its *relative
sensitivity*: the element's relief per kW at that bus divided by the largest one in the area (in
(0, 1]; 1 at the most effective bus).

An **offer** is a member's flexibility at its bus: kW in the need's direction for the slot, a
price per kWh delivered, and the kind of asset behind it (battery, EV, flexible load).

The clearing (:func:`clear_need`):

1. **suitable offers** (:func:`is_suitable`): the bus is inside the need's area, its relative
   sensitivity is at least :data:`MIN_RELATIVE_SENSITIVITY`, the price is at most the need's
   maximum, the offer is for the need's direction and offers more than 0 kW;
2. sorted by **price per effective kW**, ``price / sensitivity`` (an offer at a bus half as
   effective must deliver twice the kW for the same relief), equal keys in the order given;
3. taken whole, cheapest first, while the need is not covered; the marginal offer is taken in
   part (offers are divisible), so the effective kW covered is ``min(need, what the suitable
   offers can give)``. Pay as bid: each award is paid its own price on the kW it delivers.

Effective kW of an award: ``kw · sensitivity``. Pure functions, no I/O; the contract
``FlexMarket.vy`` clears the same way in integers.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from peergrid.core.errors import PeergridError

Direction = Literal["down", "up"]
DIRECTIONS: tuple[Direction, ...] = ("down", "up")
AssetKind = Literal["battery", "ev", "flexible_load"]
ASSET_KINDS: tuple[AssetKind, ...] = ("battery", "ev", "flexible_load")

MIN_RELATIVE_SENSITIVITY = 0.5
"""Least relative sensitivity an offer's bus needs to be suitable: a bus whose kW relieves the
congested element less than half as much as the best bus in the area is not bought (it would
cost more than twice its price per unit of relief, and its effect rests on a linearisation that
is least accurate far from the element)."""


class FlexibilityError(PeergridError, ValueError):
    """A need or an offer is malformed (names the field)."""


@dataclass(frozen=True)
class FlexNeed:
    """One slot's need on one congested element (kW at the most effective bus)."""

    id: str
    slot: int
    direction: Direction
    kw: float
    max_price: float  # currency per kWh
    sensitivity: Mapping[int, float]  # area bus -> relative sensitivity in (0, 1]
    element: str = ""

    def __post_init__(self) -> None:
        if self.direction not in DIRECTIONS:
            raise FlexibilityError(f"need {self.id}: direction must be down or up")
        if not (self.kw >= 0 and self.max_price >= 0):
            raise FlexibilityError(f"need {self.id}: kw and max_price must be >= 0")
        for bus, weight in self.sensitivity.items():
            if not 0 < weight <= 1:
                raise FlexibilityError(
                    f"need {self.id}: relative sensitivity of bus {bus} is {weight}, "
                    "expected a value in (0, 1]"
                )

    @property
    def area(self) -> frozenset[int]:
        return frozenset(self.sensitivity)


@dataclass(frozen=True)
class FlexOffer:
    """A member's flexibility for one slot: kW in ``direction`` at ``bus`` for ``price``/kWh."""

    id: str
    member: str
    bus: int
    kw: float
    price: float
    kind: AssetKind
    direction: Direction = "down"

    def __post_init__(self) -> None:
        if self.kind not in ASSET_KINDS:
            raise FlexibilityError(f"offer {self.id}: unknown asset kind {self.kind!r}")
        if self.direction not in DIRECTIONS:
            raise FlexibilityError(f"offer {self.id}: direction must be down or up")
        if not (self.kw >= 0 and self.price >= 0):
            raise FlexibilityError(f"offer {self.id}: kw and price must be >= 0")


@dataclass(frozen=True)
class FlexAward:
    """The kW bought from one offer and the relief they give (``effective_kw``)."""

    offer: FlexOffer
    kw: float
    effective_kw: float

    @property
    def price(self) -> float:
        return self.offer.price


@dataclass(frozen=True)
class FlexClearing:
    """The awards of one need, cheapest per effective kW first."""

    need: FlexNeed
    awards: tuple[FlexAward, ...] = field(default=())

    @property
    def covered_kw(self) -> float:
        """Effective kW bought (at most the need)."""
        return sum(a.effective_kw for a in self.awards)

    @property
    def bought_kw(self) -> float:
        """kW bought at the offers' buses."""
        return sum(a.kw for a in self.awards)

    @property
    def uncovered_kw(self) -> float:
        return max(self.need.kw - self.covered_kw, 0.0)

    def cost(self, hours: float) -> float:
        """What the DSO pays if every award is delivered over ``hours``."""
        return sum(a.kw * a.price for a in self.awards) * hours


def is_suitable(offer: FlexOffer, need: FlexNeed) -> bool:
    """Inside the area, sensitive enough, not above the maximum price, same direction, > 0 kW."""
    weight = need.sensitivity.get(offer.bus, 0.0)
    return (
        weight >= MIN_RELATIVE_SENSITIVITY
        and offer.price <= need.max_price
        and offer.direction == need.direction
        and offer.kw > 0
    )


def merit_order(need: FlexNeed, offers: Iterable[FlexOffer]) -> list[FlexOffer]:
    """The suitable offers by price per effective kW, equal keys in the order given."""
    suitable = [o for o in offers if is_suitable(o, need)]
    return sorted(suitable, key=lambda o: o.price / need.sensitivity[o.bus])


def clear_need(need: FlexNeed, offers: Sequence[FlexOffer]) -> FlexClearing:
    """The cheapest suitable offers until the need is covered (the last one in part)."""
    remaining = need.kw
    awards: list[FlexAward] = []
    for offer in merit_order(need, offers):
        if remaining <= 0:
            break
        weight = need.sensitivity[offer.bus]
        effective = offer.kw * weight
        if effective <= remaining:
            awards.append(FlexAward(offer, offer.kw, effective))
            remaining -= effective
        else:
            awards.append(FlexAward(offer, remaining / weight, remaining))
            remaining = 0.0
    return FlexClearing(need, tuple(awards))


def relative_sensitivity(relief_per_kw: Mapping[int, float]) -> dict[int, float]:
    """Per bus, its relief per kW over the largest in the area; buses that give no relief (zero
    or the wrong sign) are left out."""
    best = max((v for v in relief_per_kw.values() if v > 0), default=0.0)
    if best <= 0:
        return {}
    return {bus: min(v / best, 1.0) for bus, v in relief_per_kw.items() if v > 0}
