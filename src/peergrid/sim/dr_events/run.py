"""A DR day on an LV feeder through ``DrEvents.vy`` (S7, 001b_book.md chapter 8).

Households on the feeder's customer buses follow simbench's household and PV profiles (standing
in for the chapter's UK building data), hourly. Their meters post each hour's net consumption to
the contract on the embedded chain: ``baseline_days`` days to build the baselines, then the DR
day, with the event threshold set. When the feeder's hourly energy state crosses the threshold
the contract starts an event; the DSO commands each interested prosumer a reduction of
``request_share`` of its baseline over the event's hours; each follows a share of it (its
compliance, drawn); after the event anyone closes it, the stakeholder validators (and prosumers
holding incentives) attest to its readings, and it is paid. The same readings run through the
off-chain model (:class:`~peergrid.mechanisms.dr.events.DrGridModel`); every event and every
settlement must agree to the unit. The feeder's AC power flow is checked on the DR day without DR
(the households' natural profiles) and with it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from peergrid.assets.household import Household, household_energy
from peergrid.assets.profiles import HOUSEHOLD_LOAD_PROFILES, PV_PROFILES, load_profile_library
from peergrid.grid.feeders import load_feeder
from peergrid.grid.injections import Injections
from peergrid.grid.powerflow import ValidationReport, validate
from peergrid.ledger import EmbeddedChain
from peergrid.ledger.markets.dr_events import DrEventsLedger, EventPhase
from peergrid.mechanisms.dr.baselines import DrRates
from peergrid.mechanisms.dr.events import DrEvent, DrGridModel
from peergrid.sim.dr_events.config import DrDaySettings

SLOTS_PER_DAY = 24
FUNDS = 10**15
"""Micro-currency every account holds (never the constraint)."""

IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class ProsumerRow:
    """One prosumer's DR day (Wh, micro-currency)."""

    id: str
    bus: int
    interested: bool
    compliance: float
    events: int
    requested_wh: int
    delivered_wh: int
    flexibility_wh: int
    shortfall_wh: int
    reward: int
    penalty: int
    stake: int


@dataclass(frozen=True)
class EventRow:
    id: int
    start_hour: int
    duration: int
    trigger_state_wh: int
    participants: int
    phase: str
    total_reward: int
    total_penalty: int
    stake_for: int
    total_stake: int


@dataclass
class DrDayResult:
    settings: DrDaySettings
    prosumers: list[ProsumerRow]
    events: list[EventRow]
    threshold_wh: int
    natural_wh: IntArray  # (prosumers, hours) of the DR day without DR
    actual_wh: IntArray  # with DR
    ac_before: ValidationReport
    ac_after: ValidationReport
    mismatches: list[str]
    gas: dict[str, int] = field(default_factory=dict)
    calls: dict[str, int] = field(default_factory=dict)

    @property
    def onchain_equals_offchain(self) -> bool:
        return not self.mismatches

    def summary(self) -> dict[str, object]:
        before = self.natural_wh.sum(axis=0)
        after = self.actual_wh.sum(axis=0)

        def ac(report: ValidationReport) -> dict[str, object]:
            slots = report.slots
            return {
                "passed": report.passed,
                "violations": report.n_violations,
                "v_min_pu": round(min(s.v_min_pu for s in slots), 5),
                "max_line_loading_pct": round(max(s.max_line_loading_pct for s in slots), 3),
                "max_trafo_loading_pct": round(max(s.max_trafo_loading_pct for s in slots), 3),
            }

        return {
            "feeder": self.settings.feeder,
            "day": self.settings.day.isoformat(),
            "prosumers": len(self.prosumers),
            "threshold_wh": self.threshold_wh,
            "events": len(self.events),
            "events_confirmed": sum(e.phase == "CONFIRMED" for e in self.events),
            "events_disputed": sum(e.phase == "DISPUTED" for e in self.events),
            "participations": sum(p.events for p in self.prosumers),
            "delivered_flexibility_kwh": sum(p.delivered_wh for p in self.prosumers) / 1000,
            "credited_flexibility_kwh": sum(p.flexibility_wh for p in self.prosumers) / 1000,
            "rewards": sum(p.reward for p in self.prosumers) / 1e6,
            "penalties": sum(p.penalty for p in self.prosumers) / 1e6,
            "peak_before_kwh": int(before.max()) / 1000,
            "peak_after_kwh": int(after.max()) / 1000,
            "ac_before": ac(self.ac_before),
            "ac_after": ac(self.ac_after),
            "onchain_equals_offchain": self.onchain_equals_offchain,
            "transactions": sum(self.calls.values()),
            "gas": sum(self.gas.values()),
        }


