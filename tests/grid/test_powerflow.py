from __future__ import annotations

import copy
import json
import math
import warnings
from pathlib import Path

import numpy as np
import pandapower as pp
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from peergrid.core.errors import GridError
from peergrid.grid.ac_model import FeederModel
from peergrid.grid.feeders import CATALOGUE, Feeder, GridLimits, list_feeders, load_feeder
from peergrid.grid.injections import Injections, read_injections, write_injections
from peergrid.grid.powerflow import (
    PowerFlowCheck,
    SlotCheck,
    ValidationReport,
    validate,
)

ENGINES = ["pgm", "lightsim2grid"]


@pytest.fixture(scope="module", params=ENGINES)
def check(request: pytest.FixtureRequest) -> PowerFlowCheck:
    feeder = load_feeder("ieee-eu-lv")
    checker = PowerFlowCheck(feeder, feeder.household_buses, engine=request.param)
    assert checker.model.engine == request.param
    return checker


def test_feeder_metadata() -> None:
    feeder = load_feeder("ieee-eu-lv")
    assert len(feeder.household_buses) == 55
    assert len(set(feeder.household_buses)) == 55
    assert feeder.vn_kv == pytest.approx(0.416, abs=1e-3)
    assert len(feeder.net.bus) == 907


def test_unknown_feeder() -> None:
    with pytest.raises(GridError, match="unknown feeder"):
        load_feeder("nowhere")


def test_no_load_gives_source_voltage(check: PowerFlowCheck) -> None:
    zeros = np.zeros(55)
    result = check.check(0, zeros, zeros)
    assert result.converged
    source = float(check.feeder.net.ext_grid.vm_pu.iloc[0])
    assert result.v_max_pu == pytest.approx(source, abs=1e-6)
    assert result.v_min_pu == pytest.approx(source, abs=1e-6)
    assert result.violations == ()


def test_heavy_load_is_reported(check: PowerFlowCheck) -> None:
    result = check.check(1, np.full(55, 12.0), np.full(55, 4.0))  # 660 kW + 220 kvar, 800 kVA
    assert result.converged
    kinds = {v.kind for v in result.violations}
    assert "trafo_overload" in kinds
    assert result.max_trafo_loading_pct > 100
    assert "undervoltage" in kinds
    assert "line_overload" in kinds
    assert result.v_min_pu < 0.9
    assert not result.passed


def test_export_raises_voltage(check: PowerFlowCheck) -> None:
    result = check.check(2, np.full(55, -8.0), np.zeros(55))
    assert result.converged
    assert result.v_max_pu > float(check.feeder.net.ext_grid.vm_pu.iloc[0])
    assert result.transformer_p_kw < 0


def test_strong_export_is_overvoltage(check: PowerFlowCheck) -> None:
    result = check.check(7, np.full(55, -25.0), np.zeros(55))
    assert result.converged
    assert result.v_max_pu > 1.10
    overvoltage = [v for v in result.violations if v.kind == "overvoltage"]
    assert overvoltage
    assert all(v.value > v.limit == 1.10 for v in overvoltage)
    assert max(v.value for v in overvoltage) == pytest.approx(result.v_max_pu)
    assert result.transformer_p_kw < -1000


def test_divergence_is_not_a_pass(check: PowerFlowCheck) -> None:
    result = check.check(3, np.full(55, 5000.0), np.zeros(55))
    assert not result.converged
    assert not result.passed
    assert [v.kind for v in result.violations] == ["not_converged"]
    assert math.isnan(result.v_min_pu)
    # The next slot recovers from a fresh start.
    assert check.check(4, np.zeros(55), np.zeros(55)).converged


def test_divergent_slot_among_many(check: PowerFlowCheck) -> None:
    rng = np.random.default_rng(5)
    p = rng.uniform(-4, 6, (5, 55))
    q = 0.3 * p
    p[2] = 5000.0
    results = check.check_many(p, q, slots=[10, 11, 12, 13, 14])
    assert [r.converged for r in results] == [True, True, False, True, True]
    assert [r.slot for r in results] == [10, 11, 12, 13, 14]
    assert results[2].violations[0].kind == "not_converged"
    fresh = PowerFlowCheck(check.feeder, check.buses, model=check.model)
    assert fresh.check(13, p[3], q[3]) == results[3]


