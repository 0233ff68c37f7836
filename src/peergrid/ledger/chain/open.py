"""Open a chain by backend name: the embedded chain or a node over JSON-RPC.

The backends do not import this module; it imports them (the JSON-RPC one only when asked for,
so the embedded chain does not need web3.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Final

from peergrid.core.errors import LedgerError
from peergrid.ledger.chain.base import Chain
from peergrid.ledger.chain.embedded import EmbeddedChain

if TYPE_CHECKING:
    from peergrid.ledger.chain.rpc import RpcChain

BACKENDS: Final = ("embedded", "rpc")
"""The names :func:`open_chain` takes."""


def open_chain(
    backend: str = "embedded",
    url: str | None = None,
    *,
    accounts: Sequence[str] | None = None,
    funder: str | None = None,
    **options: Any,
) -> Chain:
    """A chain by backend name: ``"embedded"`` (in process, the default) or ``"rpc"`` (``url``).

    For ``"rpc"``, ``accounts`` are the private keys :meth:`Chain.new_account` hands out and
    ``funder`` the key that funds fresh accounts (see
    :class:`~peergrid.ledger.chain.rpc.RpcChain`). When neither is given and the node is anvil,
    its public dev keys are used: dev account 0 funds, dev accounts 1–9 are handed out first (so
    a deployment's roles on a dev node have keys that later commands can use), fresh funded keys
    after them. ``options`` go to the backend's constructor (e.g. ``tx_gas_limit``,
    ``reconnect_timeout``).
    """
    if backend == "embedded":
        if url is not None or accounts is not None or funder is not None:
            raise LedgerError("open_chain", "the embedded chain takes no url, accounts or funder")
        return EmbeddedChain(**options)
    if backend == "rpc":
        if not url:
            raise LedgerError("open_chain", "the rpc backend needs the node's url")
        return _open_rpc(url, accounts, funder, options)
    raise LedgerError(
        "open_chain", f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}"
    )


def _open_rpc(
    url: str, accounts: Sequence[str] | None, funder: str | None, options: dict[str, Any]
) -> RpcChain:
    from peergrid.ledger.chain.rpc import RpcChain

    chain = RpcChain(url, accounts=accounts or (), funder=funder, **options)
    if accounts is None and funder is None and chain.is_anvil:
        from peergrid.ledger.chain.anvil import ANVIL_DEV_KEYS

        chain.close()
        chain = RpcChain(url, accounts=ANVIL_DEV_KEYS[1:], funder=ANVIL_DEV_KEYS[0], **options)
    return chain
