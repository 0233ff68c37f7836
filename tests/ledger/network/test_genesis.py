"""The genesis document: the forks the cancun-compiled contracts need, QBFT's settings, the
validators in extraData and the funded accounts, in the fields Besu reads."""

from __future__ import annotations

import pytest

from peergrid.core.errors import LedgerError
from peergrid.ledger.chain.compile import EVM_VERSION
from peergrid.ledger.network.genesis import (
    BFT_MIX_HASH,
    MAX_CHAIN_ID,
    QbftParameters,
    qbft_genesis,
)
from peergrid.ledger.network.node_keys import KeyPair
from peergrid.ledger.network.qbft import QbftExtraData


def test_genesis_fields() -> None:
    validators = [KeyPair.generate() for _ in range(4)]
    funded = {KeyPair.generate().address: 10**24, KeyPair.generate().address: 5}
    genesis = qbft_genesis(
        1234,
        [v.address for v in validators],
        funded,
        qbft=QbftParameters(block_period_s=5, request_timeout_s=12),
        timestamp=0x5B3C3D18,
    )
    config = genesis["config"]
    assert config["chainId"] == 1234
    assert EVM_VERSION == "cancun"  # the genesis enables forks up to this one
    for fork in ("berlinBlock", "londonBlock", "shanghaiTime", "cancunTime"):
        assert config[fork] == 0
    assert "pragueTime" not in config and "terminalTotalDifficulty" not in config
    assert config["qbft"] == {
        "blockperiodseconds": 5,
        "epochlength": 30000,
        "requesttimeoutseconds": 12,
    }
    assert config["zeroBaseFee"] is True
    assert config["blobSchedule"]["cancun"] == {
        "target": 3,
        "max": 6,
        "baseFeeUpdateFraction": 3338477,
    }
    assert genesis["mixHash"] == BFT_MIX_HASH
    assert bytes.fromhex(BFT_MIX_HASH[2:]) == b"ctical byzantine fault tolerance"
    assert (genesis["difficulty"], genesis["timestamp"]) == ("0x1", "0x5b3c3d18")
    assert int(genesis["gasLimit"], 16) >= 2**24
    extra = QbftExtraData.decode(genesis["extraData"])
    assert extra.validators == tuple(v.address for v in validators)
    assert (extra.vote, extra.round, extra.seals, extra.vanity) == (None, 0, (), bytes(32))
    assert genesis["alloc"] == {
        address[2:].lower(): {"balance": hex(wei)} for address, wei in funded.items()
    }


@pytest.mark.parametrize("chain_id", [0, -1, MAX_CHAIN_ID + 1, True])
def test_bad_chain_ids_are_refused(chain_id: int) -> None:
    with pytest.raises(LedgerError, match="chain id"):
        qbft_genesis(chain_id, ["0x" + "11" * 20], {})


def test_bad_qbft_settings_are_refused() -> None:
    with pytest.raises(LedgerError, match="block period"):
        QbftParameters(block_period_s=0)
    with pytest.raises(LedgerError, match="must exceed the block period"):
        QbftParameters(block_period_s=10, request_timeout_s=10)
    with pytest.raises(LedgerError, match="epoch"):
        QbftParameters(epoch_length=0)
    with pytest.raises(LedgerError, match="negative"):
        qbft_genesis(1, ["0x" + "11" * 20], {"0x" + "22" * 20: -1})
