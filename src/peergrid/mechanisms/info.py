"""Typed views of a clearing's ``info``, one per family of mechanisms.

``Clearing.info`` stays a plain JSON mapping (it is what ``peergrid clear`` prints, with the
sources' own names: the DPDA's ``oversupply``, the DAM's ``theta``). Code that reads it goes
through these views instead of guessing keys: :attr:`AuctionInfo.oversupply_kwh` is the DPDA's
E_over and the DAM's θ alike (both: winning supply minus winning demand before the mechanism
absorbs it).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Self


def _opt_int(value: Any) -> int | None:
    return None if value is None else int(value)


def _opt_float(value: Any) -> float | None:
    return None if value is None else float(value)


@dataclass(frozen=True)
class AuctionInfo:
    """A uniform-price double auction's diagnostics (DAM, DPDA)."""

    mechanism: str
    case: int | None = None
    x: int | None = None  # winning buyers, 1-based index of the last (Rule R)
    y: int | None = None  # winning sellers
    oversupply_kwh: float | None = None  # DPDA's E_over, DAM's θ
    clipping_excess_kwh: float = 0.0
    traded_kwh: float = 0.0
    winning_buyers: tuple[str, ...] = ()
    winning_sellers: tuple[str, ...] = ()
    individual_rationality_violations: tuple[str, ...] = ()
    voided_trades: int = 0  # trades the market's authority refused after matching

    @classmethod
    def from_mapping(cls, info: Mapping[str, Any]) -> Self:
        return cls(**cls._fields(info))

    @staticmethod
    def _fields(info: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "mechanism": str(info.get("mechanism", "")),
            "case": _opt_int(info.get("case")),
            "x": _opt_int(info.get("x")),
            "y": _opt_int(info.get("y")),
            "oversupply_kwh": _opt_float(info.get("oversupply", info.get("theta"))),
            "clipping_excess_kwh": float(info.get("clipping_excess_kwh", 0.0)),
            "traded_kwh": float(info.get("traded_kwh", 0.0)),
            "winning_buyers": tuple(info.get("winning_buyers", ())),
            "winning_sellers": tuple(info.get("winning_sellers", ())),
            "individual_rationality_violations": tuple(
                info.get("individual_rationality_violations", ())
            ),
            "voided_trades": int(info.get("voided_trades", 0)),
        }


@dataclass(frozen=True)
class ScoredAuctionInfo(AuctionInfo):
    """An auction whose winners Score Matching paired: quotes (eqs. 4.6/4.7), the DSO's
    income from distance charges, and what was left unmatched."""

    quotes: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    dso_income: float = 0.0
    unmatched_kwh: Mapping[str, float] = field(default_factory=dict)

    @classmethod
    def from_mapping(cls, info: Mapping[str, Any]) -> Self:
        return cls(
            **cls._fields(info),
            quotes=dict(info.get("quotes") or {}),
            dso_income=float(info.get("dso_income", 0.0)),
            unmatched_kwh=dict(info.get("unmatched_kwh") or {}),
        )


@dataclass(frozen=True)
class ServiceMarketInfo(AuctionInfo):
    """An ancillary-service session (CDA, NCDA, OCDA; 004_vdma.md): its pool, what is left at
    gate closure (asks unsatisfied, offers unsold; both go to external resources), orders the
    book cancelled (self-trade, fill limit), and the trades' quantity-weighted distance in the
    session's metric (None without a feeder)."""

    pool: str = "up"
    strict: bool = True
    distance_metric: str | None = None
    distance_unit: str | None = None
    weighted_distance: float | None = None
    unsatisfied_kwh: Mapping[str, float] = field(default_factory=dict)
    unsold_kwh: Mapping[str, float] = field(default_factory=dict)
    cancelled: tuple[Mapping[str, Any], ...] = ()
    opf_solves: int = 0  # OCDA: OPFs solved (one per ask with suitable offers)
    limited_by_network_kwh: float = 0.0  # OCDA: kWh suitable offers had but the limits refused

    @classmethod
    def from_mapping(cls, info: Mapping[str, Any]) -> Self:
        return cls(
            **cls._fields(info),
            pool=str(info.get("pool", "up")),
            strict=bool(info.get("strict", True)),
            distance_metric=info.get("distance_metric"),
            distance_unit=info.get("distance_unit"),
            weighted_distance=_opt_float(info.get("weighted_distance")),
            unsatisfied_kwh=dict(info.get("unsatisfied_kwh") or {}),
            unsold_kwh=dict(info.get("unsold_kwh") or {}),
            cancelled=tuple(info.get("cancelled") or ()),
            opf_solves=int(info.get("opf_solves", 0)),
            limited_by_network_kwh=float(info.get("limited_by_network_kwh", 0.0)),
        )


@dataclass(frozen=True)
class QuotaAuctionInfo(AuctionInfo):
    """The EV charging quota auction (001b_book.md ch. 9): the satisfaction rate β, whether the
    demands exceeded the margin (only then is an auction held), the margin and total demand."""

    beta: float = 1.0
    auction_held: bool = False
    capacity_margin_kw: float = 0.0
    total_demand_kw: float = 0.0
    pricing: str = "mid-point"

    @classmethod
    def from_mapping(cls, info: Mapping[str, Any]) -> Self:
        return cls(
            **cls._fields(info),
            beta=float(info.get("beta", 1.0)),
            auction_held=bool(info.get("auction_held", False)),
            capacity_margin_kw=float(info.get("capacity_margin_kw", 0.0)),
            total_demand_kw=float(info.get("total_demand_kw", 0.0)),
            pricing=str(info.get("pricing", "mid-point")),
        )
