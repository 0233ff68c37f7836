"""Gas of the DR contracts (``DrEvents.vy``, 001b_book.md chapter 8) per DR event per prosumer,
and the wall time of a day of DR events for 100 prosumers on the embedded chain.

Part 1, one event with n prosumers, all commanded, lasting ``--duration`` hours, verified by three
stakeholder validators (two needed): each figure is a receipt's ``gasUsed``. Per prosumer and
event: its ``command``, its readings in the event's hours, and its share of ``close_event`` and
of the attestations (the confirming one pays every participant).

Part 2, a day: 100 prosumers whose meters post 24 hourly readings (synthetic households: a
morning and an evening peak, seeded noise) after one baseline day. The threshold is 60 % of the
baseline day's peak hourly feeder load, so both peaks start two-hour events; the DSO commands
every prosumer 25 % below its baseline, each follows half of it, and every event is closed and
confirmed. Wall time of the DR day only (the baseline day is posted before the clock starts),
median of ``--runs`` runs.

    python benchmarks/dr_events_gas.py [--sizes 10 50 100 128] [--duration 3] [--runs 3] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from typing import Any

import numpy as np

from peergrid.ledger import EmbeddedChain
from peergrid.ledger.markets.dr_events import DrEventsLedger, EventPhase

FUNDS = 10**12
GENESIS = (400_000, 300_000, 300_000)
HOURS = 24


def _deploy(n: int) -> tuple[DrEventsLedger, list[str], list[str], list[str], str]:
    chain = EmbeddedChain()
    operator, issuer = chain.new_account("dso"), chain.new_account("issuer")
    ledger = DrEventsLedger.deploy(chain, operator=operator, issuer=issuer, supply_micro=10**18)
    prosumers = [chain.new_account(f"p{k}") for k in range(n)]
    meters = [chain.new_account(f"m{k}") for k in range(n)]
    for p, m in zip(prosumers, meters, strict=True):
        ledger.register(p, m)
    validators = [chain.new_account(f"v{k}") for k in range(len(GENESIS))]
    for v, g in zip(validators, GENESIS, strict=True):
        ledger.add_validator(v, g)
    ledger.fund(operator, FUNDS)
    ledger.deposit(operator, FUNDS)
    return ledger, prosumers, meters, validators, operator


def _profiles(n: int, days: int, seed: int) -> np.ndarray:
    """Wh per prosumer and hour: base load with a morning and an evening peak, and noise."""
    rng = np.random.default_rng(seed)
    hours = np.arange(HOURS)
    shape = 300 + 500 * np.exp(-((hours - 7) ** 2) / 4) + 900 * np.exp(-((hours - 19) ** 2) / 6)
    scale = rng.uniform(0.6, 1.4, size=(n, 1, 1))
    noise = rng.normal(1.0, 0.05, size=(n, days, HOURS))
    return np.rint(scale * shape * noise).astype(np.int64).reshape(n, days * HOURS)


def event_gas(n: int, duration: int) -> dict[str, Any]:
    ledger, prosumers, meters, validators, operator = _deploy(n)
    wh = _profiles(n, 2, seed=n)
    for slot in range(HOURS):
        for k in range(n):
            ledger.post_reading(meters[k], slot, int(wh[k, slot]))
    # One event: a threshold crossed by the first reading of hour 18 of day 2.
    trigger = HOURS + 17
    for slot in range(HOURS, trigger):
        for k in range(n):
            ledger.post_reading(meters[k], slot, int(wh[k, slot]))
    ledger.set_rates(
        reward_rate=300_000,
        penalty_rate=100_000,
        tolerance_wh=50,
        threshold_wh=1,
        duration=duration,
    )
    for k in range(n):
        ledger.post_reading(meters[k], trigger, int(wh[k, trigger]))
    event = ledger.active_event()
    start = ledger.event(event).start
    commands = []
    for k in range(n):
        tod = [(start + j) % HOURS for j in range(duration)]
        base = [int(wh[k, t]) for t in tod]  # the one-day baseline
        commands.append(ledger.command(event, prosumers[k], [b * 3 // 4 for b in base]).gas_used)
    readings = []
    for slot in range(start, start + duration):
        for k in range(n):
            readings.append(
                ledger.post_reading(meters[k], slot, int(wh[k, slot]) * 7 // 8).gas_used
            )
    close = ledger.close_event(operator, event).gas_used
    digest = ledger.event(event).digest
    attest = [ledger.attest(v, event, digest).gas_used for v in validators[:2]]
    assert ledger.event(event).phase == EventPhase.CONFIRMED
    per_prosumer = statistics.mean(commands) + sum(readings) / n + close / n + sum(attest) / n
    return {
        "prosumers": n,
        "duration": duration,
        "command_mean": statistics.mean(commands),
        "post_reading_mean": statistics.mean(readings),
        "close_event": close,
        "attest_first": attest[0],
        "attest_confirming": attest[1],
        "gas_per_prosumer_per_event": per_prosumer,
    }


def dr_day(n: int, seed: int) -> dict[str, Any]:
    ledger, prosumers, meters, validators, operator = _deploy(n)
    wh = _profiles(n, 2, seed=seed)
    for slot in range(HOURS):
        for k in range(n):
            ledger.post_reading(meters[k], slot, int(wh[k, slot]))
    peak = int(wh[:, :HOURS].sum(axis=0).max())
    receipts = 0
    gas = 0
    events = 0
    t0 = time.perf_counter()
    r = ledger.set_rates(
        reward_rate=300_000,
        penalty_rate=100_000,
        tolerance_wh=50,
        threshold_wh=peak * 6 // 10,
        duration=2,
    )
    receipts, gas = receipts + 1, gas + r.gas_used
    commanded: dict[int, tuple[int, int]] = {}  # event -> (start, duration)
    for slot in range(HOURS, 2 * HOURS):
        for k in range(n):
            value = int(wh[k, slot])
            for start, duration in commanded.values():
                if start <= slot < start + duration:
                    value = value * 7 // 8  # follows half of a 25 % request
            r = ledger.post_reading(meters[k], slot, value)
            receipts, gas = receipts + 1, gas + r.gas_used
        event = ledger.active_event()
        if event and event not in commanded:
            e = ledger.event(event)
            if e.start + e.duration > 2 * HOURS:
                r = ledger.cancel_event(event)
                receipts, gas = receipts + 1, gas + r.gas_used
                continue
            commanded[event] = (e.start, e.duration)
            events += 1
            for k in range(n):
                base = [int(wh[k, (e.start + j) % HOURS]) for j in range(e.duration)]
                r = ledger.command(event, prosumers[k], [b * 3 // 4 for b in base])
                receipts, gas = receipts + 1, gas + r.gas_used
        if event and event in commanded and slot == sum(commanded[event]) - 1:
            r = ledger.close_event(operator, event)
            receipts, gas = receipts + 1, gas + r.gas_used
            digest = ledger.event(event).digest
            for v in validators:
                if ledger.event(event).phase != EventPhase.VERIFYING:
                    break
                r = ledger.attest(v, event, digest)
                receipts, gas = receipts + 1, gas + r.gas_used
    seconds = time.perf_counter() - t0
    return {
        "prosumers": n,
        "events": events,
        "transactions": receipts,
        "gas": gas,
        "seconds": seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 50, 100, 128])
    parser.add_argument("--duration", type=int, default=3)
    parser.add_argument("--day-prosumers", type=int, default=100)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rows = [event_gas(n, args.duration) for n in args.sizes]
    days = [dr_day(args.day_prosumers, seed=s) for s in range(args.runs)]
    day = {
        "prosumers": args.day_prosumers,
        "runs": args.runs,
        "events": days[0]["events"],
        "transactions": days[0]["transactions"],
        "gas": days[0]["gas"],
        "seconds_median": statistics.median(d["seconds"] for d in days),
        "seconds": [round(d["seconds"], 2) for d in days],
    }
    if args.json:
        print(json.dumps({"event": rows, "day": day}))
        return
    head = ("n", 4), ("command", 8), ("reading", 8), ("close", 11), ("attest", 8), ("confirm", 11)
    print(" ".join(f"{name:>{width}}" for name, width in head), f"{'/pros/event':>12}")
    for r in rows:
        print(
            f"{r['prosumers']:>4} {r['command_mean']:>8.0f} {r['post_reading_mean']:>8.0f} "
            f"{r['close_event']:>11,} {r['attest_first']:>8,} {r['attest_confirming']:>11,} "
            f"{r['gas_per_prosumer_per_event']:>12,.0f}"
        )
    print(
        f"a DR day of {day['prosumers']} prosumers: {day['events']} event(s), "
        f"{day['transactions']} transactions, {day['gas']:,} gas, "
        f"{day['seconds_median']:.1f} s (median of {day['runs']}: {day['seconds']})"
    )


if __name__ == "__main__":
    main()
