# pragma version ~=0.4.3
"""
@title BatchMarket
@notice Sealed-bid batch market of an energy community, one auction per
        delivery slot: commit, reveal, clearing verified on chain, and
        settlement against metered energy with deviation penalties
        (003_dpda.md §1.4, §1.5, §2.8).
@dev Embeds the consortium (`accounts`, `voting`) and the escrow (`vault`).

     Phases of a slot, advanced by the operator (the platform's clock drives
     the 15-minute cycle; the chain records when the reveals began, which
     starts the clearing deadline):
         NONE -> OPEN        `open_slot`: the DSO's rates in force (fee,
                             penalty, distance charge) are frozen for the
                             slot; commitments open (quotation, minutes 0-3
                             of the cycle).
         OPEN -> REVEAL      `start_reveal`: commitments close, bids are
                             frozen; reveals open (matching, minutes 3-10);
                             the block time is recorded.
         REVEAL -> CLEARING  `post_clearing(last=False)`: the operator posts
                             a part of the fills; each is verified against
                             the revealed orders and tallied per order; no
                             money moves; reveals are over.
         -> CLEARED          `post_clearing(last=True)`: the last part; the
                             clearing closes: money moves, every lock is
                             released, the positions are recorded.
         CLEARED -> SETTLED  `post_readings`: the meter posts the metered
                             energy of the positions, in one or more calls;
                             true-ups and penalties move (settlement, after
                             delivery).
         -> VOID             from REVEAL or CLEARING, once the clearing
                             deadline has passed without the last part: the
                             first `reclaim` voids the slot. Nothing of the
                             clearing applies, no part can be posted any
                             more, and every member reclaims the lock of its
                             own order (`reclaim`).

     Clearing deadline. `clearing_deadline` seconds (set at deployment)
     after the block time of `start_reveal`: reveals and parts of the
     clearing are accepted strictly before it, reclaims only from it on. So
     money locked by a reveal is never held longer than that by a silent
     operator: all of it is released by the clearing or by `reclaim`.

     Orders. (order_id bytes32, is_buy, quantity_wh, price_micro_per_kwh):
     the buyer's maximum or the seller's minimum price. A member commits
         keccak256(abi_encode(slot, order_id, is_buy, quantity_wh,
                              price_micro_per_kwh, salt, member))
     under an order id of its own choosing. Commitments are kept per slot,
     member and order id, so no member can take or block another's id; a
     member's second commitment under the same id reverts (ids are told
     apart by their bits 32..255); a revealed commitment is gone. Each
     member reveals at most one order per slot (its position is what the
     meter reading is compared with), once.

     Storage ring. What a slot stores (its record, positions hash, orders,
     owed charges and each member's first commitment) sits at ring
     position slot % SLOT_RING, so the storage of a long run stays bounded
     (a node that rehashes its whole state per block, as anvil does, slows
     with every word kept) and a slot's words are rewritten, not written
     new (5 000 gas, not 22 100). `open_slot` reuses a position only once
     the slot it holds is finished: settled, cleared without a fill, void
     with every order reclaimed, or without orders and distance charge;
     else it reverts, so nothing a member is owed is overwritten. A record
     holds its slot: calls and views for a slot whose position holds
     another see no slot there. A member's further commitments in one slot
     (rare: it reveals one) are kept by slot, outside the ring.
     Revealing a buy order locks
         quantity * price // 1000 + quantity * fee_rate // 1000
     of the buyer's free balance: the most the order can cost.

     Revealed orders are stored, in reveal order, one storage word each:
     the order at index i of a slot is its owner (member index), side,
     quantity and price, and, in a clearing posted in several parts, its
     tallies (`orders_of`). Inputs are bounded so that they fit: quantities and
     readings below 2**32 Wh (4.29 GWh), prices and rates below 2**32
     micro-currency (4 294 currency units) per kWh or km. Fills name orders
     by these indices, and the operator posts only fills: the contract reads
     the orders it verifies against from its own storage, so a clearing may
     come in several transactions. The closing part and the meter's
     readings also carry, packed after their arguments, the address of each
     order's or position's member (20 bytes each; cheaper than a cold read
     of `address_of`): each is checked against the member index its order
     holds, so a wrong one reverts.
     At most MAX_ORDERS orders per slot: the clearing's last part closes
     all of them in one transaction, which must fit the gas of one.

     Clearing. Each fill names a buy and a sell order by index, an energy
     and a price. Verified: the buy side buys and the sell side sells,
     owners differ, energy > 0, seller's price <= price <= buyer's price,
     and no order is filled beyond its quantity over every fill of every
     part. A part that fails reverts whole; earlier parts stay posted.
     Money per fill: value = energy * price // 1000, fee = energy *
     fee_rate // 1000, the seller pays min(fee // 2, value) of the fee and
     the buyer the rest; the buyer pays value + its share, the seller
     receives value - its share, the DSO the fee: conserved exactly. The
     fills are tallied per order (energy, value, money) and money moves
     when the clearing closes. A clearing whose only part closes it keeps
     the tallies in transient storage for its transaction (`_tallies`: a
     rewritten order word costs 2 900 gas, a transient one 100); one in
     several parts tallies in the order words, which its later parts read; every buy order's lock is then released
     whole (what it paid came out of it). At most MAX_FILLS_PER_CALL fills
     per part and MAX_FILLS_PER_SLOT per slot.

     Distance charge (Score Matching, 003_dpda.md §1.3, eqs. 4.6/4.7). If
     the slot's distance charge rate C_d (micro-currency per km per matched
     pair: 10**-9 per metre resolution) is not 0, each fill costs the pair
         charge = C_d * d_mm // 1000000,
     d_mm the path length between the two owners' nodes on the DSO's feeder
     map (`feeder_map`; a pair off the map reverts the part), which is
     frozen from the opening of such a slot to its clearing or voiding. It
     is per pair, independent of energy: the seller owes charge // 2, the
     buyer the rest. The number of pairs an order gets is not known when it
     is revealed, so the charge is not in the escrow: when the clearing
     closes, once the fills are paid and the locks released, each owner pays
     its charges from its free balance; what it cannot pay is logged as a
     shortfall (`ChargeShortfall`) and not collected, as with metered
     penalties. The DSO receives what was paid: conserved exactly.

     Positions. Every order with a fill is a position (member, is_buy,
     energy_wh, value_micro); the contract stores the hash chain
         p0 = 0x00..00, p = keccak256(abi_encode(p, member, is_buy,
                                                 energy_wh, value_micro))
     in the order of the orders (and, for a clearing in several parts,
     each order's tallies, `orders_of`).

     Metered settlement (eqs. 4.8/4.9). The meter posts the readings of
     the positions in their order, any number per call (at most
     MAX_READINGS_PER_CALL), each call with every position not settled
     yet after its arguments; the contract checks them against the hash
     chain (from where the previous call stopped, `_metering`), so no
     position is read from storage and a wrong one reverts. For a position with reference E_ref (its filled energy),
     value V and metered energy E_m (consumed by a buyer, produced by a
     seller):
         credit   = |E_ref - E_m| * penalty_rate // 1000
         at_meter = V * E_m // E_ref     (the contracted price on E_m)
     A buyer's bill becomes at_meter + fee share + credit, a seller's income
     at_meter - fee share - credit: the buyer pays the DSO
     at_meter - V + credit, the seller pays it V - at_meter + credit (a
     negative amount is paid by the DSO). The DSO is the counterparty of
     every imbalance (the grid delivered or absorbed the difference) and
     receives the penalties. A member that cannot pay from its free balance
     pays what it has (the rest is logged as a shortfall); the DSO must hold
     enough to pay what it owes in each call, or the call reverts.

     Money. Only deposits and withdrawals change what the contract holds;
     after every transaction the internal balances sum to
     `total_internal_balance`, and the tokens held are at least that (a
     token sent to the contract without `deposit` is credited to nobody).
"""