def test_envelope_is_each_elements_extreme_over_the_slots(check: PowerFlowCheck) -> None:
    rng = np.random.default_rng(8)
    p = rng.uniform(-4, 6, (6, 55))
    p[3] = 5000.0  # a slot that does not converge is left out of the envelope
    checks, envelope = check.check_many_with_envelope(p, 0.2 * p)
    assert checks == check.check_many(p, 0.2 * p)
    full = check.run(np.delete(p, 3, axis=0), 0.2 * np.delete(p, 3, axis=0))
    np.testing.assert_allclose(envelope.v_min_pu, np.nanmin(full.vm_pu, axis=0), rtol=1e-12)
    np.testing.assert_allclose(envelope.v_max_pu, np.nanmax(full.vm_pu, axis=0), rtol=1e-12)
    np.testing.assert_allclose(
        envelope.line_loading_max_pct, full.line_loading_pct.max(axis=0), rtol=1e-12
    )
    np.testing.assert_allclose(
        envelope.trafo_loading_max_pct, full.trafo_loading_pct.max(axis=0), rtol=1e-12
    )
    assert min(c.v_min_pu for c in checks if c.converged) == np.nanmin(envelope.v_min_pu)


def test_limits_are_configurable() -> None:
    feeder = load_feeder("ieee-eu-lv")
    strict = PowerFlowCheck(feeder, feeder.household_buses, GridLimits(v_min_pu=1.049))
    result = strict.check(0, np.full(55, 2.0), np.zeros(55))
    assert any(v.kind == "undervoltage" for v in result.violations)
    assert all(v.limit == 1.049 for v in result.violations)


@pytest.mark.parametrize(
    ("p", "message"),
    [(np.zeros(54), "expected 55"), (np.full(55, np.nan), "NaN")],
)
def test_bad_injections(check: PowerFlowCheck, p: np.ndarray, message: str) -> None:
    with pytest.raises(GridError, match=message):
        check.check(0, p, np.zeros(len(p)))


def test_unknown_bus() -> None:
    with pytest.raises(GridError, match=r"buses \[10000\] are not buses"):
        PowerFlowCheck(load_feeder("ieee-eu-lv"), [10_000])


def test_many_slots_bad_inputs(check: PowerFlowCheck) -> None:
    with pytest.raises(GridError, match=r"shape \(slots, 55\)"):
        check.check_many(np.zeros(55), np.zeros(55))
    with pytest.raises(GridError, match=r"shape \(slots, 55\)"):
        check.check_many(np.zeros((3, 55)), np.zeros((2, 55)))
    with pytest.raises(GridError, match="2 slot labels for 3 rows"):
        check.check_many(np.zeros((3, 55)), slots=[0, 1])
    q = np.zeros((3, 55))
    q[1, 4] = np.inf
    bus = check.buses[4]
    with pytest.raises(GridError, match=rf"slot 21: q_kvar of prosumer 4 \(bus {bus}\) is inf"):
        check.check_many(np.zeros((3, 55)), q, slots=[20, 21, 22])


def test_many_slots_equal_single_slots(check: PowerFlowCheck) -> None:
    rng = np.random.default_rng(11)
    p = rng.uniform(-6, 8, (6, 55))
    q = rng.uniform(-1, 2, (6, 55))
    many = check.check_many(p, q, slots=range(100, 106))
    single = [check.check(100 + i, p[i], q[i]) for i in range(6)]
    assert many == single  # bitwise: every slot starts from the same no-load point
    assert all(r.converged for r in many)


def test_feeder_is_not_modified() -> None:
    feeder = load_feeder("ieee-eu-lv")
    before = feeder.net.load.copy()
    checker = PowerFlowCheck(feeder, feeder.household_buses[:3])
    checker.check(0, np.full(3, 5.0), np.zeros(3))
    assert feeder.net.load.equals(before)


def test_prosumers_sharing_a_bus_add_up() -> None:
    feeder = load_feeder("ieee-eu-lv")
    bus = feeder.household_buses[10]
    shared = PowerFlowCheck(feeder, [bus, bus, bus])
    alone = PowerFlowCheck(feeder, [bus], model=shared.model)
    a = shared.check(0, [2.0, 3.0, -1.0], [0.5, 0.0, 0.5])
    b = alone.check(0, [4.0], [1.0])
    assert a.v_min_pu == pytest.approx(b.v_min_pu, abs=1e-12)
    assert a.transformer_p_kw == pytest.approx(b.transformer_p_kw, abs=1e-9)


