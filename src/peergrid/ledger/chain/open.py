"""Open a chain by backend name: the embedded chain, a managed anvil, or a node over JSON-RPC.

The backends do not import this module; it imports them (the JSON-RPC one only when asked for,
so the embedded chain does not need eth-account).

``"auto"`` is the fastest backend this installation has: the managed anvil when an anvil binary
is found (:func:`~peergrid.ledger.chain.anvil.find_anvil`: ``npm ci`` in the repository, or
``$PEERGRID_ANVIL``), else the embedded chain (a ``pip install peergrid`` without npm).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Final

from peergrid.core.errors import LedgerError
from peergrid.ledger.chain.base import Chain
from peergrid.ledger.chain.embedded import EmbeddedChain

if TYPE_CHECKING:
    from peergrid.ledger.chain.rpc import RpcChain

BACKENDS: Final = ("embedded", "rpc", "anvil", "auto")
"""The names :func:`open_chain` takes."""


def open_chain(
    backend: str = "embedded",
    url: str | None = None,
    *,
    accounts: Sequence[str] | None = None,
    funder: str | None = None,
    **options: Any,
) -> Chain:
    """A chain by backend name: ``"embedded"`` (in process, the default), ``"rpc"`` (a node at
    ``url``), ``"anvil"`` (a private anvil node started here and stopped by ``close()``:
    :class:`~peergrid.ledger.chain.managed.ManagedAnvilChain`) or ``"auto"`` (``"anvil"`` where
    the binary is found, else ``"embedded"``).

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
    if backend in ("anvil", "auto"):
        if url is not None or accounts is not None or funder is not None:
            raise LedgerError(
                "open_chain", f"the {backend} backend takes no url, accounts or funder"
            )
        return _open_managed(backend, options)
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


def _open_managed(backend: str, options: dict[str, Any]) -> Chain:
    from peergrid.ledger.chain.anvil import AnvilError, find_anvil
    from peergrid.ledger.chain.managed import ManagedAnvilChain

    try:
        binary = options.pop("binary", None) or find_anvil()
    except AnvilError:
        if backend == "anvil":
            raise
        return EmbeddedChain(**options)
    return ManagedAnvilChain(binary=binary, **options)
