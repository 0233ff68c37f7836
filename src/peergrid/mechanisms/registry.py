"""Mechanisms by name: the one place the CLI, scenarios and the trading cycle look them up.

Every entry says where its algorithm lives (``module``), what context it needs of the grid
(``needs_distances``), its parameters with unit, default and meaning, and the typed view of its
``Clearing.info`` (:mod:`peergrid.mechanisms.info`). A name joined with ``+`` is a mechanism and
the pairing of its winners: ``dpda+score`` is the DPDA (``dpda.py``) paired by Score Matching
(``score_matching.py``).

Every entry is called as ``clear(orders, params, distances)``: ``params`` are the mechanism's
own parameters (from an order file's ``params``, ``--param`` or a scenario's
``[market.params]``), ``distances`` the grid's distance table for mechanisms that price or
prefer by distance (None otherwise).

The ancillary-service markets of the VDMA (``cda``, ``ncda``, ``ocda``; ``service=True``) need
the feeder itself (``needs_feeder``): distances in several metrics for NCDA and the trades'
paths, the base case and limits for OCDA's OPF. They are called as
``clear_on_feeder(orders, params, feeder)`` (:func:`clear` with ``feeder=``); their ``clear``
runs them without a feeder (CDA then reports no paths; NCDA and OCDA refuse). A scenario's
energy market refuses them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from peergrid.core.errors import OrderError, PeergridError
from peergrid.core.orders import Order
from peergrid.core.trades import Clearing
from peergrid.mechanisms.ancillary import PARAMETER_DOCS, SessionParameters
from peergrid.mechanisms.cda import clear_cda, clear_ncda
from peergrid.mechanisms.dpda import clear_dpda
from peergrid.mechanisms.ev_quota import DEFAULT_TARIFF_PER_KWH, clear_ev_quota_params
from peergrid.mechanisms.ev_quota import check_params as check_quota_params
from peergrid.mechanisms.info import (
    AuctionInfo,
    QuotaAuctionInfo,
    ScoredAuctionInfo,
    ServiceMarketInfo,
)
from peergrid.mechanisms.mcafee import clear_mcafee
from peergrid.mechanisms.ocda import clear_ocda, ocda_parameters
from peergrid.mechanisms.score_matching import (
    DistanceTable,
    ScoreParameters,
    clear_dpda_score,
    clear_mcafee_score,
)
from peergrid.mechanisms.welfare import WelfareParameters

if TYPE_CHECKING:
    from peergrid.grid.feeder_types import Feeder

ClearFunction = Callable[[Sequence[Order], Mapping[str, Any], DistanceTable | None], Clearing]
FeederClearFunction = Callable[[Sequence[Order], Mapping[str, Any], "Feeder | None"], Clearing]


@dataclass(frozen=True)
class Parameter:
    """One parameter of a mechanism, as a user sets it under ``params``."""

    name: str
    unit: str
    default: float | str
    description: str


@dataclass(frozen=True)
class MechanismSpec:
    """What the platform knows of a mechanism before it runs it."""

    name: str
    module: str  # the module that holds the algorithm, e.g. "peergrid.mechanisms.dpda"
    summary: str
    clear: ClearFunction
    info_type: type[AuctionInfo]
    needs_distances: bool = False
    parameters: tuple[Parameter, ...] = ()
    needs_feeder: bool = False  # called with the feeder itself (clear_on_feeder)
    service: bool = False  # an ancillary-service market, not the energy market of a scenario
    clear_on_feeder: FeederClearFunction | None = None
    read_params: Callable[[Mapping[str, Any]], object] | None = None  # checks, raises
    # A scenario's energy market can run it (not an ancillary-service session, not the EV
    # charging quota auction).
    energy_market: bool = True

    def check_params(self, params: Mapping[str, Any]) -> None:
        """Raise the error :meth:`clear` would raise for these parameters, without clearing."""
        if self.read_params is not None:
            self.read_params(params)
        elif self.needs_distances:
            ScoreParameters.from_params(params)
        elif params:
            raise OrderError(
                f"mechanism {self.name!r} takes no parameters, got {', '.join(sorted(params))}",
                field="params",
            )

    def info(self, clearing: Clearing) -> AuctionInfo:
        """The typed view of ``clearing.info``."""
        return self.info_type.from_mapping(clearing.info)


def _plain(name: str, clear: Callable[[Sequence[Order]], Clearing]) -> ClearFunction:
    def run(
        orders: Sequence[Order], params: Mapping[str, Any], distances: DistanceTable | None
    ) -> Clearing:
        MECHANISMS[name].check_params(params)
        return clear(orders)

    return run


def _scored(name: str, clear: Callable[..., Clearing]) -> ClearFunction:
    def run(
        orders: Sequence[Order], params: Mapping[str, Any], distances: DistanceTable | None
    ) -> Clearing:
        if distances is None:
            raise PeergridError(f"mechanism {name!r} needs a feeder for its grid distances")
        return clear(orders, distances, ScoreParameters.from_params(params))

    return run


def _score_parameters() -> tuple[Parameter, ...]:
    score, welfare = ScoreParameters(), WelfareParameters()
    return (
        Parameter(
            "distance_charge_per_m",
            "currency/m",
            score.distance_charge_per_m,
            "C_d: the DSO's charge per metre of path per matched pair, half to each side",
        ),
        Parameter(
            "income_sign",
            "",
            score.income_sign,
            "eq4.7: a seller's income is p0·E − C_d·d/2; table-b3: + (Appendix B)",
        ),
        Parameter("a", "currency/kWh²", welfare.a, "seller cost, quadratic term (eq. 2.8)"),
        Parameter("b", "currency/kWh", welfare.b, "seller cost, linear term (eq. 2.8)"),
        Parameter("c", "currency", welfare.c, "seller cost, constant term (eq. 2.8)"),
        Parameter("omega", "currency/kWh", welfare.omega, "buyer utility, linear (eq. 2.9)"),
        Parameter("alpha", "currency/kWh²", welfare.alpha, "buyer utility, quadratic (eq. 2.9)"),
        Parameter(
            "saturation",
            "",
            welfare.saturation,
            "continuous: U = ω²/(4α) above saturation; thesis: the printed ω²/(2α)",
        ),
    )


def _service(
    name: str, summary: str, clear: FeederClearFunction, read: Callable[[Mapping[str, Any]], object]
) -> MechanismSpec:
    def without_feeder(
        orders: Sequence[Order], params: Mapping[str, Any], distances: DistanceTable | None
    ) -> Clearing:
        return clear(orders, params, None)

    names = ["pool", "strict", "distance"]
    if name != "ocda":
        names.insert(2, "max_fills")
    parameters = [Parameter(n, *PARAMETER_DOCS[n]) for n in names]
    if name == "ocda":
        parameters += [
            Parameter(
                "loss_price_per_kwh",
                "currency/kWh",
                0.35,
                "price of the network's losses in the OPF's objective",
            ),
            Parameter("session_hours", "h", 1.0, "the session's length Δt (kWh = kW · Δt)"),
        ]
    return MechanismSpec(
        name,
        f"peergrid.mechanisms.{'ocda' if name == 'ocda' else 'cda'}",
        summary,
        without_feeder,
        ServiceMarketInfo,
        parameters=tuple(parameters),
        needs_feeder=True,
        service=True,
        clear_on_feeder=clear,
        read_params=read,
        energy_market=False,
    )


def _ev_quota() -> MechanismSpec:
    def run(
        orders: Sequence[Order], params: Mapping[str, Any], distances: DistanceTable | None
    ) -> Clearing:
        return clear_ev_quota_params(orders, params)

    return MechanismSpec(
        "ev-quota",
        "peergrid.mechanisms.ev_quota",
        "EV charging power quotas: pro-rata pre-allocation of the transformer's margin, then "
        "a double auction at each pair's mid-point (001b ch. 9, Algorithm 1)",
        run,
        QuotaAuctionInfo,
        parameters=(
            Parameter(
                "evs",
                "",
                "required",
                "the charging stations: a list of {id, demand_kwh, rating_kw} (an order file "
                "gives it at the top); demand on the one-hour basis, compared with the margin",
            ),
            Parameter(
                "capacity_margin_kw",
                "kW",
                "required",
                "P_M: the transformer's capacity margin for the next period (eq. 1)",
            ),
            Parameter(
                "tariff_per_kwh",
                "token/kWh",
                DEFAULT_TARIFF_PER_KWH,
                "charging tariff for the service fee (Table 1, 18:00-22:00)",
            ),
            Parameter(
                "pricing",
                "",
                "mid-point",
                "mid-point: each pair at its own mid-point (Algorithm 1); uniform-last: every "
                "pair at the last pair's mid-point (the reading of Table 4)",
            ),
            Parameter(
                "fee_on",
                "",
                "initial",
                "quota the service fee is charged on, initial (as Table 4) or final, x 1 h",
            ),
        ),
        read_params=check_quota_params,
        energy_market=False,
    )


def _build() -> dict[str, MechanismSpec]:
    score = _score_parameters()
    specs = (
        MechanismSpec(
            "dpda",
            "peergrid.mechanisms.dpda",
            "Demand-Prioritised Double Auction (003 Algorithm 2)",
            _plain("dpda", clear_dpda),
            AuctionInfo,
        ),
        MechanismSpec(
            "mcafee",
            "peergrid.mechanisms.mcafee",
            "McAfee's standard double auction, DAM (003 eqs. 2.6/2.7)",
            _plain("mcafee", clear_mcafee),
            AuctionInfo,
        ),
        MechanismSpec(
            "dpda+score",
            "peergrid.mechanisms.score_matching",
            "DPDA winners paired by Score Matching with the DSO's distance charges",
            _scored("dpda+score", clear_dpda_score),
            ScoredAuctionInfo,
            needs_distances=True,
            parameters=score,
        ),
        MechanismSpec(
            "mcafee+score",
            "peergrid.mechanisms.score_matching",
            "DAM winners paired by Score Matching with the DSO's distance charges",
            _scored("mcafee+score", clear_mcafee_score),
            ScoredAuctionInfo,
            needs_distances=True,
            parameters=score,
        ),
        _service(
            "cda",
            "Ancillary-service CDA: asks fill from the cheapest suitable offers, mid-point prices "
            "(004 §2.2)",
            clear_cda,
            lambda params: SessionParameters.from_params(params, "cda"),
        ),
        _service(
            "ncda",
            "Ancillary-service NCDA: asks fill from the nearest suitable offers on the feeder "
            "(hops by default; ties: cheaper, then older) (004 §2.4)",
            clear_ncda,
            lambda params: SessionParameters.from_params(params, "ncda"),
        ),
        _service(
            "ocda",
            "Ancillary-service OCDA: suitable offers dispatched by an OPF minimising the cost of "
            "losses under voltage and loading limits (004 §2.3)",
            clear_ocda,
            ocda_parameters,
        ),
        _ev_quota(),
    )
    return {spec.name: spec for spec in specs}


MECHANISMS: Mapping[str, MechanismSpec] = _build()
NEEDS_DISTANCES = frozenset(name for name, spec in MECHANISMS.items() if spec.needs_distances)


def mechanism_spec(name: str) -> MechanismSpec:
    """The entry called ``name``; an unknown name raises :class:`PeergridError` listing all."""
    try:
        return MECHANISMS[name]
    except KeyError:
        known = ", ".join(sorted(MECHANISMS))
        raise PeergridError(f"unknown mechanism {name!r} (known: {known})") from None


def distance_charge_per_m(name: str, params: Mapping[str, Any]) -> float:
    """The DSO's charge per metre per matched pair (C_d) that mechanism ``name`` applies with
    ``params``: Score Matching's ``distance_charge_per_m``, 0 for the other mechanisms."""
    spec = mechanism_spec(name)
    spec.check_params(params)
    if spec.needs_distances:
        return ScoreParameters.from_params(params).distance_charge_per_m
    return 0.0


def check_params(name: str, params: Mapping[str, Any]) -> None:
    """Raise the error ``clear`` would raise for these parameters, without clearing."""
    mechanism_spec(name).check_params(params)


def clear(
    name: str,
    orders: Sequence[Order],
    params: Mapping[str, Any] | None = None,
    *,
    distances: DistanceTable | None = None,
    feeder: Feeder | None = None,
) -> Clearing:
    """Clear ``orders`` with the mechanism called ``name`` (``feeder``: for the mechanisms that
    need the feeder itself, ``needs_feeder``)."""
    spec = mechanism_spec(name)
    if spec.clear_on_feeder is not None:
        return spec.clear_on_feeder(orders, params or {}, feeder)
    return spec.clear(orders, params or {}, distances)