def _reference_net(feeder: Feeder, buses: list[int]) -> pp.pandapowerNet:
    net = copy.deepcopy(feeder.net)
    for element in ("load", "sgen", "storage"):
        net[element] = net[element].iloc[0:0]
    for bus in buses:
        pp.create_load(net, bus, p_mw=0.0, q_mvar=0.0)
    return net


def _runpp(net: pp.pandapowerNet, p_kw: np.ndarray, q_kvar: np.ndarray) -> None:
    net.load["p_mw"] = p_kw / 1000.0
    net.load["q_mvar"] = q_kvar / 1000.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # pandapower applies tolerance_mva to the per-unit mismatch (base net.sn_mva): its
        # default 1e-8 leaves it ~1e-3 % from the converged solution on ieee-eu-lv (100 MVA).
        pp.runpp(net, numba=False, tolerance_mva=1e-12)


SIMBENCH_LV = "simbench:1-LV-rural1--0-sw"
FEEDERS = ["ieee-eu-lv", "case33bw", "cigre-lv", "ieee-eu-lv-reduced", "kerber-dorfnetz"]
FEEDERS += ["cigre-mv-vdma", SIMBENCH_LV]


def test_every_catalogue_feeder_is_compared() -> None:
    named = {f.name for f in list_feeders()} - {"simbench:<code>"}
    assert named <= set(FEEDERS)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("name", FEEDERS)
def test_agrees_with_pandapower(name: str, engine: str) -> None:
    if name not in CATALOGUE and not name.startswith("simbench:"):
        pytest.skip(f"feeder {name!r} is not in the catalogue yet")
    feeder = load_feeder(name)
    buses = list(feeder.household_buses)
    checker = PowerFlowCheck(feeder, buses, engine=engine)
    assert checker.model.engine == engine
    net = _reference_net(feeder, buses)
    rng = np.random.default_rng(2024)
    scale_kw = 300.0 if feeder.vn_kv > 1.0 else 5.0
    p = rng.uniform(-0.7, 1.0, (3, len(buses))) * scale_kw
    q = rng.uniform(-0.2, 0.4, (3, len(buses))) * scale_kw
    result = checker.run(p, q)
    assert result.converged.all()
    assert list(result.bus_ids) == list(net.bus.index)
    # power-grid-model's results are exact to rounding: it is held to much tighter bounds
    atol_v, atol_pct = (1e-9, 1e-6) if engine == "pgm" else (1e-6, 1e-4)
    for k in range(3):
        _runpp(net, p[k], q[k])
        np.testing.assert_allclose(result.vm_pu[k], net.res_bus.vm_pu, rtol=0, atol=atol_v)
        np.testing.assert_allclose(result.va_degree[k], net.res_bus.va_degree, rtol=0, atol=1e-5)
        np.testing.assert_allclose(
            result.line_loading_pct[k], net.res_line.loading_percent, rtol=0, atol=atol_pct
        )
        np.testing.assert_allclose(
            result.trafo_loading_pct[k], net.res_trafo.loading_percent, rtol=0, atol=atol_pct
        )
        assert result.transformer_p_kw[k] == pytest.approx(
            net.res_ext_grid.p_mw.sum() * 1000, abs=1e-3
        )
        assert result.transformer_q_kvar[k] == pytest.approx(
            net.res_ext_grid.q_mvar.sum() * 1000, abs=1e-3
        )
        summary = checker.check(k, p[k], q[k])
        assert summary.v_min_pu == pytest.approx(net.res_bus.vm_pu.min(), abs=1e-6)
        assert summary.max_line_loading_pct == pytest.approx(
            net.res_line.loading_percent.max(), abs=1e-4
        )


