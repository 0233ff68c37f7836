"""The DR contracts of chapter 8 (``DrEvents.vy``) on chain.

A hand-worked event with its exact numbers (baselines, the event started by the grid state,
commanded profiles, flexibility, rewards, penalties, confirmation by stake); the same numbers as
the off-chain rules; the minority that attests to false readings; every role check and every
named revert of the issue's bad-input list, changing nothing; money conserved (hypothesis).
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from peergrid.ledger import Chain, EmbeddedChain
from peergrid.ledger.markets.dr_events import DrEventsLedger, EventPhase, readings_digest
from peergrid.mechanisms.dr.baselines import DrRates, baseline_wh, settle_event
from peergrid.mechanisms.dr.stake import ValidatorStake

from .helpers import reverts

SLOTS_PER_DAY = 4
DEPOSIT = 10**9
REWARD, PENALTY, TOLERANCE, THRESHOLD, DURATION = 200_000, 100_000, 50, 4000, 2
HISTORY = {  # two days of readings (Wh of net consumption), four slots a day
    "A": [[1000, 2000, 3000, 1000], [1200, 2200, 3200, 1000]],
    "B": [[500, 1500, 2500, 500], [500, 1500, 2500, 500]],
    "C": [[-200, 0, 1000, 0], [-300, 0, 1001, 0]],
}
GENESIS = {"tso": 400, "retailer": 300, "dso-node": 300}


@dataclass
class Grid:
    chain: Chain
    ledger: DrEventsLedger
    operator: str
    prosumers: dict[str, str]
    meters: dict[str, str]
    validators: dict[str, str]
    outsider: str

    def state(self) -> tuple[object, ...]:
        accounts = [*self.prosumers.values(), self.operator]
        ledger = self.ledger
        return (
            ledger.event_count(),
            ledger.active_event(),
            tuple(ledger.event(e) for e in range(1, ledger.event_count() + 1)),
            tuple((ledger.balance_of(a), ledger.locked(a)) for a in accounts),
            tuple(
                ledger.stake_of(v) for v in [*self.prosumers.values(), *self.validators.values()]
            ),
            tuple(ledger.baseline_sum(p, t) for p in self.prosumers.values() for t in range(4)),
            tuple(ledger.grid_state(s) for s in range(12)),
            ledger.total_balance(),
        )

    def tokens(self) -> int:
        accounts = [*self.prosumers.values(), self.operator, self.ledger.market.address]
        return sum(self.ledger.token_balance(a) for a in accounts)

    def read(self, slot: int, readings: dict[str, int]) -> None:
        for name, wh in readings.items():
            self.ledger.post_reading(self.meters[name], slot, wh)


def make_grid(
    deposits: dict[str, int] | None = None, history: bool = True, chain: Chain | None = None
) -> Grid:
    chain = chain or EmbeddedChain()
    operator, issuer = chain.new_account("operator"), chain.new_account("issuer")
    ledger = DrEventsLedger.deploy(
        chain, operator=operator, issuer=issuer, supply_micro=10**18, slots_per_day=SLOTS_PER_DAY
    )
    prosumers = {n: chain.new_account(f"prosumer-{n}") for n in HISTORY}
    meters = {n: chain.new_account(f"meter-{n}") for n in HISTORY}
    for n in HISTORY:
        ledger.register(prosumers[n], meters[n])
    validators = {n: chain.new_account(n) for n in GENESIS}
    for n, g in GENESIS.items():
        ledger.add_validator(validators[n], g)
    amounts = {operator: DEPOSIT, **{prosumers[n]: DEPOSIT for n in HISTORY}}
    for n, amount in (deposits or {}).items():
        amounts[prosumers[n]] = amount
    for account, amount in amounts.items():
        ledger.fund(account, 10 * DEPOSIT)
        if amount:
            ledger.deposit(account, amount)
    grid = Grid(chain, ledger, operator, prosumers, meters, validators, chain.new_account("out"))
    if history:
        for day in range(2):
            for t in range(SLOTS_PER_DAY):
                grid.read(day * SLOTS_PER_DAY + t, {n: HISTORY[n][day][t] for n in HISTORY})
        ledger.set_rates(
            reward_rate=REWARD,
            penalty_rate=PENALTY,
            tolerance_wh=TOLERANCE,
            threshold_wh=THRESHOLD,
            duration=DURATION,
        )
    return grid


COMMANDED = {"A": [2600, 800], "B": [2000, 500]}
ACTUAL = {"A": [2700, 700], "B": [2600, 500], "C": [1000, 0]}


def start_event(grid: Grid) -> None:
    """Day 3: slot 8 stays under the threshold; C's reading in slot 9 lifts it to 4200 Wh."""
    grid.read(8, {"A": 1100, "B": 500, "C": -250})
    assert grid.ledger.active_event() == 0
    grid.read(9, {"A": 2100, "B": 1500})
    assert grid.ledger.active_event() == 0
    grid.read(9, {"C": 600})
    assert grid.ledger.active_event() == 1


