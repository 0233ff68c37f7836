"""The two-stage DR settlement of chapter 7 (001a_book.md §2.3–2.5), on integers.

Every hour a prosumer bids ``(demand, price, supply)`` (AC-03): its offered demand ``d`` and its
PV capacity ``ρ`` (Wh), and one price (micro-currency per kWh). Its **net** position trades:
``d > ρ`` makes it a buyer of ``d − ρ`` at most at its price, ``ρ > d`` a seller of ``ρ − d`` at
least at its price (our reading: the book aggregates demand and supply with "the corresponding
prices", one price per bid; own PV serves own demand first). Σ net buys > Σ net sells exactly
when Σ d > Σ ρ, so Eq. (2)'s condition is the book's either way.

**Stage 1** (:func:`first_settlement`, the book's rule with our tie and margin rules, G7):
buyers sorted by price descending, sellers ascending, equal prices in prosumer order; the
cleared quantity ``Q`` is the largest where the buyers' price curve is at or above the sellers'
(``max_i min(B_i, S(b_i))``); orders fill in that order, the last one of each side partially.
The uniform price is the mid-point (rounded down) of the marginal buyer's and seller's prices,
which lies on the crossing of the two step curves. When nothing crosses: the upstream price if
there is any net demand (it is all served upstream), else the lowest offer, else 0. The DR price
of Eq. (2), capped by Eq. (3) (G8: a clamp): ``π_DR = min(α·π // 10⁶, π_market)`` when there is a
deficit, else 0; α in parts per million, at least 10⁶ (α ≥ 1).

**Stage 2** (:func:`final_settlement`, Eqs. 4–8 with the power balance, G11): buyers who take
part post a rescheduled demand ``d_new ≤ d`` (Eq. 1 at the stage-1 prices; a DR part is a
reduction, G9); sellers' meters give the capacity they actually delivered. The local supply is
what each seller was cleared for in stage 1, at most what it delivered; it serves the buyers'
new net demands in merit order (price descending) and every kWh not served locally is imported
at the upstream price (balance: local supply + import = served demand; all demand is served, so
Eq. 8 is tight). DR parts ``d − d_new`` (net) are paid at ``π_DR``, at most the stage-1 deficit
in all (pro rata, rounded down: a DR kWh beyond the deficit avoids no import). A seller that
delivers less than it was cleared for pays ``penalty_rate × shortfall`` (G13; the seller pays,
G12). Buyers pay sellers (G12).

**Money** (micro-currency, rounded down per prosumer): each prosumer's change is
``+ sold·π − penalty − local·π − import·π_market + paid DR·π_DR`` (each product ``// 1000``);
the system operator, who buys upstream, pays the DR and collects penalties, takes exactly the
negative of their sum, rounding residue included: no money is created or destroyed.

Arrays are ``(slots, prosumers)``; a single hour is one row. The contract ``DrSettlement.vy``
computes the same integers (its client sorts the bids with :func:`merit_order`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from peergrid.core.errors import PeergridError

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

WH_PER_KWH = 1000
ALPHA_ONE = 10**6
"""α = 1 in parts per million."""
MAX_PRICE = 2**48 - 1
MAX_WH = 2**48 - 1


class DemandResponseError(PeergridError, ValueError):
    """A bid, a rescheduled demand, a meter reading or a parameter of the DR market is malformed:
    names the prosumer (or slot) and the field."""


@dataclass(frozen=True)
class Bids:
    """One round of bids, ``(slots, prosumers)`` integer arrays: gross demand and PV supply (Wh)
    and the bid price (micro-currency per kWh)."""

    demand_wh: IntArray
    supply_wh: IntArray
    price: IntArray

    @property
    def buy_wh(self) -> IntArray:
        return np.maximum(self.demand_wh - self.supply_wh, 0)

    @property
    def sell_wh(self) -> IntArray:
        return np.maximum(self.supply_wh - self.demand_wh, 0)


@dataclass(frozen=True)
class FirstSettlement:
    """Stage 1 per slot: the uniform price, the DR price and what each prosumer bought or sold
    (Wh); ``deficit_wh`` = Σ net demand − Σ net supply (positive: a deficit)."""

    price: IntArray
    dr_price: IntArray
    cleared_wh: IntArray
    deficit_wh: IntArray
    bought_wh: IntArray
    sold_wh: IntArray


@dataclass(frozen=True)
class FinalSettlement:
    """Stage 2 per slot and prosumer (Wh, micro-currency): new net demand, what was served
    locally and imported, what each seller sold and its shortfall, the DR part and the DR
    quantity paid, the penalty, and each prosumer's money change (positive: received);
    ``operator`` is the system operator's change per slot."""

    new_buy_wh: IntArray
    local_wh: IntArray
    import_wh: IntArray
    sold_wh: IntArray
    shortfall_wh: IntArray
    dr_wh: IntArray
    dr_paid_wh: IntArray
    penalty: IntArray
    money: IntArray
    operator: IntArray


