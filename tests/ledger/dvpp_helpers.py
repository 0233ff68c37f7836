"""A deployed DVPP community for the tests: households admitted, funded and registered."""

from __future__ import annotations

from dataclasses import dataclass, field

from peergrid.ledger import EmbeddedChain
from peergrid.ledger.markets.consortium import Role
from peergrid.ledger.markets.dvpp import DvppLedger, Parameters, Rating, Report
from peergrid.ledger.markets.dvpp_meters import DvppMeters

SUPPLY_MICRO = 10**13
FUNDS_MICRO = 10**8
DEPOSIT_MICRO = 10**6
RATING = Rating(p_opt_discharge_w=3000, p_opt_charge_w=3000, p_max_w=50_000)
"""The published code's node: P_opt 3 kW each way, a 50 kW grid connection (digest B.11)."""


@dataclass
class Dvpp:
    chain: EmbeddedChain
    ledger: DvppLedger
    operator: str
    dso: str
    issuer: str
    households: list[str]
    contractor: str
    others: list[str] = field(default_factory=list)
    meters: DvppMeters | None = None

    def accounts(self) -> list[str]:
        return [
            self.operator,
            self.dso,
            self.issuer,
            *self.households,
            self.contractor,
            *self.others,
        ]

    def money(self) -> tuple[int, int, int]:
        """(tokens of every account and the contract, tokens the contract holds, the internal
        balances' sum): the first is the supply, the other two equal, at every moment."""
        escrow = self.ledger.escrow
        held = escrow.held_tokens()
        tokens = sum(escrow.token_balance(a) for a in self.accounts()) + held
        return tokens, held, escrow.total_internal_balance()

    def state(self) -> tuple[object, ...]:
        """Everything a refused call must leave as it was."""
        ledger = self.ledger
        return (
            tuple(ledger.households()),
            tuple(ledger.household(a) for a in self.accounts()),
            tuple(ledger.balance_of(a) for a in self.accounts()),
            tuple(ledger.escrow.locked_of(a) for a in self.accounts()),
            ledger.flexibility(),
            ledger.p_max_mw(),
            ledger.price_flexibility(),
            self.money(),
        )


def make_dvpp(
    n: int = 3,
    *,
    parameters: Parameters | None = None,
    ratings: list[Rating] | None = None,
    reports: list[Report] | None = None,
    deposit_micro: int = DEPOSIT_MICRO,
    end_bootstrap: bool = False,
    meters: bool = False,
) -> Dvpp:
    """``n`` households admitted during the bootstrap, funded and registered in interval 0;
    ``meters``: the DVPP is deployed with a meters contract (``Dvpp.meters`` holds it)."""
    chain = EmbeddedChain()
    operator, dso, issuer = (chain.new_account(x) for x in ("operator", "dso", "issuer"))
    settings = dict(
        operator=operator,
        dso=dso,
        issuer=issuer,
        supply_micro=SUPPLY_MICRO,
        parameters=parameters,
    )
    relay: DvppMeters | None = None
    if meters:
        relay = DvppMeters.deploy(chain, **settings)  # type: ignore[arg-type]
        ledger = relay.ledger
    else:
        ledger = DvppLedger.deploy(chain, **settings)  # type: ignore[arg-type]
    households = [chain.new_account(f"household{i}") for i in range(n)]
    contractor = chain.new_account("contractor")
    if households:
        ledger.consortium.bootstrap({h: Role.PROSUMER for h in households})
    if end_bootstrap:
        ledger.consortium.end_bootstrap()
    for i, h in enumerate(households):
        ledger.fund(h, FUNDS_MICRO)
        rating = ratings[i] if ratings else RATING
        report = reports[i] if reports else Report(0.5, 0.0)
        ledger.register(h, rating, report, deposit_micro)
    ledger.fund(contractor, FUNDS_MICRO)
    return Dvpp(chain, ledger, operator, dso, issuer, households, contractor, meters=relay)
