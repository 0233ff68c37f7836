# pragma version ~=0.4.3
"""
@title BatchMarket
@notice Sealed-bid batch market of an energy community, one auction per
        delivery slot: commit, reveal, clearing verified on chain, and
        settlement against metered energy with deviation penalties
        (003_dpda.md §1.4, §1.5, §2.8).
@dev Embeds the consortium (`accounts`, `voting`) and the escrow (`vault`).

     Phases of a slot, advanced by the operator (never by block time: the
     embedded chain's clock stands still and a consortium chain's blocks come
     when they come; the platform's clock drives the 15-minute cycle and the
     chain records when each phase began):
         NONE -> OPEN        `open_slot`: the DSO's rates in force (fee,
                             penalty, distance charge) are frozen for the
                             slot; commitments open (quotation, minutes 0-3
                             of the cycle).
         OPEN -> REVEAL      `start_reveal`: commitments close, bids are
                             frozen; reveals open (matching, minutes 3-10).
         REVEAL -> CLEARED   `post_clearing`: the operator posts the trades,
                             the contract verifies them against the revealed
                             orders, moves the money and releases escrow.
         CLEARED -> SETTLED  `post_readings`: the meter posts the metered
                             energy of every position; true-ups and penalties
                             move (settlement, after delivery).

     Orders. (order_id bytes32, is_buy, quantity_wh, price_micro_per_kwh):
     the buyer's maximum or the seller's minimum price. A member commits
         keccak256(abi_encode(slot, order_id, is_buy, quantity_wh,
                              price_micro_per_kwh, salt, member))
     under an order id unique in the slot (a second commitment under the same
     id reverts), and reveals the fields and salt. A reveal is accepted once
     (a replay reverts), and each member reveals at most one order per slot
     (its position is what the meter reading is compared with). Revealing a
     buy order locks quantity * price // 1000 + quantity * fee_rate // 1000
     of the buyer's free balance: the most the order can cost.

     Order-set hash. h0 = 0x00..00 and, for each reveal in reveal order,
         h = keccak256(abi_encode(h, order_id, owner, is_buy, quantity_wh,
                                  price_micro_per_kwh))
     (the fields of the `Revealed` events). The clearing carries the
     revealed orders in reveal order and this hash; the contract recomputes
     it and compares it with its own.

     Clearing. Each fill names a buy and a sell order by their index in that
     list, an energy and a price. Verified: the buy side buys and the sell
     side sells, owners differ, energy > 0, seller's price <= price <=
     buyer's price, and no order is filled beyond its quantity over all
     fills. Any failure reverts the whole call: nothing changes. Money per
     fill: value = energy * price // 1000, fee = energy * fee_rate // 1000,
     the seller pays min(fee // 2, value) of the fee and the buyer the rest;
     the buyer pays value + its share, the seller receives value - its
     share, the DSO the fee: conserved exactly. Every buy order's lock is
     released whole (what it paid came out of it).

     Distance charge (Score Matching, 003_dpda.md §1.3, eqs. 4.6/4.7). If
     the slot's distance charge rate C_d (micro-currency per km per matched
     pair: 10**-9 per metre resolution) is not 0, each fill costs the pair
         charge = C_d * d_mm // 1000000,
     d_mm the path length between the two owners' nodes on the DSO's feeder
     map (`feeder_map`; a pair off the map reverts the clearing), which is
     frozen from the opening of such a slot to its clearing. It is per
     pair, independent of energy: the seller owes charge // 2, the buyer the
     rest. A fill is one pair: Score Matching pairs a buyer with a seller
     once. The number of pairs an order gets is not known when it is
     revealed, so the charge is not in the escrow: once the fills are paid
     and the locks released, each owner pays its charges from its free
     balance; what it cannot pay is logged as a shortfall (`ChargeShortfall`)
     and not collected, as with metered penalties. The DSO receives what was
     paid: conserved exactly.

     Positions. Every order with a fill is a position (member, is_buy,
     energy_wh, value_micro); the contract stores the hash chain
         p0 = 0x00..00, p = keccak256(abi_encode(p, member, is_buy,
                                                 energy_wh, value_micro))
     in the order of the orders, for the meter's settlement.

     Metered settlement (eqs. 4.8/4.9). For a position with reference E_ref
     (its filled energy), value V and metered energy E_m (consumed by a
     buyer, produced by a seller):
         credit   = |E_ref - E_m| * penalty_rate // 1000
         at_meter = V * E_m // E_ref     (the contracted price on E_m)
     A buyer's bill becomes at_meter + fee share + credit, a seller's income
     at_meter - fee share - credit: the buyer pays the DSO
     at_meter - V + credit, the seller pays it V - at_meter + credit (a
     negative amount is paid by the DSO). The DSO is the counterparty of
     every imbalance (the grid delivered or absorbed the difference) and
     receives the penalties. A member that cannot pay from its free balance
     pays what it has (the rest is logged as a shortfall); the DSO must hold
     enough to pay what it owes, or the call reverts.
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


struct RevealedOrder:
    order_id: bytes32
    owner: address
    is_buy: bool
    quantity_wh: uint256
    price_micro_per_kwh: uint256


struct Fill:
    buy: uint256
    sell: uint256
    energy_wh: uint256
    price_micro_per_kwh: uint256


struct Position:
    member: address
    is_buy: bool
    energy_wh: uint256
    value_micro: uint256


struct SlotInfo:
    phase: uint8
    order_count: uint256
    fee_micro_per_kwh: uint256
    penalty_micro_per_kwh: uint256
    distance_charge_micro_per_km: uint256
    order_set_hash: bytes32
    positions_hash: bytes32


# @notice Slot phases.
PHASE_NONE: public(constant(uint8)) = 0
PHASE_OPEN: public(constant(uint8)) = 1
PHASE_REVEAL: public(constant(uint8)) = 2
PHASE_CLEARED: public(constant(uint8)) = 3
PHASE_SETTLED: public(constant(uint8)) = 4

# @notice Most revealed orders per slot (and so positions per settlement).
MAX_ORDERS: public(constant(uint256)) = 256

# @notice Most fills one clearing carries.
MAX_FILLS: public(constant(uint256)) = 256

# @notice Input bounds: every product and sum stays far below 2**256.
MAX_QUANTITY_WH: public(constant(uint256)) = 2**48 - 1
MAX_PRICE_MICRO_PER_KWH: public(constant(uint256)) = 2**48 - 1
MAX_RATE_MICRO_PER_KWH: public(constant(uint256)) = 2**48 - 1
MAX_SLOT: public(constant(uint256)) = 2**32 - 2

WH_PER_KWH: constant(uint256) = 1000
REVEALED: constant(bytes32) = 0x0000000000000000000000000000000000000000000000000000000000000001

# Packed slot record: phase 0..7, order count 8..23, fee rate 24..71,
# penalty rate 72..119, distance charge rate 120..167.
COUNT_SHIFT: constant(uint256) = 8
FEE_SHIFT: constant(uint256) = 24
PENALTY_SHIFT: constant(uint256) = 72
DISTANCE_SHIFT: constant(uint256) = 120
MM_PER_KM: constant(uint256) = 1000000
FILLED_MASK: constant(uint256) = 2**64 - 1
OWED_SHIFT: constant(uint256) = 64
RATE_MASK: constant(uint256) = 2**48 - 1
COUNT_MASK: constant(uint256) = 2**16 - 1

# @notice The DSO's fee on traded energy for slots opened from now on.
fee_rate: public(uint256)

# @notice The DSO's deviation penalty for slots opened from now on.
penalty_rate: public(uint256)

# @notice The DSO's charge per km per matched pair (Score Matching's C_d)
#         for slots opened from now on, micro-currency.
distance_charge_rate: public(uint256)

_slots: HashMap[uint256, uint256]
_order_set: HashMap[uint256, bytes32]
_positions: HashMap[uint256, bytes32]
_commitments: HashMap[uint256, HashMap[bytes32, bytes32]]


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


event Revealed:
    slot: indexed(uint256)
    order_id: indexed(bytes32)
    owner: indexed(address)
    is_buy: bool
    quantity_wh: uint256
    price_micro_per_kwh: uint256
    locked_micro: uint256


event Traded:
    slot: indexed(uint256)
    buy_order: indexed(bytes32)
    sell_order: indexed(bytes32)
    energy_wh: uint256
    price_micro_per_kwh: uint256
    charge_micro: uint256


event ChargeShortfall:
    slot: indexed(uint256)
    member: indexed(address)
    owed_micro: uint256
    paid_micro: uint256


event Cleared:
    slot: indexed(uint256)
    order_set_hash: bytes32
    positions_hash: bytes32
    trade_count: uint256
    energy_wh: uint256
    value_micro: uint256
    fee_micro: uint256
    charge_micro: uint256


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
):
    """
    @notice Operator and DSO get their roles (the bootstrap is open); the DSO
            account receives fees, charges and penalties; the initial rates
            are set.
    """
    voting.__init__(operator_, dso_, quorum_bps_, voting_period_)
    vault.__init__(token_, dso_)
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
    assert accounts._has_role(msg.sender, accounts.ROLE_DSO), "caller is not the dso"
    self._set_rates(fee_micro_per_kwh, penalty_micro_per_kwh, distance_charge_micro_per_km)


@internal
def _set_rates(fee: uint256, penalty: uint256, distance_charge: uint256):
    assert fee <= MAX_RATE_MICRO_PER_KWH, "fee rate out of range"
    assert penalty <= MAX_RATE_MICRO_PER_KWH, "penalty rate out of range"
    assert distance_charge <= MAX_RATE_MICRO_PER_KWH, "distance charge rate out of range"
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
    """
    assert accounts._has_role(msg.sender, accounts.ROLE_OPERATOR), "caller is not the operator"
    assert slot <= MAX_SLOT, "slot out of range"
    assert self._slots[slot] == 0, "slot already opened"
    self._slots[slot] = (
        convert(PHASE_OPEN, uint256)
        | (self.fee_rate << FEE_SHIFT)
        | (self.penalty_rate << PENALTY_SHIFT)
        | (self.distance_charge_rate << DISTANCE_SHIFT)
    )
    if self.distance_charge_rate != 0:
        # The map prices this slot's pairs: frozen until its clearing.
        feeder_map._hold()
    log PhaseChanged(slot=slot, phase=PHASE_OPEN)


