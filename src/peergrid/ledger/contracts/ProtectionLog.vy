# pragma version ~=0.4.3
"""
@title ProtectionLog
@notice The backup channel of a DC line's differential protection (001b_book.md
        chapter 11, §6.2): the measurement units at both ends of the line
        post their current samples here, signed, as well as over the main
        channel; the relay reads them back and, when the two disagree, trusts
        these.
@dev Roles. The operator (the deployer) registers each measurement unit: a
     unit number (1: bus 1, 2: bus 2, ...) and the address of the key that
     signs its samples. Anyone may carry a unit's batch to the contract (a
     gateway); what makes it the unit's is the signature.

     A batch is one unit's consecutive samples, at most MAX_BATCH of them, in
     micro-amperes, each a big-endian two's-complement int64 (8 bytes:
     currents up to 9.2e6 A), packed in `currents_ua`, from sample number
     `first_sample` on. Packed bytes are copied and hashed a word at a time;
     a DynArray[int64] would be range-checked sample by sample. The unit
     signs, as an EIP-191 personal message,
         digest = keccak256(abi_encode(this contract, unit, first_sample,
                                       currents_ua))
     (the contract's address binds a batch to this log: it cannot be posted
     to another). The contract recovers the signer and refuses a batch that
     is not the registered unit's (a forged sample), that does not start at
     the unit's next sample (a replayed or a skipped batch), or that is empty
     or too long.

     The samples travel in the `Samples` event (a log costs a fraction of
     storage); the contract keeps, per unit, the next sample number and a
     hash chain head = keccak256(head, digest) over every batch accepted, so
     a reader of the logs can prove it holds all of them, unaltered.
"""

MAX_BATCH: public(constant(uint256)) = 4096
SAMPLE_BYTES: public(constant(uint256)) = 8
MAX_BATCH_BYTES: constant(uint256) = MAX_BATCH * SAMPLE_BYTES
MAX_UNITS: public(constant(uint256)) = 2**16

operator: public(immutable(address))

# @notice The signing key's address of each unit; empty: not registered.
signer_of: public(HashMap[uint256, address])
# @notice The sample number the unit's next batch must start at.
next_sample: public(HashMap[uint256, uint256])
# @notice keccak256(previous head, digest) over the unit's batches.
head: public(HashMap[uint256, bytes32])
batch_count: public(HashMap[uint256, uint256])


event UnitRegistered:
    unit: indexed(uint256)
    signer: address


event Samples:
    unit: indexed(uint256)
    first_sample: uint256
    currents_ua: Bytes[MAX_BATCH_BYTES]
    head: bytes32


@deploy
def __init__():
    operator = msg.sender


@external
def register_unit(unit: uint256, signer: address):
    """@notice The operator registers a measurement unit's signing key."""
    assert msg.sender == operator, "caller is not the operator"
    assert unit != 0 and unit < MAX_UNITS, "unit not in 1..65535"
    assert signer != empty(address), "signer is the zero address"
    assert self.signer_of[unit] == empty(address), "unit already registered"
    self.signer_of[unit] = signer
    log UnitRegistered(unit=unit, signer=signer)


@view
@external
def batch_digest(
    unit: uint256, first_sample: uint256, currents_ua: Bytes[MAX_BATCH_BYTES]
) -> bytes32:
    """@notice What the unit signs (as an EIP-191 personal message)."""
    return self._digest(unit, first_sample, currents_ua)


@internal
@view
def _digest(
    unit: uint256, first_sample: uint256, currents_ua: Bytes[MAX_BATCH_BYTES]
) -> bytes32:
    return keccak256(abi_encode(self, unit, first_sample, currents_ua))


@external
def post(
    unit: uint256,
    first_sample: uint256,
    currents_ua: Bytes[MAX_BATCH_BYTES],
    v: uint8,
    r: bytes32,
    s: bytes32,
):
    """@notice Post one unit's signed batch of samples."""
    signer: address = self.signer_of[unit]
    assert signer != empty(address), "unit not registered"
    assert len(currents_ua) != 0, "empty batch"
    assert len(currents_ua) % SAMPLE_BYTES == 0, "batch not whole samples"
    assert first_sample == self.next_sample[unit], "batch out of sequence"
    digest: bytes32 = self._digest(unit, first_sample, currents_ua)
    signed: bytes32 = keccak256(concat(b"\x19Ethereum Signed Message:\n32", digest))
    recovered: address = ecrecover(signed, v, r, s)
    assert recovered != empty(address) and recovered == signer, "signature is not the unit's"
    self.next_sample[unit] = first_sample + len(currents_ua) // SAMPLE_BYTES
    new_head: bytes32 = keccak256(concat(self.head[unit], digest))
    self.head[unit] = new_head
    self.batch_count[unit] += 1
    log Samples(unit=unit, first_sample=first_sample, currents_ua=currents_ua, head=new_head)
