"""The managed anvil backend: its node's life, and gas equal to the embedded chain's to the unit.

Both backends make accounts at the same addresses, so the same calls carry the same calldata:
every figure of the gas table (deployments, transfers, the community's settlements, the batch
market's commits, reveals, clearings and readings over cold and warm slots, withdrawals with
their refunds, the order book) and a transaction priced by the EIP-7623 calldata floor must be
equal, not merely close.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from peergrid.bench.gas import gas_table
from peergrid.core.errors import LedgerError
from peergrid.ledger import EmbeddedChain, open_chain
from peergrid.ledger.chain.anvil import ANVIL_ENV_VAR, AnvilError, find_anvil

try:
    BINARY = find_anvil()
except AnvilError:  # pragma: no cover - an installation without npm
    pytest.skip("no anvil binary (npm ci)", allow_module_level=True)

from peergrid.ledger.chain.managed import ManagedAnvilChain

pytestmark = pytest.mark.slow


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_open_chain_anvil_starts_a_private_node_and_close_stops_it() -> None:
    chain = open_chain("anvil")
    assert isinstance(chain, ManagedAnvilChain)
    pid, log = chain.node.pid, chain.node.log_path
    assert pid is not None and chain.node.running
    assert chain.url.startswith("http://127.0.0.1:")
    assert chain.chain_id == 31337
    chain.close()
    assert gone(pid) and not log.exists()
    chain.close()  # twice is harmless


def test_auto_is_the_managed_anvil_where_found_else_the_embedded_chain(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(ANVIL_ENV_VAR, str(BINARY))
    with open_chain("auto") as chain:
        assert isinstance(chain, ManagedAnvilChain)
    monkeypatch.setenv(ANVIL_ENV_VAR, str(tmp_path / "no-anvil"))
    with open_chain("auto") as chain:
        assert isinstance(chain, EmbeddedChain)
    with pytest.raises(AnvilError):
        open_chain("anvil")
    with pytest.raises(LedgerError, match="takes no url"):
        open_chain("anvil", "http://127.0.0.1:1")


def test_every_figure_of_the_gas_table_is_the_embedded_chain_s() -> None:
    embedded = gas_table(EmbeddedChain())
    with ManagedAnvilChain() as chain:
        on_anvil = gas_table(chain)
    assert on_anvil["chain"]["backend"] == "ManagedAnvilChain"
    assert on_anvil["functions"] == embedded["functions"]
    assert on_anvil["not_measured"] == embedded["not_measured"]


def test_the_calldata_floor_and_a_transfer_cost_the_same() -> None:
    # Calldata to an account without code: no execution, so EIP-7623's floor (10 gas per
    # token) sets the price; a value-less call with execution is priced as usual.
    data = bytes(range(256)) * 4 + bytes(300)
    gas = []
    for chain in (EmbeddedChain(), ManagedAnvilChain()):
        with chain:
            sender, target = chain.new_account("sender"), chain.new_account("target")
            gas.append(chain._execute(sender, target, data, "floor").gas_used)
    tokens = sum(4 if b else 1 for b in data)
    assert gas[0] == gas[1] == 21_000 + 10 * tokens


def test_no_block_hash_history_is_stored_and_blockhash_still_answers() -> None:
    from peergrid.ledger.chain.managed import HISTORY_STORAGE_ADDRESS

    with ManagedAnvilChain() as chain:
        client = chain._client
        for _ in range(5):
            client.call("evm_mine")
        assert client.call("eth_getCode", [HISTORY_STORAGE_ADDRESS, "latest"]) == "0x"
        for slot in range(6):
            word = client.call("eth_getStorageAt", [HISTORY_STORAGE_ADDRESS, hex(slot), "latest"])
            assert int(word, 16) == 0
        # Init code that returns BLOCKHASH(NUMBER - 1): the parent's hash, from the node itself.
        parent = client.call(
            "eth_call", [{"data": "0x436001900340600052602060" + "00f3"}, "latest"]
        )
        assert parent == client.call("eth_getBlockByNumber", ["0x4", False])["hash"]