@external
def start_reveal(slot: uint256):
    """
    @notice Close `slot`'s commitments and open its reveals (operator).
    """
    assert accounts._has_role(msg.sender, accounts.ROLE_OPERATOR), "caller is not the operator"
    record: uint256 = self._slots[slot]
    assert record & 255 == convert(PHASE_OPEN, uint256), "slot is not open for commitments"
    self._slots[slot] = record + 1
    log PhaseChanged(slot=slot, phase=PHASE_REVEAL)


# --- prosumers: commit and reveal ---------------------------------------------


@external
def commit(slot: uint256, order_id: bytes32, commitment: bytes32):
    """
    @notice Commit to a sealed order of `slot` under `order_id` (prosumer).
    """
    assert accounts._has_role(msg.sender, accounts.ROLE_PROSUMER), "caller is not a prosumer"
    assert self._slots[slot] & 255 == convert(PHASE_OPEN, uint256), "slot is not open for commitments"
    assert commitment != empty(bytes32) and commitment != REVEALED, "bad commitment"
    assert self._commitments[slot][order_id] == empty(bytes32), "order id already committed"
    self._commitments[slot][order_id] = commitment
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
    assert record & accounts.ROLE_PROSUMER != 0, "caller is not a prosumer"
    slot_record: uint256 = self._slots[slot]
    assert slot_record & 255 == convert(PHASE_REVEAL, uint256), "slot is not in its reveal phase"
    stored: bytes32 = self._commitments[slot][order_id]
    assert stored != REVEALED, "order already revealed"
    assert stored != empty(bytes32), "no commitment under this order id"
    assert quantity_wh != 0, "zero quantity"
    assert quantity_wh <= MAX_QUANTITY_WH, "quantity out of range"
    assert price_micro_per_kwh <= MAX_PRICE_MICRO_PER_KWH, "price out of range"
    digest: bytes32 = keccak256(
        abi_encode(slot, order_id, is_buy, quantity_wh, price_micro_per_kwh, salt, msg.sender)
    )
    assert digest == stored, "reveal does not match the commitment"
    assert accounts._counter(record) <= slot, "one order per member per slot"
    count: uint256 = (slot_record >> COUNT_SHIFT) & COUNT_MASK
    assert count < MAX_ORDERS, "slot has the most orders it can clear"

    record = accounts._with_counter(record, slot + 1)
    lock: uint256 = 0
    if is_buy:
        fee_rate: uint256 = (slot_record >> FEE_SHIFT) & RATE_MASK
        lock = unsafe_div(unsafe_mul(quantity_wh, price_micro_per_kwh), WH_PER_KWH) + unsafe_div(
            unsafe_mul(quantity_wh, fee_rate), WH_PER_KWH
        )
        balance: uint256 = accounts._balance(record)
        locked: uint256 = accounts._locked(record)
        assert balance - locked >= lock, "free balance too low for the order's escrow"
        record = accounts._with_money(record, balance, locked + lock)
    accounts.records[msg.sender] = record
    self._commitments[slot][order_id] = REVEALED
    self._slots[slot] = slot_record + (1 << COUNT_SHIFT)
    self._order_set[slot] = keccak256(
        abi_encode(
            self._order_set[slot],
            order_id,
            msg.sender,
            is_buy,
            quantity_wh,
            price_micro_per_kwh,
        )
    )
    log Revealed(
        slot=slot,
        order_id=order_id,
        owner=msg.sender,
        is_buy=is_buy,
        quantity_wh=quantity_wh,
        price_micro_per_kwh=price_micro_per_kwh,
        locked_micro=lock,
    )


