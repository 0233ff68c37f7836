"""What the market clients share: a settlement token, a market contract and its roles.

Every market contract (the sealed-bid batch market, the order book) embeds the consortium, the
escrow vault and the DSO's feeder map (``feeder_map.vy``: each member's network node and the
path length between nodes, in millimetres), so each client reaches them through the same
contract. The order book's NCDA takes the nearest offers on that map; the batch market charges
Score Matching's distance charge per matched pair from it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from peergrid.core.errors import LedgerError
from peergrid.ledger.chain.base import Chain, Contract, Receipt
from peergrid.ledger.chain.compile import compile_contract
from peergrid.ledger.chain.gas import GasLog
from peergrid.ledger.markets.consortium import ConsortiumClient
from peergrid.ledger.markets.escrow import Escrow

# Largest quantity an order or fill may carry in the order book (its MAX_QUANTITY_WH); the batch
# market's is smaller (``batch_market.MAX_QUANTITY_WH``).
MAX_QUANTITY_WH = 2**48 - 1

MAX_TABLE_ROWS = 256
"""Most node assignments or distances one DSO transaction carries (``feeder_map.vy``)."""

MAX_DISTANCE_MM = 2**64 - 2
UNKNOWN_DISTANCE = 2**256 - 1
"""What the contract's ``distance`` returns for a pair not on the map."""


@dataclass(frozen=True, slots=True)
class DistanceRow:
    """Path length between two network nodes, millimetres (symmetric)."""

    node_a: int
    node_b: int
    millimetres: int

    def as_tuple(self) -> tuple[int, int, int]:
        return (self.node_a, self.node_b, self.millimetres)


def millimetres(metres: float) -> int:
    """A path length in metres as the feeder map's integer millimetres (nearest)."""
    if not math.isfinite(metres) or metres < 0:
        raise LedgerError("millimetres", f"a distance must be finite and >= 0 m, got {metres!r}")
    value = round(metres * 1000.0)
    if value > MAX_DISTANCE_MM:
        raise LedgerError("millimetres", f"{metres!r} m is beyond the feeder map's range")
    return value


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

    @staticmethod
    def attach_contracts(
        chain: Chain, contract: str, *, token: str, market: str
    ) -> tuple[Contract, Contract]:
        """The settlement token and the market ``contract`` already deployed at ``token`` and
        ``market`` (addresses), for a client that starts after the deployment."""
        return (
            chain.at(compile_contract("SettlementToken"), token),
            chain.at(compile_contract(contract), market),
        )

    @property
    def gas_log(self) -> GasLog:
        return self.chain.gas_log

    # --- the DSO's feeder map --------------------------------------------------------------------

    def set_nodes(self, nodes: Mapping[str, int]) -> list[Receipt]:
        """Place members on network nodes (DSO), 256 to a transaction; node 0 is unknown."""
        return self._dso_table("set_nodes", list(nodes.items()))

    def set_distances(self, rows: Sequence[DistanceRow]) -> list[Receipt]:
        """Set path lengths between nodes, millimetres (DSO), 256 to a transaction."""
        return self._dso_table("set_distances", [r.as_tuple() for r in rows])

    def _dso_table(self, function: str, rows: Sequence[tuple[Any, ...]]) -> list[Receipt]:
        """The DSO sends ``rows`` to ``function``, 256 to a transaction."""
        return [
            self.chain.transact(
                self.dso, self.market, function, rows[start : start + MAX_TABLE_ROWS]
            )
            for start in range(0, len(rows), MAX_TABLE_ROWS)
        ]

    def distance(self, node_a: int, node_b: int) -> int:
        """Millimetres between two nodes (:data:`UNKNOWN_DISTANCE` if not on the map)."""
        return int(self.chain.call(self.market, "distance", node_a, node_b))

    def node_of(self, member: str) -> int:
        return int(self.chain.call(self.market, "node_of", member))

    def member_distance(self, member_a: str, member_b: str) -> int:
        """Millimetres between two members' nodes (:data:`UNKNOWN_DISTANCE` if not mapped)."""
        return self.distance(self.node_of(member_a), self.node_of(member_b))
