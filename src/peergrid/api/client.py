"""A client of the market service over HTTP (httpx): what an agent, a meter or the demo sends.

:class:`ServiceClient` reads ``GET /market`` (the EIP-712 domain, the clock, the members),
posts signed orders and readings, and reads with a signed access token. The bodies are signed
here with :func:`peergrid.api.auth.sign` over the types the service checks, so a body built by
:func:`order_body` or :func:`reading_body` is exactly what ``POST /orders`` and
``POST /readings`` take.

Every failure to talk to the service is a :class:`ServiceError` of one line: the service not
answering (naming the URL), or a refusal (the request, its status and the service's reason).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from eth_account import Account

from peergrid.api.auth import Domain, access_token, sign
from peergrid.core.errors import PeergridError

TOKEN_LIFETIME_S = 600
"""How long a read token the client signs is valid; a new one is signed a minute before."""


class ServiceError(PeergridError):
    """The service did not answer, or refused a request (:attr:`status`, 0 when unreachable)."""

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Signer:
    """A holder's private key (hex) and its address."""

    key: str
    address: str

    @classmethod
    def of(cls, key: str) -> Signer:
        return cls(key, Account.from_key(key).address)


def read_key(path: Path) -> Signer:
    """The key in ``path`` (hex, as ``peergrid serve`` writes them in ``keys/``)."""
    try:
        text = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise PeergridError(f"--key {path}: cannot read the key file: {exc}") from exc
    digits = text.removeprefix("0x")
    if len(digits) != 64 or any(c not in "0123456789abcdefABCDEF" for c in digits):
        raise PeergridError(
            f"--key {path}: not a private key (64 hex digits, as in the service's keys/ folder)"
        )
    try:
        return Signer.of("0x" + digits)
    except ValueError as exc:  # a number outside the curve's order
        raise PeergridError(f"--key {path}: not a valid private key: {exc}") from exc


def order_body(
    domain: Domain,
    signer: Signer,
    *,
    slot: int,
    side: str,
    quantity_wh: int,
    price_micro_per_kwh: int,
    bus: str,
    nonce: int,
) -> dict[str, Any]:
    """A signed ``POST /orders`` body."""
    message = {
        "agent": signer.address,
        "slot": slot,
        "side": side,
        "quantityWh": quantity_wh,
        "priceMicroPerKwh": price_micro_per_kwh,
        "bus": bus,
        "nonce": nonce,
    }
    return {
        "agent": signer.address,
        "slot": slot,
        "side": side,
        "quantity_wh": quantity_wh,
        "price_micro_per_kwh": price_micro_per_kwh,
        "bus": bus,
        "nonce": nonce,
        "signature": sign(domain, "Order", message, signer.key),
    }


def reading_body(domain: Domain, meter: Signer, *, slot: int, net_wh: int) -> dict[str, Any]:
    """A signed ``POST /readings`` body: the household's net energy in ``slot`` (export +)."""
    message = {"meter": meter.address, "slot": slot, "netWh": net_wh}
    return {
        "meter": meter.address,
        "slot": slot,
        "net_wh": net_wh,
        "signature": sign(domain, "Reading", message, meter.key),
    }


class ServiceClient:
    """The service at ``url``; ``http`` is a client of one's own (e.g. FastAPI's TestClient,
    the service in process), closed with this one."""

    def __init__(
        self, url: str, *, timeout_s: float = 10.0, http: httpx.Client | None = None
    ) -> None:
        self.url = url.rstrip("/")
        self.http = http or httpx.Client(base_url=self.url, timeout=timeout_s)
        self._domain: Domain | None = None
        self._tokens: dict[str, tuple[int, str]] = {}

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> ServiceClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        """The JSON answer of a request; :class:`ServiceError` when it fails."""
        try:
            response = self.http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise ServiceError(
                f"the service at {self.url} does not answer ({type(exc).__name__}: {exc})"
            ) from exc
        if response.status_code >= 400:
            try:
                reason = response.json().get("detail", response.text)
            except ValueError:
                reason = response.text
            raise ServiceError(
                f"{method} {path}: {response.status_code} {reason}", response.status_code
            )
        return response.json() if response.content else None

    def market(self) -> dict[str, Any]:
        """``GET /market``: the domain, the clock now and the members."""
        info: dict[str, Any] = self.request("GET", "/market")
        if self._domain is None:
            self._domain = Domain(int(info["chain_id"]), str(info["verifying_contract"]))
        return info

    @property
    def domain(self) -> Domain:
        if self._domain is None:
            self.market()
        assert self._domain is not None
        return self._domain

    def post_order(self, body: dict[str, Any]) -> dict[str, Any]:
        answer: dict[str, Any] = self.request("POST", "/orders", json=body)
        return answer

    def post_reading(self, body: dict[str, Any]) -> dict[str, Any]:
        answer: dict[str, Any] = self.request("POST", "/readings", json=body)
        return answer

    def read(self, path: str, signer: Signer, **params: Any) -> Any:
        """A read with ``signer``'s access token (signed again before it runs out)."""
        now = int(time.time())
        expires, token = self._tokens.get(signer.address, (0, ""))
        if expires - now < 60:
            expires = now + TOKEN_LIFETIME_S
            token = access_token(self.domain, signer.key, expires)
            self._tokens[signer.address] = (expires, token)
        return self.request(
            "GET", path, params=params or None, headers={"Authorization": f"Peergrid {token}"}
        )
