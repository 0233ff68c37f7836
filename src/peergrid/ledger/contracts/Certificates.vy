# pragma version ~=0.4.3
"""
@title Certificates
@notice Guarantees of origin for metered renewable energy, after the
        registries that follow EN 16325 (issue, transfer, cancel for a named
        consumer, expiry): a multi-token registry (ERC-1155-like balances of
        fungible units per token id) whose tokens are issued from the
        production readings of registered devices.
@dev Unit. One certificate is one Wh of metered production (EN 16325 issues
     per MWh; a household's PV makes a few hundred Wh a slot, so a coarser
     unit would leave most of it unissued or carried over).

     Token id. One id per producer and production interval:
         id = slot << 32 | device index
     The device (registered once by the issuer) fixes the producer, its
     technology and its bus, so an id names producer, technology, bus and
     interval; `certificate_info` decodes it.

     Roles. The issuer (the deployer: the issuing body) registers devices
     and meters and issues. A meter posts the production readings of a slot
     once the slot has ended, each reading once. Issuance is per slot,
     batched: for each producer named, the certificates of its reading are
     minted to it, once (the reading carries an issued flag), and never
     without a reading. A holder transfers (or lets an approved operator
     transfer: a market that trades certificates with the energy) and
     cancels: the certificates leave every balance for good and are booked
     to a named beneficiary (the consumer whose consumption they cover) and
     a consumption period. Nothing moves a cancelled certificate. A
     certificate expires `lifetime_seconds` after the end of its production
     interval: it can then be neither issued, transferred nor cancelled, and
     anyone may book an expired balance as expired (`expire`).

     Conservation, per id: issued = sum of balances + cancelled + expired.

     Time. Slot s is [epoch + s * slot_seconds, epoch + (s + 1) * slot_seconds).
"""

MAX_BATCH: public(constant(uint256)) = 256
MAX_TECHNOLOGY: public(constant(uint256)) = 15
MAX_WH: public(constant(uint256)) = 2**32 - 1
MAX_SLOT: public(constant(uint256)) = 2**64 - 1
INDEX_BITS: constant(uint256) = 32
INDEX_MASK: constant(uint256) = 2**32 - 1

# Reading record (one word per id): bit 0 posted, bit 1 issued, bits 8.. the Wh.
POSTED: constant(uint256) = 1
ISSUED: constant(uint256) = 2
WH_SHIFT: constant(uint256) = 8


struct Device:
    index: uint256
    technology: uint256
    bus: uint256


issuer: public(immutable(address))
epoch: public(immutable(uint256))
slot_seconds: public(immutable(uint256))
lifetime_seconds: public(immutable(uint256))

device_of: public(HashMap[address, Device])
producer_at: public(HashMap[uint256, address])
device_count: public(uint256)
is_meter: public(HashMap[address, bool])

_readings: HashMap[uint256, uint256]
balance_of: public(HashMap[address, HashMap[uint256, uint256]])
is_approved_for_all: public(HashMap[address, HashMap[address, bool]])
cancelled: public(HashMap[uint256, uint256])
cancelled_for: public(HashMap[address, HashMap[uint256, uint256]])
cancelled_by: public(HashMap[address, HashMap[uint256, uint256]])
expired: public(HashMap[uint256, uint256])
total_issued: public(uint256)
total_cancelled: public(uint256)
total_expired: public(uint256)


event DeviceRegistered:
    producer: indexed(address)
    index: uint256
    technology: uint256
    bus: uint256


event MeterSet:
    meter: indexed(address)
    enabled: bool


event Production:
    slot: indexed(uint256)
    producer: indexed(address)
    wh: uint256


event Issued:
    id: indexed(uint256)
    producer: indexed(address)
    wh: uint256


event TransferSingle:
    operator: indexed(address)
    sender: indexed(address)
    receiver: indexed(address)
    id: uint256
    value: uint256


event ApprovalForAll:
    owner: indexed(address)
    operator: indexed(address)
    approved: bool


event Cancelled:
    id: indexed(uint256)
    holder: indexed(address)
    beneficiary: indexed(address)
    wh: uint256
    period_start: uint256
    period_end: uint256


event Expired:
    id: indexed(uint256)
    holder: indexed(address)
    wh: uint256