import accounts
import voting
import vault
import feeder_map

from ethereum.ercs import IERC20

initializes: accounts
initializes: voting[accounts := accounts]
initializes: vault[accounts := accounts]
initializes: feeder_map[accounts := accounts]

exports: (
    accounts.roles_of,
    accounts.index_of,
    accounts.is_member,
    accounts.address_of,
    accounts.index_count,
    accounts.member_count,
    accounts.voter_count,
    accounts.operator_count,
    voting.quorum_bps,
    voting.voting_period,
    voting.bootstrapping,
    voting.electorate_version,
    voting.proposal_count,
    voting.has_voted,
    voting.bootstrap_members,
    voting.end_bootstrap,
    voting.propose,
    voting.vote,
    voting.proposal,
    voting.proposal_state,
    vault.token,
    vault.dso,
    vault.total_internal_balance,
    vault.deposit,
    vault.withdraw,
    vault.balance_of,
    vault.locked_of,
    vault.available_of,
    vault.available_of_many,
    feeder_map.node_of,
    feeder_map.set_nodes,
    feeder_map.set_distances,
    feeder_map.distance,
)


# Slot phases (as `slot_info` reports them).
PHASE_NONE: constant(uint8) = 0
PHASE_OPEN: constant(uint8) = 1
PHASE_REVEAL: constant(uint8) = 2
PHASE_CLEARING: constant(uint8) = 3
PHASE_CLEARED: constant(uint8) = 4
PHASE_SETTLED: constant(uint8) = 5
PHASE_VOID: constant(uint8) = 6

# @notice Most revealed orders per slot: the largest community one slot
#         clears (one order per member). The clearing's last part closes
#         every order in one transaction, within 2**24 gas.
MAX_ORDERS: public(constant(uint256)) = 1000

# @notice Most fills one part of a clearing carries.
MAX_FILLS_PER_CALL: public(constant(uint256)) = 128

# A fill, one calldata word: buy order index 0..15, sell order index
# 16..31, energy Wh 32..63, price 64..95, every other bit zero. Packed
# because calldata is paid per byte and four ABI words per fill were
# mostly zero bytes.
FILL_INDEX_MASK: constant(uint256) = 2**16 - 1
FILL_SELL_SHIFT: constant(uint256) = 16
FILL_ENERGY_SHIFT: constant(uint256) = 32
FILL_PRICE_SHIFT: constant(uint256) = 64
FILL_MASK: constant(uint256) = 2**96 - 1
# The `Traded` word: the fill 0..95, the pair's distance charge 96..191,
# the slot 192..223.
TRADE_CHARGE_SHIFT: constant(uint256) = 96
TRADE_SLOT_SHIFT: constant(uint256) = 192

# The `Revealed` word: the order word, its index 98..113, its lock 128..191.
REVEAL_INDEX_SHIFT: constant(uint256) = 98
REVEAL_LOCK_SHIFT: constant(uint256) = 128

# @notice Most fills one slot's clearing carries, over all its parts.
MAX_FILLS_PER_SLOT: constant(uint256) = 2**32 - 1

# @notice Most readings one `post_readings` call carries.
MAX_READINGS_PER_CALL: public(constant(uint256)) = 256

# @notice Most orders one `orders_of` call returns.
MAX_ORDERS_PER_VIEW: constant(uint256) = 256

# @notice Largest clearing deadline, seconds (a year).
MAX_CLEARING_DEADLINE: constant(uint256) = 366 * 86400

# Input bounds (quantities and readings 4.29 GWh, prices and rates 4 294
# currency units per kWh or km): an order's tallies fit its storage word.
MAX_QUANTITY_WH: constant(uint256) = 2**32 - 1
MAX_PRICE_MICRO_PER_KWH: constant(uint256) = 2**32 - 1
MAX_RATE_MICRO_PER_KWH: constant(uint256) = 2**32 - 1
MAX_SLOT: constant(uint256) = 2**32 - 2

WH_PER_KWH: constant(uint256) = 1000
MM_PER_KM: constant(uint256) = 1000000

# @notice Ring positions of the per-slot storage: slot `s` is stored at
#         position `s % SLOT_RING`, so what the market stores stays bounded
#         however many slots it runs. A position is reused only once the
#         slot it holds is finished (`open_slot`): 32 slots are 8 hours of
#         15-minute slots, beyond the 30-minute default clearing deadline
#         and a meter reporting the slot after delivery.
SLOT_RING: public(constant(uint256)) = 32

# Packed slot record: phase 0..7, order count 8..23, fee rate 24..55,
# penalty rate 56..87, distance charge rate 88..119, block time of the
# reveals' start 120..159, fills posted 160..191, orders the meter has
# passed (in a void slot: orders reclaimed) 192..207, the slot 224..255.
COUNT_SHIFT: constant(uint256) = 8
FEE_SHIFT: constant(uint256) = 24
PENALTY_SHIFT: constant(uint256) = 56
DISTANCE_SHIFT: constant(uint256) = 88
STARTED_SHIFT: constant(uint256) = 120
TRADES_SHIFT: constant(uint256) = 160
METERED_SHIFT: constant(uint256) = 192
SLOT_SHIFT: constant(uint256) = 224
PHASE_MASK: constant(uint256) = 255
COUNT_MASK: constant(uint256) = 2**16 - 1
RATE_MASK: constant(uint256) = 2**32 - 1
TIME_MASK: constant(uint256) = 2**40 - 1
TRADES_MASK: constant(uint256) = 2**32 - 1