def money(quantity_wh: IntArray | int, price: IntArray | int) -> IntArray:
    """Wh × micro-currency per kWh, in micro-currency, rounded down (the contract's rule)."""
    return np.asarray(quantity_wh, dtype=np.int64) * price // WH_PER_KWH


def merit_order(quantity: IntArray, price: IntArray, *, descending: bool) -> IntArray:
    """Indices of the orders with ``quantity > 0``, best first: price descending (buyers) or
    ascending (sellers), equal prices in prosumer order. One row."""
    index = np.flatnonzero(quantity > 0)
    key = -price[index] if descending else price[index]
    return index[np.argsort(key, kind="stable")]


def check_bids(bids: Bids, upstream_price: IntArray) -> None:
    """Refuse bids the contract refuses: negative or huge quantities, a price above the slot's
    upstream price (a buyer never pays more than importing; a seller above it never sells)."""
    for name in ("demand_wh", "supply_wh", "price"):
        values = getattr(bids, name)
        if values.shape != bids.demand_wh.shape or values.ndim != 2:
            raise DemandResponseError(f"bids: field {name!r} has shape {values.shape}")
        bad = np.argwhere((values < 0) | (values > MAX_WH))
        if len(bad):
            t, p = bad[0]
            raise DemandResponseError(
                f"prosumer {p}, slot {t}: field {name!r} out of range ({values[t, p]})"
            )
    up = np.asarray(upstream_price, dtype=np.int64)
    if up.shape != (bids.price.shape[0],) or (up <= 0).any() or (up > MAX_PRICE).any():
        raise DemandResponseError("upstream_price: one positive price per slot is needed")
    above = np.argwhere(bids.price > up[:, None])
    if len(above):
        t, p = above[0]
        raise DemandResponseError(
            f"prosumer {p}, slot {t}: field 'price' {bids.price[t, p]} is above the upstream "
            f"price {up[t]}"
        )


def check_alpha(alpha_ppm: IntArray) -> None:
    below = np.flatnonzero(np.asarray(alpha_ppm) < ALPHA_ONE)
    if len(below):
        raise DemandResponseError(
            f"slot {below[0]}: field 'alpha' must be at least 1 (Eq. 2), got "
            f"{np.asarray(alpha_ppm)[below[0]] / ALPHA_ONE:g}"
        )


def _sorted(
    quantity: IntArray, price: IntArray, *, descending: bool
) -> tuple[IntArray, IntArray, IntArray]:
    """Per row: the order (non-orders last), the sorted quantities and prices."""
    big = np.iinfo(np.int64).max
    key = np.where(quantity > 0, -price if descending else price, big)
    order = np.argsort(key, axis=1, kind="stable")
    return (
        order,
        np.take_along_axis(quantity, order, axis=1),
        np.take_along_axis(price, order, axis=1),
    )


def _fill(sorted_quantity: IntArray, total: IntArray) -> IntArray:
    """Fill sorted orders in turn up to ``total`` per row (the last one partially)."""
    before = np.cumsum(sorted_quantity, axis=1) - sorted_quantity
    return np.minimum(sorted_quantity, np.maximum(total[:, None] - before, 0))


def _unsort(values: IntArray, order: IntArray) -> IntArray:
    out = np.empty_like(values)
    np.put_along_axis(out, order, values, axis=1)
    return out


