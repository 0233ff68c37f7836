"""A consortium network for the ledger: Besu QBFT validators, their keys and genesis.

``peergrid chain consortium init`` calls :func:`~peergrid.ledger.network.kit.write_network`.
The modules, each with one job: :mod:`.node_keys` (secp256k1 keys, addresses, enode URLs, Besu's
key files), :mod:`.qbft` (the ``extraData`` codec), :mod:`.genesis` (the genesis document),
:mod:`.compose` (the docker-compose file and the nodes' addresses), :mod:`.readme` and
:mod:`.kit` (the folder).
"""

from peergrid.ledger.network.kit import NetworkSpec, generate_network, write_network
from peergrid.ledger.network.qbft import QbftExtraData, genesis_extra_data

__all__ = [
    "NetworkSpec",
    "QbftExtraData",
    "generate_network",
    "genesis_extra_data",
    "write_network",
]
