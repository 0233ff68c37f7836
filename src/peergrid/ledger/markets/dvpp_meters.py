"""The DVPP's smart meters on chain (``DvppMeters.vy``): signed state reports, one batch each.

Each household's meter holds a secp256k1 key (002_dvpp.md §1.1); the household names the key's
address once (:meth:`DvppMeters.register_meter`, sent by the household's own account: nobody can
name a key for someone else). Every interval, each meter signs its household's report
(:func:`sign_report`) and any relayer brings all of them to the DVPP in one transaction
(:meth:`DvppMeters.report_batch`): the contract checks each signature against the registered key
and passes the report to ``Dvpp.set_state``, whose rules (plausibility, one report per interval,
the neighbour check, the settlement) run as for a report the household sent itself. A refused
report reverts the whole batch with a named reason; nothing changes.

The signed digest (:func:`report_digest`, equal to the contract's ``report_digest``)::

    keccak256(REPORT_TAG ‖ chain_id ‖ meters contract ‖ household ‖ interval ‖ soc_mpct ‖
              p_res_mw ‖ p_measured_mw)         (each a 32-byte ABI word)

with ``REPORT_TAG = keccak256("peergrid.DvppMeters.report.v1")``: the chain id and the contract's
address bind a signature to one deployment, the interval and the household to one report.
Signing is libsecp256k1's (coincurve), deterministic (RFC 6979) with a low ``s``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from coincurve import PrivateKey
from eth_hash.auto import keccak

from peergrid.core.errors import LedgerError
from peergrid.ledger.chain.abi import checksum_address
from peergrid.ledger.chain.base import Chain, Contract, Receipt
from peergrid.ledger.chain.compile import compile_contract
from peergrid.ledger.markets.dvpp import (
    DvppLedger,
    Parameters,
    Report,
    _milliwatts,
    _soc_mpct,
)

REPORT_TAG = keccak(b"peergrid.DvppMeters.report.v1")
"""The first word of every signed digest (the contract's ``REPORT_TAG``)."""

MAX_REPORTS = 64
"""Most reports in one batch (the DVPP's most households)."""


def _word(value: int) -> bytes:
    return value.to_bytes(32, "big", signed=True)


def _address_word(address: str) -> bytes:
    return bytes(12) + bytes.fromhex(address[2:])


class MeterKey:
    """A meter's secp256k1 key: its address (what the household registers) and its signatures."""

    __slots__ = ("_key", "address")

    def __init__(self, private_key: bytes) -> None:
        if not isinstance(private_key, bytes) or len(private_key) != 32:
            raise ValueError("private_key must be 32 bytes")
        self._key = PrivateKey(private_key)
        public = self._key.public_key.format(compressed=False)[1:]
        self.address = checksum_address("0x" + keccak(public)[-20:].hex())

    @classmethod
    def from_seed(cls, seed: str) -> MeterKey:
        """A key derived from ``seed`` (a simulation's meters: reproducible, not secret)."""
        return cls(keccak(b"peergrid.meter:" + seed.encode()))

    def sign(self, digest: bytes) -> tuple[int, bytes, bytes]:
        """``(v, r, s)`` of ``digest`` itself (no message prefix), v in {27, 28}."""
        signature = self._key.sign_recoverable(digest, hasher=None)
        return 27 + signature[64], signature[:32], signature[32:64]

    def __repr__(self) -> str:
        return f"MeterKey({self.address})"


@dataclass(frozen=True, slots=True)
class SignedReport:
    """One household's report of one interval, in the contract's integers, with its meter's
    signature: the ``Report`` struct of ``DvppMeters.report_batch``."""

    household: str
    interval: int
    soc_mpct: int
    p_res_mw: int
    p_measured_mw: int
    v: int
    r: bytes
    s: bytes

    def as_tuple(self) -> tuple[str, int, int, int, int, int, bytes, bytes]:
        return (
            self.household,
            self.interval,
            self.soc_mpct,
            self.p_res_mw,
            self.p_measured_mw,
            self.v,
            self.r,
            self.s,
        )


def report_digest(
    chain_id: int,
    meters: str,
    household: str,
    interval: int,
    soc_mpct: int,
    p_res_mw: int,
    p_measured_mw: int,
) -> bytes:
    """The digest a meter signs (module docstring; the contract's ``report_digest``)."""
    return keccak(
        REPORT_TAG
        + _word(chain_id)
        + _address_word(meters)
        + _address_word(household)
        + _word(interval)
        + _word(soc_mpct)
        + _word(p_res_mw)
        + _word(p_measured_mw)
    )


def sign_report(
    key: MeterKey,
    *,
    chain_id: int,
    meters: str,
    household: str,
    interval: int,
    report: Report,
) -> SignedReport:
    """``household``'s ``report`` for ``interval``, signed by its meter's ``key``."""
    call = "DvppMeters.report_batch"
    soc = _soc_mpct(report.soc, call)
    p_res = _milliwatts(report.p_res_w, "p_res_w", call)
    p_measured = _milliwatts(report.p_measured_w, "p_measured_w", call)
    household = checksum_address(household)
    digest = report_digest(chain_id, meters, household, interval, soc, p_res, p_measured)
    v, r, s = key.sign(digest)
    return SignedReport(household, interval, soc, p_res, p_measured, v, r, s)


class DvppMeters:
    """The meters contract of one DVPP, and the meter keys of a simulation's households."""

    def __init__(self, ledger: DvppLedger, contract: Contract) -> None:
        self.ledger = ledger
        self.chain: Chain = ledger.chain
        self.contract = contract
        self._keys: dict[str, MeterKey] = {}

    @classmethod
    def deploy(
        cls,
        chain: Chain,
        *,
        operator: str,
        dso: str,
        issuer: str,
        supply_micro: int,
        parameters: Parameters | None = None,
        token: Contract | None = None,
    ) -> DvppMeters:
        """Deploy the meters contract, then the DVPP naming it (its immutable ``meters``),
        then bind the meters to the DVPP (all by ``operator``); the DVPP is :attr:`ledger`."""
        contract = chain.deploy(operator, compile_contract("DvppMeters"))
        ledger = DvppLedger.deploy(
            chain,
            operator=operator,
            dso=dso,
            issuer=issuer,
            supply_micro=supply_micro,
            parameters=parameters,
            token=token,
            meters=contract.address,
        )
        chain.transact(operator, contract, "bind", ledger.contract.address)
        return cls(ledger, contract)

    @classmethod
    def at(cls, ledger: DvppLedger, address: str) -> DvppMeters:
        """The meters contract already deployed at ``address``."""
        return cls(ledger, ledger.chain.at(compile_contract("DvppMeters"), address))

    # --- keys ----------------------------------------------------------------------------------

    def meter_key(self, household: str) -> MeterKey:
        """The meter key this client holds for ``household`` (made from the household's address
        on first use: a simulation's meters)."""
        household = checksum_address(household)
        key = self._keys.get(household)
        if key is None:
            key = self._keys[household] = MeterKey.from_seed(household)
        return key

    def register_meter(
        self, household: str, key: MeterKey | None = None, *, sender: str | None = None
    ) -> Receipt:
        """``household`` names ``key`` (default: :meth:`meter_key`) as its meter; ``sender``
        defaults to the household (any other sender is refused by the contract)."""
        household = checksum_address(household)
        meter = key or self.meter_key(household)
        receipt = self.chain.transact(
            sender or household, self.contract, "register_meter", household, meter.address
        )
        self._keys[household] = meter  # held once the chain took it
        return receipt

    def meter_of(self, household: str) -> str | None:
        """The meter address registered for ``household`` on chain (``None``: none)."""
        address = str(self.chain.call(self.contract, "meter_of", household))
        return None if int(address, 16) == 0 else address

    # --- reports -------------------------------------------------------------------------------

    def current_interval(self) -> int:
        return int(self.chain.call(self.contract, "current_interval"))

    def sign(self, household: str, interval: int, report: Report) -> SignedReport:
        """``household``'s report for ``interval``, signed with its meter key."""
        return sign_report(
            self.meter_key(household),
            chain_id=self.chain.chain_id,
            meters=self.contract.address,
            household=household,
            interval=interval,
            report=report,
        )

    def sign_all(self, reports: Mapping[str, Report], interval: int) -> list[SignedReport]:
        """Every household's report of ``interval``, signed, in the mapping's order."""
        return [self.sign(h, interval, report) for h, report in reports.items()]

    def report_batch(self, reports: Sequence[SignedReport], relayer: str) -> Receipt:
        """Relay ``reports`` (one interval's) to the DVPP in one transaction from ``relayer``."""
        if len(reports) > MAX_REPORTS:
            raise LedgerError(
                "DvppMeters.report_batch",
                f"reports: at most {MAX_REPORTS} in one batch, got {len(reports)}",
            )
        return self.chain.transact(
            relayer, self.contract, "report_batch", [r.as_tuple() for r in reports]
        )
