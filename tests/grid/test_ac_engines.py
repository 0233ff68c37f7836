"""The two AC engines: power-grid-model (batched, reduced network) against lightsim2grid and
pandapower, and what only the batched engine does (reduction, retries, threads, chunks)."""

from __future__ import annotations

import copy
import warnings

import numpy as np
import pandapower as pp
import pytest

from peergrid.core.errors import GridError
from peergrid.grid import ac_pgm, powerflow
from peergrid.grid.ac_model import FeederModel
from peergrid.grid.ac_pgm import PGMSolver
from peergrid.grid.feeders import Feeder, load_feeder
from peergrid.grid.powerflow import PowerFlowCheck


def _injections(n: int, slots: int, seed: int, scale_kw: float = 5.0) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    p = rng.uniform(-0.7, 1.0, (slots, n)) * scale_kw
    q = rng.uniform(-0.2, 0.4, (slots, n)) * scale_kw
    return p, q


def _runpp(net: pp.pandapowerNet, buses: list[int], p_kw: np.ndarray, q_kvar: np.ndarray) -> None:
    for element in ("load", "sgen", "storage"):
        net[element] = net[element].iloc[0:0]
    for bus, p, q in zip(buses, p_kw, q_kvar, strict=True):
        pp.create_load(net, bus, p_mw=p / 1000.0, q_mvar=q / 1000.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pp.runpp(net, numba=False, tolerance_mva=1e-12, calculate_voltage_angles=True)


def test_taps_shifts_charging_shunts_wards_and_impedances() -> None:
    """Off-nominal taps with and without a phase shift, line charging and conductance, shunts,
    wards and impedances, in the reduced network: equal to pandapower."""
    feeder = load_feeder("cigre-lv")
    net = feeder.net
    taps = {"tap_side": "hv", "tap_neutral": 0, "tap_min": -4, "tap_max": 4}
    for column, value in {**taps, "tap_step_percent": 2.5}.items():
        net.trafo[column] = value
    net.trafo.loc[0, "tap_pos"] = 2
    net.trafo.loc[1, ["tap_pos", "shift_degree"]] = (-3, 0.0)
    net.line["c_nf_per_km"] = 300.0
    net.line.loc[net.line.index[::3], "g_us_per_km"] = 2.0
    b = feeder.household_buses
    pp.create_shunt(net, b[3], q_mvar=0.004, p_mw=0.001)
    pp.create_ward(net, b[6], ps_mw=0.003, qs_mvar=0.001, pz_mw=0.002, qz_mvar=0.001)
    pp.create_impedance(net, b[1], b[2], rft_pu=0.02, xft_pu=0.01, sn_mva=1.0)
    checker = PowerFlowCheck(feeder, b, engine="pgm")
    assert checker.model.engine == "pgm"
    p, q = _injections(len(b), 3, seed=8)
    result = checker.run(p, q)
    reference = copy.deepcopy(net)
    for k in range(3):
        _runpp(reference, b, p[k], q[k])
        np.testing.assert_allclose(result.vm_pu[k], reference.res_bus.vm_pu, rtol=0, atol=1e-9)
        np.testing.assert_allclose(
            result.va_degree[k], reference.res_bus.va_degree, rtol=0, atol=1e-5
        )
        np.testing.assert_allclose(
            result.line_loading_pct[k], reference.res_line.loading_percent, rtol=0, atol=1e-6
        )
        np.testing.assert_allclose(
            result.trafo_loading_pct[k], reference.res_trafo.loading_percent, rtol=0, atol=1e-6
        )
        assert result.transformer_p_kw[k] == pytest.approx(
            reference.res_ext_grid.p_mw.sum() * 1000, abs=1e-3
        )


def test_voltage_controlled_generators_need_lightsim2grid() -> None:
    feeder = load_feeder("kerber-dorfnetz")
    pp.create_gen(feeder.net, feeder.household_buses[10], p_mw=0.01, vm_pu=1.01)
    with pytest.raises(GridError, match=r"PV buses.*engine='lightsim2grid'"):
        FeederModel(feeder, engine="pgm")
    assert FeederModel(feeder).engine == "lightsim2grid"


def test_the_reduced_network_is_small() -> None:
    feeder = load_feeder("ieee-eu-lv")
    model = FeederModel(feeder)
    solver = model._solver
    assert isinstance(solver, PGMSolver)
    reduced = solver.reduced(model.bus_rows(feeder.household_buses))
    assert len(reduced.kept) < model.n / 4  # 907 buses, 55 prosumers: about 150 kept
    assert reduced.expand.shape == (model.n, len(reduced.kept))


@pytest.fixture(scope="module")
def pair() -> tuple[PowerFlowCheck, PowerFlowCheck]:
    feeder = load_feeder("ieee-eu-lv")
    pgm = PowerFlowCheck(feeder, feeder.household_buses, engine="pgm")
    lightsim = PowerFlowCheck(feeder, feeder.household_buses, engine="lightsim2grid")
    return pgm, lightsim


def test_engines_agree(pair: tuple[PowerFlowCheck, PowerFlowCheck]) -> None:
    pgm, lightsim = pair
    p, q = _injections(55, 40, seed=4)
    a, b = pgm.run(p, q), lightsim.run(p, q)
    assert a.converged.all() and b.converged.all()
    np.testing.assert_allclose(a.vm_pu, b.vm_pu, rtol=0, atol=1e-7)
    np.testing.assert_allclose(a.line_loading_pct, b.line_loading_pct, rtol=0, atol=1e-4)
    np.testing.assert_allclose(a.trafo_loading_pct, b.trafo_loading_pct, rtol=0, atol=1e-4)
    np.testing.assert_allclose(a.transformer_p_kw, b.transformer_p_kw, rtol=0, atol=1e-3)
    assert (a.iterations == -1).all()  # PGM does not report them


def test_newton_raphson_takes_over(
    pair: tuple[PowerFlowCheck, PowerFlowCheck], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A slot the iterative current method leaves unconverged is solved by Newton–Raphson."""
    pgm, lightsim = pair
    p, q = _injections(55, 5, seed=6)
    monkeypatch.setattr(ac_pgm, "_IC_MAX_ITERATIONS", 1)
    a, b = pgm.run(p, q), lightsim.run(p, q)
    assert a.converged.all()
    np.testing.assert_allclose(a.vm_pu, b.vm_pu, rtol=0, atol=1e-7)


def test_unmet_tolerance_is_not_converged() -> None:
    """Each slot's mismatch is checked in the full admittance matrix: a tolerance no solver can
    meet leaves every slot not converged, and the batch still returns."""
    feeder = load_feeder("ieee-eu-lv-reduced")
    strict = FeederModel(feeder, engine="pgm", tolerance_mva=1e-30)
    checker = PowerFlowCheck(feeder, feeder.household_buses, model=strict)
    results = checker.check_many(*_injections(len(feeder.household_buses), 3, seed=1))
    assert [r.converged for r in results] == [False] * 3
    assert all(r.violations[0].kind == "not_converged" for r in results)


def test_threads_do_not_change_results() -> None:
    feeder = load_feeder("ieee-eu-lv-reduced")
    buses = feeder.household_buses
    p, q = _injections(len(buses), 64, seed=2)
    one = PowerFlowCheck(feeder, buses, model=FeederModel(feeder, threads=1))
    two = PowerFlowCheck(feeder, buses, model=FeederModel(feeder, threads=2))
    assert one.check_many(p, q) == two.check_many(p, q)


def test_chunks_do_not_change_results(
    pair: tuple[PowerFlowCheck, PowerFlowCheck], monkeypatch: pytest.MonkeyPatch
) -> None:
    pgm, _ = pair
    p, q = _injections(55, 8, seed=3)
    p[5] = 5000.0  # does not converge
    whole = pgm.check_many(p, q)
    monkeypatch.setattr(powerflow, "_CHUNK_SLOTS", 3)
    assert pgm.check_many(p, q) == whole
    assert [r.converged for r in whole] == [True] * 5 + [False] + [True] * 2


def test_prosumers_at_the_slack_bus_only() -> None:
    feeder = load_feeder("case33bw")
    slack = int(feeder.net.ext_grid.bus.iloc[0])
    checks = {
        engine: PowerFlowCheck(feeder, [slack, slack], engine=engine)
        for engine in ("pgm", "lightsim2grid")
    }
    p = np.array([[100.0, 50.0], [-30.0, 0.0]])
    a, b = (c.check_many(p, 0.1 * p) for c in checks.values())
    assert all(r.converged for r in a)
    for x, y in zip(a, b, strict=True):
        assert x.v_min_pu == pytest.approx(y.v_min_pu, abs=1e-9)
        assert x.transformer_p_kw == pytest.approx(y.transformer_p_kw, abs=1e-6)
    assert a[0].transformer_p_kw == pytest.approx(150.0, abs=1e-6)


def test_several_slack_buses() -> None:
    """Two external grids: two ideal sources."""
    feeder = load_feeder("case33bw")
    net = feeder.net
    pp.create_ext_grid(net, 17, vm_pu=1.0)
    buses = [b for b in feeder.household_buses if b != 17]
    checker = PowerFlowCheck(Feeder(feeder.name, net, buses, feeder.vn_kv), buses)
    assert checker.model.engine == "pgm"
    p, q = _injections(len(buses), 2, seed=5, scale_kw=200.0)
    result = checker.run(p, q)
    reference = copy.deepcopy(net)
    for k in range(2):
        _runpp(reference, buses, p[k], q[k])
        np.testing.assert_allclose(result.vm_pu[k], reference.res_bus.vm_pu, rtol=0, atol=1e-9)
        np.testing.assert_allclose(
            result.line_loading_pct[k], reference.res_line.loading_percent, rtol=0, atol=1e-6
        )
        assert result.transformer_p_kw[k] == pytest.approx(
            reference.res_ext_grid.p_mw.sum() * 1000, abs=1e-3
        )
