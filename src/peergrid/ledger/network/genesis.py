"""The genesis file of a Besu QBFT network on which the ledger's contracts run.

Forks: every fork up to Cancun is active from block 0 (``berlinBlock``/``londonBlock`` 0,
``shanghaiTime``/``cancunTime`` 0), because the contracts are compiled for the ``cancun`` EVM
(:data:`~peergrid.ledger.chain.compile.EVM_VERSION`: ``PUSH0`` needs Shanghai, ``MCOPY`` and
transient storage need Cancun). Cancun's blob parameters are written out (``blobSchedule``) so
that the file does not depend on a client's defaults. No ``terminalTotalDifficulty``: the chain
never merges, QBFT seals every block.

Gas: ``zeroBaseFee`` is set, so the base fee stays 0 (Besu's free-gas network; the nodes run with
``--min-gas-price=0``). A consortium's members do not buy ether to settle energy; gas still
bounds each transaction and every account in ``alloc`` is funded anyway, so turning prices on
later (a transition) needs no new balances.

``mixHash`` is the constant every Besu BFT chain uses (the ASCII bytes of "ctical byzantine
fault tolerance"), ``difficulty`` 1, ``coinbase`` zero, ``extraData`` the validators
(:func:`~peergrid.ledger.network.qbft.genesis_extra_data`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from peergrid.core.errors import LedgerError
from peergrid.ledger.network.qbft import genesis_extra_data

BFT_MIX_HASH = "0x63746963616c2062797a616e74696e65206661756c7420746f6c6572616e6365"
"""The ``mixHash`` Besu requires of IBFT 2.0 and QBFT genesis blocks."""

BLOCK_GAS_LIMIT = 30_000_000
"""Gas per block: room for the largest transaction (2**24, EIP-7825's cap) and then some."""

DEFAULT_BALANCE_WEI = 10**24
"""What each funded account starts with: a million ether, never spent on a free-gas network."""

CANCUN_BLOB_SCHEDULE = {"target": 3, "max": 6, "baseFeeUpdateFraction": 3338477}
"""EIP-4844's blob parameters, as mainnet's Cancun set them."""

_BLOCK_FORKS = (
    "homesteadBlock",
    "eip150Block",
    "eip155Block",
    "eip158Block",
    "byzantiumBlock",
    "constantinopleBlock",
    "petersburgBlock",
    "istanbulBlock",
    "muirGlacierBlock",
    "berlinBlock",
    "londonBlock",
)
_TIME_FORKS = ("shanghaiTime", "cancunTime")


@dataclass(frozen=True, slots=True)
class QbftParameters:
    """The ``config.qbft`` object: seconds per block, blocks per epoch (votes are reset),
    seconds before a round changes when no block comes."""

    block_period_s: int = 2
    epoch_length: int = 30_000
    request_timeout_s: int = 10

    def __post_init__(self) -> None:
        if not 1 <= self.block_period_s <= 3600:
            raise LedgerError(
                "genesis", f"the block period must be 1 to 3600 s, got {self.block_period_s}"
            )
        if self.epoch_length < 1:
            raise LedgerError("genesis", f"the epoch length must be >= 1, got {self.epoch_length}")
        if self.request_timeout_s <= self.block_period_s:
            # Besu starts a round change when the timeout passes: below the block period every
            # round would time out before its block is due.
            raise LedgerError(
                "genesis",
                f"the request timeout ({self.request_timeout_s} s) must exceed the block period "
                f"({self.block_period_s} s)",
            )

    def to_json(self) -> dict[str, int]:
        return {
            "blockperiodseconds": self.block_period_s,
            "epochlength": self.epoch_length,
            "requesttimeoutseconds": self.request_timeout_s,
        }


MAX_CHAIN_ID = 2**53 - 1
"""Largest chain id wallets and JSON handle exactly (EIP-2294's bound)."""


def qbft_genesis(
    chain_id: int,
    validators: Sequence[str],
    balances: Mapping[str, int],
    *,
    qbft: QbftParameters | None = None,
    timestamp: int = 0,
) -> dict[str, Any]:
    """The genesis document: ``validators`` (addresses) sealing, ``balances`` (address -> wei)
    funded in ``alloc``."""
    check_chain_id(chain_id)
    params = qbft or QbftParameters()
    config: dict[str, Any] = {"chainId": chain_id}
    config.update(dict.fromkeys(_BLOCK_FORKS, 0))
    config.update(dict.fromkeys(_TIME_FORKS, 0))
    config["blobSchedule"] = {"cancun": dict(CANCUN_BLOB_SCHEDULE)}
    config["zeroBaseFee"] = True
    config["qbft"] = params.to_json()
    alloc = {}
    for address, wei in balances.items():
        if wei < 0:
            raise LedgerError("genesis", f"a balance cannot be negative ({address}: {wei})")
        alloc[address.removeprefix("0x").lower()] = {"balance": hex(wei)}
    return {
        "config": config,
        "nonce": "0x0",
        "timestamp": hex(timestamp),
        "gasLimit": hex(BLOCK_GAS_LIMIT),
        "difficulty": "0x1",
        "mixHash": BFT_MIX_HASH,
        "coinbase": "0x" + "00" * 20,
        "alloc": alloc,
        "extraData": genesis_extra_data(validators),
        "number": "0x0",
        "gasUsed": "0x0",
        "parentHash": "0x" + "00" * 32,
    }


def check_chain_id(chain_id: int) -> int:
    """``chain_id`` if it is a positive integer up to :data:`MAX_CHAIN_ID`."""
    if (
        isinstance(chain_id, bool)
        or not isinstance(chain_id, int)
        or not 1 <= chain_id <= MAX_CHAIN_ID
    ):
        raise LedgerError("genesis", f"the chain id must be 1 to {MAX_CHAIN_ID}, got {chain_id}")
    return chain_id