def first_settlement(bids: Bids, upstream_price: IntArray, alpha_ppm: IntArray) -> FirstSettlement:
    """Stage 1 of every slot: uniform clearing (§2.3) and the DR price (Eqs. 2–3)."""
    up = np.asarray(upstream_price, dtype=np.int64)
    alpha = np.asarray(alpha_ppm, dtype=np.int64)
    check_bids(bids, up)
    check_alpha(alpha)
    buy, sell = bids.buy_wh, bids.sell_wh
    b_order, bq, bp = _sorted(buy, bids.price, descending=True)
    s_order, sq, sp = _sorted(sell, bids.price, descending=False)
    cum_b, cum_s = np.cumsum(bq, axis=1), np.cumsum(sq, axis=1)
    # S(b_i): the supply offered at or below each buyer's price.
    s_key = np.where(sq > 0, sp, np.iinfo(np.int64).max)
    count = (s_key[:, None, :] <= bp[:, :, None]).sum(axis=2)
    rows = np.arange(len(up))[:, None]
    supply_at = np.where(count > 0, cum_s[rows, np.maximum(count - 1, 0)], 0)
    cleared = np.where(bq > 0, np.minimum(cum_b, supply_at), 0).max(axis=1, initial=0)
    # The marginal orders: those holding the Q-th Wh.
    i = np.minimum((cum_b < cleared[:, None]).sum(axis=1), bq.shape[1] - 1)
    j = np.minimum((cum_s < cleared[:, None]).sum(axis=1), sq.shape[1] - 1)
    flat = np.arange(len(up))
    crossing = (bp[flat, i] + sp[flat, j]) // 2
    total_buy, total_sell = buy.sum(axis=1), sell.sum(axis=1)
    lowest_offer = np.where(total_sell > 0, np.where(sq > 0, sp, MAX_PRICE).min(axis=1), 0)
    price = np.where(cleared > 0, crossing, np.where(total_buy > 0, up, lowest_offer))
    deficit = total_buy - total_sell
    dr_price = np.where(deficit > 0, np.minimum(alpha * price // ALPHA_ONE, up), 0)
    return FirstSettlement(
        price=price,
        dr_price=dr_price,
        cleared_wh=cleared,
        deficit_wh=deficit,
        bought_wh=_unsort(_fill(bq, cleared), b_order),
        sold_wh=_unsort(_fill(sq, cleared), s_order),
    )


def final_settlement(
    bids: Bids,
    first: FirstSettlement,
    upstream_price: IntArray,
    penalty_rate: IntArray,
    *,
    new_demand_wh: IntArray | None = None,
    delivered_wh: IntArray | None = None,
) -> FinalSettlement:
    """Stage 2 of every slot: rescheduled demands (gross Wh, default: the bids') and metered
    deliveries of the sellers (net Wh, default: what they were cleared for)."""
    up = np.asarray(upstream_price, dtype=np.int64)
    rate = np.asarray(penalty_rate, dtype=np.int64)
    if rate.shape != up.shape or (rate < 0).any():
        raise DemandResponseError("penalty_rate: one non-negative rate per slot is needed")
    new_demand = bids.demand_wh if new_demand_wh is None else np.asarray(new_demand_wh)
    _check_reschedule(bids, new_demand)
    delivered = first.sold_wh if delivered_wh is None else np.asarray(delivered_wh)
    if delivered.shape != bids.demand_wh.shape or (delivered < 0).any():
        raise DemandResponseError("delivered_wh: one non-negative reading per bid is needed")
    buy = bids.buy_wh
    new_buy = np.where(buy > 0, np.maximum(new_demand - bids.supply_wh, 0), 0)
    available = np.minimum(first.sold_wh, delivered)
    shortfall = first.sold_wh - available
    local_total = np.minimum(available.sum(axis=1), new_buy.sum(axis=1))
    s_order, sq, _ = _sorted(available, bids.price, descending=False)
    sold = _unsort(_fill(sq, local_total), s_order)
    b_order, bq, _ = _sorted(new_buy, bids.price, descending=True)
    local = _unsort(_fill(bq, local_total), b_order)
    imported = new_buy - local
    dr = buy - new_buy
    cap = np.maximum(first.deficit_wh, 0)
    total_dr = dr.sum(axis=1)
    scaled = dr * cap[:, None] // np.maximum(total_dr, 1)[:, None]
    paid = np.where((total_dr <= cap)[:, None], dr, scaled)
    paid = np.where((first.dr_price > 0)[:, None], paid, 0)
    price = first.price[:, None]
    penalty = money(shortfall, rate[:, None])
    change = (
        money(sold, price)
        - penalty
        - money(local, price)
        - money(imported, up[:, None])
        + money(paid, first.dr_price[:, None])
    )
    return FinalSettlement(
        new_buy_wh=new_buy,
        local_wh=local,
        import_wh=imported,
        sold_wh=sold,
        shortfall_wh=shortfall,
        dr_wh=dr,
        dr_paid_wh=paid,
        penalty=penalty,
        money=change,
        operator=-change.sum(axis=1),
    )


def _check_reschedule(bids: Bids, new_demand: IntArray) -> None:
    if new_demand.shape != bids.demand_wh.shape:
        raise DemandResponseError(
            f"new_demand_wh: shape {new_demand.shape}, bids' is {bids.demand_wh.shape}"
        )
    bad = np.argwhere((new_demand < 0) | (new_demand > bids.demand_wh))
    if len(bad):
        t, p = bad[0]
        raise DemandResponseError(
            f"prosumer {p}, slot {t}: field 'new_demand_wh' must lie in 0..{bids.demand_wh[t, p]} "
            f"(a DR part d - d_new is a reduction, Eq. 4), got {new_demand[t, p]}"
        )