def _households(
    settings: DrDaySettings, buses: list[int], rng: np.random.Generator
) -> list[Household]:
    n = settings.prosumers
    n_pv = round(settings.pv_share * n)
    with_pv = set(rng.choice(n, size=n_pv, replace=False).tolist()) if n_pv else set()
    out = []
    for i in range(n):
        out.append(
            Household(
                id=f"H{i + 1:03d}",
                bus=buses[i % len(buses)],
                load_profile=str(rng.choice(HOUSEHOLD_LOAD_PROFILES)),
                annual_consumption_kwh=round(float(rng.uniform(2500, 6000)), 1),
                pv_profile=str(rng.choice(PV_PROFILES)) if i in with_pv else None,
                pv_kwp=round(float(rng.uniform(3, 8)), 2) if i in with_pv else 0.0,
            )
        )
    return out


class _Chain:
    """The contract and its accounts, counting gas per function."""

    def __init__(self, n: int, genesis: tuple[int, ...]) -> None:
        self.chain = EmbeddedChain()
        self.operator = self.chain.new_account("dso")
        issuer = self.chain.new_account("issuer")
        self.ledger = DrEventsLedger.deploy(
            self.chain,
            operator=self.operator,
            issuer=issuer,
            supply_micro=2**200,
            slots_per_day=SLOTS_PER_DAY,
        )
        self.prosumers = [self.chain.new_account(f"prosumer-{i}") for i in range(n)]
        self.meters = [self.chain.new_account(f"meter-{i}") for i in range(n)]
        self.stakeholders = [self.chain.new_account(f"validator-{k}") for k in range(len(genesis))]
        for p, m in zip(self.prosumers, self.meters, strict=True):
            self.ledger.register(p, m)
        for v, g in zip(self.stakeholders, genesis, strict=True):
            self.ledger.add_validator(v, g)
        for account in [self.operator, *self.prosumers]:
            self.ledger.fund(account, FUNDS)
            self.ledger.deposit(account, FUNDS)
        self.gas: dict[str, int] = {}
        self.calls: dict[str, int] = {}

    def count(self, function: str, gas_used: int) -> None:
        self.gas[function] = self.gas.get(function, 0) + gas_used
        self.calls[function] = self.calls.get(function, 0) + 1


