"""A typed client of ``Certificates.vy``: guarantees of origin for metered renewable energy
(001a_book.md §1, chapter 2 §5.2; the EN 16325 registry operations issue, transfer, cancel for a
named consumer, expire).

One certificate is one Wh of metered production. A token id names a producer's device
(producer, technology, bus, registered once) and a production slot: ``slot << 32 | index``
(:func:`token_id`). Who does what:

1. the issuer (the deployer, the issuing body) registers devices (:meth:`register_device`) and
   meters (:meth:`set_meter`);
2. a meter posts a slot's production readings once the slot has ended
   (:meth:`post_production`, :data:`MAX_BATCH` to a transaction), each reading once;
3. the issuer issues a slot's certificates from the posted readings (:meth:`issue_slot`,
   batched per slot): once per reading, never without one;
4. holders transfer (:meth:`transfer`, or an approved operator with :meth:`transfer_from`) and
   cancel for a named beneficiary and consumption period (:meth:`cancel`); a cancelled
   certificate is in no balance any more, so nothing can move it;
5. ``lifetime_seconds`` after its slot ends a certificate expires; anyone books an expired
   balance as expired (:meth:`expire`).

Per id, ``issued = held + cancelled + expired`` (:meth:`CertificateRegistry.state_of`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from peergrid.core.errors import LedgerError
from peergrid.ledger.chain.base import Chain, Contract, Receipt
from peergrid.ledger.chain.compile import compile_contract

CONTRACT = "Certificates"

MAX_BATCH = 256
"""Most readings or producers one transaction carries (the contract's ``MAX_BATCH``)."""

MAX_WH = 2**32 - 1
INDEX_BITS = 32
WH_PER_CERTIFICATE = 1
"""The unit: one certificate per Wh of metered production."""

DEFAULT_LIFETIME_S = 365 * 24 * 3600
"""EN 16325's lifetime of a guarantee of origin: 12 months after the end of production."""

TECHNOLOGIES: Mapping[str, int] = {
    "solar": 1,
    "wind": 2,
    "hydro": 3,
    "biomass": 4,
    "geothermal": 5,
    "chp": 6,
}
"""Technology codes the contract stores (1..15; the others are free for a deployment)."""


def technology_code(name: str) -> int:
    """The contract's code of a technology name; :class:`LedgerError` if unknown."""
    try:
        return TECHNOLOGIES[name]
    except KeyError:
        known = ", ".join(TECHNOLOGIES)
        raise LedgerError(
            f"{CONTRACT}.register_device", f"unknown technology {name!r}; one of {known}"
        ) from None


def technology_name(code: int) -> str:
    for name, value in TECHNOLOGIES.items():
        if value == code:
            return name
    return f"technology {code}"


def token_id(slot: int, device_index: int) -> int:
    """The id of a device's certificates of ``slot`` (as the contract computes it)."""
    return (slot << INDEX_BITS) | device_index


def slot_of(certificate_id: int) -> int:
    return certificate_id >> INDEX_BITS


def device_index_of(certificate_id: int) -> int:
    return certificate_id & (2**INDEX_BITS - 1)


@dataclass(frozen=True, slots=True)
class Device:
    producer: str
    index: int
    technology: int
    bus: int


@dataclass(frozen=True, slots=True)
class CertificateState:
    """One id's certificates: where they come from and where they are (Wh)."""

    id: int
    producer: str
    technology: int
    bus: int
    slot: int
    expires_at: int
    issued: int
    cancelled: int
    expired: int

    @property
    def held(self) -> int:
        """Certificates in balances: issued less cancelled and expired."""
        return self.issued - self.cancelled - self.expired


class CertificateRegistry:
    """A ``Certificates`` contract on a chain, with its issuer."""

    def __init__(self, chain: Chain, contract: Contract, *, issuer: str) -> None:
        self.chain = chain
        self.contract = contract
        self.issuer = issuer

    @classmethod
    def deploy(
        cls,
        chain: Chain,
        *,
        issuer: str,
        slot_seconds: int,
        epoch: int | None = None,
        lifetime_seconds: int = DEFAULT_LIFETIME_S,
    ) -> CertificateRegistry:
        """Deploy a registry whose slot 0 starts at ``epoch`` (default: the chain's time now)."""
        start = chain.timestamp() if epoch is None else epoch
        artifact = compile_contract(CONTRACT)
        contract = chain.deploy(issuer, artifact, start, slot_seconds, lifetime_seconds)
        return cls(chain, contract, issuer=issuer)

    @classmethod
    def attach(cls, chain: Chain, address: str) -> CertificateRegistry:
        contract = chain.at(compile_contract(CONTRACT), address)
        return cls(chain, contract, issuer=str(chain.call(contract, "issuer")))

    @property
    def address(self) -> str:
        return self.contract.address

    def _call(self, fn_name: str, *args: object) -> Any:
        return self.chain.call(self.contract, fn_name, *args)

    # --- issuer -----------------------------------------------------------------------------

    def register_device(self, producer: str, technology: int | str, bus: int) -> Receipt:
        code = technology_code(technology) if isinstance(technology, str) else technology
        return self.chain.transact(
            self.issuer, self.contract, "register_device", producer, code, bus
        )

    def set_meter(self, meter: str, enabled: bool = True) -> Receipt:
        return self.chain.transact(self.issuer, self.contract, "set_meter", meter, enabled)

    def issue_slot(self, slot: int, producers: Sequence[str]) -> tuple[Receipt, ...]:
        """Issue ``slot``'s certificates to ``producers`` from their readings, one transaction per
        :data:`MAX_BATCH` producers."""
        return tuple(
            self.chain.transact(
                self.issuer,
                self.contract,
                "issue",
                slot,
                list(producers[start : start + MAX_BATCH]),
                slot=slot,
            )
            for start in range(0, len(producers), MAX_BATCH)
        )

    # --- meter ------------------------------------------------------------------------------

    def post_production(
        self, meter: str, slot: int, production_wh: Mapping[str, int]
    ) -> tuple[Receipt, ...]:
        """Post ``slot``'s production readings (producer -> Wh), :data:`MAX_BATCH` a
        transaction."""
        items = list(production_wh.items())
        for producer, wh in items:
            if not 0 <= int(wh) <= MAX_WH:
                raise LedgerError(
                    f"{CONTRACT}.post_production",
                    f"reading of {producer} in slot {slot} must be 0..{MAX_WH} Wh, got {wh}",
                )
        return tuple(
            self.chain.transact(
                meter,
                self.contract,
                "post_production",
                slot,
                [p for p, _ in items[start : start + MAX_BATCH]],
                [int(w) for _, w in items[start : start + MAX_BATCH]],
                slot=slot,
            )
            for start in range(0, len(items), MAX_BATCH)
        )

    # --- holders ----------------------------------------------------------------------------

    def set_approval_for_all(self, owner: str, operator: str, approved: bool = True) -> Receipt:
        return self.chain.transact(owner, self.contract, "set_approval_for_all", operator, approved)

    def transfer(self, sender: str, receiver: str, certificate_id: int, wh: int) -> Receipt:
        return self.chain.transact(sender, self.contract, "transfer", receiver, certificate_id, wh)

    def transfer_from(
        self, caller: str, sender: str, receiver: str, certificate_id: int, wh: int
    ) -> Receipt:
        return self.chain.transact(
            caller, self.contract, "transfer_from", sender, receiver, certificate_id, wh
        )

    def cancel(
        self,
        holder: str,
        certificate_id: int,
        wh: int,
        beneficiary: str,
        period: tuple[int, int],
    ) -> Receipt:
        """Cancel ``wh`` of ``holder``'s certificates for ``beneficiary``'s consumption in slots
        ``period`` (first, last)."""
        return self.chain.transact(
            holder, self.contract, "cancel", certificate_id, wh, beneficiary, *period
        )

    def expire(self, caller: str, holder: str, certificate_id: int) -> Receipt:
        return self.chain.transact(caller, self.contract, "expire", holder, certificate_id)

    # --- reads ------------------------------------------------------------------------------

    def device_of(self, producer: str) -> Device | None:
        index, technology, bus = self._call("device_of", producer)
        if int(index) == 0:
            return None
        return Device(producer, int(index), int(technology), int(bus))

    def device_count(self) -> int:
        return int(self._call("device_count"))

    def devices(self) -> list[Device]:
        """Every registered device, in registration order."""
        producers = [str(self._call("producer_at", i)) for i in range(1, self.device_count() + 1)]
        return [d for d in (self.device_of(p) for p in producers) if d is not None]

    def token_id(self, slot: int, producer: str) -> int:
        """``producer``'s id of ``slot``; :class:`LedgerError` if it has no device."""
        device = self.device_of(producer)
        if device is None:
            raise LedgerError(f"{CONTRACT}.token_id", f"{producer} has no registered device")
        return token_id(slot, device.index)

    def reading_of(self, slot: int, producer: str) -> tuple[bool, bool, int]:
        """(posted, issued, Wh) of ``producer``'s reading of ``slot``."""
        posted, issued, wh = self._call("reading_of", slot, producer)
        return bool(posted), bool(issued), int(wh)

    def balance_of(self, holder: str, certificate_id: int) -> int:
        return int(self._call("balance_of", holder, certificate_id))

    def cancelled_for(self, beneficiary: str, certificate_id: int) -> int:
        return int(self._call("cancelled_for", beneficiary, certificate_id))

    def totals(self) -> tuple[int, int, int]:
        """(issued, cancelled, expired) over every id, Wh."""
        return (
            int(self._call("total_issued")),
            int(self._call("total_cancelled")),
            int(self._call("total_expired")),
        )

    def state_of(self, certificate_id: int) -> CertificateState:
        producer, technology, bus, slot, expires_at = self._call("certificate_info", certificate_id)
        return CertificateState(
            id=certificate_id,
            producer=str(producer),
            technology=int(technology),
            bus=int(bus),
            slot=int(slot),
            expires_at=int(expires_at),
            issued=int(self._call("issued", certificate_id)),
            cancelled=int(self._call("cancelled", certificate_id)),
            expired=int(self._call("expired", certificate_id)),
        )

    def slot_seconds(self) -> int:
        return int(self._call("slot_seconds"))

    def epoch(self) -> int:
        return int(self._call("epoch"))