def test_out_of_service_and_isolated_buses() -> None:
    feeder = load_feeder("ieee-eu-lv")
    net = feeder.net
    # cut a branch off: the buses behind the line are isolated, as in pandapower (NaN)
    line = int(net.line.index[net.line.to_bus == feeder.household_buses[0]][0])
    net.line.loc[line, "in_service"] = False
    buses = feeder.household_buses[1:]
    checker = PowerFlowCheck(feeder, buses)
    reference = _reference_net(feeder, buses)
    p = np.linspace(0.5, 4.0, len(buses))
    result = checker.run(p[None, :], 0.2 * p[None, :])
    _runpp(reference, p, 0.2 * p)
    vm = reference.res_bus.vm_pu.to_numpy()
    assert np.isnan(vm).any()
    np.testing.assert_array_equal(np.isnan(result.vm_pu[0]), np.isnan(vm))
    np.testing.assert_allclose(result.vm_pu[0], vm, rtol=0, atol=1e-6)
    np.testing.assert_allclose(
        result.line_loading_pct[0], reference.res_line.loading_percent, rtol=0, atol=1e-4
    )
    # the cut line has no defined loading (zero current over an undefined voltage), as in pandapower
    assert np.isnan(result.line_loading_pct[0, list(net.line.index).index(line)])
    assert not np.isnan(
        np.delete(result.line_loading_pct[0], list(net.line.index).index(line))
    ).any()
    with pytest.raises(GridError, match="out of service or not connected"):
        PowerFlowCheck(feeder, [feeder.household_buses[0]])


def test_elements_the_injections_do_not_replace() -> None:
    """Generators (PV buses), shunts, wards, extended wards and impedances stay in the model."""
    name = "kerber-dorfnetz" if "kerber-dorfnetz" in CATALOGUE else "ieee-eu-lv"
    feeder = load_feeder(name)
    net, b = feeder.net, feeder.household_buses
    pp.create_gen(net, b[10], p_mw=0.01, vm_pu=1.01)
    pp.create_shunt(net, b[20], q_mvar=0.005, p_mw=0.0)
    pp.create_ward(net, b[30], ps_mw=0.003, qs_mvar=0.001, pz_mw=0.002, qz_mvar=0.0)
    pp.create_xward(
        net, b[40], ps_mw=0.003, qs_mvar=0.001, pz_mw=0.002, qz_mvar=0.0, r_ohm=0.1, x_ohm=0.1,
        vm_pu=1.0,
    )  # fmt: skip
    pp.create_impedance(net, b[1], b[2], rft_pu=0.01, xft_pu=0.01, sn_mva=1.0)
    pp.create_sgen(net, b[5], p_mw=0.5)  # replaced by the injections, like the loads
    checker = PowerFlowCheck(feeder, b)
    assert checker.model.engine == "lightsim2grid"  # PV buses: power-grid-model has none
    reference = _reference_net(feeder, b)
    p = np.random.default_rng(0).uniform(-3, 6, len(b))
    result = checker.run(p[None, :], 0.3 * p[None, :])
    _runpp(reference, p, 0.3 * p)
    np.testing.assert_allclose(result.vm_pu[0], reference.res_bus.vm_pu, rtol=0, atol=1e-6)
    np.testing.assert_allclose(
        result.line_loading_pct[0], reference.res_line.loading_percent, rtol=0, atol=1e-4
    )
    assert result.transformer_p_kw[0] == pytest.approx(
        reference.res_ext_grid.p_mw.sum() * 1000, abs=1e-3
    )
    assert result.transformer_q_kvar[0] == pytest.approx(
        reference.res_ext_grid.q_mvar.sum() * 1000, abs=1e-3
    )


@pytest.mark.parametrize("engine", ["auto", *ENGINES])
def test_unsupported_elements_are_refused(engine: str) -> None:
    net = pp.create_empty_network()
    hv, mv, lv = (pp.create_bus(net, vn) for vn in (110.0, 20.0, 0.4))
    pp.create_ext_grid(net, hv)
    pp.create_transformer3w(net, hv, mv, lv, std_type="63/25/38 MVA 110/20/10 kV")
    feeder = Feeder(name="three-winding", net=net, household_buses=[lv], vn_kv=0.4)
    with pytest.raises(GridError, match="trafo3w"):
        FeederModel(feeder, engine=engine)


