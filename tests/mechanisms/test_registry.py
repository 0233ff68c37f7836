"""The mechanism registry: every name resolves to its module, parameters are described with
units and defaults that the algorithm really uses, and every family has its typed info."""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path

import pytest

from peergrid.core.errors import OrderError, PeergridError
from peergrid.mechanisms import MECHANISMS, AuctionInfo, ScoredAuctionInfo, mechanism_spec
from peergrid.mechanisms.ev_quota import QuotaParameters
from peergrid.mechanisms.score_matching import ScoreParameters

from .books import TABLE_2_2

MECHANISMS_DIR = Path(importlib.import_module("peergrid.mechanisms").__file__ or "").parent


@pytest.mark.parametrize("name", sorted(MECHANISMS))
def test_every_name_resolves_to_its_module(name: str) -> None:
    spec = MECHANISMS[name]
    module = importlib.import_module(spec.module)
    path = Path(module.__file__ or "")
    assert path.parent == MECHANISMS_DIR
    # The name says where to look: `dpda` is dpda.py; `dpda+score` is the Score Matching
    # pairing (score_matching.py) over the DPDA (dpda.py); NCDA shares CDA's book (cda.py).
    # A hyphen in a name is an underscore in its module (`ev-quota` is ev_quota.py).
    base, _, pairing = name.replace("-", "_").partition("+")
    base = {"ncda": "cda"}.get(base, base)
    assert (MECHANISMS_DIR / f"{base}.py").exists()
    assert path.stem == (base if not pairing else f"{pairing}_matching")
    assert spec.name == name


@pytest.mark.parametrize("name", sorted(MECHANISMS))
def test_parameters_are_described_with_the_defaults_the_algorithm_uses(name: str) -> None:
    spec = MECHANISMS[name]
    if spec.service:
        defaults = {p.name: p.default for p in spec.parameters}
        assert spec.read_params is not None
        assert spec.read_params(defaults) == spec.read_params({})
        assert all(p.description for p in spec.parameters)
        with pytest.raises(OrderError, match="unknown parameter"):
            spec.check_params({"not_a_parameter": 1})
        return
    if name == "ev-quota":
        # The stations and the margin have no default; the rest are QuotaParameters' own.
        given = {p.name: p.default for p in spec.parameters if p.default != "required"}
        assert {p.name for p in spec.parameters} - set(given) == {"evs", "capacity_margin_kw"}
        with_margin = {**given, "capacity_margin_kw": 1.0}
        assert QuotaParameters.from_params(with_margin) == QuotaParameters(1.0)
        assert all(p.description for p in spec.parameters)
        with pytest.raises(OrderError, match="unknown parameter"):
            spec.check_params({"not_a_parameter": 1})
        return
    if not spec.needs_distances:
        assert spec.parameters == ()
        return
    defaults = {p.name: p.default for p in spec.parameters}
    assert ScoreParameters.from_params(defaults) == ScoreParameters()
    assert all(p.description for p in spec.parameters)
    # every parameter the algorithm accepts is described, and no other
    with pytest.raises(OrderError, match="unknown parameter"):
        spec.check_params({"not_a_parameter": 1})


def test_each_family_reads_its_info() -> None:
    orders = TABLE_2_2.orders()
    dpda = mechanism_spec("dpda")
    info = dpda.info(dpda.clear(orders, {}, None))
    assert type(info) is AuctionInfo and info.mechanism == "dpda"
    assert info.case is not None and info.x is not None and info.y is not None
    # The DAM names its imbalance θ and the DPDA E_over: one field reads both.
    for name, key in (("dpda", "oversupply"), ("mcafee", "theta")):
        spec = mechanism_spec(name)
        clearing = spec.clear(orders, {}, None)
        assert spec.info(clearing).oversupply_kwh == clearing.info[key]
    assert mechanism_spec("dpda+score").info_type is ScoredAuctionInfo
    fields = inspect.signature(ScoredAuctionInfo).parameters
    assert {"quotes", "dso_income", "unmatched_kwh"} <= set(fields)


def test_an_unknown_name_lists_the_known_ones() -> None:
    with pytest.raises(
        PeergridError, match=r"unknown mechanism 'nope' \(known: cda, dpda, dpda\+score"
    ):
        mechanism_spec("nope")
