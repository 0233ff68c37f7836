"""The service's own EIP-712 hashing and recovery give eth-account's answers."""

from __future__ import annotations

from typing import Any

from eth_account import Account
from eth_account.messages import encode_typed_data
from hypothesis import given, settings
from hypothesis import strategies as st

from peergrid.api.auth import Domain, SignatureError, recover, sign, typed_data

KEYS = ["0x" + f"{k:064x}" for k in (1, 2, 0xC0FFEE, 2**200 + 12345)]
U256 = st.integers(min_value=0, max_value=2**256 - 1)
TEXT = st.text(max_size=40)


def reference(domain: Domain, primary: str, message: dict[str, Any], signature: bytes) -> str:
    signable = encode_typed_data(full_message=typed_data(domain, primary, message))
    return str(Account.recover_message(signable, signature=signature))


domains = st.builds(
    Domain,
    st.integers(min_value=1, max_value=2**64),
    st.sampled_from([Account.from_key(k).address for k in KEYS]),
)


@settings(max_examples=60, deadline=None)
@given(
    domain=domains,
    key=st.sampled_from(KEYS),
    slot=U256,
    side=st.sampled_from(["buy", "sell"]),
    quantity=U256,
    price=U256,
    bus=TEXT,
    nonce=U256,
)
def test_an_order_recovers_as_eth_account_recovers_it(
    domain: Domain, key: str, slot: int, side: str, quantity: int, price: int, bus: str, nonce: int
) -> None:
    message = {
        "agent": Account.from_key(key).address, "slot": slot, "side": side,
        "quantityWh": quantity, "priceMicroPerKwh": price, "bus": bus, "nonce": nonce,
    }  # fmt: skip
    signature = sign(domain, "Order", message, key)
    assert recover(domain, "Order", message, signature) == Account.from_key(key).address
    assert reference(domain, "Order", message, bytes.fromhex(signature[2:])) == (
        Account.from_key(key).address
    )


@settings(max_examples=60, deadline=None)
@given(
    net=st.integers(min_value=-(2**255), max_value=2**255 - 1),
    slot=U256,
    signature=st.binary(min_size=65, max_size=65),
    v=st.sampled_from([0, 1, 27, 28, 29]),
)
def test_any_signature_gives_the_same_signer_or_is_refused_by_both(
    net: int, slot: int, signature: bytes, v: int
) -> None:
    domain = Domain(1337, Account.from_key(KEYS[0]).address)
    message = {"meter": Account.from_key(KEYS[1]).address, "slot": slot, "netWh": net}
    raw = signature[:64] + bytes([v])
    try:
        expected: str | None = reference(domain, "Reading", message, raw)
    except Exception:  # eth-account refuses it, with one of several types
        expected = None
    try:
        mine: str | None = recover(domain, "Reading", message, "0x" + raw.hex())
    except SignatureError:
        mine = None
    assert mine == expected


def test_a_field_out_of_range_or_missing_is_refused() -> None:
    domain = Domain(1337, Account.from_key(KEYS[0]).address)
    good = {"account": Account.from_key(KEYS[1]).address, "expires": 5}
    signature = sign(domain, "Access", good, KEYS[1])
    for bad in (
        {**good, "expires": -1},
        {**good, "expires": 2**256},
        {"account": good["account"]},
        {**good, "account": "0x1234"},
    ):
        try:
            recover(domain, "Access", bad, signature)
        except SignatureError:
            continue
        raise AssertionError(f"{bad} recovered")
