"""Households' agents and meters that trade on a running service over HTTP.

A :class:`HouseholdAgent` forms its order for each slot as the simulation's households do
(:mod:`peergrid.sim.behaviour`): its net position from a forecast of its load and PV profiles
(relative errors of ``forecast_error``), a reserved price drawn around the reference price, one
order when the position is at least ``min_order_kwh``. It signs the order (EIP-712,
:mod:`peergrid.api.auth`) and posts it in the slot's quotation window; it reads its quotes,
bills and balance back. A :class:`Meter` posts the household's actual net energy of each
delivered slot in its metering window.

:class:`Community` drives agents and meters on the service's clock: it looks at ``GET /market``
(the minute, cycle and phase), and in each cycle's quotation window every agent sends its order
for the next slot, and while the metering window of the last slot is open every meter sends its
reading. It learns the clock's pace from successive looks, and looks often enough not to miss
a quotation window (a few times per window, at least every second).

Market slot ``k`` is delivered in cycle ``k``; the profiles map it to their slot
``first_slot + k`` (wrapping around the profile days), so a market that starts at minute 0 can
play a day that starts at any hour.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from peergrid.api.auth import Domain
from peergrid.api.client import ServiceClient, ServiceError, Signer, order_body, reading_body
from peergrid.assets.household import Household, household_energy
from peergrid.assets.profiles import load_profile_library
from peergrid.core.errors import PeergridError
from peergrid.core.units import kwh_to_wh, to_micro
from peergrid.sim.behaviour import PriceModel, forecast_net, household_order, order_terms
from peergrid.sim.scenario import Scenario

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
FATAL_STATUSES = (401, 403)
"""Refusals that the next cycle will not change: a key that is not a member's, or a bad
signature. Others (a window just missed, a reused nonce) are reported and the agent goes on."""


@dataclass(frozen=True)
class NetProfile:
    """A household's net energy per profile slot (kWh, export positive): forecast and actual."""

    forecast_kwh: FloatArray
    actual_kwh: FloatArray
    first_slot: int = 0  # the profile slot of market slot 0

    def index(self, slot: int) -> int:
        return (self.first_slot + slot) % len(self.actual_kwh)

    def forecast(self, slot: int) -> float:
        return float(self.forecast_kwh[self.index(slot)])

    def actual(self, slot: int) -> float:
        return float(self.actual_kwh[self.index(slot)])