def run_event(grid: Grid, actual: dict[str, list[int]] = ACTUAL) -> None:
    start_event(grid)
    for name, profile in COMMANDED.items():
        grid.ledger.command(1, grid.prosumers[name], profile)
    for k in range(DURATION):
        grid.read(10 + k, {n: actual[n][k] for n in actual})


def test_worked_event_on_chain() -> None:
    grid = make_grid()
    ledger, p, v = grid.ledger, grid.prosumers, grid.validators
    tokens = grid.tokens()
    assert ledger.baseline_sum(p["A"], 2) == (6200, 2)
    run_event(grid)
    e = ledger.event(1)
    assert (e.phase, e.start, e.duration, e.trigger_slot, e.trigger_state) == (
        EventPhase.ACTIVE,
        10,
        2,
        9,
        4200,
    )
    assert (e.participants, e.missing, e.reward_rate, e.penalty_rate) == (2, 0, REWARD, PENALTY)
    # The event's readings went to the event, not to the baseline; C's (not commanded) did.
    assert ledger.baseline_sum(p["A"], 2) == (6200, 2)
    assert ledger.baseline_sum(p["C"], 2) == (3001, 3)
    assert ledger.grid_state(10) == 2700 + 2600 + 1000

    ledger.close_event(grid.outsider, 1)  # anyone may close
    a, b = (ledger.participation(1, p[n]) for n in "AB")
    assert (a.baseline, a.commanded, a.actual) == ((3100, 1000), (2600, 800), (2700, 700))
    assert (a.delivered, a.flexibility, a.shortfall, a.reward, a.penalty) == (
        700,
        600,
        50,
        120_000,
        5_000,
    )
    assert (b.delivered, b.flexibility, b.shortfall, b.reward, b.penalty) == (
        -100,
        0,
        450,
        0,
        45_000,
    )
    e = ledger.event(1)
    assert (e.phase, e.total_stake, e.total_reward) == (EventPhase.VERIFYING, 1000, 120_000)
    assert ledger.locked(grid.operator) == 120_000
    truth = [(p[n], ACTUAL[n]) for n in COMMANDED]
    assert ledger.digest_of(1, truth) == e.digest

    ledger.attest(v["tso"], 1, e.digest)  # 400 of 1000: not yet
    assert ledger.event(1).phase == EventPhase.VERIFYING
    ledger.attest(v["retailer"], 1, e.digest)  # 700 > 2/3
    e = ledger.event(1)
    assert (e.phase, e.stake_for, e.total_penalty) == (EventPhase.CONFIRMED, 700, 50_000)
    assert ledger.balance_of(p["A"]) == DEPOSIT + 115_000
    assert ledger.balance_of(p["B"]) == DEPOSIT - 45_000
    assert ledger.balance_of(grid.operator) == DEPOSIT - 120_000 + 50_000
    assert ledger.locked(grid.operator) == 0
    assert grid.tokens() == tokens
    assert ledger.total_balance() == ledger.token_balance(ledger.market.address)
    # A's reward is now stake, aged by the confirmed event.
    assert (ledger.incentives_of(p["A"]), ledger.epoch()) == (120_000, 1)
    assert ledger.stake_of(p["A"]) == ValidatorStake(0).credit(120_000, 0).stake(1) == 125_000
    assert ledger.active_event() == 0
    before = ledger.token_balance(p["A"])
    ledger.withdraw(p["A"], DEPOSIT + 115_000)
    assert ledger.token_balance(p["A"]) == before + DEPOSIT + 115_000


