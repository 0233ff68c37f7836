"""A small JSON-RPC client over one kept-alive HTTP connection, with batches.

The managed anvil backend sends hundreds of requests per slot; web3.py's provider spends more
time per request than a local node takes to answer it, so this client speaks JSON-RPC with the
standard library only (``http.client`` and ``json``). :meth:`JsonRpcClient.batch` sends many
requests in one HTTP round trip. A node answers the requests of one batch concurrently: their
order of execution is not the order of the batch, so only independent requests go together.
"""

from __future__ import annotations

import base64
import http.client
import json
import socket
import threading
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import unquote, urlsplit

from peergrid.ledger.chain.abi import Log, checksum_address, revert_reason
from peergrid.ledger.chain.base import Mined
from peergrid.ledger.chain.journal import NodeError, NodeUnreachable

Request = tuple[str, Sequence[Any]]
"""One request: ``(method, params)``."""


class JsonRpcClient:
    """JSON-RPC over HTTP(S) to ``url``; one connection, reopened if the node drops it.

    A kept-alive connection the node has closed (it restarted) fails once, then the request is
    sent once more on a fresh connection, as an HTTP library's connection pool does.
    """

    def __init__(self, url: str, *, timeout: float = 60.0) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or parts.hostname is None:
            raise ValueError(f"expected an http:// or https:// url, got {url!r}")
        self.url = url
        self._https = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port or (443 if self._https else 80)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        host, _, userinfo = parts.netloc.rpartition("@")[::-1]
        auth = ""
        if userinfo:  # http://user:password@host/ as an HTTP library reads it
            auth = (
                f"Authorization: Basic {base64.b64encode(unquote(userinfo).encode()).decode()}\r\n"
            )
        self._head = (
            f"POST {path} HTTP/1.1\r\nHost: {host}\r\n{auth}"
            "Content-Type: application/json\r\nContent-Length: "
        ).encode()
        self._timeout = timeout
        self._conn: http.client.HTTPConnection | None = None
        self._lock = threading.Lock()  # one connection: one request on it at a time

    def _post(self, body: bytes) -> Any:
        with self._lock:
            return self._exchange(body)

    def _exchange(self, body: bytes) -> Any:
        for attempt in (1, 2):
            fresh = self._conn is None
            conn = self._connect() if self._conn is None else self._conn
            response: http.client.HTTPResponse | None = None
            try:
                # Headers and body in one write: http.client writes them apart, and a small
                # second write waits for the node's delayed ACK (Nagle), or costs a syscall.
                assert conn.sock is not None
                conn.sock.sendall(self._head + b"%d\r\n\r\n" % len(body) + body)
                response = http.client.HTTPResponse(conn.sock)
                response.begin()
                raw = response.read()
                if response.will_close:
                    self.close()
                return json.loads(raw)
            except (OSError, http.client.HTTPException, ValueError) as exc:
                # The response holds a file on the socket: the socket only closes with both.
                if response is not None:
                    response.close()
                self.close()
                # A kept-alive connection the node closed fails once; a fresh one tells.
                if fresh or attempt == 2 or isinstance(exc, ValueError | TimeoutError):
                    raise NodeUnreachable(f"{type(exc).__name__}: {exc}") from exc
        raise AssertionError("unreachable")  # pragma: no cover

    def _connect(self) -> http.client.HTTPConnection:
        kind = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
        conn = kind(self._host, self._port, timeout=self._timeout)
        try:
            conn.connect()
            assert conn.sock is not None
            conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError as exc:
            conn.close()
            raise NodeUnreachable(f"{type(exc).__name__}: {exc}") from exc
        self._conn = conn
        return conn

    def call(self, method: str, params: Sequence[Any] = ()) -> Any:
        """One request; a JSON-RPC error raises :class:`NodeError`."""
        body = json.dumps({"jsonrpc": "2.0", "id": 0, "method": method, "params": list(params)})
        return _result(self._post(body.encode()))

    def batch(self, requests: Sequence[Request]) -> list[Any]:
        """Many requests in one round trip: each one's result, or its :class:`NodeError`
        (returned, not raised, so that the caller sees which failed)."""
        if not requests:
            return []
        body = json.dumps(
            [
                {"jsonrpc": "2.0", "id": i, "method": method, "params": list(params)}
                for i, (method, params) in enumerate(requests)
            ]
        )
        answer = self._post(body.encode())
        if not isinstance(answer, list):
            # A node refuses a whole batch with one error object (e.g. a batch too large).
            _result(answer)
            raise NodeUnreachable(f"malformed batch answer: {str(answer)[:200]}")
        results: list[Any] = [None] * len(requests)
        for response in answer:
            try:
                results[int(response["id"])] = _result(response)
            except NodeError as exc:
                results[int(response["id"])] = exc
        return results

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def _result(response: Any) -> Any:
    if not isinstance(response, dict):
        raise NodeUnreachable(f"malformed answer: {str(response)[:200]}")
    error = response.get("error")
    if error is not None:
        if isinstance(error, dict):
            raise NodeError(
                int(error.get("code", 0)), str(error.get("message", "")), error.get("data")
            )
        raise NodeError(0, str(error), None)
    if "result" not in response:
        raise NodeUnreachable(f"malformed answer: {str(response)[:200]}")
    return response["result"]