# Packed order, one storage word, written at its reveal and tallied by the
# fills: owner's member index 0..31, is_buy 32, quantity 33..64, price
# 65..96, reclaimed 97, energy filled 98..129 (at most the quantity), value
# 130..185 and money 186..241 (what a buy pays, a sell receives: with
# quantity and prices below 2**32, below 2 * 2**64 // 1000 < 2**56).
SIDE_BIT: constant(uint256) = 2**32
QUANTITY_SHIFT: constant(uint256) = 33
PRICE_SHIFT: constant(uint256) = 65
RECLAIMED_BIT: constant(uint256) = 2**97
FILLED_SHIFT: constant(uint256) = 98
VALUE_SHIFT: constant(uint256) = 130
MONEY_SHIFT: constant(uint256) = 186
INDEX_MASK: constant(uint256) = 2**32 - 1
FIELD_MASK: constant(uint256) = 2**32 - 1
AMOUNT_MASK: constant(uint256) = 2**56 - 1
ORDER_MASK: constant(uint256) = 2**98 - 1
# The fields of an account record below its balance (roles, index, counter).
RECORD_KEEP_MASK: constant(uint256) = (1 << accounts.BALANCE_SHIFT) - 1
# Least calldata of a call with an empty array: selector and head words
# (slot, the array's offset, `last`) and the array's length. Addresses
# appended after the arguments come on top.
POST_CLEARING_ARGS: constant(uint256) = 4 + 4 * 32
POST_READINGS_ARGS: constant(uint256) = 4 + 3 * 32
# An order's storage key: ring position << ORDER_KEY_SHIFT | its index.
ORDER_KEY_SHIFT: constant(uint256) = 16
# A commitment's key word: the order id's bits 32..255 and slot + 1 in
# 0..31 (the slot tells a commitment of this slot from one of an earlier
# slot at the same ring position).
TAG_MASK: constant(uint256) = 2**32 - 1
# What a revealed commitment is overwritten with: rewriting a non-zero
# word costs 2 900 gas and the next slot's commitment 5 000, where
# clearing it would make that commitment a new word (22 100).
REVEALED_COMMITMENT: constant(bytes32) = 0x0000000000000000000000000000000000000000000000000000000000000001
OWED_MASK: constant(uint256) = 2**128 - 1

# @notice Seconds after the start of a slot's reveals by which its clearing
#         must be closed; from then on the slot can be voided.
clearing_deadline: public(immutable(uint256))

# @notice The DSO's fee on traded energy for slots opened from now on.
fee_rate: public(uint256)

# @notice The DSO's deviation penalty for slots opened from now on.
penalty_rate: public(uint256)

# @notice The DSO's charge per km per matched pair (Score Matching's C_d)
#         for slots opened from now on, micro-currency.
distance_charge_rate: public(uint256)

struct Commitment:
    key: uint256  # order id bits 32..255 | slot + 1
    digest: bytes32  # REVEALED_COMMITMENT once revealed


# Per-slot storage, keyed by ring position (slot % SLOT_RING): the slot
# record (which holds its slot), the positions hash, each member's first
# commitment of the slot, the orders and the owed distance charges.
_slots: HashMap[uint256, uint256]
_positions: HashMap[uint256, bytes32]
# ring position -> member -> the member's first commitment of the slot
_commitments: HashMap[uint256, HashMap[address, Commitment]]
# slot -> member -> order id -> a member's further commitments of the slot
# (emptied once revealed). Keyed by slot: only a member that commits
# several orders in one slot writes here, which the platform never does.
_more_commitments: HashMap[uint256, HashMap[address, HashMap[bytes32, bytes32]]]
# ring position << 16 | index -> packed order (one key, one hash per
# access: the index is below MAX_ORDERS < 2**16)
_orders: HashMap[uint256, uint256]
# ring position -> index // 2 -> distance charges owed for orders index &
# ~1 (bits 0..127) and index | 1 (bits 128..255) by the parts of a clearing
# before its closing one: at most 2**32 fills of < 2**77. Zeroed by the
# reveal of an even index in a slot with a distance charge rate.
_owed: HashMap[uint256, HashMap[uint256, uint256]]
# slot -> index -> distance charges owed for the order by the closing part:
# they are paid in the same transaction, so they are summed where a word
# costs 100 gas, not 22 100 (a fresh storage word).
_owed_now: transient(HashMap[uint256, HashMap[uint256, uint256]])
# slot << 16 | index -> the order's word with its tallies, in a clearing
# closed in the transaction that posts its only part: the closing reads
# them here (100 gas a write, where rewriting the order's storage word
# costs 2 900), and the meter reads the positions from its calldata, checked
# against the positions hash. A clearing in several parts tallies in the
# order words, which it reads back in its later transactions.
_tallies: transient(HashMap[uint256, uint256])
# ring position -> the positions hash chain up to the last position the
# meter settled, when a slot's readings come in several calls.
_metering: HashMap[uint256, bytes32]


event RatesChanged:
    fee_micro_per_kwh: uint256
    penalty_micro_per_kwh: uint256
    distance_charge_micro_per_km: uint256


event PhaseChanged:
    slot: indexed(uint256)
    phase: uint8


event Committed:
    slot: indexed(uint256)
    order_id: indexed(bytes32)
    owner: indexed(address)
    commitment: bytes32


# `order`: the stored order word as revealed (owner's member index 0..31,
# is_buy 32, quantity 33..64, price 65..96), its index in the slot
# 98..113 and the lock it took 128..191 (below 2**56). Two data words and
# one topic: a reveal is paid by every member in every slot.
event Revealed:
    slot: indexed(uint256)
    order_id: bytes32
    order: uint256


# `trades`: the fills of one part of a clearing, in the order posted, one
# word each: the fill as posted (buy index 0..15, sell index 16..31, energy
# Wh 32..63, price 64..95), the pair's distance charge 96..191, the slot
# 192..223. One event per part, no indexed topic: a log costs 375 gas and
# a topic 375 more, a data word 256, so the fills share one.
event Traded:
    trades: DynArray[uint256, MAX_FILLS_PER_CALL]


event ChargeShortfall:
    slot: indexed(uint256)
    member: indexed(address)
    owed_micro: uint256
    paid_micro: uint256


event Cleared:
    slot: indexed(uint256)
    positions_hash: bytes32
    trade_count: uint256
    energy_wh: uint256
    value_micro: uint256
    fee_micro: uint256
    charge_micro: uint256


event Reclaimed:
    slot: indexed(uint256)
    member: indexed(address)
    index: uint256
    released_micro: uint256


event MeterSettled:
    slot: indexed(uint256)
    member: indexed(address)
    reference_wh: uint256
    metered_wh: uint256
    credit_micro: uint256
    paid_to_dso_micro: uint256
    paid_by_dso_micro: uint256
    shortfall_micro: uint256


event Metered:
    slot: indexed(uint256)
    positions: uint256
    dso_received_micro: uint256
    dso_paid_micro: uint256


@deploy
def __init__(
    token_: IERC20,
    operator_: address,
    dso_: address,
    quorum_bps_: uint256,
    voting_period_: uint256,
    fee_micro_per_kwh_: uint256,
    penalty_micro_per_kwh_: uint256,
    distance_charge_micro_per_km_: uint256,
    clearing_deadline_: uint256,
):
    """
    @notice Operator and DSO get their roles (the bootstrap is open); the DSO
            account receives fees, charges and penalties; the initial rates
            and the clearing deadline (seconds after a slot's reveals start)
            are set.
    """
    assert clearing_deadline_ != 0, "clearing deadline out of range"
    assert clearing_deadline_ <= MAX_CLEARING_DEADLINE, "clearing deadline out of range"
    voting.__init__(operator_, dso_, quorum_bps_, voting_period_)
    vault.__init__(token_, dso_)
    clearing_deadline = clearing_deadline_
    self._set_rates(fee_micro_per_kwh_, penalty_micro_per_kwh_, distance_charge_micro_per_km_)