@deploy
def __init__(epoch_: uint256, slot_seconds_: uint256, lifetime_seconds_: uint256):
    assert slot_seconds_ != 0 and slot_seconds_ <= 2**32, "slot length not in 1..2**32 s"
    assert lifetime_seconds_ != 0 and lifetime_seconds_ <= 2**64, "lifetime not in 1..2**64 s"
    assert epoch_ <= 2**64, "epoch out of range"
    issuer = msg.sender
    epoch = epoch_
    slot_seconds = slot_seconds_
    lifetime_seconds = lifetime_seconds_


# --- issuer: devices and meters -----------------------------------------------


@external
def register_device(producer: address, technology: uint256, bus: uint256):
    """@notice Register a producer's device: its technology code and bus (issuer)."""
    assert msg.sender == issuer, "caller is not the issuer"
    assert producer != empty(address), "producer is the zero address"
    assert technology != 0 and technology <= MAX_TECHNOLOGY, "technology not in 1..15"
    assert self.device_of[producer].index == 0, "producer already registered"
    index: uint256 = self.device_count + 1
    assert index <= INDEX_MASK, "too many devices"
    self.device_count = index
    self.device_of[producer] = Device(index=index, technology=technology, bus=bus)
    self.producer_at[index] = producer
    log DeviceRegistered(producer=producer, index=index, technology=technology, bus=bus)


@external
def set_meter(meter: address, enabled: bool):
    """@notice Allow or stop an account posting production readings (issuer)."""
    assert msg.sender == issuer, "caller is not the issuer"
    assert meter != empty(address), "meter is the zero address"
    self.is_meter[meter] = enabled
    log MeterSet(meter=meter, enabled=enabled)


# --- meter: production readings -----------------------------------------------


@external
def post_production(
    slot: uint256,
    producers: DynArray[address, MAX_BATCH],
    wh: DynArray[uint256, MAX_BATCH],
):
    """
    @notice Post the metered production of `slot` of each producer, Wh
            (meter). The slot must have ended; each reading is posted once.
    """
    assert self.is_meter[msg.sender], "caller is not a meter"
    assert len(producers) == len(wh), "readings do not match the producers"
    assert slot <= MAX_SLOT, "slot out of range"
    assert block.timestamp >= self._slot_end(slot), "slot has not ended"
    for i: uint256 in range(len(producers), bound=MAX_BATCH):
        producer: address = producers[i]
        index: uint256 = self.device_of[producer].index
        assert index != 0, "producer not registered"
        assert wh[i] <= MAX_WH, "reading out of range"
        key: uint256 = (slot << INDEX_BITS) | index
        assert self._readings[key] & POSTED == 0, "reading already posted"
        self._readings[key] = (wh[i] << WH_SHIFT) | POSTED
        log Production(slot=slot, producer=producer, wh=wh[i])


# --- issuer: issuance ---------------------------------------------------------


@external
def issue(slot: uint256, producers: DynArray[address, MAX_BATCH]):
    """
    @notice Issue the certificates of `slot` to each producer named, from its
            posted reading, once (issuer).
    """
    assert msg.sender == issuer, "caller is not the issuer"
    assert slot <= MAX_SLOT, "slot out of range"
    assert block.timestamp < self._expiry(slot), "certificate expired"
    minted: uint256 = 0
    for producer: address in producers:
        index: uint256 = self.device_of[producer].index
        assert index != 0, "producer not registered"
        key: uint256 = (slot << INDEX_BITS) | index
        reading: uint256 = self._readings[key]
        assert reading & POSTED != 0, "no reading for the producer"
        assert reading & ISSUED == 0, "already issued"
        amount: uint256 = reading >> WH_SHIFT
        assert amount != 0, "nothing to issue"
        self._readings[key] = reading | ISSUED
        self.balance_of[producer][key] += amount
        minted += amount
        log Issued(id=key, producer=producer, wh=amount)
    self.total_issued += minted


# --- holders: transfer, cancel, expire ----------------------------------------


@external
def set_approval_for_all(operator: address, approved: bool):
    """@notice Let `operator` transfer the caller's certificates (or stop it)."""
    assert operator != empty(address), "operator is the zero address"
    self.is_approved_for_all[msg.sender][operator] = approved
    log ApprovalForAll(owner=msg.sender, operator=operator, approved=approved)


@external
def transfer(receiver: address, id: uint256, amount: uint256):
    """@notice Transfer `amount` certificates of `id` from the caller."""
    self._move(msg.sender, receiver, id, amount)