def test_on_chain_equals_off_chain() -> None:
    grid = make_grid()
    run_event(grid)
    grid.ledger.close_event(grid.operator, 1)
    rates = DrRates(REWARD, PENALTY, TOLERANCE)
    for name, commanded in COMMANDED.items():
        base = baseline_wh(HISTORY[name])[2:4]
        off = settle_event(base, commanded, ACTUAL[name], rates)
        on = grid.ledger.participation(1, grid.prosumers[name])
        assert list(on.baseline) == base
        assert (on.delivered, on.flexibility, on.shortfall, on.reward, on.penalty) == (
            off.delivered_wh,
            off.flexibility_wh,
            off.shortfall_wh,
            off.reward,
            off.penalty,
        )


def test_a_minority_attesting_false_readings_cannot_confirm() -> None:
    # A's meter is tampered with: it reports 1000 Wh in slot 10 instead of 2700, which would earn
    # it the whole request. The retailer (30 % of the stake) attests to the posted readings.
    grid = make_grid()
    ledger, p, v = grid.ledger, grid.prosumers, grid.validators
    false = {**ACTUAL, "A": [1000, 700]}
    run_event(grid, false)
    ledger.close_event(grid.operator, 1)
    posted = ledger.event(1).digest
    true_digest = ledger.digest_of(1, [(p[n], ACTUAL[n]) for n in COMMANDED])
    assert posted != true_digest
    balances = [ledger.balance_of(a) for a in [*p.values(), grid.operator]]
    ledger.attest(v["retailer"], 1, posted)
    assert ledger.event(1).phase == EventPhase.VERIFYING
    ledger.attest(v["tso"], 1, true_digest)  # 400 of 1000 against: 2/3 out of reach
    e = ledger.event(1)
    assert (e.phase, e.stake_for, e.stake_against) == (EventPhase.DISPUTED, 300, 400)
    assert [ledger.balance_of(a) for a in [*p.values(), grid.operator]] == balances
    assert ledger.locked(grid.operator) == 0 and ledger.incentives_of(p["A"]) == 0
    with reverts("DrEvents.attest", "event not awaiting verification"):
        ledger.attest(v["dso-node"], 1, posted)
    # The grid goes on: the next crossing starts a new event.
    assert ledger.active_event() == 0


def test_roles() -> None:
    grid = make_grid()
    ledger, chain, out, p, v = (
        grid.ledger,
        grid.chain,
        grid.outsider,
        grid.prosumers,
        grid.validators,
    )
    start_event(grid)
    before = grid.state()
    for function, args in [
        ("register", (out, out)),
        ("add_validator", (out, 1)),
        ("set_rates", (1, 1, 0, 0, 1)),
        ("command", (1, p["A"], [0, 0])),
        ("cancel_event", (1,)),
    ]:
        for caller in (out, p["A"], grid.meters["A"], v["tso"]):
            with reverts(f"DrEvents.{function}", "caller is not the operator"):
                chain.transact(caller, ledger.market, function, *args)
    # Only a meter posts readings: not its prosumer, not the operator.
    for caller in (p["A"], grid.operator, out):
        with reverts("DrEvents.post_reading", "meter not registered"):
            chain.transact(caller, ledger.market, "post_reading", 10, 1)
    with reverts("DrEvents.deposit", "caller is not a participant"):
        chain.transact(v["tso"], ledger.market, "deposit", 1)
    assert grid.state() == before
    for name, profile in COMMANDED.items():
        ledger.command(1, p[name], profile)
    for k in range(DURATION):
        grid.read(10 + k, {n: ACTUAL[n][k] for n in ACTUAL})
    ledger.close_event(out, 1)
    before = grid.state()
    digest = ledger.event(1).digest
    with reverts("DrEvents.attest", "caller is not a validator"):
        ledger.attest(out, 1, digest)
    with reverts("DrEvents.attest", "caller has no stake"):
        ledger.attest(p["A"], 1, digest)  # a prosumer without incentives yet
    with reverts("DrEvents.add_validator", "an event is being verified"):
        ledger.add_validator(out, 10)
    assert grid.state() == before


