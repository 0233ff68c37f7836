"""Read the chain's state after a run: every member's account and balance, the DSO's takings,
whether money was conserved, and the gas per contract function.

    python examples/read_chain_state.py --households 10

The run settles on a chain opened here (a private anvil when installed, else the in-process
EVM), so the contracts can still be read when the run is over.
"""

from __future__ import annotations

import argparse

import pandas as pd

import peergrid
from peergrid.core.units import from_micro
from peergrid.ledger import open_chain


def run_and_read(households: int, market: str) -> tuple[peergrid.Result, pd.DataFrame, dict]:
    """Run one day on a chain of our own; the members' balances and the chain's figures."""
    scenario = peergrid.Scenario().replace(
        households={"count": households}, ledger={"enabled": True, "market": market}
    )
    with open_chain("auto") as chain:
        result = peergrid.run(scenario, chain=chain)
        ledger = result.ledger
        assert ledger is not None
        balances = ledger.balances_micro()
        deposit = ledger.member_deposit_micro()
        members = pd.DataFrame(
            {
                "household": list(ledger.address_of),
                "account": list(ledger.address_of.values()),
                "balance": [from_micro(balances[h]) for h in ledger.address_of],
                "net_moved": [from_micro(balances[h] - deposit) for h in ledger.address_of],
            }
        )
        figures = {
            "chain": type(chain).__name__,
            "dso_balance": from_micro(ledger.dso_balance()),
            "money_conserved": ledger.money_conserved(),
            "transactions": len(chain.gas_log),
            "gas": {f"{g.contract}.{g.function}": g.total for g in chain.gas_log.summary()},
        }
    return result, members, figures


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--households", type=int, default=10)
    parser.add_argument("--market", choices=["batch", "community"], default="batch")
    args = parser.parse_args(argv)
    _, members, figures = run_and_read(args.households, args.market)
    print(members.to_string(index=False, float_format=lambda v: f"{v:.6f}"))
    print(f"settled on {figures['chain']}: {figures['transactions']} transactions")
    print(f"the DSO holds {figures['dso_balance']:.6f}")
    print(f"money conserved: {figures['money_conserved']}")
    for call, gas in figures["gas"].items():
        print(f"  {call}: {gas:,} gas")


if __name__ == "__main__":
    main()