def hex_bytes(value: str) -> bytes:
    """``0x``-prefixed hex (or bare hex) as bytes."""
    return bytes.fromhex(value[2:] if value.startswith(("0x", "0X")) else value)


def failure_reason(error: NodeError) -> str:
    """A node's refusal in the embedded chain's words: the decoded revert, OutOfGas, or
    rejected."""
    message = error.message
    lowered = message.lower()
    data = error.data
    if isinstance(data, dict):  # some nodes nest it: {"data": "0x..."}
        data = data.get("data")
    if error.code == 3 or "revert" in lowered:
        if isinstance(data, str):
            try:
                return revert_reason(hex_bytes(data))
            except ValueError:
                pass
        prefix = "execution reverted: "
        if lowered.startswith(prefix):
            return message[len(prefix) :]
        return revert_reason(b"")
    if "gas required exceeds" in lowered or "out of gas" in lowered:
        return f"OutOfGas: {message}"
    return f"transaction rejected: {message}"


def node_logs(entries: Sequence[Mapping[str, Any]]) -> tuple[Log, ...]:
    """The logs of a receipt, or of a simulated call, as the node states them."""
    return tuple(
        Log(
            address=checksum_address(log["address"]),
            topics=tuple(hex_bytes(t) for t in log["topics"]),
            data=hex_bytes(log["data"]),
        )
        for log in entries
    )


def mined_from_receipt(receipt: Mapping[str, Any], creates: bool) -> Mined:
    """A node's receipt as a :class:`~peergrid.ledger.chain.base.Mined`; ``creates``: the
    transaction deployed a contract, whose address the receipt states."""
    address = receipt.get("contractAddress") if creates else None
    return Mined(
        tx_hash=str(receipt["transactionHash"]),
        gas_used=int(receipt["gasUsed"], 16),
        logs=node_logs(receipt["logs"]),
        created=checksum_address(address) if address else None,
    )


def simulation_outcome(result: Mapping[str, Any]) -> tuple[str | None, int]:
    """One call of an ``eth_simulateV1`` block: its failure reason (None if it succeeded), in
    the embedded chain's words, and its gas used."""
    used = int(result["gasUsed"], 16)
    if int(result.get("status", "0x1"), 16) == 1:
        return None, used
    error = result.get("error") or {}
    message = str(error.get("message", "")) if isinstance(error, Mapping) else str(error)
    data = hex_bytes(str(result.get("returnData") or "0x"))
    if not data and "out of gas" in message.lower():
        return f"OutOfGas: {message}", used
    return revert_reason(data), used