def run_dr_day(
    settings: DrDaySettings, *, progress: Callable[[int, int], None] | None = None
) -> DrDayResult:
    """Run the baseline days and the DR day on chain and off chain; check both and the AC flow."""
    rng = np.random.default_rng(settings.seed)
    feeder = load_feeder(settings.feeder)
    households = _households(settings, list(feeder.household_buses), rng)
    n = len(households)
    days = settings.baseline_days + 1
    library = load_profile_library()
    first = settings.day - dt.timedelta(days=settings.baseline_days)
    energy = household_energy(households, library, library.window(first, days), 60)
    natural = np.rint(-energy.net_kwh * 1000).astype(np.int64)  # (n, days*24) Wh consumed
    interested = rng.random(n) < settings.interested_share
    low, high = settings.compliance
    compliance = rng.uniform(low, high, size=n)
    candidates = np.flatnonzero(interested)
    size = min(settings.tampered_meters, len(candidates))
    tampered = {int(i) for i in rng.choice(candidates, size=size, replace=False)} if size else set()

    history = natural[:, : settings.baseline_days * SLOTS_PER_DAY]
    feeder_load = history.sum(axis=0)
    threshold = round(settings.threshold_share * int(feeder_load.max()))
    rates = DrRates(settings.reward_rate, settings.penalty_rate, settings.tolerance_wh)

    model = DrGridModel(n, SLOTS_PER_DAY, settings.genesis_stake)
    chain = _Chain(n, settings.genesis_stake)
    ledger = chain.ledger
    actual = natural.copy()
    day_start = settings.baseline_days * SLOTS_PER_DAY
    end = days * SLOTS_PER_DAY
    mismatches: list[str] = []
    open_event: DrEvent | None = None
    # What each participant really used in its event's slots (a tampered meter posts otherwise).
    truth: dict[tuple[int, int], list[int]] = {}

    for slot in range(end):
        if slot == day_start:
            model.set_rates(rates, threshold_wh=threshold, duration=settings.duration)
            chain.count(
                "set_rates",
                ledger.set_rates(
                    reward_rate=rates.reward_rate,
                    penalty_rate=rates.penalty_rate,
                    tolerance_wh=rates.tolerance_wh,
                    threshold_wh=threshold,
                    duration=settings.duration,
                ).gas_used,
            )
        started: DrEvent | None = None
        for i in range(n):
            event = model.event_of.get(i)
            if event is not None and slot in event.slots:
                k = slot - event.start
                requested = event.baseline[i][k] - event.commanded[i][k]
                actual[i, slot] = natural[i, slot] - round(compliance[i] * requested)
                truth.setdefault((event.id, i), []).append(int(actual[i, slot]))
            wh = int(actual[i, slot])
            if i in tampered and event is not None and slot in event.slots:
                wh = event.commanded[i][slot - event.start]  # claims full compliance
            started = model.post(i, slot, wh) or started
            chain.count("post_reading", ledger.post_reading(chain.meters[i], slot, wh).gas_used)
        if started is not None:
            open_event = started
            _start(settings, model, chain, started, interested, end, mismatches)
            if not started.commanded:
                model.active = None
                open_event = None
        if open_event is not None and slot == open_event.start + open_event.duration - 1:
            _settle(settings, model, chain, open_event, truth, tampered, mismatches)
            open_event = None
        if progress is not None:
            progress(slot + 1, end)

    rows = _prosumer_rows(households, model, chain, interested, compliance)
    events = _event_rows(model, chain)
    # AC check of the DR day: without DR (natural) and with it (actual); q stays as metered.
    window = slice(day_start, end)
    before = _injections(households, natural[:, window], energy.q_kvar[:, window])
    after = _injections(households, actual[:, window], energy.q_kvar[:, window])
    return DrDayResult(
        settings=settings,
        prosumers=rows,
        events=events,
        threshold_wh=threshold,
        natural_wh=natural[:, window],
        actual_wh=actual[:, window],
        ac_before=validate(feeder, before),
        ac_after=validate(feeder, after),
        mismatches=mismatches,
        gas=chain.gas,
        calls=chain.calls,
    )


def _start(
    settings: DrDaySettings,
    model: DrGridModel,
    chain: _Chain,
    event: DrEvent,
    interested: npt.NDArray[np.bool_],
    end: int,
    mismatches: list[str],
) -> None:
    ledger = chain.ledger
    on = ledger.event(event.id)
    if (on.phase, on.start, on.trigger_state) != (
        EventPhase.ACTIVE,
        event.start,
        event.trigger_state,
    ):
        mismatches.append(f"event {event.id}: started differently on chain ({on})")
    if event.start + event.duration > end:
        # The event runs past the simulated day: the DSO commands nobody and cancels it.
        chain.count("cancel_event", ledger.cancel_event(event.id).gas_used)
        return
    for i in (int(k) for k in np.flatnonzero(interested)):
        base = [model.baseline(i, s) for s in event.slots]
        if min(base) <= 0:
            continue  # nothing to reduce (a PV exporter at these hours)
        commanded = [b - round(settings.request_share * b) for b in base]
        model.command(event, i, commanded)
        chain.count("command", ledger.command(event.id, chain.prosumers[i], commanded).gas_used)
    if not event.commanded:
        chain.count("cancel_event", ledger.cancel_event(event.id).gas_used)


