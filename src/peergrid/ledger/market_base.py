"""What the market clients share: a settlement token, a market contract and its roles.

Every market contract (the sealed-bid batch market, the order book) embeds the consortium and
the escrow vault, so each client reaches both through the same contract.
"""

from __future__ import annotations

from typing import Any

from peergrid.ledger.chain import Chain, Contract
from peergrid.ledger.compile import compile_contract
from peergrid.ledger.consortium import ConsortiumClient
from peergrid.ledger.escrow import Escrow
from peergrid.ledger.gas import GasLog

# Largest quantity an order or fill may carry in either market contract (their MAX_QUANTITY_WH).
MAX_QUANTITY_WH = 2**48 - 1


class MarketLedger:
    """The settlement token and one market contract on one chain, with its roles."""

    def __init__(
        self,
        chain: Chain,
        token: Contract,
        market: Contract,
        *,
        operator: str,
        dso: str,
        issuer: str,
    ) -> None:
        self.chain = chain
        self.token = token
        self.market = market
        self.operator = operator
        self.dso = dso
        self.consortium = ConsortiumClient(chain, market, operator=operator)
        self.escrow = Escrow(chain, market, token, issuer=issuer)

    @staticmethod
    def deploy_contracts(
        chain: Chain,
        contract: str,
        *,
        operator: str,
        issuer: str,
        supply_micro: int,
        token: Contract | None,
        market_args: tuple[Any, ...],
    ) -> tuple[Contract, Contract]:
        """Deploy a settlement token (``supply_micro`` to ``issuer``) unless ``token`` is given,
        then the market ``contract`` with the token's address and ``market_args``."""
        if token is None:
            token = chain.deploy(
                issuer,
                compile_contract("SettlementToken"),
                "peergrid settlement token",
                "PGS",
                issuer,
                supply_micro,
            )
        market = chain.deploy(operator, compile_contract(contract), token.address, *market_args)
        return token, market

    @property
    def gas_log(self) -> GasLog:
        return self.chain.gas_log