# --- DSO ---------------------------------------------------------------------


@external
def set_rates(
    fee_micro_per_kwh: uint256,
    penalty_micro_per_kwh: uint256,
    distance_charge_micro_per_km: uint256,
):
    """
    @notice Set the fee, penalty and distance charge rates for slots opened
            from now on (DSO).
    """
    if not (accounts._has_role(msg.sender, accounts.ROLE_DSO)):
        self._fail("caller is not the dso")
    self._set_rates(fee_micro_per_kwh, penalty_micro_per_kwh, distance_charge_micro_per_km)


@internal
def _set_rates(fee: uint256, penalty: uint256, distance_charge: uint256):
    if not (fee <= MAX_RATE_MICRO_PER_KWH):
        self._fail("fee rate out of range")
    if not (penalty <= MAX_RATE_MICRO_PER_KWH):
        self._fail("penalty rate out of range")
    if not (distance_charge <= MAX_RATE_MICRO_PER_KWH):
        self._fail("distance charge rate out of range")
    self.fee_rate = fee
    self.penalty_rate = penalty
    self.distance_charge_rate = distance_charge
    log RatesChanged(
        fee_micro_per_kwh=fee,
        penalty_micro_per_kwh=penalty,
        distance_charge_micro_per_km=distance_charge,
    )


# --- operator: phases --------------------------------------------------------


@external
def open_slot(slot: uint256):
    """
    @notice Open `slot` for commitments and freeze its rates (operator).
            Its ring position must hold no slot, or an earlier one that is
            finished: settled, cleared without a fill, void with every order
            reclaimed, or without orders and distance charge.
    """
    self._only_operator()
    if not (slot <= MAX_SLOT):
        self._fail("slot out of range")
    held: uint256 = self._slots[slot % SLOT_RING]
    # An opened slot's record has a phase: never 0.
    if held != 0:
        if not (held >> SLOT_SHIFT != slot):
            self._fail("slot already opened")
        if not (held >> SLOT_SHIFT < slot):
            self._fail("slot older than the ring")
        phase: uint256 = held & PHASE_MASK
        count: uint256 = (held >> COUNT_SHIFT) & COUNT_MASK
        if not (
            phase == convert(PHASE_SETTLED, uint256)
            or (phase == convert(PHASE_CLEARED, uint256) and (held >> TRADES_SHIFT) & TRADES_MASK == 0)
            or (phase == convert(PHASE_VOID, uint256) and (held >> METERED_SHIFT) & COUNT_MASK == count)
            or (count == 0 and (held >> DISTANCE_SHIFT) & RATE_MASK == 0)
        ):
            self._fail("ring position holds an unfinished slot")
    self._slots[slot % SLOT_RING] = (
        convert(PHASE_OPEN, uint256)
        | (self.fee_rate << FEE_SHIFT)
        | (self.penalty_rate << PENALTY_SHIFT)
        | (self.distance_charge_rate << DISTANCE_SHIFT)
        | (slot << SLOT_SHIFT)
    )
    if self.distance_charge_rate != 0:
        # The map prices this slot's pairs: frozen until its clearing.
        feeder_map._hold()
    log PhaseChanged(slot=slot, phase=PHASE_OPEN)


@external
def start_reveal(slot: uint256):
    """
    @notice Close `slot`'s commitments and open its reveals (operator); the
            clearing deadline runs from now.
    """
    self._only_operator()
    record: uint256 = self._record(slot)
    if not (record & PHASE_MASK == convert(PHASE_OPEN, uint256)):
        self._fail("slot is not open for commitments")
    # Block times are below 2**40 until the year 36812.
    self._slots[slot % SLOT_RING] = record + 1 + ((block.timestamp & TIME_MASK) << STARTED_SHIFT)
    log PhaseChanged(slot=slot, phase=PHASE_REVEAL)


# --- prosumers: commit and reveal ---------------------------------------------


@external
def commit(slot: uint256, order_id: bytes32, commitment: bytes32):
    """
    @notice Commit to a sealed order of `slot` under `order_id` (prosumer).
    """
    if not (accounts._has_role(msg.sender, accounts.ROLE_PROSUMER)):
        self._fail("caller is not a prosumer")
    if not (self._record(slot) & PHASE_MASK == convert(PHASE_OPEN, uint256)):
        self._fail("slot is not open for commitments")
    if not (commitment != empty(bytes32)):
        self._fail("bad commitment")
    position: uint256 = slot % SLOT_RING
    key: uint256 = (convert(order_id, uint256) & ~TAG_MASK) | (slot + 1)
    held: uint256 = self._commitments[position][msg.sender].key
    if held & TAG_MASK == slot + 1:
        # The member's first commitment of this slot is held: this is another.
        if not (held != key and self._more_commitments[slot][msg.sender][order_id] == empty(bytes32)):
            self._fail("order id already committed")
        self._more_commitments[slot][msg.sender][order_id] = commitment
    else:
        # Over the commitment of an earlier slot at this ring position.
        self._commitments[position][msg.sender] = Commitment(key=key, digest=commitment)
    log Committed(slot=slot, order_id=order_id, owner=msg.sender, commitment=commitment)


@external
def reveal(
    slot: uint256,
    order_id: bytes32,
    is_buy: bool,
    quantity_wh: uint256,
    price_micro_per_kwh: uint256,
    salt: bytes32,
):
    """
    @notice Reveal a committed order of `slot` (its committer, a prosumer);
            a buy order locks its maximum cost in escrow.
    """
    record: uint256 = accounts.records[msg.sender]
    if not (record & accounts.ROLE_PROSUMER != 0):
        self._fail("caller is not a prosumer")
    slot_record: uint256 = self._record(slot)
    if not (slot_record & PHASE_MASK == convert(PHASE_REVEAL, uint256)):
        self._fail("slot is not in its reveal phase")
    self._before_deadline(slot_record)
    position: uint256 = slot % SLOT_RING
    first: bool = False
    stored: bytes32 = empty(bytes32)
    first, stored = self._commitment(position, slot, msg.sender, order_id)
    if not (stored != empty(bytes32)):
        self._fail("no commitment under this order id")
    if not (quantity_wh != 0):
        self._fail("zero quantity")
    if not (quantity_wh <= MAX_QUANTITY_WH):
        self._fail("quantity out of range")
    if not (price_micro_per_kwh <= MAX_PRICE_MICRO_PER_KWH):
        self._fail("price out of range")
    digest: bytes32 = keccak256(
        abi_encode(slot, order_id, is_buy, quantity_wh, price_micro_per_kwh, salt, msg.sender)
    )
    if not (digest == stored):
        self._fail("reveal does not match the commitment")
    if not (accounts._counter(record) <= slot):
        self._fail("one order per member per slot")
    count: uint256 = (slot_record >> COUNT_SHIFT) & COUNT_MASK
    if not (count < MAX_ORDERS):
        self._fail("slot has the most orders it can clear")

    record = accounts._with_counter(record, slot + 1)
    lock: uint256 = 0
    packed: uint256 = (
        accounts._index(record)
        | (quantity_wh << QUANTITY_SHIFT)
        | (price_micro_per_kwh << PRICE_SHIFT)
    )
    if is_buy:
        packed |= SIDE_BIT
        lock = self._lock(quantity_wh, price_micro_per_kwh, (slot_record >> FEE_SHIFT) & RATE_MASK)
        balance: uint256 = accounts._balance(record)
        locked: uint256 = accounts._locked(record)
        if not (balance - locked >= lock):
            self._fail("free balance too low for the order's escrow")
        record = accounts._with_money(record, balance, locked + lock)
    accounts.records[msg.sender] = record
    self._orders[(position << ORDER_KEY_SHIFT) | count] = packed
    if count & 1 == 0 and (slot_record >> DISTANCE_SHIFT) & RATE_MASK != 0:
        # The word of this order's charges may hold an earlier slot's.
        self._owed[position][count >> 1] = 0
    # Revealed: a second reveal finds no commitment.
    if first:
        self._commitments[position][msg.sender].digest = REVEALED_COMMITMENT
    else:
        self._more_commitments[slot][msg.sender][order_id] = empty(bytes32)
    self._slots[position] = slot_record + (1 << COUNT_SHIFT)
    log Revealed(
        slot=slot,
        order_id=order_id,
        order=packed | (count << REVEAL_INDEX_SHIFT) | (lock << REVEAL_LOCK_SHIFT),
    )


