"""The platform's services in a run, slot by slot beside the energy market, on an embedded chain
of their own (the settlement of the energy market may be on anvil or a remote node; the services
need the chain's clock moved slot by slot, which only a private chain allows).

Before the first slot: the settlement token, the registries and markets are deployed; the
households buy the community battery's shares (the sale closes and its operator takes the money);
every OTC contract is checked on the feeder (:func:`~peergrid.platform.otc.register_otc`, on top
of the households' heaviest metered slot), proposed by its seller and accepted by its buyer, whose
escrow is locked; the PV households are registered as producers.

Each slot: the OTC contracts' energy is netted off the meters before the pool clears
(:meth:`ServicesRun.pool_net`, with :func:`~peergrid.platform.otc.pool_residual`); after the pool
has cleared, the clock moves to the slot's end, the contracts are settled against the physical
meters at the pool's price (:func:`~peergrid.platform.otc.settle_otc_slot`; a slot without a
pool trade at the reference price), the slot's certificates are issued from the metered PV
production (:func:`~peergrid.platform.certificates.issue_from_meters`) and each producer cancels
the slot's certificates for the members that bought its energy in the slot: its P2P buyers first,
then its OTC buyer, up to what it was issued.

After each day: the day's metered draw is screened for congestion on the feeder
(:class:`~peergrid.grid.congestion.CongestionScreen`, the run's grid limits), the needs are posted
and bought on ``FlexMarket`` (:func:`~peergrid.platform.flexibility.run_flex_day`, the households'
flexible loads and the community battery offering, as in ``peergrid flex run``), the congested
slots are checked again with the relief delivered, and the battery's net revenue is withdrawn,
distributed to the share holders and claimed.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from peergrid.assets.household import Household
from peergrid.core.errors import GridError
from peergrid.core.trades import Trade
from peergrid.grid.congestion import CongestionScreen
from peergrid.grid.feeders import Feeder, GridLimits
from peergrid.ledger.chain.compile import compile_contract
from peergrid.ledger.chain.embedded import EmbeddedChain
from peergrid.ledger.markets.asset_funding import AssetFundingLedger
from peergrid.ledger.markets.certificates import CertificateRegistry, token_id
from peergrid.ledger.markets.flex_market import FlexMarketLedger
from peergrid.ledger.markets.otc import OtcContract, OtcLedger
from peergrid.platform.certificates import issue_from_meters
from peergrid.platform.flexibility import FlexLedgerRun, run_flex_day
from peergrid.platform.otc import OtcProposal, pool_residual, register_otc, settle_otc_slot
from peergrid.sim.flex_day import COMMUNITY, SLOTS, DayAssets, FlexDaySettings
from peergrid.sim.flex_day import Household as FlexHousehold
from peergrid.sim.scenario import Scenario
from peergrid.sim.services.section import ServicesSection

MICRO = 1_000_000
SLOT_SECONDS = 900
SUPPLY_MICRO = 10**18
SALE_SECONDS = 3_600  # the crowdsale runs for an hour before the first slot
EPOCH_AFTER_S = 2 * SALE_SECONDS  # slot 0 starts once the sale and the OTC proposals are done
OTC_DEPOSIT_MICRO = 1_000 * MICRO  # each OTC party's free balance, for deviations at pool price
FLEX_COLLATERAL_MICRO = 100 * MICRO
FLEX_ESCROW_MICRO = 1_000_000 * MICRO


@dataclass
class ServicesFigures:
    """What the services did over the run."""

    metered_pv_wh: int = 0  # the producers' metered production
    otc_contracts: int = 0
    otc_refused: int = 0
    otc_wh: int = 0  # contracted energy of the slots settled
    otc_paid: float = 0.0  # what the buyers paid the sellers, currency
    flex_needs: int = 0
    flex_bought_kwh: float = 0.0
    flex_delivered_kwh: float = 0.0
    flex_cost: float = 0.0
    flex_penalties: float = 0.0
    congested_slots_before: int = 0
    congested_slots_after: int = 0
    battery_revenue: float = 0.0
    dividends_paid: float = 0.0
    raised: float = 0.0
    seconds: dict[str, float] = field(default_factory=lambda: defaultdict(float))


class ServicesRun:
    """The services of one run (see the module's docstring)."""

    def __init__(
        self,
        scenario: Scenario,
        feeder: Feeder,
        households: Sequence[Household],
        pv_kwh: np.ndarray,
        actual_kwh: np.ndarray,
    ) -> None:
        section = scenario.services
        assert section is not None
        self.scenario, self.section, self.feeder = scenario, section, feeder
        self.households = list(households)
        self.pv_kwh, self.actual_kwh = pv_kwh, actual_kwh  # households x slots, physical
        self.n_slots = actual_kwh.shape[1]
        self.figures = ServicesFigures()
        self.slot_hours = scenario.time.slot_minutes / 60
        started = time.perf_counter()
        self.chain = EmbeddedChain()
        chain = self.chain
        self.issuer, self.operator, self.dso, self.meter = (
            chain.new_account(n) for n in ("issuer", "operator", "dso", "meter")
        )
        self.account = {h.id: chain.new_account(h.id) for h in self.households}
        self.member_of = {address: member for member, address in self.account.items()}
        self.token = chain.deploy(
            self.issuer,
            compile_contract("SettlementToken"),
            "peergrid settlement token",
            "PGS",
            self.issuer,
            SUPPLY_MICRO,
        )
        self.epoch = chain.timestamp() + EPOCH_AFTER_S
        self.flex = self._open_flexibility(section)
        self.sale = self._open_sale(section)
        self.otc, self.contracts = self._open_otc(section)
        self.registry, self.device = self._open_certificates(section)
        chain.advance_time(max(0, self.epoch - chain.timestamp()))
        self.figures.seconds["ledger"] += time.perf_counter() - started

    # --- setup ------------------------------------------------------------------------------

    def _open_flexibility(self, section: ServicesSection) -> FlexLedgerRun | None:
        if section.flexibility is None or not section.flexibility.enabled:
            return None
        ledger = FlexMarketLedger.deploy(
            self.chain,
            dso=self.dso,
            meter_operator=self.meter,
            issuer=self.issuer,
            supply_micro=0,
            token=self.token,
        )
        accounts = dict(self.account)
        if section.community_battery is not None:
            accounts[COMMUNITY] = self.chain.new_account(COMMUNITY)
        bus = {h.id: h.bus for h in self.households}
        battery_bus = self.households[
            section.community_battery.household - 1 if section.community_battery else 0
        ].bus
        for member, address in accounts.items():
            ledger.register(address, bus.get(member, battery_bus))
            ledger.fund(address, FLEX_COLLATERAL_MICRO)
            ledger.deposit(address, FLEX_COLLATERAL_MICRO)
        ledger.fund(self.dso, FLEX_ESCROW_MICRO)
        ledger.deposit(self.dso, FLEX_ESCROW_MICRO)
        self.battery = (
            FlexHousehold(
                member=COMMUNITY,
                bus=battery_bus,
                load_kw=np.zeros(SLOTS),
                ev_kw=np.zeros(SLOTS),
                battery_kwh=section.community_battery.kwh / 2,  # half full at the start
                battery_cap_kwh=section.community_battery.kwh,
                battery_kw=section.community_battery.kw,
                battery_price=section.community_battery.price_per_kwh,
            )
            if section.community_battery is not None
            else None
        )
        flex = section.flexibility
        self.flex_settings = FlexDaySettings(
            feeder=self.feeder.name,
            max_price=flex.max_price,
            penalty_rate=flex.penalty_rate,
            ev_share=0.0,
        )
        grid = self.scenario.grid
        limits = GridLimits(
            grid.v_min_pu, grid.v_max_pu, grid.max_line_loading_pct, grid.max_trafo_loading_pct
        )
        buses = [h.bus for h in self.households] + ([self.battery.bus] if self.battery else [])
        # Flexibility comes from the members' buses only: the need's area is theirs (on a large
        # feeder, all of its level's buses would exceed the contract's area).
        self.screen = CongestionScreen(self.feeder, buses, limits=limits, candidate_buses=buses)
        return FlexLedgerRun(ledger, accounts)

    def _open_sale(self, section: ServicesSection) -> AssetFundingLedger | None:
        battery = section.community_battery
        if battery is None or self.flex is None:
            return None
        price = round(battery.share_price * MICRO)
        sale = AssetFundingLedger.deploy(
            self.chain,
            self.token,
            operator=self.flex.accounts[COMMUNITY],
            share_price=price,
            target=battery.shares,
            cap=battery.shares,
            deadline=self.chain.timestamp() + SALE_SECONDS,
        )
        base, extra = divmod(battery.shares, len(self.households))
        self.allocation = {
            h.id: base + (1 if k < extra else 0) for k, h in enumerate(self.households)
        }
        self.allocation = {m: n for m, n in self.allocation.items() if n > 0}
        for member, shares in self.allocation.items():
            self.flex.ledger.fund(self.account[member], shares * price)
            sale.buy(self.account[member], shares)
        self.chain.advance_time(SALE_SECONDS)
        sale.withdraw_raised()
        self.figures.raised = battery.shares * price / MICRO
        return sale

    def _open_otc(self, section: ServicesSection) -> tuple[OtcLedger | None, list[OtcContract]]:
        if not section.otc:
            return None, []
        scenario = self.scenario
        ledger = OtcLedger.deploy(
            self.chain,
            operator=self.operator,
            dso=self.dso,
            issuer=self.issuer,
            supply_micro=0,
            fee_micro_per_kwh=round(scenario.tariffs.network_fee_per_kwh * MICRO),
            slot_seconds=SLOT_SECONDS,
            epoch=self.epoch,
            token=self.token,
        )
        # The DSO's background for the grid check: every household's mean metered draw over
        # the run (its heaviest slot may be congested already, which no contract causes: the
        # flexibility market's business).
        mean = self.actual_kwh.mean(axis=1)
        background: dict[int, float] = defaultdict(float)
        for h, kwh in zip(self.households, mean.tolist(), strict=True):
            background[h.bus] -= kwh / self.slot_hours
        ledger.fund(self.dso, OTC_DEPOSIT_MICRO)
        ledger.deposit(self.dso, OTC_DEPOSIT_MICRO)
        admitted: set[str] = set()
        contracts: list[OtcContract] = []
        for entry in section.otc:
            seller, buyer = self.households[entry.seller - 1], self.households[entry.buyer - 1]
            last = entry.last_slot if entry.last_slot is not None else self.n_slots - 1
            proposal = OtcProposal(
                seller=self.account[seller.id],
                buyer=self.account[buyer.id],
                seller_bus=seller.bus,
                buyer_bus=buyer.bus,
                price_micro_per_kwh=round(entry.price_per_kwh * MICRO),
                wh_per_slot=entry.wh_per_slot(scenario.time.slot_minutes),
                first_slot=entry.first_slot,
                last_slot=last,
            )
            for party in (proposal.seller, proposal.buyer):
                if party not in admitted:
                    admitted.add(party)
                    ledger.set_member(party)
                    ledger.fund(party, OTC_DEPOSIT_MICRO)
                    ledger.deposit(party, OTC_DEPOSIT_MICRO)
            try:
                number = register_otc(
                    ledger,
                    self.feeder,
                    proposal,
                    proposer=proposal.seller,
                    background_kw=background,
                )
            except GridError:
                self.figures.otc_refused += 1
                continue
            contract = ledger.contract(number)
            escrow = contract.per_slot_micro() * len(contract.slots)
            ledger.fund(proposal.buyer, escrow)
            ledger.deposit(proposal.buyer, escrow)
            ledger.accept(proposal.buyer, number)
            contracts.append(ledger.contract(number))
        self.figures.otc_contracts = len(contracts)
        return ledger, contracts

    def _open_certificates(
        self, section: ServicesSection
    ) -> tuple[CertificateRegistry | None, dict[str, int]]:
        part = section.certificates
        if part is None:
            return None, {}
        registry = CertificateRegistry.deploy(
            self.chain, issuer=self.issuer, slot_seconds=SLOT_SECONDS, epoch=self.epoch
        )
        chosen = (
            [self.households[k - 1] for k in part.producers]
            if part.producers is not None
            else list(self.households)
        )
        device: dict[str, int] = {}
        for h in chosen:
            if h.pv_kwp <= 0:
                continue
            registry.register_device(self.account[h.id], "solar", h.bus)
            found = registry.device_of(self.account[h.id])
            assert found is not None
            device[h.id] = found.index
        registry.set_meter(self.meter)
        return registry, device

    # --- each slot --------------------------------------------------------------------------

    def active(self, slot: int) -> list[OtcContract]:
        return [c for c in self.contracts if c.first_slot <= slot <= c.last_slot]

    def pool_net(self, net_kwh: np.ndarray) -> np.ndarray:
        """The households' net positions (households x slots, kWh, + surplus) as the pool sees
        them: each active contract's energy off its seller's production and its buyer's
        consumption (:func:`pool_residual`). Only the contracts' parties change."""
        if not self.contracts:
            return net_kwh
        out = np.array(net_kwh, dtype=float, copy=True)
        index = {self.account[h.id]: i for i, h in enumerate(self.households)}
        for slot in range(out.shape[1]):
            due = self.active(slot)
            if not due:
                continue
            parties = {c.seller for c in due} | {c.buyer for c in due}
            production = {p: round(max(out[index[p], slot], 0.0) * 1000) for p in parties}
            consumption = {p: round(max(-out[index[p], slot], 0.0) * 1000) for p in parties}
            residual = pool_residual(due, production, consumption)
            for p in parties:
                wh = residual.production_wh[p] - residual.consumption_wh[p]
                out[index[p], slot] = wh / 1000
        return out

    def after_slot(self, slot: int, pool_price: float | None, trades: Sequence[Trade]) -> None:
        """The slot's OTC settlement, certificates issued and cancelled (once the pool has
        cleared and the slot has ended)."""
        started = time.perf_counter()
        chain = self.chain
        end = self.epoch + (slot + 1) * SLOT_SECONDS
        if chain.timestamp() < end:
            chain.advance_time(end - chain.timestamp())
        net = self.actual_kwh[:, slot].tolist()
        wh_of = {
            self.account[h.id]: round(kwh * 1000)
            for h, kwh in zip(self.households, net, strict=True)
        }
        due = self.active(slot)
        if self.otc is not None and due:
            price = pool_price if pool_price is not None else self.scenario.reference_price
            settle_otc_slot(
                self.otc,
                slot,
                round(price * MICRO),
                {a: max(wh, 0) for a, wh in wh_of.items()},
                {a: max(-wh, 0) for a, wh in wh_of.items()},
                due,
            )
            self.figures.otc_wh += sum(c.wh_per_slot for c in due)
            self.figures.otc_paid += sum(c.wh_per_slot * c.price_micro_per_kwh for c in due) / (
                1000 * MICRO
            )
        if self.registry is not None:
            self._certificates(slot, trades, due)
        self.figures.seconds["ledger"] += time.perf_counter() - started
        if self.flex is not None and (slot + 1) % SLOTS == 0:
            self._flexibility_day(slot // SLOTS)

    def _certificates(self, slot: int, trades: Sequence[Trade], due: list[OtcContract]) -> None:
        assert self.registry is not None
        column = {h.id: i for i, h in enumerate(self.households)}
        production = {
            self.account[m]: round(float(self.pv_kwh[column[m], slot]) * 1000) for m in self.device
        }
        self.figures.metered_pv_wh += sum(production.values())
        issue_from_meters(self.registry, self.meter, slot, production)
        part = self.section.certificates
        if part is None or not part.cancel_for_buyers:
            return
        left = {m: production[self.account[m]] for m in self.device}
        sold: dict[tuple[str, str], int] = defaultdict(int)
        for t in trades:
            if t.slot == slot and t.seller in left:
                sold[(t.seller, t.buyer)] += round(t.quantity_kwh * 1000)
        for c in due:
            seller = self.member_of[c.seller]
            if seller in left:
                sold[(seller, self.member_of[c.buyer])] += c.wh_per_slot
        for (seller, buyer), wh in sold.items():
            wh = min(wh, left[seller])
            if wh <= 0:
                continue
            left[seller] -= wh
            self.registry.cancel(
                self.account[seller],
                token_id(slot, self.device[seller]),
                wh,
                self.account[buyer],
                (slot, slot),
            )

    # --- each day ---------------------------------------------------------------------------

    def _flexibility_day(self, day: int) -> None:
        assert self.flex is not None
        started = time.perf_counter()
        first = day * SLOTS
        draw = (-self.actual_kwh[:, first : first + SLOTS] / self.slot_hours).T  # slots x hh
        columns = [draw[:, i] for i in range(len(self.households))]
        members: dict[str, FlexHousehold] = {
            h.id: FlexHousehold(
                member=h.id,
                bus=h.bus,
                load_kw=columns[i].copy(),
                ev_kw=np.zeros(SLOTS),
                battery_kwh=None,
            )
            for i, h in enumerate(self.households)
        }
        if self.battery is not None:
            members[COMMUNITY] = self.battery
            columns.append(np.zeros(SLOTS))
        p = np.array(columns).T
        before = self.screen.run(p)
        congestions = self.screen.screen(p, before)
        self.figures.seconds["screening"] += time.perf_counter() - started
        started = time.perf_counter()
        assets = DayAssets(self.flex_settings, members)
        market = run_flex_day(
            congestions,
            assets,
            max_price=self.flex_settings.max_price,
            penalty_rate=self.flex_settings.penalty_rate,
            slot_hours=self.slot_hours,
            ledger=self.flex,
        )
        f = self.figures
        f.flex_needs += len(market.needs)
        f.flex_bought_kwh += market.bought_kwh
        f.flex_delivered_kwh += market.delivered_kwh
        f.flex_cost += market.cost
        f.flex_penalties += market.penalties
        if self.battery is not None:
            self._dividends()
        f.seconds["ledger"] += time.perf_counter() - started
        started = time.perf_counter()
        slots = sorted({c.slot for c in congestions})
        if slots:
            after = p.copy()
            column = {m: k for k, m in enumerate(members)}
            for (slot, member), kw in assets.done_kw.items():
                after[slot, column[member]] += kw
            checks = self.screen.check.check_many(after[slots])
            f.congested_slots_before += len(slots)
            f.congested_slots_after += sum(1 for c in checks if not c.passed)
        f.seconds["screening"] += time.perf_counter() - started

    def _dividends(self) -> None:
        """The battery's net revenue of the day, withdrawn, distributed and claimed."""
        assert self.flex is not None and self.sale is not None
        ledger, operator = self.flex.ledger, self.flex.accounts[COMMUNITY]
        earned = ledger.balance_of(operator) - FLEX_COLLATERAL_MICRO
        if earned <= 0:
            return
        ledger.withdraw(operator, earned)
        self.sale.distribute(earned)
        self.figures.battery_revenue += earned / MICRO
        for member in self.allocation:
            account = self.account[member]
            if self.sale.claimable(account) > 0:
                before = self.sale.token_balance(account)
                self.sale.claim(account)
                self.figures.dividends_paid += (self.sale.token_balance(account) - before) / MICRO

    # --- the figures ------------------------------------------------------------------------

    def money_conserved(self) -> bool:
        """Every market's book equals the tokens it holds, and the token's supply is where it
        should be: in the accounts and the contracts of the run."""
        balance = self._token_balance
        ok = True
        holders = [self.issuer, self.operator, self.dso, self.meter, *self.account.values()]
        if self.flex is not None:
            ledger = self.flex.ledger
            ok &= ledger.total_balance() == balance(ledger.market.address)
            holders += [ledger.market.address, *self.flex.accounts.values()]
        if self.otc is not None:
            ok &= self.otc.total_balance() == self.otc.token_balance_of_market()
            holders.append(self.otc.address)
        if self.sale is not None:
            holders.append(self.sale.sale.address)
        ok &= sum(balance(a) for a in set(holders)) == SUPPLY_MICRO
        return bool(ok)

    def _token_balance(self, account: str) -> int:
        return int(self.chain.call(self.token, "balanceOf", account))

    def summary(self) -> dict[str, Any]:
        """The ``summary.json`` figures of the services (see docs/systems/s10.md, "In a run")."""
        f = self.figures
        issued, cancelled, _ = self.registry.totals() if self.registry else (0, 0, 0)
        log = self.chain.gas_log
        return {
            "certificates_issued": int(issued),
            "certificates_cancelled": int(cancelled),
            "otc_kwh": f.otc_wh / 1000,
            "flexibility_kwh": f.flex_delivered_kwh,
            "dividends_paid": f.dividends_paid,
            "services_certificate_producers": len(self.device),
            "services_metered_pv_wh": f.metered_pv_wh,
            "services_otc_contracts": f.otc_contracts,
            "services_otc_refused": f.otc_refused,
            "services_otc_paid": f.otc_paid,
            "services_flexibility_needs": f.flex_needs,
            "services_flexibility_bought_kwh": f.flex_bought_kwh,
            "services_flexibility_cost": f.flex_cost,
            "services_flexibility_penalties": f.flex_penalties,
            "services_congested_slots_before": f.congested_slots_before,
            "services_congested_slots_after": f.congested_slots_after,
            "services_battery_raised": f.raised,
            "services_battery_revenue": f.battery_revenue,
            "services_money_conserved": self.money_conserved(),
            "services_transactions": len(log),
            "services_gas_used": log.total,
            "services_ledger_s": f.seconds["ledger"],
            "services_screening_s": f.seconds["screening"],
        }