def test_model_options_are_checked() -> None:
    feeder = load_feeder(
        "ieee-eu-lv-reduced" if "ieee-eu-lv-reduced" in CATALOGUE else "ieee-eu-lv"
    )
    with pytest.raises(GridError, match="max_iteration"):
        FeederModel(feeder, max_iteration=0)
    with pytest.raises(GridError, match="tolerance_mva"):
        FeederModel(feeder, tolerance_mva=0.0)
    with pytest.raises(GridError, match="unknown AC engine 'newton'"):
        FeederModel(feeder, engine="newton")  # type: ignore[arg-type]
    with pytest.raises(GridError, match="threads"):
        FeederModel(feeder, threads=0)


@settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    p=arrays(np.float64, 55, elements=st.floats(0.0, 6.0)),
    pf=st.floats(0.8, 1.0),
)
def test_losses_are_positive(check: PowerFlowCheck, p: np.ndarray, pf: float) -> None:
    """Consuming prosumers: the external grid supplies their load plus non-negative losses."""
    q = p * math.tan(math.acos(pf))
    result = check.check(0, p, q)
    assert result.converged
    assert result.transformer_p_kw >= p.sum() - 1e-6
    assert result.v_max_pu <= float(check.feeder.net.ext_grid.vm_pu.iloc[0]) + 1e-9


# -- injection files and validation ----------------------------------------------------------


def _injections(feeder: Feeder, slots: int = 4) -> Injections:
    rng = np.random.default_rng(3)
    buses = feeder.household_buses[:6]
    p = rng.uniform(-5, 5, (slots, len(buses)))
    return Injections.from_arrays(buses, p, 0.25 * p, slots=range(40, 40 + slots))


@pytest.mark.parametrize("suffix", [".json", ".csv"])
def test_injection_files_round_trip(tmp_path: Path, suffix: str) -> None:
    feeder = load_feeder("ieee-eu-lv")
    injections = _injections(feeder)
    path = tmp_path / f"injections{suffix}"
    write_injections(path, injections)
    back = read_injections(path, feeder)
    assert back.buses == injections.buses
    assert back.slots == injections.slots
    np.testing.assert_array_equal(back.p_kw, injections.p_kw)
    np.testing.assert_array_equal(back.q_kvar, injections.q_kvar)


def test_validate_report(tmp_path: Path) -> None:
    feeder = load_feeder("ieee-eu-lv")
    injections = _injections(feeder)
    p = injections.p_kw.copy()
    p[1] = 5000.0  # slot 41 does not converge
    p[2] = -100.0  # slot 42: overvoltage
    report = validate(feeder, Injections.from_arrays(injections.buses, p, slots=injections.slots))
    assert isinstance(report, ValidationReport)
    assert [s.slot for s in report.slots] == [40, 41, 42, 43]
    assert report.n_not_converged == 1
    assert not report.passed
    kinds = {v.kind for s in report.slots for v in s.violations}
    assert {"not_converged", "overvoltage"} <= kinds
    data = report.to_dict()
    text = json.dumps(data, allow_nan=False)  # strict JSON: NaN became null
    assert json.loads(text)["slots"][1]["v_min_pu"] is None
    assert data["n_slots"] == 4
    assert data["n_violations"] == report.n_violations
    assert data["feeder"] == "ieee-eu-lv"
    assert data["slots"][0] == report.slots[0].to_dict()


def test_validate_agrees_with_prosumer_checks() -> None:
    feeder = load_feeder("ieee-eu-lv")
    injections = _injections(feeder)
    report = validate(feeder, injections, GridLimits(v_max_pu=1.05))
    checker = PowerFlowCheck(feeder, list(injections.buses), GridLimits(v_max_pu=1.05))
    expected = checker.check_many(injections.p_kw, injections.q_kvar, slots=injections.slots)
    assert report.slots == expected
    assert report.limits.v_max_pu == 1.05