# --- operator: the clearing ---------------------------------------------------


@external
def post_clearing(slot: uint256, fills: DynArray[uint256, MAX_FILLS_PER_CALL], last: bool):
    """
    @notice Post a part of `slot`'s clearing (operator): fills naming orders
            by their index in reveal order, each one word: buy index 0..15,
            sell index 16..31, energy Wh 32..63, price 64..95. Every fill is
            verified and tallied; a failure reverts the part. With `last`,
            the clearing closes: money moves, every lock is released,
            positions are recorded. Before the clearing deadline only.
            With `last`, the calldata ends with the owner of every revealed
            order of the slot, in reveal order, 20 bytes each after the
            arguments (`_address_at`); each order the closing touches is
            checked against its owner's member index.
    @dev Owners in calldata cost 320 gas each; reading each order's owner
         from `address_of` costs a cold storage read (2 100). They follow the
         ABI arguments rather than being one: Vyper keeps an array argument
         in memory at its largest size (1 000 addresses here), and memory
         is priced quadratically (about 6 000 gas a call, fills or not).
    """
    self._only_operator()
    slot_record: uint256 = self._record(slot)
    phase: uint256 = slot_record & PHASE_MASK
    if not (
        phase == convert(PHASE_REVEAL, uint256) or phase == convert(PHASE_CLEARING, uint256)
    ):
        self._fail("slot is not in its reveal phase")
    self._before_deadline(slot_record)
    trades: uint256 = (slot_record >> TRADES_SHIFT) & TRADES_MASK
    if not (len(fills) <= TRADES_MASK - trades):
        self._fail("too many fills for the slot")

    n: uint256 = (slot_record >> COUNT_SHIFT) & COUNT_MASK
    # Where the owners begin (read only with `last`).
    owners: uint256 = 0
    if last:
        if not (len(msg.data) >= POST_CLEARING_ARGS + 20 * n):
            self._fail("owners do not match the slot's orders")
        owners = len(msg.data) - 20 * n
    fee_rate: uint256 = (slot_record >> FEE_SHIFT) & RATE_MASK
    distance_rate: uint256 = (slot_record >> DISTANCE_SHIFT) & RATE_MASK
    position: uint256 = slot % SLOT_RING
    base: uint256 = position << ORDER_KEY_SHIFT
    slot_bits: uint256 = slot << TRADE_SLOT_SHIFT
    # The only part, closing: tallies in transient storage (`_tallies`).
    one_shot: bool = last and phase == convert(PHASE_REVEAL, uint256)
    tally_base: uint256 = slot << ORDER_KEY_SHIFT
    logged: DynArray[uint256, MAX_FILLS_PER_CALL] = []
    for f: uint256 in fills:
        if not (f & ~FILL_MASK == 0):
            self._fail("malformed fill")
        buy: uint256 = f & FILL_INDEX_MASK
        sell: uint256 = (f >> FILL_SELL_SHIFT) & FILL_INDEX_MASK
        # Both fields below 2**32 by the mask: every product below fits.
        energy_wh: uint256 = (f >> FILL_ENERGY_SHIFT) & FIELD_MASK
        price: uint256 = f >> FILL_PRICE_SHIFT
        if not (buy < n and sell < n):
            self._fail("fill names an unknown order")
        b: uint256 = 0
        s: uint256 = 0
        if one_shot:
            b = self._tallies[tally_base | buy]
            s = self._tallies[tally_base | sell]
        # An order word is never 0 (its quantity is not): 0 is "not tallied here yet".
        if b == 0:
            b = self._orders[base | buy]
        if s == 0:
            s = self._orders[base | sell]
        if not (b & SIDE_BIT != 0):
            self._fail("fill's buy order is a sell order")
        if not (s & SIDE_BIT == 0):
            self._fail("fill's sell order is a buy order")
        if not (b & INDEX_MASK != s & INDEX_MASK):
            self._fail("buyer and seller are the same")
        if not (energy_wh != 0):
            self._fail("zero energy")
        if not (price >= (s >> PRICE_SHIFT) & FIELD_MASK):
            self._fail("price below the seller's limit")
        if not (price <= (b >> PRICE_SHIFT) & FIELD_MASK):
            self._fail("price above the buyer's limit")
        # Energy filled is at most the order's quantity (< 2**32): no overflow.
        filled_b: uint256 = unsafe_add((b >> FILLED_SHIFT) & FIELD_MASK, energy_wh)
        filled_s: uint256 = unsafe_add((s >> FILLED_SHIFT) & FIELD_MASK, energy_wh)
        if not (filled_b <= (b >> QUANTITY_SHIFT) & FIELD_MASK):
            self._fail("buy order filled beyond its quantity")
        if not (filled_s <= (s >> QUANTITY_SHIFT) & FIELD_MASK):
            self._fail("sell order filled beyond its quantity")

        trade_value: uint256 = unsafe_div(unsafe_mul(energy_wh, price), WH_PER_KWH)
        fee: uint256 = unsafe_div(unsafe_mul(energy_wh, fee_rate), WH_PER_KWH)
        seller_fee: uint256 = min(unsafe_div(fee, 2), trade_value)
        # Tallied in the order's word: value and money stay below 2**56.
        b = (
            (b & ORDER_MASK)
            | (filled_b << FILLED_SHIFT)
            | (unsafe_add((b >> VALUE_SHIFT) & AMOUNT_MASK, trade_value) << VALUE_SHIFT)
            | (
                unsafe_add(b >> MONEY_SHIFT, unsafe_add(trade_value, unsafe_sub(fee, seller_fee)))
                << MONEY_SHIFT
            )
        )
        s = (
            (s & ORDER_MASK)
            | (filled_s << FILLED_SHIFT)
            | (unsafe_add((s >> VALUE_SHIFT) & AMOUNT_MASK, trade_value) << VALUE_SHIFT)
            | (unsafe_add(s >> MONEY_SHIFT, unsafe_sub(trade_value, seller_fee)) << MONEY_SHIFT)
        )
        if one_shot:
            self._tallies[tally_base | buy] = b
            self._tallies[tally_base | sell] = s
        else:
            self._orders[base | buy] = b
            self._orders[base | sell] = s
        charge: uint256 = 0
        if distance_rate != 0:
            millimetres: uint256 = 0
            if last:
                # The closing below checks both owners against their orders.
                millimetres = feeder_map._member_distance(
                    self._address_at(owners, buy), self._address_at(owners, sell)
                )
            else:
                millimetres = feeder_map._member_distance(
                    accounts.address_of[b & INDEX_MASK], accounts.address_of[s & INDEX_MASK]
                )
            if not (millimetres != feeder_map.UNKNOWN_DISTANCE):
                self._fail("no distance between the pair's nodes")
            # rate < 2**32, distance < 2**64: charge < 2**77.
            charge = unsafe_div(unsafe_mul(distance_rate, millimetres), MM_PER_KM)
            seller_share: uint256 = unsafe_div(charge, 2)
            if last:
                # Summed per order for the closing below, in this transaction.
                self._owed_now[slot][buy] = unsafe_add(
                    self._owed_now[slot][buy], unsafe_sub(charge, seller_share)
                )
                self._owed_now[slot][sell] = unsafe_add(self._owed_now[slot][sell], seller_share)
            else:
                self._owe(position, buy, unsafe_sub(charge, seller_share))
                self._owe(position, sell, seller_share)
        logged.append(f | (charge << TRADE_CHARGE_SHIFT) | slot_bits)
    if len(logged) != 0:
        log Traded(trades=logged)

    slot_record = (slot_record & ~(TRADES_MASK << TRADES_SHIFT)) | (
        unsafe_add(trades, len(fills)) << TRADES_SHIFT
    )
    if not last:
        if phase == convert(PHASE_REVEAL, uint256):
            slot_record += 1
            log PhaseChanged(slot=slot, phase=PHASE_CLEARING)
        self._slots[position] = slot_record
        return

    # The closing: move the money of every order's tallies, release every
    # lock, take the distance charges from what is free, record positions.
    # Earlier parts' distance charges are in storage, the closing part's in
    # transient storage.
    had_parts: bool = phase == convert(PHASE_CLEARING, uint256)
    p: bytes32 = empty(bytes32)
    paid_in: uint256 = 0
    paid_out: uint256 = 0
    energy_total: uint256 = 0
    value_total: uint256 = 0
    charged: uint256 = 0
    charging: bool = distance_rate != 0
    for i: uint256 in range(n, bound=MAX_ORDERS):
        o: uint256 = 0
        if one_shot:
            o = self._tallies[tally_base | i]
        if o == 0:
            o = self._orders[base | i]
        is_buy: bool = o & SIDE_BIT != 0
        filled: uint256 = (o >> FILLED_SHIFT) & FIELD_MASK
        if not is_buy and filled == 0:
            continue  # a sell without a fill: no money, no charge, no position
        owner: address = self._address_at(owners, i)
        record: uint256 = accounts.records[owner]
        if not ((record >> accounts.INDEX_SHIFT) & INDEX_MASK == o & INDEX_MASK):
            self._fail("owner does not match the order")
        money: uint256 = o >> MONEY_SHIFT
        value: uint256 = (o >> VALUE_SHIFT) & AMOUNT_MASK
        balance: uint256 = (record >> accounts.BALANCE_SHIFT) & accounts.AMOUNT_MASK
        locked: uint256 = record >> accounts.LOCKED_SHIFT
        if is_buy:
            # paid <= lock <= locked <= balance (see the docstring).
            balance -= money
            quantity: uint256 = (o >> QUANTITY_SHIFT) & FIELD_MASK
            # The lock of the reveal (`_lock`, written out: this loop runs per order).
            locked -= unsafe_add(
                unsafe_div(unsafe_mul(quantity, (o >> PRICE_SHIFT) & FIELD_MASK), WH_PER_KWH),
                unsafe_div(unsafe_mul(quantity, fee_rate), WH_PER_KWH),
            )
            paid_in = unsafe_add(paid_in, money)
            energy_total = unsafe_add(energy_total, filled)
            value_total = unsafe_add(value_total, value)
        else:
            # Taken from the buyers' balances: the total is unchanged.
            balance = unsafe_add(balance, money)
            paid_out = unsafe_add(paid_out, money)
        if charging and filled != 0:
            owed: uint256 = self._owed_now[slot][i]
            if had_parts:
                owed = unsafe_add(owed, self._owed_of(position, i))
            paid: uint256 = min(owed, balance - locked)
            balance = unsafe_sub(balance, paid)
            charged = unsafe_add(charged, paid)
            if paid != owed:
                log ChargeShortfall(slot=slot, member=owner, owed_micro=owed, paid_micro=paid)
        # Both amounts below 2**92 (see `accounts`): the record's other fields kept.
        accounts.records[owner] = (
            (record & RECORD_KEEP_MASK)
            | (balance << accounts.BALANCE_SHIFT)
            | (locked << accounts.LOCKED_SHIFT)
        )
        if filled != 0:
            p = keccak256(abi_encode(p, owner, is_buy, filled, value))
    # What the buyers paid is what the sellers received and the fees.
    fee_total: uint256 = paid_in - paid_out
    if fee_total != 0 or charged != 0:
        vault._credit(vault.dso, unsafe_add(fee_total, charged))
    if charging:
        feeder_map._release()
    self._positions[position] = p
    self._slots[position] = (slot_record & ~PHASE_MASK) | convert(PHASE_CLEARED, uint256)
    log Cleared(
        slot=slot,
        positions_hash=p,
        trade_count=(slot_record >> TRADES_SHIFT) & TRADES_MASK,
        energy_wh=energy_total,
        value_micro=value_total,
        fee_micro=fee_total,
        charge_micro=charged,
    )
    log PhaseChanged(slot=slot, phase=PHASE_CLEARED)


