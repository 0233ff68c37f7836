# pragma version ~=0.4.3
"""
@title DvppMeters
@notice The DVPP's smart meters (002_dvpp.md §1.1: a meter with a built-in
        private key): each household names its meter's key, and any relayer
        brings one interval's signed state reports of many households to
        `Dvpp.set_state` in ONE transaction (`report_batch`).
@dev Why a contract of its own: `Dvpp` is at the EIP-170 size limit. `Dvpp`
     takes `set_state` from this contract (its immutable `meters`, given at
     its deployment) besides the household itself; every rule of a report
     (plausibility, one report per interval, the neighbour check, the
     settlement) stays in `Dvpp` and runs as for a report the household sent.

     Why a batch is cheaper: each report of an interval reads every
     household's entry and report word (the interval's snapshot); in one
     transaction only the first report pays for cold storage, the others
     read it warm (EIP-2929), and one transaction's base cost replaces n.

     The signed digest of a report (`report_digest`):
         keccak256(abi_encode(REPORT_TAG, chain.id, self, household,
                              interval, soc_mpct, p_res_mw, p_measured_mw))
     REPORT_TAG = keccak256("peergrid.DvppMeters.report.v1"). The chain id
     and this contract's address bind the signature to one deployment, the
     interval to one interval (a report must carry the current interval), the
     household to one household: a signature cannot be replayed in another
     interval, for another household or at another contract. The signature
     is the meter key's secp256k1 signature of the digest itself (no
     message prefix), v in {27, 28}, s in the lower half of the curve order.

     The meter key is named by the household's own account (msg.sender):
     nobody names a key for someone else, so nobody can sign reports for a
     household it does not own. A household may replace its key (a new
     meter); reports signed by the old key are refused from then on.
"""


interface Dvpp:
    def set_state(household: address, soc_mpct: uint256, p_res_mw: int256, p_measured_mw: int256): nonpayable
    def start_time() -> uint256: view
    def interval_seconds() -> uint256: view
    def meters() -> address: view


struct Report:
    household: address
    interval: uint256
    soc_mpct: uint256
    p_res_mw: int256
    p_measured_mw: int256
    v: uint8
    r: bytes32
    s: bytes32


# @notice Most reports in one batch (the DVPP's most households).
MAX_REPORTS: public(constant(uint256)) = 64

# @notice The first word of every signed digest.
REPORT_TAG: public(constant(bytes32)) = keccak256("peergrid.DvppMeters.report.v1")

# secp256k1's order / 2: a larger s is the other form of the same signature.
HALF_ORDER: constant(uint256) = (
    57896044618658097711785492504343953926418782139537452191302581570759080747168
)

# @notice The DVPP the reports go to (bound once by the deployer: the DVPP
#         is deployed after this contract, whose address it holds).
dvpp: public(Dvpp)

# The DVPP's clock (its immutables, read once): a report carries its interval.
_start: uint256
_dt: uint256

_deployer: immutable(address)

# @notice Each household's meter: the address of its secp256k1 key.
meter_of: public(HashMap[address, address])


event MeterRegistered:
    household: indexed(address)
    meter: indexed(address)


@deploy
def __init__():
    _deployer = msg.sender


@external
def bind(dvpp_: Dvpp):
    """
    @notice Name the DVPP the reports go to (the deployer, once): a DVPP
            deployed with this contract as its `meters`.
    """
    assert msg.sender == _deployer, "caller is not the deployer"
    assert self.dvpp.address == empty(address), "already bound"
    assert staticcall dvpp_.meters() == self, "the DVPP does not name these meters"
    self.dvpp = dvpp_
    self._start = staticcall dvpp_.start_time()
    self._dt = staticcall dvpp_.interval_seconds()


@external
def register_meter(household: address, meter: address):
    """
    @notice Name `meter` (a key's address) as the meter of `household`:
            only the household's own account does it.
    """
    assert household == msg.sender, "meter for another household"
    assert meter != empty(address), "meter is the zero address"
    self.meter_of[household] = meter
    log MeterRegistered(household=household, meter=meter)


@internal
@view
def _digest(
    household: address, interval: uint256, soc_mpct: uint256, p_res_mw: int256, p_measured_mw: int256
) -> bytes32:
    return keccak256(
        abi_encode(
            REPORT_TAG, chain.id, self, household, interval, soc_mpct, p_res_mw, p_measured_mw
        )
    )


@external
@view
def report_digest(
    household: address, interval: uint256, soc_mpct: uint256, p_res_mw: int256, p_measured_mw: int256
) -> bytes32:
    """
    @notice The digest a meter signs for a report (see the contract's @dev).
    """
    return self._digest(household, interval, soc_mpct, p_res_mw, p_measured_mw)


@external
@view
def current_interval() -> uint256:
    return (block.timestamp - self._start) // self._dt


@external
def report_batch(reports: DynArray[Report, MAX_REPORTS]):
    """
    @notice Relay this interval's signed reports to `Dvpp.set_state`, in
            order; any account may send it. One refused report (its meter
            unknown, its signature bad, another interval's, or refused by
            the DVPP) reverts the whole batch: nothing changes.
    """
    target: Dvpp = self.dvpp
    assert target.address != empty(address), "not bound to a DVPP"
    k: uint256 = (block.timestamp - self._start) // self._dt
    for report: Report in reports:
        meter: address = self.meter_of[report.household]
        assert meter != empty(address), "meter not registered"
        assert report.interval == k, "report for another interval"
        assert convert(report.s, uint256) <= HALF_ORDER, "bad signature"
        digest: bytes32 = self._digest(
            report.household, k, report.soc_mpct, report.p_res_mw, report.p_measured_mw
        )
        signer: address = ecrecover(digest, report.v, report.r, report.s)
        assert signer == meter, "bad signature"
        extcall target.set_state(
            report.household, report.soc_mpct, report.p_res_mw, report.p_measured_mw
        )