# --- operator: the clearing ---------------------------------------------------


@external
def post_clearing(
    slot: uint256,
    order_set_hash: bytes32,
    orders: DynArray[RevealedOrder, MAX_ORDERS],
    fills: DynArray[Fill, MAX_FILLS],
):
    """
    @notice Post `slot`'s clearing (operator): the revealed orders in reveal
            order, their hash and the fills. Every fill is verified before
            any money moves; a failure reverts the whole call.
    """
    assert accounts._has_role(msg.sender, accounts.ROLE_OPERATOR), "caller is not the operator"
    slot_record: uint256 = self._slots[slot]
    assert slot_record & 255 == convert(PHASE_REVEAL, uint256), "slot is not in its reveal phase"
    stored_hash: bytes32 = self._order_set[slot]
    assert order_set_hash == stored_hash, "order set hash differs from the revealed orders"
    n: uint256 = len(orders)
    assert n == (slot_record >> COUNT_SHIFT) & COUNT_MASK, "orders differ from the revealed orders"
    h: bytes32 = empty(bytes32)
    for o: RevealedOrder in orders:
        h = keccak256(
            abi_encode(h, o.order_id, o.owner, o.is_buy, o.quantity_wh, o.price_micro_per_kwh)
        )
    assert h == stored_hash, "orders differ from the revealed orders"

    fee_rate: uint256 = (slot_record >> FEE_SHIFT) & RATE_MASK
    distance_rate: uint256 = (slot_record >> DISTANCE_SHIFT) & RATE_MASK
    # Per order: energy filled (bits 0..63, at most 256 fills of < 2**48 Wh)
    # and its share of distance charges (bits 64..), in one word: every
    # memory word here is paid for by every clearing.
    filled: uint256[MAX_ORDERS] = empty(uint256[MAX_ORDERS])
    value: uint256[MAX_ORDERS] = empty(uint256[MAX_ORDERS])
    money: uint256[MAX_ORDERS] = empty(uint256[MAX_ORDERS])
    energy_total: uint256 = 0
    value_total: uint256 = 0
    fee_total: uint256 = 0
    for f: Fill in fills:
        assert f.buy < n and f.sell < n, "fill names an unknown order"
        b: RevealedOrder = orders[f.buy]
        s: RevealedOrder = orders[f.sell]
        assert b.is_buy, "fill's buy order is a sell order"
        assert not s.is_buy, "fill's sell order is a buy order"
        assert b.owner != s.owner, "buyer and seller are the same"
        assert f.energy_wh != 0, "zero energy"
        assert f.energy_wh <= MAX_QUANTITY_WH, "energy out of range"
        assert f.price_micro_per_kwh >= s.price_micro_per_kwh, "price below the seller's limit"
        assert f.price_micro_per_kwh <= b.price_micro_per_kwh, "price above the buyer's limit"
        # Quantities are below 2**48 and at most 256 fills: no overflow.
        filled[f.buy] = unsafe_add(filled[f.buy], f.energy_wh)
        filled[f.sell] = unsafe_add(filled[f.sell], f.energy_wh)
        assert filled[f.buy] & FILLED_MASK <= b.quantity_wh, "buy order filled beyond its quantity"
        assert filled[f.sell] & FILLED_MASK <= s.quantity_wh, "sell order filled beyond its quantity"

        trade_value: uint256 = unsafe_div(
            unsafe_mul(f.energy_wh, f.price_micro_per_kwh), WH_PER_KWH
        )
        fee: uint256 = unsafe_div(unsafe_mul(f.energy_wh, fee_rate), WH_PER_KWH)
        seller_fee: uint256 = min(unsafe_div(fee, 2), trade_value)
        value[f.buy] = unsafe_add(value[f.buy], trade_value)
        value[f.sell] = unsafe_add(value[f.sell], trade_value)
        money[f.buy] = unsafe_add(money[f.buy], unsafe_add(trade_value, unsafe_sub(fee, seller_fee)))
        money[f.sell] = unsafe_add(money[f.sell], unsafe_sub(trade_value, seller_fee))
        energy_total = unsafe_add(energy_total, f.energy_wh)
        value_total = unsafe_add(value_total, trade_value)
        fee_total = unsafe_add(fee_total, fee)
        charge: uint256 = 0
        if distance_rate != 0:
            millimetres: uint256 = feeder_map._member_distance(b.owner, s.owner)
            assert millimetres != feeder_map.UNKNOWN_DISTANCE, "no distance between the pair's nodes"
            # rate < 2**48, distance < 2**64, at most 256 fills: no overflow.
            charge = unsafe_div(unsafe_mul(distance_rate, millimetres), MM_PER_KM)
            seller_share: uint256 = unsafe_div(charge, 2)
            filled[f.sell] = unsafe_add(filled[f.sell], seller_share << OWED_SHIFT)
            filled[f.buy] = unsafe_add(
                filled[f.buy], unsafe_sub(charge, seller_share) << OWED_SHIFT
            )
        log Traded(
            slot=slot,
            buy_order=b.order_id,
            sell_order=s.order_id,
            energy_wh=f.energy_wh,
            price_micro_per_kwh=f.price_micro_per_kwh,
            charge_micro=charge,
        )

    # Every check passed: move the money, release the escrow, take the
    # distance charges from what is free.
    p: bytes32 = empty(bytes32)
    charged: uint256 = 0
    for i: uint256 in range(n, bound=MAX_ORDERS):
        o: RevealedOrder = orders[i]
        owed: uint256 = filled[i] >> OWED_SHIFT
        energy: uint256 = filled[i] & FILLED_MASK
        if o.is_buy or money[i] != 0 or owed != 0:
            record: uint256 = accounts.records[o.owner]
            balance: uint256 = accounts._balance(record)
            locked: uint256 = accounts._locked(record)
            if o.is_buy:
                # paid <= lock <= locked <= balance (see the docstring).
                balance -= money[i]
                locked -= unsafe_div(
                    unsafe_mul(o.quantity_wh, o.price_micro_per_kwh), WH_PER_KWH
                ) + unsafe_div(unsafe_mul(o.quantity_wh, fee_rate), WH_PER_KWH)
            else:
                # Taken from the buyers' balances: the total is unchanged.
                balance = unsafe_add(balance, money[i])
            if owed != 0:
                paid: uint256 = min(owed, balance - locked)
                balance = unsafe_sub(balance, paid)
                charged = unsafe_add(charged, paid)
                if paid != owed:
                    log ChargeShortfall(slot=slot, member=o.owner, owed_micro=owed, paid_micro=paid)
            accounts.records[o.owner] = accounts._with_money(record, balance, locked)
        if energy != 0:
            p = keccak256(abi_encode(p, o.owner, o.is_buy, energy, value[i]))
    if fee_total != 0 or charged != 0:
        vault._credit(vault.dso, unsafe_add(fee_total, charged))
    if distance_rate != 0:
        feeder_map._release()

    self._positions[slot] = p
    self._slots[slot] = slot_record + 1
    log Cleared(
        slot=slot,
        order_set_hash=stored_hash,
        positions_hash=p,
        trade_count=len(fills),
        energy_wh=energy_total,
        value_micro=value_total,
        fee_micro=fee_total,
        charge_micro=charged,
    )
    log PhaseChanged(slot=slot, phase=PHASE_CLEARED)