# --- members: a slot whose clearing never came --------------------------------


@external
def reclaim(slot: uint256, index: uint256):
    """
    @notice Release the lock of the order at `index` in `slot` to its owner,
            voiding the slot first if it is not void yet (which needs its
            clearing deadline passed). Needs no role: the money goes back to
            the order's owner whoever calls, so the operator can free a void
            slot's ring position without waiting for every member.
    """
    slot_record: uint256 = self._record(slot)
    if slot_record & PHASE_MASK != convert(PHASE_VOID, uint256):
        slot_record = self._void(slot, slot_record)
    position: uint256 = slot % SLOT_RING
    key: uint256 = (position << ORDER_KEY_SHIFT) | index
    o: uint256 = self._orders[key]
    # The word at an index past the slot's count is an earlier slot's.
    if not (o != 0 and index < (slot_record >> COUNT_SHIFT) & COUNT_MASK):
        self._fail("no such order in the slot")
    owner: address = accounts.address_of[o & INDEX_MASK]
    record: uint256 = accounts.records[owner]
    if not (o & RECLAIMED_BIT == 0):
        self._fail("order already reclaimed")
    self._orders[key] = o | RECLAIMED_BIT
    # Counted where a void slot keeps no metering: its ring position is
    # free again once every order is reclaimed.
    self._slots[position] = slot_record + (1 << METERED_SHIFT)
    lock: uint256 = 0
    if o & SIDE_BIT != 0:
        lock = self._lock(
            (o >> QUANTITY_SHIFT) & FIELD_MASK,
            (o >> PRICE_SHIFT) & FIELD_MASK,
            (slot_record >> FEE_SHIFT) & RATE_MASK,
        )
        # The reveal locked exactly this, and nothing else released it.
        accounts.records[owner] = accounts._with_money(
            record, accounts._balance(record), accounts._locked(record) - lock
        )
    log Reclaimed(slot=slot, member=owner, index=index, released_micro=lock)


