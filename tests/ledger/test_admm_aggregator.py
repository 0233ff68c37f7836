"""The ADMM aggregator contract (000_bder.md §1.5, §6 item 7): fixed-point z-update, prices and
residual sums equal to the client's mirror, bit for bit; convergence, μ, timeout; roles and
named reverts."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pytest

from peergrid.core.errors import LedgerError
from peergrid.ledger import Chain, EmbeddedChain
from peergrid.ledger.chain.compile import compile_contract
from peergrid.ledger.markets.admm_aggregator import (
    WEIGHT_SCALE,
    AdmmAggregatorLedger,
    Status,
    Theta,
    price_step,
    round_half_away,
)

from .helpers import reverts

T = 9  # three copy words, two bid words: lanes beyond the horizon are exercised
THETA = Theta(3, 2, T, 0.03, 0.05, 3e-4, 3e-4, 3e-4, 3e-4, 10, round_seconds=600)
CALL = "AdmmAggregator"


@dataclass
class Run:
    chain: Chain
    ledger: AdmmAggregatorLedger
    operator: str
    agents: list[str]
    outsider: str


def make_run(chain: Chain | None = None, theta: Theta = THETA, *, opened: bool = True) -> Run:
    """Agents 0 and 1 hold rows 0 and 1 and trade with each other; agent 2 (the feeder's
    operator) holds both rows; row 1 weighs 2."""
    chain = chain or EmbeddedChain()
    operator = chain.new_account("operator")
    agents = [chain.new_account(f"agent{i}") for i in range(3)]
    outsider = chain.new_account("outsider")
    ledger = AdmmAggregatorLedger.deploy(chain, theta, operator=operator)
    ledger.admit(agents[0], rows=[0], partners=[1], node=1)
    ledger.admit(agents[1], rows=[1], partners=[0], node=2)
    ledger.admit(agents[2], rows=[0, 1], children=[1, 2])
    ledger.set_weights([1.0, 2.0])
    if opened:
        ledger.set_start(np.array([[1_000_000] * T, [-2_000_000] * T]))
        ledger.set_prices(np.full((2, T), 300_000_000))
        ledger.open()
    return Run(chain, ledger, operator, agents, outsider)


def mirror_iteration(
    copies: list[tuple[list[int], np.ndarray]],
    z_prev: np.ndarray,
    bids: np.ndarray,
    bids_prev: np.ndarray,
    prices: np.ndarray,
    weights: list[int],
    phi_nano: int,
    phi_exponent: int,
) -> tuple[np.ndarray, int, int, int, int, np.ndarray]:
    """What the contract computes, written out plainly: z, r², Σkw(Δz)², r_t², s_t², prices."""
    G = z_prev.shape[0]
    total = np.zeros((G, T), dtype=object)
    count = [0] * G
    for rows, x in copies:
        for r, row in enumerate(rows):
            total[row] += x[r].astype(object)
            count[row] += 1
    z = np.array([[round_half_away(int(s), count[g]) for s in total[g]] for g in range(G)])
    r2 = sum(
        weights[row] * int(((x[r].astype(object) - z[row]) ** 2).sum())
        for rows, x in copies
        for r, row in enumerate(rows)
    )
    dz = sum(
        count[g] * weights[g] * int(((z[g] - z_prev[g]).astype(object) ** 2).sum())
        for g in range(G)
    )
    mismatch = bids + bids[::-1]
    rt = int((mismatch.astype(object) ** 2).sum())
    st = int(((bids - bids_prev).astype(object) ** 2).sum())
    new_prices = prices - np.vectorize(lambda m: price_step(phi_nano, phi_exponent, int(m)))(
        mismatch
    )
    return z, r2, dz, rt, st, new_prices


def submit_all(run: Run, xs: list[np.ndarray], bids: np.ndarray) -> None:
    run.ledger.submit(run.agents[0], xs[0], bids[0:1])
    run.ledger.submit(run.agents[1], xs[1], bids[1:2])
    run.ledger.submit(run.agents[2], xs[2], None)


def random_iteration(
    run: Run,
    rng: np.random.Generator,
    z_prev: np.ndarray,
    bids_prev: np.ndarray,
    prices: np.ndarray,
    phi_exponent: int,
) -> tuple[np.ndarray, tuple[Any, ...]]:
    """Every agent submits random copies and bids; the bids and what the mirror expects of
    the z-update (row 1 weighs 2, φ = 0.05)."""
    xs = [rng.integers(-(10**7), 10**7, (n, T)) for n in (1, 1, 2)]
    bids = rng.integers(-(10**6), 10**6, (2, T))
    submit_all(run, xs, bids)
    expected = mirror_iteration(
        [([0], xs[0]), ([1], xs[1]), ([0, 1], xs[2])],
        z_prev,
        bids,
        bids_prev,
        prices,
        [WEIGHT_SCALE, 2 * WEIGHT_SCALE],
        50_000_000,
        phi_exponent,
    )
    return bids, expected


def test_three_iterations_equal_the_mirror_bit_for_bit(backend_chain: Chain) -> None:
    run = make_run(backend_chain)
    rng = np.random.default_rng(7)
    z_prev = run.ledger.z()
    assert z_prev.tolist() == [[1_000_000] * T, [-2_000_000] * T]
    prices = run.ledger.prices()
    bids_prev = np.zeros((2, T), dtype=np.int64)
    for k in (1, 2, 3):
        state = run.ledger.state()
        assert (state.status, state.iteration, state.closed) == (Status.RUNNING, k, k - 1)
        bids, expected = random_iteration(run, rng, z_prev, bids_prev, prices, state.phi_exponent)
        run.ledger.update()
        sums = run.ledger.residual_sums()
        z = run.ledger.z()
        assert np.array_equal(z, expected[0])
        assert (sums.r_grid_sq, sums.dz_sum, sums.r_trade_sq, sums.s_trade_sq) == expected[1:5]
        assert np.array_equal(run.ledger.prices(), expected[5])
        assert np.array_equal(run.ledger.bids(), bids)
        z_prev, bids_prev, prices = z, bids, expected[5]
    # residuals this large double the penalties (r ≫ m s) or halve them
    assert run.ledger.state().rho_exponent != 0 or run.ledger.state().phi_exponent != 0


def test_start_bids_are_what_the_first_dual_residual_is_measured_from() -> None:
    """``set_bids`` gives d⁰: iteration 1's s_trade is ‖d¹ − d⁰‖², as the mirror has it, and
    the bids read back before the first update are d⁰."""
    run = make_run(opened=False)
    run.ledger.set_start(np.array([[1_000_000] * T, [-2_000_000] * T]))
    run.ledger.set_prices(np.full((2, T), 300_000_000))
    rng = np.random.default_rng(11)
    start = rng.integers(-(10**6), 10**6, (2, T))
    run.ledger.set_bids(start)
    run.ledger.open()
    assert np.array_equal(run.ledger.bids(), start)
    z_prev, prices = run.ledger.z(), run.ledger.prices()
    state = run.ledger.state()
    bids, expected = random_iteration(run, rng, z_prev, start, prices, state.phi_exponent)
    run.ledger.update()
    sums = run.ledger.residual_sums()
    assert (sums.r_grid_sq, sums.dz_sum, sums.r_trade_sq, sums.s_trade_sq) == expected[1:5]
    assert sums.s_trade_sq != int((bids.astype(object) ** 2).sum())  # not measured from zero
    assert np.array_equal(run.ledger.bids(), bids)


def test_bad_start_bids_are_named_reverts() -> None:
    run = make_run(opened=False)
    contract = run.ledger.contract
    for words, reason in (
        ([0], "bids not whole edges"),
        ([0, 0] * 3, "edge out of range"),
        ([1 << 224, 0], "bid word has a tag"),
        ([0, 1 << 64], "value beyond the horizon"),  # T = 9: lanes 2.. of word 1
    ):
        with reverts(f"{CALL}.set_bids", reason):
            run.chain.transact(run.operator, contract, "set_bids", 0, words)
    with pytest.raises(LedgerError, match=r"set_bids.*field 'bids' holds a value beyond"):
        run.ledger.set_bids(np.full((2, T), 2**31))
    chain = EmbeddedChain()
    operator = chain.new_account("operator")
    ledger = AdmmAggregatorLedger.deploy(chain, THETA, operator=operator)
    with reverts(f"{CALL}.set_bids", "not every agent is admitted"):
        ledger.set_bids(np.zeros((2, T)))


def test_equal_copies_and_no_trade_converge_at_once() -> None:
    run = make_run()
    start = run.ledger.z()
    zero = np.zeros((2, T), dtype=np.int64)
    submit_all(run, [start[0:1], start[1:2], start], zero)
    run.ledger.update()
    state = run.ledger.state()
    assert (state.status, state.iteration, state.closed) == (Status.CONVERGED, 1, 1)
    assert np.array_equal(run.ledger.z(), start)
    with reverts(f"{CALL}.submit", "the run is not running"):
        run.ledger.submit(run.agents[0], start[0:1], zero[0:1])


def test_mu_iterations_end_the_run_unconverged() -> None:
    run = make_run(theta=replace(THETA, max_iterations=1))
    submit_all(run, [np.ones((1, T)), -np.ones((1, T)), np.zeros((2, T))], np.ones((2, T)))
    run.ledger.update()
    assert run.ledger.state().status == Status.MAX_ITERATIONS


def test_a_silent_agent_times_the_run_out_and_no_z_is_published() -> None:
    run = make_run()
    ones = np.ones((1, T), dtype=np.int64)
    run.ledger.submit(run.agents[0], 5 * ones, ones)
    run.ledger.submit(run.agents[2], np.zeros((2, T), dtype=np.int64), None)
    with reverts(f"{CALL}.update", "submissions are missing"):
        run.ledger.update()
    with reverts(f"{CALL}.declare_timeout", "the deadline has not passed"):
        run.ledger.declare_timeout(run.outsider)
    run.chain.advance_time(601)
    with reverts(f"{CALL}.submit", "the deadline has passed"):
        run.ledger.submit(run.agents[1], ones, -ones)
    run.ledger.declare_timeout(run.outsider)  # anyone may
    state = run.ledger.state()
    assert (state.status, state.iteration, state.closed, state.submitted) == (
        Status.TIMED_OUT,
        1,
        0,
        2,
    )
    assert run.ledger.z().tolist() == [[1_000_000] * T, [-2_000_000] * T]  # still z̃⁰
    assert not run.ledger.bids().any()
    for call, act in (
        ("update", lambda: run.ledger.update()),
        ("declare_timeout", lambda: run.ledger.declare_timeout(run.outsider)),
    ):
        with reverts(f"{CALL}.{call}", "the run is not running"):
            act()


def test_every_agent_submits_once_in_order() -> None:
    run = make_run()
    ones = np.ones((1, T), dtype=np.int64)
    with reverts(f"{CALL}.submit", "copies out of order"):
        run.chain.transact(run.agents[2], run.ledger.contract, "submit", 1, [0, 0, 0], 0, [])
    with reverts(f"{CALL}.submit", "copies not whole rows"):
        run.chain.transact(run.agents[2], run.ledger.contract, "submit", 0, [0, 0], 0, [])
    with reverts(f"{CALL}.submit", "too many copies"):
        run.chain.transact(run.agents[0], run.ledger.contract, "submit", 0, [0] * 6, 0, [])
    with reverts(f"{CALL}.submit", "too many bids"):
        run.chain.transact(run.agents[2], run.ledger.contract, "submit", 0, [], 0, [0, 0])
    with reverts(f"{CALL}.submit", "copy word has a tag"):
        run.chain.transact(run.agents[0], run.ledger.contract, "submit", 0, [1 << 224, 0, 0], 0, [])
    with reverts(f"{CALL}.submit", "value beyond the horizon"):
        run.chain.transact(run.agents[0], run.ledger.contract, "submit", 0, [0, 0, 1 << 56], 0, [])
    with reverts(f"{CALL}.submit", "copy value out of range"):
        run.chain.transact(run.agents[0], run.ledger.contract, "submit", 0, [2**47, 0, 0], 0, [])
    # the feeder's operator in two parts, in order
    run.chain.transact(run.agents[2], run.ledger.contract, "submit", 0, [0, 0, 0], 0, [])
    assert run.ledger.state().submitted == 0
    with reverts(f"{CALL}.submit", "copies out of order"):
        run.chain.transact(run.agents[2], run.ledger.contract, "submit", 0, [0, 0, 0], 0, [])
    run.chain.transact(run.agents[2], run.ledger.contract, "submit", 1, [0, 0, 0], 0, [])
    assert run.ledger.state().submitted == 1
    with reverts(f"{CALL}.submit", "already submitted in this iteration"):
        run.ledger.submit(run.agents[2], np.zeros((2, T), dtype=np.int64), None)
    run.ledger.submit(run.agents[0], ones, ones)
    with reverts(f"{CALL}.submit", "caller is not an agent"):
        run.ledger.submit(run.outsider, ones, ones)


def test_roles() -> None:
    run = make_run(opened=False)
    ones = np.ones((1, T), dtype=np.int64)
    stranger = run.agents[0]
    for call, act in (
        ("admit", lambda: run.ledger.admit(run.outsider, rows=[0], sender=stranger)),
        ("set_weights", lambda: run.ledger.set_weights([1.0], sender=stranger)),
        ("set_start", lambda: run.ledger.set_start(np.zeros((2, T)), sender=stranger)),
        ("set_prices", lambda: run.ledger.set_prices(np.zeros((2, T)), sender=stranger)),
        ("set_bids", lambda: run.ledger.set_bids(np.ones((2, T)), sender=stranger)),
        ("open", lambda: run.ledger.open(sender=stranger)),
    ):
        with reverts(f"{CALL}.{call}", "caller is not the operator"):
            act()
    with reverts(f"{CALL}.submit", "the run is not running"):
        run.ledger.submit(run.agents[0], ones, ones)
    run.ledger.open()
    with reverts(f"{CALL}.admit", "the run has started"):
        run.ledger.admit(run.outsider, rows=[0])
    with reverts(f"{CALL}.set_bids", "the run has started"):
        run.ledger.set_bids(np.ones((2, T)))
    with reverts(f"{CALL}.submit", "caller is not an agent"):
        run.ledger.submit(run.operator, ones, ones)
    with reverts(f"{CALL}.update", "caller is not an agent or the operator"):
        run.ledger.update(run.outsider)
    with reverts(f"{CALL}.update", "submissions are missing"):
        run.ledger.update(run.agents[1])  # an agent may call it


def test_open_needs_every_agent_row_and_reciprocal_partner() -> None:
    chain = EmbeddedChain()
    operator = chain.new_account("operator")
    a, b, c = (chain.new_account(x) for x in "abc")
    ledger = AdmmAggregatorLedger.deploy(chain, THETA, operator=operator)
    ledger.admit(a, rows=[0], partners=[2])
    with reverts(f"{CALL}.open", "not every agent is admitted"):
        ledger.open()
    with reverts(f"{CALL}.set_start", "not every agent is admitted"):
        ledger.set_start(np.zeros((2, T)))
    for kwargs, reason in (
        ({"rows": [2]}, "row out of range"),
        ({"partners": [1]}, "partner is the agent itself"),
        ({"partners": [3]}, "partner out of range"),
        ({"partners": [0, 0]}, "partner listed twice"),
        ({}, "agent has neither copies nor partners"),
    ):
        with reverts(f"{CALL}.admit", reason):
            ledger.admit(b, **kwargs)  # type: ignore[arg-type]
    with reverts(f"{CALL}.admit", "agent already admitted"):
        ledger.admit(a, rows=[1])
    ledger.admit(b, rows=[0])
    ledger.admit(c, partners=[1])
    with reverts(f"{CALL}.admit", "all n agents are admitted"):
        ledger.admit(operator, rows=[1])
    with reverts(f"{CALL}.open", "a global row has no copy"):
        ledger.open()


def test_partners_must_be_reciprocal() -> None:
    chain = EmbeddedChain()
    operator = chain.new_account("operator")
    a, b, c = (chain.new_account(x) for x in "abc")
    ledger = AdmmAggregatorLedger.deploy(chain, replace(THETA, n_rows=0), operator=operator)
    ledger.admit(a, partners=[1])
    ledger.admit(b, partners=[2])
    ledger.admit(c, partners=[1])
    with reverts(f"{CALL}.open", "a trade partner is not reciprocal"):
        ledger.open()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("rho", 0.0),
        ("rho", -0.03),
        ("phi", 0.0),
        ("eps_trade_dual", 0.0),
        ("rho", float("nan")),
        ("max_iterations", -1),
    ],
)
def test_bad_theta_is_refused_by_name_before_sending(field: str, value: float) -> None:
    chain = EmbeddedChain()
    with pytest.raises(LedgerError, match=f"field '{field}'"):
        bad: dict[str, Any] = {field: value}
        AdmmAggregatorLedger.deploy(chain, replace(THETA, **bad), operator=chain.new_account("op"))


@pytest.mark.parametrize(
    ("position", "value", "reason"),
    [
        (0, 0, "n not in 1..256"),
        (3, 0, "rho not positive"),
        (4, 0, "phi not positive"),
        (5, 0, "grid tolerance not positive"),
        (8, 0, "trade tolerance not positive"),
        (9, 0, "mu not in 1..2**32-1"),
        (10, 0, "deadline is zero seconds"),
        (12, 1000, "balance ratio not in (1, 1000]"),
        (2, 97, "periods not in 1..96"),
    ],
)
def test_bad_theta_is_a_named_revert(position: int, value: int, reason: str) -> None:
    chain = EmbeddedChain()
    args = list(THETA.encode())
    args[position] = value
    with reverts(f"{CALL}.constructor", reason):
        chain.deploy(chain.new_account("op"), compile_contract(CALL), *args)