# --- meter: settlement against metered energy ---------------------------------


@external
def post_readings(
    slot: uint256,
    positions: DynArray[Position, MAX_ORDERS],
    metered_wh: DynArray[uint256, MAX_ORDERS],
):
    """
    @notice Post the metered energy of every position of `slot` (meter) and
            settle true-ups and penalties with the DSO (eqs. 4.8/4.9).
            `positions` are the clearing's, in its order; `metered_wh[i]` is
            the energy `positions[i].member` consumed (buyer) or produced
            (seller) in the slot, Wh.
    """
    assert accounts._has_role(msg.sender, accounts.ROLE_METER), "caller is not a meter"
    slot_record: uint256 = self._slots[slot]
    assert slot_record & 255 == convert(PHASE_CLEARED, uint256), "slot is not cleared"
    assert len(metered_wh) == len(positions), "one reading per position"
    p: bytes32 = empty(bytes32)
    for q: Position in positions:
        p = keccak256(abi_encode(p, q.member, q.is_buy, q.energy_wh, q.value_micro))
    assert p == self._positions[slot], "positions differ from the clearing's"

    penalty_rate: uint256 = (slot_record >> PENALTY_SHIFT) & RATE_MASK
    dso_in: uint256 = 0
    dso_out: uint256 = 0
    for i: uint256 in range(len(positions), bound=MAX_ORDERS):
        q: Position = positions[i]
        metered: uint256 = metered_wh[i]
        assert metered <= MAX_QUANTITY_WH, "metered energy out of range"
        reference: uint256 = q.energy_wh
        deviation: uint256 = 0
        if metered > reference:
            deviation = unsafe_sub(metered, reference)
        else:
            deviation = unsafe_sub(reference, metered)
        credit: uint256 = unsafe_div(unsafe_mul(deviation, penalty_rate), WH_PER_KWH)
        # reference > 0 for a position; value < 2**96, metered < 2**48.
        at_meter: uint256 = unsafe_div(unsafe_mul(q.value_micro, metered), reference)
        charge: uint256 = credit
        refund: uint256 = 0
        if q.is_buy:
            charge = unsafe_add(charge, at_meter)
            refund = q.value_micro
        else:
            charge = unsafe_add(charge, q.value_micro)
            refund = at_meter
        to_dso: uint256 = 0
        from_dso: uint256 = 0
        shortfall: uint256 = 0
        record: uint256 = accounts.records[q.member]
        balance: uint256 = accounts._balance(record)
        locked: uint256 = accounts._locked(record)
        if charge > refund:
            owed: uint256 = unsafe_sub(charge, refund)
            to_dso = min(owed, balance - locked)
            shortfall = unsafe_sub(owed, to_dso)
            accounts.records[q.member] = accounts._with_money(
                record, unsafe_sub(balance, to_dso), locked
            )
            dso_in = unsafe_add(dso_in, to_dso)
        elif refund > charge:
            from_dso = unsafe_sub(refund, charge)
            accounts.records[q.member] = accounts._with_money(
                record, balance + from_dso, locked
            )
            dso_out = unsafe_add(dso_out, from_dso)
        log MeterSettled(
            slot=slot,
            member=q.member,
            reference_wh=reference,
            metered_wh=metered,
            credit_micro=credit,
            paid_to_dso_micro=to_dso,
            paid_by_dso_micro=from_dso,
            shortfall_micro=shortfall,
        )

    dso_record: uint256 = accounts.records[vault.dso]
    dso_balance: uint256 = accounts._balance(dso_record) + dso_in
    dso_locked: uint256 = accounts._locked(dso_record)
    assert dso_balance - dso_locked >= dso_out, "dso balance too low for the imbalance true-ups"
    accounts.records[vault.dso] = accounts._with_money(
        dso_record, unsafe_sub(dso_balance, dso_out), dso_locked
    )
    self._slots[slot] = slot_record + 1
    log Metered(slot=slot, positions=len(positions), dso_received_micro=dso_in, dso_paid_micro=dso_out)
    log PhaseChanged(slot=slot, phase=PHASE_SETTLED)


# --- views ---------------------------------------------------------------------


@external
@view
def slot_info(slot: uint256) -> SlotInfo:
    """
    @notice Phase, order count, frozen rates and hashes of `slot`.
    """
    record: uint256 = self._slots[slot]
    return SlotInfo(
        phase=convert(record & 255, uint8),
        order_count=(record >> COUNT_SHIFT) & COUNT_MASK,
        fee_micro_per_kwh=(record >> FEE_SHIFT) & RATE_MASK,
        penalty_micro_per_kwh=(record >> PENALTY_SHIFT) & RATE_MASK,
        distance_charge_micro_per_km=(record >> DISTANCE_SHIFT) & RATE_MASK,
        order_set_hash=self._order_set[slot],
        positions_hash=self._positions[slot],
    )


@external
@view
def commitment_of(slot: uint256, order_id: bytes32) -> bytes32:
    """
    @notice The commitment under `order_id` in `slot` (0x..01 once revealed).
    """
    return self._commitments[slot][order_id]