def _settle(
    settings: DrDaySettings,
    model: DrGridModel,
    chain: _Chain,
    event: DrEvent,
    truth: dict[tuple[int, int], list[int]],
    tampered: set[int],
    mismatches: list[str],
) -> None:
    ledger = chain.ledger
    off = model.close(event)
    chain.count("close_event", ledger.close_event(chain.operator, event.id).gas_used)
    for i, s in off.items():
        on = ledger.participation(event.id, chain.prosumers[i])
        got = (on.delivered, on.flexibility, on.shortfall, on.reward, on.penalty)
        want = (s.delivered_wh, s.flexibility_wh, s.shortfall_wh, s.reward, s.penalty)
        if got != want:
            mismatches.append(f"event {event.id}, prosumer {i}: on chain {got}, off chain {want}")
    # Every validator receives the meters' true readings and attests to their digest;
    # colluding stakeholders and tampering prosumers attest to the posted ones. Stakeholders
    # first, then prosumers holding incentives, until the contract decides.
    true_digest = ledger.digest_of(
        event.id, [(chain.prosumers[i], truth[event.id, i]) for i in off]
    )
    posted = ledger.event(event.id).digest
    validators = [(model.n + k, a) for k, a in enumerate(chain.stakeholders)]
    validators += [(i, a) for i, a in enumerate(chain.prosumers)]
    attesting: list[int] = []
    for index, account in validators:
        if ledger.event(event.id).phase != EventPhase.VERIFYING:
            break
        if model.stakes[index].stake(model.epoch) == 0:
            continue
        colluding = index in tampered or model.n <= index < model.n + settings.colluding_validators
        digest = posted if colluding else true_digest
        chain.count("attest", ledger.attest(account, event.id, digest).gas_used)
        if digest == posted:
            attesting.append(index)
    model.confirm(event, attesting)
    on_phase = ledger.event(event.id).phase
    if (on_phase == EventPhase.CONFIRMED) != event.confirmed:
        mismatches.append(f"event {event.id}: {on_phase.name} on chain")


def _prosumer_rows(
    households: list[Household],
    model: DrGridModel,
    chain: _Chain,
    interested: npt.NDArray[np.bool_],
    compliance: npt.NDArray[np.float64],
) -> list[ProsumerRow]:
    rows = []
    for i, house in enumerate(households):
        mine = [e.settlements[i] for e in model.events if i in e.settlements and e.confirmed]
        paid = sum(
            chain.ledger.participation(e.id, chain.prosumers[i]).penalty_paid
            for e in model.events
            if i in e.settlements and e.confirmed
        )
        rows.append(
            ProsumerRow(
                id=house.id,
                bus=house.bus,
                interested=bool(interested[i]),
                compliance=round(float(compliance[i]), 3),
                events=len(mine),
                requested_wh=sum(s.requested_wh for s in mine),
                delivered_wh=sum(s.delivered_wh for s in mine),
                flexibility_wh=sum(s.flexibility_wh for s in mine),
                shortfall_wh=sum(s.shortfall_wh for s in mine),
                reward=sum(s.reward for s in mine),
                penalty=paid,
                stake=chain.ledger.stake_of(chain.prosumers[i]),
            )
        )
    return rows


def _event_rows(model: DrGridModel, chain: _Chain) -> list[EventRow]:
    rows = []
    for event in model.events:
        on = chain.ledger.event(event.id)
        rows.append(
            EventRow(
                id=event.id,
                start_hour=event.start % SLOTS_PER_DAY,
                duration=event.duration,
                trigger_state_wh=event.trigger_state,
                participants=len(event.commanded),
                phase=on.phase.name,
                # Paid only when confirmed (a disputed event's reserve goes back to the DSO).
                total_reward=on.total_reward if on.phase == EventPhase.CONFIRMED else 0,
                total_penalty=on.total_penalty,
                stake_for=on.stake_for,
                total_stake=on.total_stake,
            )
        )
    return rows


def _injections(
    households: list[Household], wh: IntArray, q_kvar: npt.NDArray[np.float64]
) -> Injections:
    """Hourly energy (Wh) as mean power per bus (kW, load convention)."""
    buses = sorted({h.bus for h in households})
    column = {b: k for k, b in enumerate(buses)}
    p = np.zeros((wh.shape[1], len(buses)))
    q = np.zeros_like(p)
    for i, house in enumerate(households):
        p[:, column[house.bus]] += wh[i] / 1000.0
        q[:, column[house.bus]] += q_kvar[i]
    return Injections.from_arrays(buses, p, q)
