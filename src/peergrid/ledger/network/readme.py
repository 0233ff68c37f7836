"""The README.md written beside a generated network: the steps, with the exact commands."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

README = """\
# A peergrid consortium ledger: {validators} Besu QBFT validators

Chain id {chain_id}; a block every {block_period_s} s (a round changes after
{request_timeout_s} s without one). Funded in the genesis: {members} member account(s) and four
role accounts (operator, dso, issuer, meter). Gas is free (`zeroBaseFee`; the nodes run with
`--min-gas-price=0`). QBFT tolerates {fault_tolerance} faulty validator(s) of {validators}
(f = floor((N - 1) / 3)): four is the smallest network that survives one.

## Files

- `genesis.json`: the chain; `extraData` lists the validators (RLP, as
  `besu rlp encode --type=QBFT_EXTRA_DATA` writes it).
- `node-<i>/key`, `node-<i>/key.pub`: validator i's node key (private: give each folder only to
  the validator that runs it); each node's data path.
- `static-nodes.json`: the validators' enode URLs on the compose network.
- `docker-compose.yml`: one `{image}` container per validator; JSON-RPC of node 1 on
  {rpc_url} only.
- `accounts.json`: public: chain id, validator addresses and enodes, role and member addresses.
- `keys/roles.json`: private: the role keys that `peergrid deploy --keys` signs with.
- `keys/member-<j>.key`: private: member j's account key, to hand to that member.

## Steps

1. Start the validators (Docker with the compose plugin). The containers run as uid 1000; if
   yours differs, let them write their folders first: `sudo chown -R 1000 node-*`.

       docker compose up -d

2. Check that blocks come and the validators are the ones in the genesis:

       curl -s -H 'content-type: application/json' {rpc_url} -d \\
       '{{"jsonrpc":"2.0","id":1,"method":"qbft_getValidatorsByBlockNumber","params":["latest"]}}'

3. Put the contracts on it (the settlement token and the batch market; `--market community`
   for the Community contract):

       peergrid deploy --rpc {rpc_url} --keys keys/roles.json --out-file deployment.json

   `deployment.json` holds the contract and role addresses, no private key; later commands
   read it.

4. Hand `keys/member-<j>.key` to member j (or replace the member addresses with keys the members
   made themselves before the first start: the genesis funds whatever `alloc` lists).

5. Stop: `docker compose down` (the chain stays in `node-<i>/`); start again with step 1.

Running the validators on separate machines: copy `genesis.json`, `static-nodes.json` and one
`node-<i>` folder to each, and replace the 172.16.239.x addresses in `static-nodes.json` (and
`--p2p-host`) with the machines' addresses; port 30303 (TCP and UDP) must be open between them.

## What was checked, and what was not

Checked by peergrid's tests: the `extraData` encoding against Besu's own test vectors
(byte for byte), node addresses and enode keys against an independent implementation
(eth_keys), the genesis fields, this compose file's structure, and the contracts and
`peergrid deploy` over JSON-RPC on anvil. Not run by those tests: Besu itself (no container
runtime there). The first `docker compose up` is the first time Besu reads these files.
"""


def network_readme(summary: Mapping[str, Any]) -> str:
    """The README for a network described by ``summary`` (see ``kit.network_summary``)."""
    return README.format(**summary)