@internal
def _void(slot: uint256, record: uint256) -> uint256:
    slot_record: uint256 = record
    phase: uint256 = slot_record & PHASE_MASK
    if not (
        phase == convert(PHASE_REVEAL, uint256) or phase == convert(PHASE_CLEARING, uint256)
    ):
        self._fail("slot is not awaiting a clearing")
    if not (self._deadline_passed(slot_record)):
        self._fail("clearing deadline not reached")
    slot_record = (slot_record & ~PHASE_MASK) | convert(PHASE_VOID, uint256)
    if (slot_record >> DISTANCE_SHIFT) & RATE_MASK != 0:
        feeder_map._release()
    log PhaseChanged(slot=slot, phase=PHASE_VOID)
    return slot_record


# --- meter: settlement against metered energy ---------------------------------


@external
def post_readings(slot: uint256, metered_wh: DynArray[uint256, MAX_READINGS_PER_CALL]):
    """
    @notice Post the metered energy of `slot`'s next positions (meter) and
            settle their true-ups and penalties with the DSO (eqs. 4.8/4.9).
            Positions are the cleared orders with a fill, in order; the first
            reading is for the first position not metered yet. `metered_wh`
            is the energy the position's member consumed (buyer) or produced
            (seller) in the slot, Wh. The calldata ends with every position
            not metered yet, 32 bytes each after the arguments: its member
            (20 bytes), is_buy (1), energy Wh (4) and value (7). They are
            checked against the positions hash the clearing stored (from the
            hash chain up to the first of them), so a wrong one reverts; the
            contract keeps no position of its own (a clearing in one
            transaction does not write its tallies). The slot is settled once
            every position is metered.
    """
    if not (accounts._has_role(msg.sender, accounts.ROLE_METER)):
        self._fail("caller is not a meter")
    slot_record: uint256 = self._record(slot)
    if not (slot_record & PHASE_MASK == convert(PHASE_CLEARED, uint256)):
        self._fail("slot is not cleared")
    # Positions metered so far.
    start: uint256 = (slot_record >> METERED_SHIFT) & COUNT_MASK
    penalty_rate: uint256 = (slot_record >> PENALTY_SHIFT) & RATE_MASK
    position: uint256 = slot % SLOT_RING
    readings: uint256 = len(metered_wh)
    tail: uint256 = POST_READINGS_ARGS + 32 * readings
    # Whole positions, at most MAX_ORDERS (a slot holds no more).
    if not (
        len(msg.data) >= tail
        and (len(msg.data) - tail) % 32 == 0
        and len(msg.data) - tail <= 32 * MAX_ORDERS
    ):
        self._fail("positions do not match the slot's")
    remaining: uint256 = unsafe_div(unsafe_sub(len(msg.data), tail), 32)
    if not (readings <= remaining):
        self._fail("more readings than positions")
    p: bytes32 = empty(bytes32)
    if start != 0:
        p = self._metering[position]
    cursor: bytes32 = p
    dso_in: uint256 = 0
    dso_out: uint256 = 0
    for k: uint256 in range(remaining, bound=MAX_ORDERS):
        word: uint256 = convert(convert(slice(msg.data, tail + 32 * k, 32), bytes32), uint256)
        member: address = convert(word >> 96, address)
        is_buy: bool = (word >> 88) & 255 != 0
        reference: uint256 = (word >> 56) & FIELD_MASK
        value: uint256 = word & AMOUNT_MASK
        p = keccak256(abi_encode(p, member, is_buy, reference, value))
        if k >= readings:
            continue
        cursor = p
        metered: uint256 = metered_wh[k]
        if not (metered <= MAX_QUANTITY_WH):
            self._fail("metered energy out of range")
        deviation: uint256 = 0
        if metered > reference:
            deviation = unsafe_sub(metered, reference)
        else:
            deviation = unsafe_sub(reference, metered)
        credit: uint256 = unsafe_div(unsafe_mul(deviation, penalty_rate), WH_PER_KWH)
        # reference > 0 for a position (a forged 0 fails the hash below);
        # value < 2**56, metered < 2**32.
        at_meter: uint256 = unsafe_div(unsafe_mul(value, metered), reference)
        charge: uint256 = credit
        refund: uint256 = 0
        if is_buy:
            charge = unsafe_add(charge, at_meter)
            refund = value
        else:
            charge = unsafe_add(charge, value)
            refund = at_meter
        to_dso: uint256 = 0
        from_dso: uint256 = 0
        shortfall: uint256 = 0
        record: uint256 = accounts.records[member]
        balance: uint256 = accounts._balance(record)
        locked: uint256 = accounts._locked(record)
        if charge > refund:
            owed: uint256 = unsafe_sub(charge, refund)
            to_dso = min(owed, balance - locked)
            shortfall = unsafe_sub(owed, to_dso)
            dso_in = unsafe_add(dso_in, to_dso)
        else:
            from_dso = unsafe_sub(refund, charge)
            dso_out = unsafe_add(dso_out, from_dso)
        # The balance stays below 2**92: the vault caps the total it holds.
        accounts.records[member] = accounts._with_money(
            record, unsafe_add(unsafe_sub(balance, to_dso), from_dso), locked
        )
        log MeterSettled(
            slot=slot,
            member=member,
            reference_wh=reference,
            metered_wh=metered,
            credit_micro=credit,
            paid_to_dso_micro=to_dso,
            paid_by_dso_micro=from_dso,
            shortfall_micro=shortfall,
        )
    if not (p == self._positions[position]):
        self._fail("positions do not match the slot's")

    dso_record: uint256 = accounts.records[vault.dso]
    dso_balance: uint256 = accounts._balance(dso_record) + dso_in
    dso_locked: uint256 = accounts._locked(dso_record)
    if not (dso_balance - dso_locked >= dso_out):
        self._fail("dso balance too low for the imbalance true-ups")
    accounts.records[vault.dso] = accounts._with_money(
        dso_record, unsafe_sub(dso_balance, dso_out), dso_locked
    )
    # start + readings <= remaining + start <= MAX_ORDERS: fits its field.
    slot_record = unsafe_add(slot_record, readings << METERED_SHIFT)
    settled: bool = readings == remaining
    if settled:
        slot_record = (slot_record & ~PHASE_MASK) | convert(PHASE_SETTLED, uint256)
    elif readings != 0:
        self._metering[position] = cursor
    self._slots[position] = slot_record
    log Metered(slot=slot, positions=readings, dso_received_micro=dso_in, dso_paid_micro=dso_out)
    if settled:
        log PhaseChanged(slot=slot, phase=PHASE_SETTLED)