@external
def transfer_from(sender: address, receiver: address, id: uint256, amount: uint256):
    """@notice Transfer `sender`'s certificates (the sender or its approved operator)."""
    assert msg.sender == sender or self.is_approved_for_all[sender][msg.sender], "caller is not approved"
    self._move(sender, receiver, id, amount)


@external
def cancel(id: uint256, amount: uint256, beneficiary: address, period_start: uint256, period_end: uint256):
    """
    @notice Cancel (redeem) `amount` of the caller's certificates of `id` for
            `beneficiary`'s consumption in slots [period_start, period_end].
    """
    assert beneficiary != empty(address), "beneficiary is the zero address"
    assert period_start <= period_end, "period ends before it starts"
    assert amount != 0, "amount is zero"
    self._check_live(id)
    self._take(msg.sender, id, amount)
    self.cancelled[id] += amount
    self.cancelled_for[beneficiary][id] += amount
    self.cancelled_by[msg.sender][id] += amount
    self.total_cancelled += amount
    log Cancelled(
        id=id,
        holder=msg.sender,
        beneficiary=beneficiary,
        wh=amount,
        period_start=period_start,
        period_end=period_end,
    )


@external
def expire(holder: address, id: uint256):
    """@notice Book `holder`'s expired certificates of `id` as expired (anyone)."""
    assert block.timestamp >= self._expiry(id >> INDEX_BITS), "certificate not expired"
    amount: uint256 = self.balance_of[holder][id]
    assert amount != 0, "nothing to expire"
    self.balance_of[holder][id] = 0
    self.expired[id] += amount
    self.total_expired += amount
    log Expired(id=id, holder=holder, wh=amount)


# --- views --------------------------------------------------------------------


@view
@external
def token_id(slot: uint256, producer: address) -> uint256:
    """@notice The id of `producer`'s certificates of `slot` (0: not registered)."""
    index: uint256 = self.device_of[producer].index
    if index == 0:
        return 0
    return (slot << INDEX_BITS) | index


@view
@external
def reading_of(slot: uint256, producer: address) -> (bool, bool, uint256):
    """@notice (posted, issued, Wh) of `producer`'s reading of `slot`."""
    index: uint256 = self.device_of[producer].index
    reading: uint256 = self._readings[(slot << INDEX_BITS) | index]
    if index == 0:
        reading = 0
    return (reading & POSTED != 0, reading & ISSUED != 0, reading >> WH_SHIFT)


@view
@external
def issued(id: uint256) -> uint256:
    """@notice Certificates issued under `id`."""
    reading: uint256 = self._readings[id]
    if reading & ISSUED == 0:
        return 0
    return reading >> WH_SHIFT


@view
@external
def certificate_info(id: uint256) -> (address, uint256, uint256, uint256, uint256):
    """@notice (producer, technology, bus, slot, expires at) of `id`."""
    producer: address = self.producer_at[id & INDEX_MASK]
    device: Device = self.device_of[producer]
    slot: uint256 = id >> INDEX_BITS
    return (producer, device.technology, device.bus, slot, self._expiry(slot))


# --- internals ----------------------------------------------------------------


@internal
@view
def _slot_end(slot: uint256) -> uint256:
    return epoch + (slot + 1) * slot_seconds


@internal
@view
def _expiry(slot: uint256) -> uint256:
    assert slot <= MAX_SLOT, "slot out of range"
    return self._slot_end(slot) + lifetime_seconds


@internal
@view
def _check_live(id: uint256):
    assert block.timestamp < self._expiry(id >> INDEX_BITS), "certificate expired"


@internal
def _take(holder: address, id: uint256, amount: uint256):
    held: uint256 = self.balance_of[holder][id]
    if held < amount:
        # Name why: certificates the holder cancelled are gone for good.
        assert self.cancelled_by[holder][id] == 0, "not enough certificates: some are cancelled"
        raise "not enough certificates"
    self.balance_of[holder][id] = held - amount


@internal
def _move(sender: address, receiver: address, id: uint256, amount: uint256):
    assert receiver != empty(address), "receiver is the zero address"
    assert amount != 0, "amount is zero"
    self._check_live(id)
    self._take(sender, id, amount)
    self.balance_of[receiver][id] += amount
    log TransferSingle(operator=msg.sender, sender=sender, receiver=receiver, id=id, value=amount)