def test_bad_input_is_a_named_revert_that_changes_nothing() -> None:
    grid = make_grid()
    ledger, chain, p, v = grid.ledger, grid.chain, grid.prosumers, grid.validators
    start_event(grid)
    op = grid.operator
    before = grid.state()
    stranger = chain.new_account("unregistered-meter")
    cases: list[tuple[str, str, tuple[object, ...], str]] = [
        ("post_reading", stranger, (10, 500), "meter not registered"),
        ("post_reading", grid.meters["A"], (12, 500), "reading not for the meter's next slot"),
        ("post_reading", grid.meters["A"], (9, 500), "reading not for the meter's next slot"),
        ("post_reading", grid.meters["A"], (10, 2**48), "reading out of range"),
        ("command", op, (1, p["A"], [1, 2, 3]), "commanded profile has the wrong length"),
        ("command", op, (1, p["A"], [1]), "commanded profile has the wrong length"),
        ("command", op, (1, stranger, [1, 2]), "prosumer not registered"),
        ("command", op, (2, p["A"], [1, 2]), "event not active"),
        ("set_rates", op, (-1, 1, 0, 0, 1), "reward rate is negative"),
        ("set_rates", op, (1, -1, 0, 0, 1), "penalty rate is negative"),
        ("set_rates", op, (1, 1, 0, 0, 0), "event duration out of range"),
        ("set_rates", op, (1, 1, 0, 0, 13), "event duration out of range"),
        ("register", op, (p["A"], stranger), "prosumer already registered"),
        ("register", op, (stranger, grid.meters["A"]), "meter already registered"),
        ("add_validator", op, (v["tso"], 5), "validator already registered"),
        ("add_validator", op, (stranger, 0), "zero genesis stake"),
        ("close_event", op, (1,), "event has no participants"),
        ("cancel_event", op, (2,), "event not active"),
        ("attest", v["tso"], (1, b"\x00" * 32), "event not awaiting verification"),
        ("withdraw", p["A"], (DEPOSIT + 1,), "amount above the free balance"),
        ("withdraw", p["A"], (0,), "zero amount"),
    ]
    for function, caller, args, reason in cases:
        with reverts(f"DrEvents.{function}", reason):
            chain.transact(caller, ledger.market, function, *args)
    assert grid.state() == before

    ledger.command(1, p["A"], COMMANDED["A"])
    with reverts("DrEvents.command", "prosumer already commanded"):
        ledger.command(1, p["A"], COMMANDED["A"])
    with reverts("DrEvents.cancel_event", "event has participants"):
        ledger.cancel_event(1)
    grid.read(10, {"A": 2700, "B": 2600})
    with reverts("DrEvents.command", "prosumer already metered in the event"):
        ledger.command(1, p["B"], COMMANDED["B"])
    with reverts("DrEvents.close_event", "event readings incomplete"):
        ledger.close_event(op, 1)
    grid.read(11, {"A": 700})
    ledger.close_event(op, 1)
    digest = ledger.event(1).digest
    ledger.attest(v["dso-node"], 1, digest)
    before = grid.state()
    with reverts("DrEvents.attest", "validator already attested"):
        ledger.attest(v["dso-node"], 1, digest)
    with reverts("DrEvents.attest", "validator already attested"):
        ledger.attest(v["dso-node"], 1, b"\x01" * 32)
    assert grid.state() == before