def net_profiles(
    households: Sequence[Household],
    *,
    start: dt.date,
    days: int,
    slot_minutes: int,
    forecast_error: float,
    rng: np.random.Generator,
    hour: float = 0.0,
) -> list[NetProfile]:
    """The households' profiles over ``days`` from ``start`` (simbench's year), forecasts with
    errors drawn from ``rng``; market minute 0 is ``hour`` o'clock of the first day."""
    if not 0 <= hour < 24:
        raise PeergridError(f"the profile hour must be from 0 to 24 (exclusive), got {hour}")
    library = load_profile_library()
    energy = household_energy(households, library, library.window(start, days), slot_minutes)
    forecast = forecast_net(energy.load_kwh, energy.pv_kwh, rng, forecast_error)
    actual = energy.net_kwh
    first = int(hour * 60 // slot_minutes)
    return [NetProfile(forecast[i], actual[i], first) for i in range(len(households))]


def check_profile_names(load_profile: str, pv_profile: str | None) -> None:
    """Refuse a profile that simbench does not ship, naming the ones it does."""
    library = load_profile_library()
    if load_profile not in library.load_p:
        names = ", ".join(sorted(n for n in library.load_p if n.startswith("H0")))
        raise PeergridError(f"--profile {load_profile!r}: no such household profile ({names})")
    if pv_profile is not None and pv_profile not in library.pv:
        raise PeergridError(
            f"--pv {pv_profile!r}: no such PV profile ({', '.join(sorted(library.pv))})"
        )


def price_model(scenario: Scenario) -> PriceModel:
    """The reserved prices of ``scenario``'s households, as its simulation draws them."""
    tariffs = scenario.tariffs
    return PriceModel(
        scenario.reference_price,
        tariffs.feed_in_per_kwh,
        tariffs.retail_per_kwh,
        scenario.market.behaviour,
    )


@dataclass
class HouseholdAgent:
    """One household's trading agent: member ``agent`` at ``bus``, signing with ``signer``."""

    agent: str
    bus: str
    signer: Signer
    profile: NetProfile
    prices: PriceModel
    rng: np.random.Generator
    min_order_kwh: float = 0.001
    _nonce: int = 0
    _told: set[str] = field(default_factory=set)

    def next_nonce(self) -> int:
        """Microseconds of the wall clock, and above the last: strictly increasing, also for
        an agent started again with the same key."""
        self._nonce = max(self._nonce + 1, time.time_ns() // 1000)
        return self._nonce

    def order_for(self, domain: Domain, slot: int) -> dict[str, object] | None:
        """The signed order for ``slot`` from the forecast, or None (a position too small)."""
        net = np.array([self.profile.forecast(slot)])
        active, selling, reserved = order_terms(net, self.prices, self.rng, self.min_order_kwh)
        if len(active) == 0:
            return None
        order = household_order(
            slot, self.agent, int(self.bus), float(net[0]), bool(selling[0]), float(reserved[0]), 0
        )
        quantity_wh = kwh_to_wh(order.quantity_kwh)
        if quantity_wh < 1:
            return None
        return order_body(
            domain,
            self.signer,
            slot=slot,
            side=order.side.value,
            quantity_wh=quantity_wh,
            price_micro_per_kwh=to_micro(order.price),
            bus=self.bus,
            nonce=self.next_nonce(),
        )

    def report(self, client: ServiceClient) -> list[str]:
        """What is new since the last report: quotes of matched slots, bills of settled ones
        (with the balance after them)."""
        lines = []
        for quote in client.read("/me/quotes", self.signer):
            key = "quote " + quote["order_id"]
            if key in self._told:
                continue
            self._told.add(key)
            slot = quote["order_id"].split("-", 1)[0]
            price = "" if quote["price"] is None else f" at {quote['price']:.4f}/kWh"
            outcome = "matched" if quote["won"] else "not matched"
            lines.append(f"slot {slot}: {outcome}{price}: {quote['message']}")
        bills = [
            b
            for b in client.read("/me/bills", self.signer)
            if f"bill {b['slot']}" not in self._told
        ]
        if bills:
            balance = client.read("/me/balance", self.signer)["balance_micro"]
        for bill in bills:
            self._told.add(f"bill {bill['slot']}")
            sold = sum(t["energy_wh"] for t in bill["trades"] if t["seller"] == self.agent)
            bought = sum(t["energy_wh"] for t in bill["trades"] if t["buyer"] == self.agent)
            reading = bill["reading"]
            metered = ""
            if reading is not None:
                metered = (
                    f", metered {reading['metered_wh'] / 1000:.3f} of "
                    f"{reading['reference_wh'] / 1000:.3f} kWh, "
                    f"credit {reading['credit_micro'] / 1e6:+.4f}"
                )
            lines.append(
                f"slot {bill['slot']} settled: sold {sold / 1000:.3f} kWh, bought "
                f"{bought / 1000:.3f} kWh{metered}; balance {balance / 1e6:.4f}"
            )
        return lines


@dataclass(frozen=True)
class Meter:
    """The meter of household ``agent``: posts its actual net energy, signed with its key."""

    agent: str
    signer: Signer
    profile: NetProfile

    def reading_for(self, domain: Domain, slot: int) -> dict[str, object]:
        return reading_body(
            domain, self.signer, slot=slot, net_wh=kwh_to_wh(self.profile.actual(slot))
        )


def _order_line(body: dict[str, object], answer: dict[str, object]) -> str:
    quantity, price = int(str(body["quantity_wh"])), int(str(body["price_micro_per_kwh"]))
    return (
        f"slot {body['slot']}: {body['side']} {quantity / 1000:.3f} kWh at {price / 1e6:.4f}/kWh "
        f"(order {answer['order_id']})"
    )


class _Pace:
    """Market minutes per real second, learnt from the clock's answers."""

    def __init__(self) -> None:
        self.first: tuple[float, float] | None = None
        self.minutes_per_s: float | None = None

    def observe(self, minute: float) -> None:
        now = time.monotonic()
        if self.first is None:
            self.first = (now, minute)
            return
        elapsed = now - self.first[0]
        if elapsed >= 0.2 and minute > self.first[1]:
            self.minutes_per_s = (minute - self.first[1]) / elapsed

    def pause_s(self, window_minutes: float) -> float:
        """A few looks per window, at most a second apart."""
        if self.minutes_per_s is None:
            return 0.05
        return min(1.0, max(0.01, window_minutes / self.minutes_per_s / 8))


class Community:
    """Agents and meters driven by the service's clock (module doc). ``say`` receives one line
    per thing worth telling (orders refused, quotes and bills when ``report`` is set, slots
    cleared when an ``observer`` key — a member's or the DSO's — is given)."""

    def __init__(
        self,
        client: ServiceClient,
        agents: Sequence[HouseholdAgent],
        meters: Sequence[Meter] = (),
        *,
        say: Callable[[str], None] | None = None,
        report: bool = False,
        observer: Signer | None = None,
        max_failures: int = 30,
    ) -> None:
        self.client = client
        self.agents = list(agents)
        self.meters = list(meters)
        self.say = say or (lambda line: logger.info("%s", line))
        self.report = report
        self.observer = observer
        self.max_failures = max_failures
        self.orders_sent = 0
        self.readings_sent = 0
        self._quoted = -1  # the last cycle whose orders were sent
        self._metered = 0  # the last slot whose readings were sent
        self._cycle = -1
        self._slots_told = 0
        self._failures = 0
        self._pace = _Pace()

    def check_members(self) -> dict[str, dict[str, str]]:
        """Each agent's and meter's key is one the market knows; the members by address."""
        members = {m["address"].lower(): m for m in self.client.market()["members"]}
        meters = {m["meter"].lower() for m in members.values()}
        for agent in self.agents:
            if agent.signer.address.lower() not in members:
                raise PeergridError(
                    f"the key of {agent.signer.address} is not a member's key of the market at "
                    f"{self.client.url}"
                )
        for meter in self.meters:
            if meter.signer.address.lower() not in meters:
                raise PeergridError(
                    f"the meter key of {meter.signer.address} is not a meter of the market at "
                    f"{self.client.url}"
                )
        return members

    def tick(self) -> float:
        """Look at the clock and do what is due; the real seconds to wait before the next look."""
        try:
            return self._tick()
        except ServiceError as exc:
            if exc.status in FATAL_STATUSES:
                raise
            return self._failed(exc)  # the service away or failing: tried again

    def _tick(self) -> float:
        info = self.client.market()
        self._failures = 0
        minute, cycle, phase = float(info["minute"]), int(info["cycle"]), str(info["phase"])
        self._pace.observe(minute)
        domain = self.client.domain
        if phase == "quotation" and cycle > self._quoted:
            self._quoted = cycle
            for agent in self.agents:
                body = agent.order_for(domain, cycle + 1)
                if body is None:
                    continue
                answer = self._send(self.client.post_order, body, agent.agent)
                if answer is not None:
                    self.orders_sent += 1
                    if self.report:
                        self.say(f"{agent.agent} {_order_line(body, answer)}")
        delivered = cycle - 1  # its meters read until the settlement phase of this cycle
        if phase != "settlement" and delivered >= 1 and delivered > self._metered:
            self._metered = delivered
            for meter in self.meters:
                body = meter.reading_for(domain, delivered)
                if self._send(self.client.post_reading, body, meter.agent) is not None:
                    self.readings_sent += 1
        if cycle != self._cycle:
            self._cycle = cycle
            self._tell()
        return self._pace.pause_s(float(info["quotation_end"]))

    def run(self, stop: threading.Event, cycles: int | None = None) -> None:
        """Tick until ``stop`` is set (or ``cycles`` cycles have begun)."""
        first: int | None = None
        while not stop.is_set():
            pause = self.tick()
            first = self._cycle if first is None else first
            if cycles is not None and self._cycle - first >= cycles:
                return
            stop.wait(pause)

    def _send(
        self,
        post: Callable[[dict[str, object]], dict[str, object]],
        body: dict[str, object],
        who: str,
    ) -> dict[str, object] | None:
        """The service's answer, or None for a refusal worth telling and going on after."""
        try:
            return post(body)
        except ServiceError as exc:
            if exc.status in FATAL_STATUSES or exc.status == 0 or exc.status >= 500:
                raise
            self.say(f"{who}: refused: {exc}")
            return None

    def _tell(self) -> None:
        if self.report:
            for agent in self.agents:
                for line in agent.report(self.client):
                    self.say(f"{agent.agent} {line}")
        if self.observer is not None:
            page = self.client.read("/slots", self.observer, offset=self._slots_told, limit=500)
            for s in page["items"]:
                self.say(
                    f"slot {s['slot']} cleared on chain: {s['trade_count']} trades, "
                    f"{s['energy_wh'] / 1000:.3f} kWh at {s['price_micro_per_kwh'] / 1e6:.4f}/kWh, "
                    f"DSO income {s['dso_income_micro'] / 1e6:.4f}"
                )
            self._slots_told += len(page["items"])

    def _failed(self, exc: ServiceError) -> float:
        self._failures += 1
        if self._failures >= self.max_failures:
            raise exc
        if self._failures == 1:
            self.say(f"{exc}; trying again")
        return 1.0
