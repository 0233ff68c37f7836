"""Fixtures for the ledger tests.

The compile cache goes to a temporary folder for the whole session, so the tests never read or
write the user's cache.

Backends. ``community`` is parametrised over both chain backends: ``embedded`` (in process) and
``rpc`` (an :class:`~peergrid.ledger.chain.rpc.RpcChain` on a local anvil node, marked
``slow``). The anvil node (``anvil_node``) starts once per test session, on 127.0.0.1 and a
port anvil picks, only if a test asks for it, and is stopped at the end of the session. Every
rpc test gets fresh accounts funded from anvil's first dev account, so the tests do not see each
other's state.
A test that only makes sense on the embedded chain (deterministic addresses, titanoboa) uses
``chain`` or ``make_community`` directly, which stay embedded.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from peergrid.ledger import Chain, CommunityLedger, EmbeddedChain
from peergrid.ledger.chain.anvil import ANVIL_DEV_KEYS, AnvilProcess, start_anvil
from peergrid.ledger.chain.compile import CACHE_ENV_VAR

from .helpers import FUNDS_MICRO, N_MEMBERS, SUPPLY_MICRO, Community, make_community

if TYPE_CHECKING:  # web3.py is imported only by the tests that use the rpc backend
    from peergrid.ledger.chain.rpc import RpcChain

BACKENDS = ["embedded", pytest.param("rpc", marks=pytest.mark.slow)]


@pytest.fixture(autouse=True, scope="session")
def _session_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(CACHE_ENV_VAR, str(tmp_path_factory.mktemp("contract-cache")))
        yield


@pytest.fixture(scope="session")
def anvil_node() -> Iterator[AnvilProcess]:
    """One anvil node for the session (127.0.0.1, a free port), stopped at the end."""
    node = start_anvil()
    try:
        yield node
    finally:
        node.close()
        assert not node.running


@pytest.fixture
def rpc_chain(anvil_node: AnvilProcess) -> Iterator[RpcChain]:
    """An RpcChain on the session's anvil whose new accounts are fresh funded keys."""
    from peergrid.ledger.chain.rpc import RpcChain

    with RpcChain(anvil_node.url, funder=ANVIL_DEV_KEYS[0]) as chain:
        yield chain


@pytest.fixture(params=BACKENDS)
def backend_chain(request: pytest.FixtureRequest) -> Chain:
    """A fresh chain of each backend."""
    if request.param == "embedded":
        return EmbeddedChain()
    chain: RpcChain = request.getfixturevalue("rpc_chain")
    return chain


def make_community_on(
    chain: Chain,
    n_members: int = N_MEMBERS,
    deposit_micro: int = FUNDS_MICRO,
    fund_micro: int = FUNDS_MICRO,
) -> Community:
    """``helpers.make_community`` on any chain: the same calls in the same order."""
    operator = chain.new_account("operator")
    dso = chain.new_account("dso")
    issuer = chain.new_account("issuer")
    ledger = CommunityLedger.deploy(
        chain, operator=operator, dso=dso, issuer=issuer, supply_micro=SUPPLY_MICRO
    )
    members = [chain.new_account(f"member{i}") for i in range(n_members)]
    ledger.register_members(members)
    for member in members:
        if fund_micro:
            ledger.fund(member, fund_micro)
        if deposit_micro:
            ledger.deposit(member, deposit_micro)
    outsider = chain.new_account("outsider")
    # Community.chain is typed EmbeddedChain in helpers; any Chain behaves the same here.
    return Community(chain, ledger, operator, dso, issuer, members, outsider)


@pytest.fixture(params=BACKENDS)
def community(request: pytest.FixtureRequest) -> Community:
    """A deployed community with ``N_MEMBERS`` funded members, on each backend."""
    if request.param == "embedded":
        return make_community()
    return make_community_on(request.getfixturevalue("rpc_chain"))


@pytest.fixture
def chain() -> EmbeddedChain:
    return EmbeddedChain()