def test_an_operator_without_funds_cannot_close() -> None:
    grid = make_grid(history=True)
    grid.ledger.withdraw(grid.operator, DEPOSIT)
    run_event(grid)
    before = grid.state()
    with reverts("DrEvents.close_event", "operator cannot fund the rewards"):
        grid.ledger.close_event(grid.operator, 1)
    assert grid.state() == before


def test_an_empty_event_is_cancelled() -> None:
    grid = make_grid()
    start_event(grid)
    grid.ledger.cancel_event(1)
    assert grid.ledger.event(1).phase == EventPhase.CANCELLED
    assert grid.ledger.active_event() == 0
    grid.read(10, {"A": 5000})  # 5000 > 4000: a new event
    assert grid.ledger.active_event() == 2


profile = st.lists(st.integers(-3000, 6000), min_size=DURATION, max_size=DURATION)


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.fixed_dictionaries({n: profile for n in COMMANDED}),
    st.fixed_dictionaries({n: profile for n in COMMANDED}),
    st.fixed_dictionaries({n: st.integers(0, 400_000) for n in COMMANDED}),
    st.sampled_from([("tso", "retailer"), ("tso", "dso-node"), ("dso-node", "retailer", "tso")]),
)
def test_money_is_conserved_and_equals_off_chain(
    commanded: dict[str, list[int]],
    actual: dict[str, list[int]],
    deposits: dict[str, int],
    quorum: tuple[str, ...],
) -> None:
    # Small deposits: a penalty above a balance is paid only up to it.
    grid = make_grid(deposits=deposits)
    ledger, p = grid.ledger, grid.prosumers
    tokens = grid.tokens()
    start_event(grid)
    for name, values in commanded.items():
        ledger.command(1, p[name], values)
    for k in range(DURATION):
        grid.read(10 + k, {n: actual[n][k] for n in commanded})
    ledger.close_event(grid.operator, 1)
    digest = ledger.event(1).digest
    assert digest == ledger.digest_of(1, [(p[n], actual[n]) for n in commanded])
    for name in quorum:
        ledger.attest(grid.validators[name], 1, digest)
    assert ledger.event(1).phase == EventPhase.CONFIRMED
    rates = DrRates(REWARD, PENALTY, TOLERANCE)
    moved = 0
    for name in commanded:
        off = settle_event(baseline_wh(HISTORY[name])[2:4], commanded[name], actual[name], rates)
        on = ledger.participation(1, p[name])
        assert (on.reward, on.penalty) == (off.reward, off.penalty)
        assert on.penalty_paid == min(off.penalty, deposits[name] + off.reward)
        assert ledger.balance_of(p[name]) == deposits[name] + off.reward - on.penalty_paid
        moved += off.reward - on.penalty_paid
    assert ledger.balance_of(grid.operator) == DEPOSIT - moved
    accounts = [*p.values(), grid.operator]
    assert sum(ledger.balance_of(a) for a in accounts) == ledger.total_balance()
    assert ledger.total_balance() == ledger.token_balance(ledger.market.address)
    assert grid.tokens() == tokens
    assert readings_digest(ledger.market.address, 1, 10, DURATION, []) != digest


@pytest.mark.slow
def test_worked_event_on_anvil() -> None:
    from peergrid.ledger.chain.anvil import AnvilError
    from peergrid.ledger.chain.managed import ManagedAnvilChain

    try:
        chain = ManagedAnvilChain()
    except AnvilError as exc:
        pytest.skip(str(exc))
    with chain:
        grid = make_grid(chain=chain)
        run_event(grid)
        grid.ledger.close_event(grid.operator, 1)
        digest = grid.ledger.event(1).digest
        for name in ("tso", "retailer"):
            grid.ledger.attest(grid.validators[name], 1, digest)
        assert grid.ledger.event(1).phase == EventPhase.CONFIRMED
        assert grid.ledger.balance_of(grid.prosumers["A"]) == DEPOSIT + 115_000
        assert grid.ledger.balance_of(grid.operator) == DEPOSIT - 70_000