def test_validate_names_unknown_bus() -> None:
    feeder = load_feeder("ieee-eu-lv")
    injections = Injections.from_arrays([feeder.household_buses[0], 99_999], np.zeros((2, 2)))
    with pytest.raises(GridError, match="bus 99999 is not a bus of feeder 'ieee-eu-lv'"):
        validate(feeder, injections)


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("a.json", '{"buses": [1, 2], "p_kw": [[1, 2], [3]]}', r"slot 1: 'p_kw' row must have 2"),
        ("a.json", '{"buses": [1, 2], "p_kw": [[1, null]]}', "slot 0, bus 2: p_kw is null"),
        ("a.json", '{"buses": [1, 2], "p_kw": [[1, NaN]]}', "slot 0, bus 2: p_kw is nan"),
        ("a.json", '{"buses": [1, 2], "p_kw": [[1, "x"]]}', 'slot 0, bus 2: p_kw is "x"'),
        (
            "a.json",
            '{"buses": [1, 2], "p_kw": [[1, 2]], "q_kvar": [[1, 2], [3, 4]]}',
            "'q_kvar' must be a list of 1 rows",
        ),
        ("a.json", '{"buses": [1, 1], "p_kw": [[1, 2]]}', "bus 1 appears more than once"),
        ("a.json", '{"buses": [1], "p_kw": [[1]], "slots": [0, 1]}', "2 slots but 1 rows"),
        ("a.json", '{"buses": ["a"], "p_kw": [[1]]}', "'buses' must hold integers"),
        ("a.json", '{"p_kw": [[1]]}', "missing field 'buses'"),
        ("a.json", '{"buses": [1], "p_kw": [[1]], "p": 1}', "unknown field 'p'"),
        ("a.json", "[1, 2", "not valid JSON"),
        ("a.csv", "slot,p_kw:1,p_kw:2\n0,1,2\n1,3\n", "line 3: 2 values, the header has 3"),
        ("a.csv", "slot,p_kw:1,p_kw:2\n0,1,\n", "slot 0, bus 2: p_kw is missing"),
        ("a.csv", "slot,p_kw:1,q_kvar:1\n7,1,nan\n", "slot 7, bus 1: q_kvar is nan"),
        ("a.csv", "slot,p_kw:1\n0,abc\n", "slot 0, bus 1: p_kw is 'abc', not a number"),
        ("a.csv", "time,p_kw:1\n0,1\n", "first column must be 'slot'"),
        ("a.csv", "slot,p:1\n0,1\n", "expected p_kw:<bus> or q_kvar:<bus>"),
        ("a.csv", "slot,p_kw:1,q_kvar:2\n0,1,1\n", "q_kvar:2 has no matching p_kw:2"),
        ("a.csv", "slot,p_kw:1\n0,1\n0,2\n", "slot 0 appears more than once"),
        ("a.txt", "", "unknown injection file type"),
    ],
)
def test_injection_file_errors(tmp_path: Path, name: str, text: str, message: str) -> None:
    path = _write(tmp_path, name, text)
    with pytest.raises(GridError, match=message) as info:
        read_injections(path)
    assert str(info.value).startswith(str(path))


def test_injection_file_unknown_bus(tmp_path: Path) -> None:
    path = _write(tmp_path, "a.csv", "slot,p_kw:1,p_kw:123456\n0,1,2\n")
    with pytest.raises(GridError, match="bus 123456 is not a bus of feeder 'ieee-eu-lv'"):
        read_injections(path, load_feeder("ieee-eu-lv"))


def test_injection_file_defaults(tmp_path: Path) -> None:
    path = _write(tmp_path, "a.json", '{"buses": [3, 5], "p_kw": [[1, 2], [3, 4]]}')
    injections = read_injections(path)
    assert injections.slots == (0, 1)
    np.testing.assert_array_equal(injections.q_kvar, np.zeros((2, 2)))
    path = _write(tmp_path, "b.csv", "slot,p_kw:3,p_kw:5,q_kvar:5\n9,1,2,0.5\n")
    injections = read_injections(path)
    assert injections.buses == (3, 5)
    assert injections.slots == (9,)
    np.testing.assert_array_equal(injections.q_kvar, [[0.0, 0.5]])


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(GridError, match="cannot read"):
        read_injections(tmp_path / "none.json")


def test_slot_check_to_dict() -> None:
    check = SlotCheck(3, True, 0.95, 1.02, 40.0, 55.0, 120.0)
    assert check.to_dict() == {
        "slot": 3,
        "converged": True,
        "v_min_pu": 0.95,
        "v_max_pu": 1.02,
        "max_line_loading_pct": 40.0,
        "max_trafo_loading_pct": 55.0,
        "transformer_p_kw": 120.0,
        "violations": [],
    }