# --- internals -----------------------------------------------------------------


@internal
@view
def _address_at(start: uint256, i: uint256) -> address:
    """
    @notice The `i`-th address of the 20-byte addresses that begin at byte
            `start` of the calldata. Any 20 bytes are an address: the caller
            checks it against the member index of its order.
    """
    return convert(convert(slice(msg.data, start + 20 * i, 20), bytes20), address)


@internal
@pure
def _fail(reason: String[64]):
    """
    @notice Revert with `reason`, as `assert` does.
    @dev The contract is at the EIP-170 size limit, and an `assert` with a
         reason writes out the whole revert sequence at each check (about
         130 bytes); every check of the runtime code shares this one instead
         (a passing check costs the same: the call is only made to fail).
    """
    raise reason


@internal
@view
def _only_operator():
    if not (accounts._has_role(msg.sender, accounts.ROLE_OPERATOR)):
        self._fail("caller is not the operator")


@internal
@pure
def _lock(quantity_wh: uint256, price_micro_per_kwh: uint256, fee_rate: uint256) -> uint256:
    """
    @notice A buy order's escrow: its most cost (all inputs below 2**48).
    """
    return unsafe_div(unsafe_mul(quantity_wh, price_micro_per_kwh), WH_PER_KWH) + unsafe_div(
        unsafe_mul(quantity_wh, fee_rate), WH_PER_KWH
    )


@internal
def _owe(position: uint256, index: uint256, amount: uint256):
    """
    @notice Add `amount` to the distance charges owed for order `index` of
            the slot at ring `position`.
    """
    # Two orders share a word, 128 bits each: charges stay below 2**109.
    self._owed[position][index >> 1] = unsafe_add(
        self._owed[position][index >> 1], amount << ((index & 1) << 7)
    )


@internal
@view
def _owed_of(position: uint256, index: uint256) -> uint256:
    return (self._owed[position][index >> 1] >> ((index & 1) << 7)) & OWED_MASK


@internal
@view
def _record(slot: uint256) -> uint256:
    """
    @notice The record of `slot`, or 0 (no phase) when its ring position
            holds another slot (an earlier one, or a later one: `slot` is
            then older than the ring).
    """
    record: uint256 = self._slots[slot % SLOT_RING]
    if record >> SLOT_SHIFT != slot:
        return 0
    return record


@internal
@view
def _commitment(position: uint256, slot: uint256, member: address, order_id: bytes32) -> (bool, bytes32):
    """
    @notice Whether `member`'s commitment under `order_id` in `slot` is its
            first of the slot (held at the ring position), and the
            commitment (empty if none, or once revealed).
    """
    key: uint256 = (convert(order_id, uint256) & ~TAG_MASK) | (slot + 1)
    if self._commitments[position][member].key == key:
        digest: bytes32 = self._commitments[position][member].digest
        if digest == REVEALED_COMMITMENT:
            return True, empty(bytes32)
        return True, digest
    return False, self._more_commitments[slot][member][order_id]


@internal
@view
def _before_deadline(slot_record: uint256):
    if not (not self._deadline_passed(slot_record)):
        self._fail("clearing deadline passed")


@internal
@view
def _deadline_passed(slot_record: uint256) -> bool:
    started: uint256 = (slot_record >> STARTED_SHIFT) & TIME_MASK
    return block.timestamp >= started + clearing_deadline


# --- views ---------------------------------------------------------------------


@external
@view
def slot_info(slot: uint256) -> (uint256, bytes32):
    """
    @notice The packed record at `slot`'s ring position and, if that is
            `slot`'s and cleared, its positions hash. The record: phase
            0..7, order count 8..23, fee rate 24..55, penalty rate 56..87,
            distance charge rate 88..119, block time of the start of its
            reveals 120..159, fills posted 160..191, orders the meter has
            passed (void: orders reclaimed) 192..207, its slot 224..255:
            another slot than `slot` there means `slot` is not opened yet
            (an earlier slot) or older than the ring (a later slot).
    """
    record: uint256 = self._slots[slot % SLOT_RING]
    phase: uint256 = record & PHASE_MASK
    if record >> SLOT_SHIFT == slot and (
        phase == convert(PHASE_CLEARED, uint256) or phase == convert(PHASE_SETTLED, uint256)
    ):
        return record, self._positions[slot % SLOT_RING]
    return record, empty(bytes32)


@external
@view
def orders_of(slot: uint256, start: uint256, count: uint256) -> DynArray[uint256[2], MAX_ORDERS_PER_VIEW]:
    """
    @notice The revealed orders of `slot` from index `start` (at most `count`
            and MAX_ORDERS_PER_VIEW), in reveal order, each as its packed
            word (owner's member index 0..31, is_buy 32, quantity 33..64,
            price 65..96, reclaimed 97, energy filled 98..129, value
            130..185, money paid or received 186..241: the tallies of a
            clearing in several parts; 0 for one closed in the transaction
            of its only part, whose tallies are not stored) and the distance
            charges its owner owes for it by the parts of the clearing
            posted before its closing one (the closing part's are paid in
            its own transaction and never stored).
    """
    record: uint256 = self._record(slot)
    n: uint256 = (record >> COUNT_SHIFT) & COUNT_MASK
    charging: bool = (record >> DISTANCE_SHIFT) & RATE_MASK != 0
    out: DynArray[uint256[2], MAX_ORDERS_PER_VIEW] = []
    position: uint256 = slot % SLOT_RING
    base: uint256 = position << ORDER_KEY_SHIFT
    for i: uint256 in range(start, n, bound=MAX_ORDERS):
        if len(out) == count or len(out) == MAX_ORDERS_PER_VIEW:
            break
        owed: uint256 = 0
        if charging:
            owed = self._owed_of(position, i)
        out.append([self._orders[base | i], owed])
    return out


@external
@view
def commitment_of(slot: uint256, member: address, order_id: bytes32) -> bytes32:
    """
    @notice `member`'s commitment under `order_id` in `slot` (0 once revealed).
    """
    first: bool = False
    digest: bytes32 = empty(bytes32)
    first, digest = self._commitment(slot % SLOT_RING, slot, member, order_id)
    return digest
