"""Signatures: EIP-712 typed data for orders, withdrawals, meter readings and read access.

Every message is signed over the domain ``{name: "peergrid", version: "1", chainId,
verifyingContract}``, where ``chainId`` is the chain's and ``verifyingContract`` the address of
the market contract (``GET /market`` gives both), so a signature for one market, or one chain,
is worth nothing on another. The signer is recovered with eth-account; the service then checks
that it is a member (orders, withdrawals, access), the member's meter (readings) or the DSO
(access). The types, written once here and printed in ``docs/service.md``:

* ``Order(address agent, uint256 slot, string side, uint256 quantityWh,
  uint256 priceMicroPerKwh, string bus, uint256 nonce)`` — the slot is signed, so a signature
  replayed with another slot recovers another address and is refused;
* ``Withdrawal(address agent, string orderId, uint256 nonce)``;
* ``Reading(address meter, uint256 slot, int256 netWh)`` — one reading per meter and slot;
* ``Access(address account, uint256 expires)`` — a read token: the header
  ``Authorization: Peergrid <account>:<expires>:<signature>``, valid until ``expires`` (Unix
  seconds), at most :data:`MAX_TOKEN_LIFETIME_S` ahead.

Nonces (orders and withdrawals share them) must increase strictly per signer.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from eth_utils import is_address, to_checksum_address

from peergrid.api.eip712 import digest, domain_separator, recover_address, struct_hash
from peergrid.core.errors import PeergridError

DOMAIN_NAME = "peergrid"
DOMAIN_VERSION = "1"
MAX_TOKEN_LIFETIME_S = 86_400

TYPES: Mapping[str, list[dict[str, str]]] = {
    "Order": [
        {"name": "agent", "type": "address"},
        {"name": "slot", "type": "uint256"},
        {"name": "side", "type": "string"},
        {"name": "quantityWh", "type": "uint256"},
        {"name": "priceMicroPerKwh", "type": "uint256"},
        {"name": "bus", "type": "string"},
        {"name": "nonce", "type": "uint256"},
    ],
    "Withdrawal": [
        {"name": "agent", "type": "address"},
        {"name": "orderId", "type": "string"},
        {"name": "nonce", "type": "uint256"},
    ],
    "Reading": [
        {"name": "meter", "type": "address"},
        {"name": "slot", "type": "uint256"},
        {"name": "netWh", "type": "int256"},
    ],
    "Access": [
        {"name": "account", "type": "address"},
        {"name": "expires", "type": "uint256"},
    ],
}

_DOMAIN_TYPE = [
    {"name": "name", "type": "string"},
    {"name": "version", "type": "string"},
    {"name": "chainId", "type": "uint256"},
    {"name": "verifyingContract", "type": "address"},
]


class SignatureError(PeergridError):
    """A signature that does not recover, or recovers to someone not allowed."""


@dataclass(frozen=True)
class Domain:
    chain_id: int
    verifying_contract: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": DOMAIN_NAME,
            "version": DOMAIN_VERSION,
            "chainId": self.chain_id,
            "verifyingContract": to_checksum_address(self.verifying_contract),
        }


def typed_data(domain: Domain, primary: str, message: Mapping[str, Any]) -> dict[str, Any]:
    """The full EIP-712 document of ``message`` of type ``primary``."""
    return {
        "types": {"EIP712Domain": _DOMAIN_TYPE, primary: TYPES[primary]},
        "domain": domain.as_dict(),
        "primaryType": primary,
        "message": dict(message),
    }


def sign(domain: Domain, primary: str, message: Mapping[str, Any], private_key: str) -> str:
    """The 0x-hex signature of ``message`` (what an agent does; the tests and the agents)."""
    # eth-account (and its BLS curves) loads only where a key signs: the service recovers
    from eth_account import Account
    from eth_account.messages import encode_typed_data

    signable = encode_typed_data(full_message=typed_data(domain, primary, message))
    return "0x" + bytes(Account.sign_message(signable, private_key).signature).hex()


def recover(domain: Domain, primary: str, message: Mapping[str, Any], signature: str) -> str:
    """The checksum address that signed ``message``; :class:`SignatureError` if none does.

    The same answer as eth-account's ``recover_message`` of the typed data (a property test
    holds them equal), through :mod:`peergrid.api.eip712`, about twice as fast."""
    try:
        raw = bytes.fromhex(signature.removeprefix("0x"))
        d = domain.as_dict()
        separator = domain_separator(d["name"], d["version"], d["chainId"], d["verifyingContract"])
        signed = digest(separator, struct_hash(primary, TYPES[primary], message))
        return recover_address(signed, raw)
    except Exception as exc:  # a malformed hex, field, or signature (coincurve's errors too)
        raise SignatureError(f"the signature does not recover a signer: {exc}") from exc


def check_signer(claimed: str, recovered: str, what: str) -> None:
    if not is_address(claimed) or to_checksum_address(claimed) != recovered:
        raise SignatureError(
            f"{what}: the signature is {recovered}'s, not {claimed}'s (a changed field, another "
            "slot, or another key)"
        )


def access_token(domain: Domain, private_key: str, expires: int) -> str:
    """A read token for the ``Authorization: Peergrid <token>`` header."""
    from eth_account import Account

    account = Account.from_key(private_key).address
    signature = sign(domain, "Access", {"account": account, "expires": expires}, private_key)
    return f"{account}:{expires}:{signature}"


def token_signer(domain: Domain, header: str | None, now: float | None = None) -> str:
    """The account a read token proves; :class:`SignatureError` for a bad or expired one."""
    if not header or not header.startswith("Peergrid "):
        raise SignatureError(
            "this needs a read token: 'Authorization: Peergrid <account>:<expires>:<signature>'"
        )
    parts = header.removeprefix("Peergrid ").strip().split(":")
    if len(parts) != 3 or not parts[1].isdigit():
        raise SignatureError("a read token is <account>:<expires>:<signature>")
    account, expires, signature = parts[0], int(parts[1]), parts[2]
    now = time.time() if now is None else now
    if not now < expires <= now + MAX_TOKEN_LIFETIME_S:
        raise SignatureError(
            f"the read token expires at {expires}: it must be in the next {MAX_TOKEN_LIFETIME_S} s"
        )
    recovered = recover(domain, "Access", {"account": account, "expires": expires}, signature)
    check_signer(account, recovered, "read token")
    return recovered
