"""EV charging power quota trading (S5; 001b_book.md chapter 9).

Two stages share the transformer's capacity margin ``P_M`` among charging stations for the next
period:

1. **Pre-allocation** (eqs. 1–2, §9.3): when the stations' demands ``P_i`` together fit in the
   margin every demand is met (β = 1) and no auction is held; otherwise each station gets the
   same share of its demand, ``P_i^init = β P_i`` with ``β = P_M / Σ P_i``.
2. **Quota double auction** (Algorithm 1, §9.4): stations that need more quota bid to buy it,
   stations whose demand is elastic offer to sell theirs. Bids are sorted by price descending,
   offers ascending; while the best bid is at least the best offer the two trade
   ``min(demand, supply)`` at **their own mid-point** ``(bid + offer) / 2`` and the exhausted
   order leaves the list. Final quota = initial + bought − sold.

The chapter's one-hour basis (§9.7): a demand of ``x`` kWh is compared one-to-one with the
margin in kW, and a quota order of ``x`` kWh moves ``x`` kW of quota.

**Exact arithmetic.** Everything is computed on the integer grid the ledger's contract uses
(``ledger/contracts/EvQuota.vy``), so the two give identical quotas, trades and payments:

- quotas, demands and order quantities in micro-kW (1e-6 kW, :data:`QUOTA_UNITS_PER_KW`);
  inputs are rounded to it;
- prices and the tariff in micro-tokens per kWh (:data:`PRICE_UNITS`);
- an initial quota is ``P_i · P_M // Σ P`` (rounded down, so the quotas never exceed the margin);
- a trade's value is ``(bid + offer) · quantity // (2 · 10**6)`` micro-tokens (rounded down
  once, and the buyer pays exactly what the seller receives: money is conserved);
- a charging fee is ``tariff · quota // 10**6`` micro-tokens.

**Our choices where the chapter is silent** (also in ``docs/decisions.md``): equal prices keep
the order of submission (``submitted_at``, else the file's order); when a bid and an offer are
exhausted together both leave the lists (Algorithm 1 as printed pops only the bid and makes a
zero-amount transaction next); a station places at most one order, at a price above 0 (as the
contract requires); an offer may not exceed the station's initial quota and a bid may not take
the station above its charger rating. The
charging service fee is ``quota × tariff × 1 h`` on the **initial** quota by default, as Table 4
computes it (``fee_on = "final"`` charges the quota after trading instead). ``pricing =
"uniform-last"`` prices every trade at the mid-point of the last matched pair, the reading under
which Table 4's auction column is reproduced for stations D, E, F and H (§9.7 point 4).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from peergrid.core.errors import OrderError
from peergrid.core.orders import MAX_LABEL_CHARS, MAX_ORDERS, MAX_PRICE_PER_KWH, Order, Side
from peergrid.core.trades import Clearing, Trade

QUOTA_UNITS_PER_KW = 10**6
"""Quota resolution: micro-kW (and micro-kWh of quota orders on the one-hour basis)."""

PRICE_UNITS = 10**6
"""Price resolution: micro-tokens per kWh."""

VALUE_UNITS = 10**6
"""Money resolution of payments and fees: micro-tokens (the settlement token's 6 decimals)."""

DEFAULT_TARIFF_PER_KWH = 112.0
"""The charging tariff of Table 1 at 18:00–22:00, tokens per kWh (a token is 0.01 CNY)."""

PRICINGS = ("mid-point", "uniform-last")
FEE_BASES = ("initial", "final")

# A station's demand and rating are bounded like an order's quantity, so that every sum fits the
# contract's integers (uint256 is far beyond; the bound keeps the JSON and floats exact too).
MAX_STATION_KW = 1e9


@dataclass(frozen=True, slots=True)
class ChargingStation:
    """A charging station (or a single EV) asking for quota for the next period.

    ``demand_kwh`` is the energy its EVs need in the period on the one-hour basis (so also the
    quota in kW it asks for), ``rating_kw`` its chargers' total power::

        peergrid.mechanisms.ev_quota.ChargingStation("A", demand_kwh=36, rating_kw=50)
    """

    id: str
    demand_kwh: float
    rating_kw: float

    def __post_init__(self) -> None:
        for name in ("demand_kwh", "rating_kw"):
            value = getattr(self, name)
            if (
                not isinstance(value, int | float)
                or isinstance(value, bool)
                or not math.isfinite(value)
                or value < 0
                or value > MAX_STATION_KW
            ):
                raise OrderError(
                    f"station {self.id!r}: {name!r} must be a finite number from 0 to "
                    f"{MAX_STATION_KW:.0f}, got {value!r}",
                    field=f"evs.{name}",
                )
        if self.rating_kw <= 0:
            raise OrderError(
                f"station {self.id!r}: 'rating_kw' must be above 0, got {self.rating_kw!r}",
                field="evs.rating_kw",
            )
        if _units(self.demand_kwh) > _units(self.rating_kw):
            raise OrderError(
                f"station {self.id!r}: 'demand_kwh' {self.demand_kwh:g} exceeds its charger "
                f"rating of {self.rating_kw:g} kW over the one-hour period",
                field="evs.demand_kwh",
            )


@dataclass(frozen=True)
class QuotaParameters:
    """The auction's parameters (``params`` of an order file)."""

    capacity_margin_kw: float
    tariff_per_kwh: float = DEFAULT_TARIFF_PER_KWH
    pricing: str = "mid-point"
    fee_on: str = "initial"

    @classmethod
    def from_params(cls, params: Mapping[str, Any], *, complete: bool = True) -> QuotaParameters:
        """Read and check ``params`` (``evs`` is read by :func:`stations_from_params`);
        ``complete=False`` checks the values given and lets the margin be missing."""
        known = {"capacity_margin_kw", "tariff_per_kwh", "pricing", "fee_on", "evs"}
        unknown = sorted(set(params) - known)
        if unknown:
            raise OrderError(
                f"unknown parameter {unknown[0]!r} (ev-quota takes {', '.join(sorted(known))})",
                field="params",
            )
        if "capacity_margin_kw" not in params and complete:
            raise OrderError(
                "ev-quota needs the transformer's capacity margin: params.capacity_margin_kw",
                field="params.capacity_margin_kw",
            )
        margin = _number(
            params.get("capacity_margin_kw", 0.0), "capacity_margin_kw", MAX_STATION_KW
        )
        # The contract's bound on prices and the tariff (2**48 - 1 micro-units per kWh).
        tariff = _number(
            params.get("tariff_per_kwh", DEFAULT_TARIFF_PER_KWH),
            "tariff_per_kwh",
            MAX_PRICE_PER_KWH,
        )
        pricing = params.get("pricing", "mid-point")
        if pricing not in PRICINGS:
            raise OrderError(
                f"must be one of {', '.join(PRICINGS)}, got {pricing!r}", field="params.pricing"
            )
        fee_on = params.get("fee_on", "initial")
        if fee_on not in FEE_BASES:
            raise OrderError(
                f"must be one of {', '.join(FEE_BASES)}, got {fee_on!r}", field="params.fee_on"
            )
        return cls(margin, tariff, pricing, fee_on)


def _number(value: object, name: str, largest: float) -> float:
    if (
        not isinstance(value, int | float)
        or isinstance(value, bool)
        or not math.isfinite(value)
        or not 0 <= value <= largest
    ):
        raise OrderError(
            f"must be a finite number from 0 to {largest:.0f}, got {value!r}",
            field=f"params.{name}",
        )
    return float(value)


def stations_from_params(params: Mapping[str, Any]) -> list[ChargingStation]:
    """The stations listed under ``evs`` (an order file's top-level ``evs``), each id once."""
    raw = params.get("evs")
    if not isinstance(raw, list) or not raw:
        raise OrderError(
            "ev-quota needs the charging stations: a non-empty 'evs' list of "
            "{id, demand_kwh, rating_kw}",
            field="evs",
        )
    if len(raw) > MAX_ORDERS:
        raise OrderError(f"holds {len(raw)} stations; at most {MAX_ORDERS}", field="evs")
    stations: list[ChargingStation] = []
    seen: set[str] = set()
    for position, item in enumerate(raw):
        where = f"evs[{position}]"
        if not isinstance(item, Mapping):
            raise OrderError(f"{where} must be an object, got {type(item).__name__}", field="evs")
        unknown = sorted(set(item) - {"id", "demand_kwh", "rating_kw"})
        if unknown:
            raise OrderError(
                f"{where}: unknown field {unknown[0]!r} (a station has id, demand_kwh, rating_kw)",
                field=f"evs.{unknown[0]}",
            )
        for required in ("id", "demand_kwh", "rating_kw"):
            if required not in item:
                raise OrderError(f"{where} has no {required!r}", field=f"evs.{required}")
        station_id = item["id"]
        if (
            not isinstance(station_id, str | int)
            or isinstance(station_id, bool)
            or not 0 < len(str(station_id)) <= MAX_LABEL_CHARS
        ):
            raise OrderError(
                f"{where}: 'id' must be a non-empty string or integer of at most "
                f"{MAX_LABEL_CHARS} characters, got {station_id!r}",
                field="evs.id",
            )
        station_id = str(station_id)
        if station_id in seen:
            raise OrderError(f"duplicate station {station_id!r} in 'evs'", field="evs.id")
        seen.add(station_id)
        stations.append(ChargingStation(station_id, item["demand_kwh"], item["rating_kw"]))
    return stations


def _units(value: float, per: int = QUOTA_UNITS_PER_KW) -> int:
    """``value`` on the integer grid (``per`` units per whole), rounded to the nearest."""
    return round(value * per)


def capacity_margin_units(margin_kw: float) -> int:
    """The capacity margin on the integer grid, rounded *down*, so that the quotas never
    exceed the margin given (the contract takes this integer as its ``capacity_margin``).

    The product is rounded to a thousandth of a unit before the floor: a margin written on the
    grid (5.97452 kW) is 5 974 519.999… units in binary floating point, and is 5 974 520 units,
    not one fewer."""
    return math.floor(round(margin_kw * QUOTA_UNITS_PER_KW, 3))


def satisfaction_rate(demands_kw: Sequence[float], margin_kw: float) -> float:
    """β of eq. (1): 1 when the demands fit in the margin, else margin / total demand."""
    total = sum(demands_kw)
    return 1.0 if total <= margin_kw else margin_kw / total


def initial_quotas_units(demand_units: Sequence[int], margin_units: int) -> list[int]:
    """Eq. (2) on the integer grid: ``P_i · P_M // Σ P`` when the demands exceed the margin."""
    total = sum(demand_units)
    if total <= margin_units:
        return list(demand_units)
    return [demand * margin_units // total for demand in demand_units]


def station_quotas_units(
    stations: Sequence[ChargingStation], margin_kw: float
) -> tuple[list[int], int, dict[str, int]]:
    """The stations' demands, the margin and each station's initial quota on the integer grid,
    exactly as the clearing takes them: a caller that forms orders against its quota (the
    simulation's EVs) uses this, so that it never offers more than the clearing holds."""
    demand_units = [_units(station.demand_kwh) for station in stations]
    margin_units = capacity_margin_units(margin_kw)
    quotas = initial_quotas_units(demand_units, margin_units)
    return demand_units, margin_units, dict(zip((s.id for s in stations), quotas, strict=True))


@dataclass(frozen=True, slots=True)
class QuotaMatch:
    """One step of Algorithm 1 on the integer grid: ``quantity`` micro-kWh from the offer to the
    bid, valued at ``value`` micro-tokens; ``price_sum`` is bid + offer (micro-tokens/kWh)."""

    buy_order: str
    sell_order: str
    quantity: int
    price_sum: int

    @property
    def value(self) -> int:
        return self.price_sum * self.quantity // (2 * QUOTA_UNITS_PER_KW)


def quota_double_auction(
    bids: Sequence[tuple[str, int, int]], offers: Sequence[tuple[str, int, int]]
) -> list[QuotaMatch]:
    """Algorithm 1 on ``(order id, price, quantity)`` integers, in the order given for equal
    prices (the sort is stable): the matches in the order the auction forms them."""
    bid_book = sorted(bids, key=lambda bid: -bid[1])
    offer_book = sorted(offers, key=lambda offer: offer[1])
    matches: list[QuotaMatch] = []
    i = j = 0
    bid_left = bid_book[0][2] if bid_book else 0
    offer_left = offer_book[0][2] if offer_book else 0
    while i < len(bid_book) and j < len(offer_book) and bid_book[i][1] >= offer_book[j][1]:
        amount = min(bid_left, offer_left)
        matches.append(
            QuotaMatch(bid_book[i][0], offer_book[j][0], amount, bid_book[i][1] + offer_book[j][1])
        )
        bid_left -= amount
        offer_left -= amount
        if bid_left == 0:
            i += 1
            bid_left = bid_book[i][2] if i < len(bid_book) else 0
        if offer_left == 0:
            j += 1
            offer_left = offer_book[j][2] if j < len(offer_book) else 0
    return matches


class StationQuota(NamedTuple):
    """A station's quota before and after the auction (kW), what it pays in the auction
    (tokens; negative: an income) and its charging service fee (tokens)."""

    demand_kw: float
    initial_kw: float
    final_kw: float
    payment: float
    charging_fee: float


@dataclass(frozen=True)
class QuotaClearing(Clearing):
    """The result of pre-allocation and the quota auction.

    Beyond a :class:`~peergrid.core.trades.Clearing` (``trades`` in the order the auction forms
    them, each at its own price; ``price`` only under ``pricing = "uniform-last"``): ``beta``,
    ``stations`` with their quotas, payments and fees::

        result = peergrid.clear(orders, mechanism="ev-quota",
                                params={"evs": stations, "capacity_margin_kw": 323})
        result.beta, result.stations["D"].final_kw, result.stations["C"].payment
    """

    beta: float = 1.0
    auction_held: bool = False
    stations: Mapping[str, StationQuota] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The clearing as ``peergrid clear --mechanism ev-quota`` prints it: ``beta``,
        ``quotas`` per station (``demand_kw``, ``initial_kw``, ``final_kw``), ``trades``,
        ``payments`` per station (tokens paid in the auction; negative: income) and
        ``charging_fees`` per station, beside the usual ``price``, ``allocations`` and ``info``.
        """
        out = super().to_dict()
        out["beta"] = self.beta
        out["auction_held"] = self.auction_held
        out["quotas"] = {
            name: {"demand_kw": s.demand_kw, "initial_kw": s.initial_kw, "final_kw": s.final_kw}
            for name, s in self.stations.items()
        }
        out["payments"] = {name: s.payment for name, s in self.stations.items()}
        out["charging_fees"] = {name: s.charging_fee for name, s in self.stations.items()}
        return out


def check_quota_orders(
    orders: Sequence[Order], stations: Sequence[ChargingStation], initial_units: Mapping[str, int]
) -> dict[str, Order]:
    """Each order from a listed station with quota, at most one per station, at a price above
    0; an offer within the station's initial quota, a bid within its rating. Returns the orders
    by station."""
    by_id = {station.id: station for station in stations}
    by_station: dict[str, Order] = {}
    for order in orders:
        station = by_id.get(order.agent)
        if station is None:
            raise OrderError(
                f"station {order.agent!r} is not among the 'evs'", order_id=order.id, field="agent"
            )
        if order.agent in by_station:
            raise OrderError(
                f"station {order.agent!r} already placed order {by_station[order.agent].id!r} "
                "(one quota order per station)",
                order_id=order.id,
                field="agent",
            )
        quota = initial_units[order.agent]
        if quota == 0:
            raise OrderError(
                f"station {order.agent!r} has no quota (no demand) to trade",
                order_id=order.id,
                field="agent",
            )
        if _units(order.price, PRICE_UNITS) == 0:
            # The contract refuses it too ("zero price"): a quota order names a price.
            raise OrderError(
                f"must be at least 1e-6 per kWh, got {order.price!r}",
                order_id=order.id,
                field="price",
            )
        quantity = _units(order.quantity_kwh)
        if quantity == 0:
            raise OrderError(
                f"must be at least 1e-6 kWh, got {order.quantity_kwh!r}",
                order_id=order.id,
                field="quantity_kwh",
            )
        if order.side is Side.SELL and quantity > quota:
            raise OrderError(
                f"offers {order.quantity_kwh:g} kWh but station {order.agent!r} holds a quota "
                f"of {quota / QUOTA_UNITS_PER_KW:g} kW",
                order_id=order.id,
                field="quantity_kwh",
            )
        room = _units(station.rating_kw) - quota
        if order.side is Side.BUY and quantity > room:
            raise OrderError(
                f"bids for {order.quantity_kwh:g} kWh but station {order.agent!r} can take "
                f"{room / QUOTA_UNITS_PER_KW:g} kW more within its rating",
                order_id=order.id,
                field="quantity_kwh",
            )
        by_station[order.agent] = order
    return by_station


def clear_ev_quota(
    orders: Sequence[Order], stations: Sequence[ChargingStation], parameters: QuotaParameters
) -> QuotaClearing:
    """Pre-allocate the margin (eqs. 1–2) and, when the demands exceed it, run the quota double
    auction (Algorithm 1) on ``orders`` (one per station, ``agent`` = the station's id)."""
    demand_units, margin_units, initial = station_quotas_units(
        stations, parameters.capacity_margin_kw
    )
    total = sum(demand_units)
    auction_held = total > margin_units
    beta = margin_units / total if auction_held else 1.0
    by_station = check_quota_orders(orders, stations, initial)
    ordered = sorted(by_station.values(), key=lambda order: order.submitted_at)
    matches: list[QuotaMatch] = []
    if auction_held:
        bids = [
            (o.id, _units(o.price, PRICE_UNITS), _units(o.quantity_kwh))
            for o in ordered
            if o.side is Side.BUY
        ]
        offers = [
            (o.id, _units(o.price, PRICE_UNITS), _units(o.quantity_kwh))
            for o in ordered
            if o.side is Side.SELL
        ]
        matches = quota_double_auction(bids, offers)
    uniform_sum = (
        matches[-1].price_sum if matches and parameters.pricing == "uniform-last" else None
    )
    order_by_id = {order.id: order for order in orders}
    moved = dict.fromkeys(initial, 0)
    paid = dict.fromkeys(initial, 0)
    allocations = dict.fromkeys((order.id for order in orders), 0.0)
    trades: list[Trade] = []
    for match in matches:
        if uniform_sum is not None:
            match = QuotaMatch(match.buy_order, match.sell_order, match.quantity, uniform_sum)
        buyer = order_by_id[match.buy_order].agent
        seller = order_by_id[match.sell_order].agent
        value = match.value
        moved[buyer] += match.quantity
        moved[seller] -= match.quantity
        paid[buyer] += value
        paid[seller] -= value
        quantity_kwh = match.quantity / QUOTA_UNITS_PER_KW
        allocations[match.buy_order] += quantity_kwh
        allocations[match.sell_order] += quantity_kwh
        trades.append(
            Trade(
                buyer=buyer,
                seller=seller,
                quantity_kwh=quantity_kwh,
                price=match.price_sum / (2 * PRICE_UNITS),
                buy_order=match.buy_order,
                sell_order=match.sell_order,
            )
        )
    tariff_units = _units(parameters.tariff_per_kwh, PRICE_UNITS)
    quotas: dict[str, StationQuota] = {}
    for station, demand in zip(stations, demand_units, strict=True):
        final = initial[station.id] + moved[station.id]
        charged = initial[station.id] if parameters.fee_on == "initial" else final
        quotas[station.id] = StationQuota(
            demand_kw=demand / QUOTA_UNITS_PER_KW,
            initial_kw=initial[station.id] / QUOTA_UNITS_PER_KW,
            final_kw=final / QUOTA_UNITS_PER_KW,
            payment=paid[station.id] / VALUE_UNITS,
            charging_fee=tariff_units * charged // QUOTA_UNITS_PER_KW / VALUE_UNITS,
        )
    traded = sum(match.quantity for match in matches) / QUOTA_UNITS_PER_KW
    info: dict[str, Any] = {
        "mechanism": "ev-quota",
        "beta": beta,
        "auction_held": auction_held,
        "capacity_margin_kw": margin_units / QUOTA_UNITS_PER_KW,
        "total_demand_kw": total / QUOTA_UNITS_PER_KW,
        "traded_kwh": traded,
        "pricing": parameters.pricing,
        "fee_on": parameters.fee_on,
        "tariff_per_kwh": tariff_units / PRICE_UNITS,
        "winning_buyers": sorted({t.buy_order for t in trades}),
        "winning_sellers": sorted({t.sell_order for t in trades}),
    }
    return QuotaClearing(
        trades=tuple(trades),
        price=None if uniform_sum is None else uniform_sum / (2 * PRICE_UNITS),
        allocations=allocations,
        info=info,
        beta=beta,
        auction_held=auction_held,
        stations=quotas,
    )


def clear_ev_quota_params(orders: Sequence[Order], params: Mapping[str, Any]) -> QuotaClearing:
    """:func:`clear_ev_quota` with the stations and parameters read from ``params`` (``evs``,
    ``capacity_margin_kw``, ``tariff_per_kwh``, ``pricing``, ``fee_on``)."""
    parameters = QuotaParameters.from_params(params)
    return clear_ev_quota(orders, stations_from_params(params), parameters)


def check_params(params: Mapping[str, Any]) -> None:
    """Raise the error :func:`clear_ev_quota_params` would raise for the ``params`` given (the
    margin and the stations may still come from elsewhere, e.g. ``--param``)."""
    QuotaParameters.from_params(params, complete=False)
    if "evs" in params:
        stations_from_params(params)
