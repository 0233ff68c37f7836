# pragma version ~=0.4.3
"""
@title MicrogridAuction
@notice The ledger of an islanded microgrid run by agents (001b_book.md
        chapter 10): the device drivers' production, consumption and battery
        logs, the anomaly events the listener turns into the operator's
        actions, the energy audit of every delivered lot, and the auction of
        §10.4 (tokenised lots, bids, outbid events, deadline, refusals, the
        operator's permanent offer).
@dev Roles.
     * The operator (MGO, the deployer) registers entities, sets the
       anomaly thresholds and its own offer's price, and suspends an entity
       it decides against; it receives what its offer sells.
     * The meter (fixed at deployment: the device drivers EPA, ECA, BSA and
       the energy audit agent EAA) posts each step's logs for every entity in
       one transaction, and the metered flow of each delivered lot.
     * An entity (registered by the operator) deposits and withdraws money,
       offers lots from its battery (its sale agent), bids, accepts or
       refuses (its buyer agent), and buys from the operator's offer.

     Units (integers): energy in Wh; prices in micro-tokens per kWh; money in
     micro-tokens (the settlement token's 6 decimals). A lot of q Wh at p is
     worth p * q // 1000 micro-tokens (rounded down, the same amount leaves
     the buyer and reaches the seller: money is only moved, never made).

     Tokenisation. A lot's energy is locked in the seller's battery from the
     offer until the lot is delivered (or withdrawn unsold): `free_energy`
     = stored - locked is what the entity may still use or offer; a battery
     log with stored < locked raises `TokenisedEnergyUsed`.

     Lots. open --(deadline, `close`)--> awarded (the highest bid is the
     candidate; `Winner`) --`accept`--> sold --`record_deliveries`-->
     delivered; a `refuse` passes the lot to the next lower bid of another
     bidder; a lot closed with no bid (or whose bids all refused) is expired
     and its seller may `reoffer` it cheaper or `withdraw_lot` it. Bids on a
     lot strictly increase, so the bid list is in ascending price order.
"""

from ethereum.ercs import IERC20

MAX_ENTITIES: public(constant(uint256)) = 256
MAX_BIDS: public(constant(uint256)) = 64
MAX_DELIVERIES: public(constant(uint256)) = 256
WH_PER_KWH: constant(uint256) = 1000
M32: constant(uint256) = 2**32 - 1
M64: constant(uint256) = 2**64 - 1

LOT_NONE: public(constant(uint8)) = 0
LOT_OPEN: public(constant(uint8)) = 1
LOT_AWARDED: public(constant(uint8)) = 2
LOT_SOLD: public(constant(uint8)) = 3
LOT_DELIVERED: public(constant(uint8)) = 4
LOT_EXPIRED: public(constant(uint8)) = 5
LOT_WITHDRAWN: public(constant(uint8)) = 6

# entity word (one storage slot, so a step's log reads and writes one slot
# per entity): stored 0..47 | locked 48..95 | last consumed 96..143 | rated
# production per step 144..191 | maintenance threshold (Wh of maximum
# capacity) 192..239 | maintenance flagged 240 | suspended 241
M48: constant(uint256) = 2**48 - 1
LOCKED_SHIFT: constant(uint256) = 48
CONSUMED_SHIFT: constant(uint256) = 96
RATED_SHIFT: constant(uint256) = 144
THRESHOLD_SHIFT: constant(uint256) = 192
MAINTENANCE_BIT: constant(uint256) = 1 << 240
SUSPENDED_BIT: constant(uint256) = 1 << 241


struct Lot:
    seller: address
    quantity_wh: uint256
    price: uint256
    deadline: uint256
    status: uint8
    bid_count: uint256
    candidate: uint256
    buyer: address
    value: uint256


struct Bid:
    bidder: address
    price: uint256


struct EntityView:
    index: uint256
    stored_wh: uint256
    locked_wh: uint256
    last_consumed_wh: uint256
    rated_production_wh: uint256
    maintenance_threshold_wh: uint256
    maintenance_flagged: bool
    suspended: bool
    balance: uint256


token: public(immutable(IERC20))
operator: public(immutable(address))
meter: public(immutable(address))

operator_price: public(uint256)
peak_ratio_percent: public(uint256)
peak_margin_wh: public(uint256)
imbalance_wh: public(uint256)

entity_count: public(uint256)
index_of: public(HashMap[address, uint256])
entity_at: public(HashMap[uint256, address])
_state: HashMap[uint256, uint256]

balance_of: public(HashMap[address, uint256])
lot_count: public(uint256)
_lots: HashMap[uint256, Lot]
_bids: HashMap[uint256, HashMap[uint256, Bid]]
refused: public(HashMap[uint256, HashMap[address, bool]])
last_step: public(uint256)


event Registered:
    entity: indexed(address)
    index: uint256


event StepLogged:
    step: indexed(uint256)
    produced_wh: uint256
    consumed_wh: uint256
    stored_wh: uint256


event Imbalance:
    step: indexed(uint256)
    produced_wh: uint256
    consumed_wh: uint256


event AtypicalProduction:
    entity: indexed(address)
    step: uint256
    produced_wh: uint256
    rated_wh: uint256


event ConsumptionPeak:
    entity: indexed(address)
    step: uint256
    consumed_wh: uint256
    previous_wh: uint256


event MaintenanceNeeded:
    entity: indexed(address)
    step: uint256
    max_capacity_wh: uint256
    threshold_wh: uint256


event TokenisedEnergyUsed:
    entity: indexed(address)
    step: uint256
    stored_wh: uint256
    locked_wh: uint256


event FlowMismatch:
    lot: indexed(uint256)
    seller: address
    buyer: address
    quantity_wh: uint256
    metered_wh: uint256


event LotOffered:
    lot: indexed(uint256)
    seller: indexed(address)
    quantity_wh: uint256
    price: uint256
    deadline: uint256


event BidPlaced:
    lot: indexed(uint256)
    bidder: indexed(address)
    price: uint256


event Outbid:
    lot: indexed(uint256)
    bidder: indexed(address)
    price: uint256
    new_price: uint256


event Winner:
    lot: indexed(uint256)
    bidder: indexed(address)
    price: uint256


event Refused:
    lot: indexed(uint256)
    bidder: indexed(address)


event Sold:
    lot: indexed(uint256)
    seller: indexed(address)
    buyer: indexed(address)
    quantity_wh: uint256
    price: uint256
    value: uint256


event LotExpired:
    lot: indexed(uint256)
    seller: indexed(address)


event Delivered:
    lot: indexed(uint256)
    metered_wh: uint256


event OperatorSale:
    buyer: indexed(address)
    quantity_wh: uint256
    price: uint256
    value: uint256


event Suspended:
    entity: indexed(address)
    suspended: bool


@deploy
def __init__(token_: IERC20, meter_: address, operator_price_: uint256):
    assert token_.address != empty(address), "token is the zero address"
    assert meter_ != empty(address), "meter is the zero address"
    token = token_
    operator = msg.sender
    meter = meter_
    self.operator_price = operator_price_
    self.peak_ratio_percent = 300
    self.peak_margin_wh = 50


# --- operator -------------------------------------------------------------------


@external
def register(
    entity: address, rated_production_wh: uint256, maintenance_threshold_wh: uint256
):
    """
    @notice Admit an entity (operator): the most it can produce in one
            step (above it, a log is atypical; 0 for a pure consumer) and the
            maximum battery capacity below which the battery needs
            maintenance (0: no battery).
    """
    assert msg.sender == operator, "caller is not the operator"
    assert entity != empty(address), "entity is the zero address"
    assert self.index_of[entity] == 0, "entity already registered"
    assert rated_production_wh <= M48, "rated production out of range"
    assert maintenance_threshold_wh <= M48, "threshold out of range"
    index: uint256 = self.entity_count + 1
    assert index <= MAX_ENTITIES, "too many entities"
    self.entity_count = index
    self.index_of[entity] = index
    self.entity_at[index] = entity
    self._state[index] = (rated_production_wh << RATED_SHIFT) | (
        maintenance_threshold_wh << THRESHOLD_SHIFT
    )
    log Registered(entity=entity, index=index)


@external
def set_thresholds(peak_ratio_percent_: uint256, peak_margin_wh_: uint256, imbalance_wh_: uint256):
    """
    @notice The anomaly thresholds (operator): a consumption is a peak when
            above both peak_ratio_percent % of the previous step's and the
            previous step's plus peak_margin_wh; a step is an imbalance when
            consumption exceeds production by more than imbalance_wh.
    """
    assert msg.sender == operator, "caller is not the operator"
    assert peak_ratio_percent_ >= 100, "peak ratio below 100 %"
    self.peak_ratio_percent = peak_ratio_percent_
    self.peak_margin_wh = peak_margin_wh_
    self.imbalance_wh = imbalance_wh_


@external
def set_operator_price(price: uint256):
    """@notice The price of the operator's permanent offer (operator)."""
    assert msg.sender == operator, "caller is not the operator"
    assert price > 0, "price is zero"
    self.operator_price = price


@external
def suspend(entity: address, suspended: bool):
    """
    @notice Stop (or allow again) an entity's sales (operator): its decision
            against an entity whose audit failed.
    """
    assert msg.sender == operator, "caller is not the operator"
    index: uint256 = self.index_of[entity]
    assert index != 0, "not an entity"
    word: uint256 = self._state[index]
    if suspended:
        word = word | SUSPENDED_BIT
    else:
        word = word & ~SUSPENDED_BIT
    self._state[index] = word
    log Suspended(entity=entity, suspended=suspended)


# --- meter: device drivers and energy audit --------------------------------------


@external
def log_step(step: uint256, logs: DynArray[uint256, MAX_ENTITIES]):
    """
    @notice One step's logs of every entity, in registration order (meter),
            one word each: EPA's production (bits 0..63), ECA's consumption
            (64..127), BSA's stored energy (128..191) and the battery's
            maximum capacity (192..255), all in Wh. Raises the anomaly
            events.
    """
    assert msg.sender == meter, "caller is not the meter"
    n: uint256 = self.entity_count
    assert len(logs) == n, "one log per entity"
    assert step > self.last_step or (step == 0 and self.last_step == 0), "step already logged"
    self.last_step = step
    ratio: uint256 = self.peak_ratio_percent
    margin: uint256 = self.peak_margin_wh
    total_produced: uint256 = 0
    total_consumed: uint256 = 0
    total_stored: uint256 = 0
    for i: uint256 in range(MAX_ENTITIES):
        if i == n:
            break
        index: uint256 = i + 1
        reading: uint256 = logs[i]
        word: uint256 = self._state[index]
        produced: uint256 = reading & M64
        consumed: uint256 = (reading >> 64) & M64
        stored: uint256 = (reading >> 128) & M64
        capacity: uint256 = reading >> 192
        assert consumed <= M48 and stored <= M48, "log out of range"
        rated: uint256 = (word >> RATED_SHIFT) & M48
        if produced > rated:
            log AtypicalProduction(
                entity=self.entity_at[index], step=step, produced_wh=produced, rated_wh=rated
            )
        previous: uint256 = (word >> CONSUMED_SHIFT) & M48
        if consumed * 100 > previous * ratio and consumed > previous + margin:
            log ConsumptionPeak(
                entity=self.entity_at[index], step=step, consumed_wh=consumed, previous_wh=previous
            )
        locked: uint256 = (word >> LOCKED_SHIFT) & M48
        if stored < locked:
            log TokenisedEnergyUsed(
                entity=self.entity_at[index], step=step, stored_wh=stored, locked_wh=locked
            )
        threshold: uint256 = (word >> THRESHOLD_SHIFT) & M48
        flags: uint256 = 0
        if capacity < threshold and word & MAINTENANCE_BIT == 0:
            flags = MAINTENANCE_BIT
            log MaintenanceNeeded(
                entity=self.entity_at[index],
                step=step,
                max_capacity_wh=capacity,
                threshold_wh=threshold,
            )
        new_word: uint256 = (
            (word & ~(M48 | (M48 << CONSUMED_SHIFT))) | stored | (consumed << CONSUMED_SHIFT) | flags
        )
        if new_word != word:
            self._state[index] = new_word
        total_produced += produced
        total_consumed += consumed
        total_stored += stored
    log StepLogged(
        step=step, produced_wh=total_produced, consumed_wh=total_consumed, stored_wh=total_stored
    )
    if total_consumed > total_produced + self.imbalance_wh:
        log Imbalance(step=step, produced_wh=total_produced, consumed_wh=total_consumed)


@external
def record_deliveries(
    lots: DynArray[uint256, MAX_DELIVERIES], metered_wh: DynArray[uint256, MAX_DELIVERIES]
):
    """
    @notice The energy audit (EAA, meter): the flow metered from each sold
            lot's seller to its buyer. The lot's energy is released from the
            seller's lock; a flow different from the lot raises FlowMismatch.
    """
    assert msg.sender == meter, "caller is not the meter"
    assert len(lots) == len(metered_wh), "one reading per lot"
    for i: uint256 in range(MAX_DELIVERIES):
        if i == len(lots):
            break
        lot_id: uint256 = lots[i]
        lot: Lot = self._lots[lot_id]
        assert lot.status == LOT_SOLD, "lot not sold or already delivered"
        self._unlock(lot.seller, lot.quantity_wh)
        self._lots[lot_id].status = LOT_DELIVERED
        metered: uint256 = metered_wh[i]
        if metered != lot.quantity_wh:
            log FlowMismatch(
                lot=lot_id,
                seller=lot.seller,
                buyer=lot.buyer,
                quantity_wh=lot.quantity_wh,
                metered_wh=metered,
            )
        log Delivered(lot=lot_id, metered_wh=metered)


# --- entities: money ----------------------------------------------------------------


@external
def deposit(amount: uint256):
    """@notice Move tokens (approved first) into the caller's balance here."""
    assert self.index_of[msg.sender] != 0 or msg.sender == operator, "not an entity"
    assert extcall token.transferFrom(msg.sender, self, amount, default_return_value=True), "deposit transfer failed"
    self.balance_of[msg.sender] += amount


@external
def withdraw(amount: uint256):
    """@notice Take tokens back from the caller's balance here."""
    assert self.balance_of[msg.sender] >= amount, "balance too low"
    self.balance_of[msg.sender] -= amount
    assert extcall token.transfer(msg.sender, amount, default_return_value=True), "transfer failed"


# --- entities: the auction -----------------------------------------------------------


@external
def offer(quantity_wh: uint256, price: uint256, duration_s: uint256) -> uint256:
    """
    @notice Publish a lot from the caller's battery (its sale agent): the
            energy must be free (stored and not already tokenised); it is
            locked until the lot is delivered or withdrawn. Returns the lot.
    """
    index: uint256 = self.index_of[msg.sender]
    assert index != 0, "not an entity"
    word: uint256 = self._state[index]
    assert word & SUSPENDED_BIT == 0, "entity suspended"
    assert quantity_wh > 0, "quantity is zero"
    assert price > 0, "price is zero"
    assert duration_s > 0, "duration is zero"
    locked: uint256 = (word >> LOCKED_SHIFT) & M48
    assert (word & M48) >= locked + quantity_wh, "battery does not hold the energy"
    self._state[index] = word + (quantity_wh << LOCKED_SHIFT)
    lot_id: uint256 = self.lot_count + 1
    self.lot_count = lot_id
    deadline: uint256 = block.timestamp + duration_s
    self._lots[lot_id] = Lot(
        seller=msg.sender,
        quantity_wh=quantity_wh,
        price=price,
        deadline=deadline,
        status=LOT_OPEN,
        bid_count=0,
        candidate=0,
        buyer=empty(address),
        value=0,
    )
    log LotOffered(lot=lot_id, seller=msg.sender, quantity_wh=quantity_wh, price=price, deadline=deadline)
    return lot_id


@external
def bid(lot_id: uint256, price: uint256):
    """
    @notice Bid on an open lot (a buyer agent): above the lot's price and
            every earlier bid, before the deadline, with the money for it in
            the caller's balance, and only if the seller's logged battery
            holds the lot. The previous highest bidder gets `Outbid`.
    """
    assert self.index_of[msg.sender] != 0, "not an entity"
    lot: Lot = self._lots[lot_id]
    assert lot.status == LOT_OPEN, "lot not open"
    assert block.timestamp < lot.deadline, "lot deadline passed"
    assert msg.sender != lot.seller, "seller cannot bid on its own lot"
    assert price >= lot.price, "bid below the lot's price"
    count: uint256 = lot.bid_count
    assert count < MAX_BIDS, "too many bids on the lot"
    stored: uint256 = self._state[self.index_of[lot.seller]] & M48
    assert stored >= lot.quantity_wh, "seller's battery does not hold the lot"
    assert self.balance_of[msg.sender] >= price * lot.quantity_wh // WH_PER_KWH, "balance too low"
    if count > 0:
        top: Bid = self._bids[lot_id][count - 1]
        assert price > top.price, "bid not above the highest"
        log Outbid(lot=lot_id, bidder=top.bidder, price=top.price, new_price=price)
    self._bids[lot_id][count] = Bid(bidder=msg.sender, price=price)
    self._lots[lot_id].bid_count = count + 1
    log BidPlaced(lot=lot_id, bidder=msg.sender, price=price)


@external
def buy_from_operator(quantity_wh: uint256):
    """
    @notice Take the operator's permanent offer (a buyer agent): it never
            expires, and the first bid on it executes at once at the
            operator's price, paid to the operator.
    """
    assert self.index_of[msg.sender] != 0, "not an entity"
    assert quantity_wh > 0, "quantity is zero"
    price: uint256 = self.operator_price
    value: uint256 = price * quantity_wh // WH_PER_KWH
    assert self.balance_of[msg.sender] >= value, "balance too low"
    self.balance_of[msg.sender] -= value
    self.balance_of[operator] += value
    log OperatorSale(buyer=msg.sender, quantity_wh=quantity_wh, price=price, value=value)


@external
def close(lot_id: uint256):
    """
    @notice At the deadline (the seller's sale agent): the highest bid is
            the candidate (`Winner`); with no bid the lot expires.
    """
    lot: Lot = self._lots[lot_id]
    assert msg.sender == lot.seller, "caller is not the seller"
    assert lot.status == LOT_OPEN, "lot not open"
    assert block.timestamp >= lot.deadline, "deadline not reached"
    if lot.bid_count == 0:
        self._lots[lot_id].status = LOT_EXPIRED
        log LotExpired(lot=lot_id, seller=lot.seller)
        return
    top: Bid = self._bids[lot_id][lot.bid_count - 1]
    self._lots[lot_id].status = LOT_AWARDED
    self._lots[lot_id].candidate = lot.bid_count - 1
    log Winner(lot=lot_id, bidder=top.bidder, price=top.price)


@external
def accept(lot_id: uint256):
    """
    @notice The candidate buys (its buyer agent): the seller's battery is
            audited again, and the bid's value moves from the buyer's
            balance to the seller's.
    """
    lot: Lot = self._lots[lot_id]
    assert lot.status == LOT_AWARDED, "lot not awarded"
    chosen: Bid = self._bids[lot_id][lot.candidate]
    assert msg.sender == chosen.bidder, "caller is not the winner"
    stored: uint256 = self._state[self.index_of[lot.seller]] & M48
    assert stored >= lot.quantity_wh, "seller's battery does not hold the lot"
    value: uint256 = chosen.price * lot.quantity_wh // WH_PER_KWH
    assert self.balance_of[msg.sender] >= value, "balance too low"
    self.balance_of[msg.sender] -= value
    self.balance_of[lot.seller] += value
    self._lots[lot_id].status = LOT_SOLD
    self._lots[lot_id].buyer = msg.sender
    self._lots[lot_id].value = value
    log Sold(
        lot=lot_id,
        seller=lot.seller,
        buyer=msg.sender,
        quantity_wh=lot.quantity_wh,
        price=chosen.price,
        value=value,
    )


@external
def refuse(lot_id: uint256):
    """
    @notice The candidate declines: the lot passes to the next lower bid of
            a bidder that has not refused it (`Winner`), or expires.
    """
    lot: Lot = self._lots[lot_id]
    assert lot.status == LOT_AWARDED, "lot not awarded"
    chosen: Bid = self._bids[lot_id][lot.candidate]
    assert msg.sender == chosen.bidder, "caller is not the winner"
    self.refused[lot_id][msg.sender] = True
    log Refused(lot=lot_id, bidder=msg.sender)
    position: uint256 = lot.candidate
    for step: uint256 in range(MAX_BIDS):
        if position == 0:
            break
        position -= 1
        next_bid: Bid = self._bids[lot_id][position]
        if not self.refused[lot_id][next_bid.bidder]:
            self._lots[lot_id].candidate = position
            log Winner(lot=lot_id, bidder=next_bid.bidder, price=next_bid.price)
            return
    self._lots[lot_id].status = LOT_EXPIRED
    log LotExpired(lot=lot_id, seller=lot.seller)


@external
def reoffer(lot_id: uint256, price: uint256, duration_s: uint256):
    """
    @notice Offer an expired lot again, cheaper (its seller), with a new
            deadline; its energy stays locked. An open lot past its deadline
            with no bid is closed on the way (one transaction, not two).
    """
    lot: Lot = self._lots[lot_id]
    assert msg.sender == lot.seller, "caller is not the seller"
    self._expire_unbid(lot_id, lot)
    assert price > 0 and price < lot.price, "price not lower"
    assert duration_s > 0, "duration is zero"
    assert self._state[self.index_of[msg.sender]] & SUSPENDED_BIT == 0, "entity suspended"
    deadline: uint256 = block.timestamp + duration_s
    self._lots[lot_id] = Lot(
        seller=msg.sender,
        quantity_wh=lot.quantity_wh,
        price=price,
        deadline=deadline,
        status=LOT_OPEN,
        bid_count=0,
        candidate=0,
        buyer=empty(address),
        value=0,
    )
    log LotOffered(
        lot=lot_id, seller=msg.sender, quantity_wh=lot.quantity_wh, price=price, deadline=deadline
    )


@external
def withdraw_lot(lot_id: uint256):
    """
    @notice Take an expired lot off the market (its seller): its energy is
            free again. An open lot past its deadline with no bid is closed
            on the way.
    """
    lot: Lot = self._lots[lot_id]
    assert msg.sender == lot.seller, "caller is not the seller"
    self._expire_unbid(lot_id, lot)
    self._unlock(lot.seller, lot.quantity_wh)
    self._lots[lot_id].status = LOT_WITHDRAWN


# --- views ---------------------------------------------------------------------------


@view
@external
def lot(lot_id: uint256) -> Lot:
    return self._lots[lot_id]


@view
@external
def bids(lot_id: uint256) -> DynArray[Bid, MAX_BIDS]:
    """@notice A lot's bids, in the order placed (ascending price)."""
    out: DynArray[Bid, MAX_BIDS] = []
    count: uint256 = self._lots[lot_id].bid_count
    for i: uint256 in range(MAX_BIDS):
        if i == count:
            break
        out.append(self._bids[lot_id][i])
    return out


@view
@external
def free_energy(entity: address) -> uint256:
    """@notice What the entity's battery holds beyond its tokenised lots (Wh)."""
    word: uint256 = self._state[self.index_of[entity]]
    stored: uint256 = word & M48
    locked: uint256 = (word >> LOCKED_SHIFT) & M48
    if stored <= locked:
        return 0
    return stored - locked


@view
@external
def operator_offer() -> (uint256, bool):
    """@notice The operator's offer: its price, and whether it is listed (always)."""
    return self.operator_price, True


@view
@external
def entity(who: address) -> EntityView:
    index: uint256 = self.index_of[who]
    assert index != 0, "not an entity"
    word: uint256 = self._state[index]
    return EntityView(
        index=index,
        stored_wh=word & M48,
        locked_wh=(word >> LOCKED_SHIFT) & M48,
        last_consumed_wh=(word >> CONSUMED_SHIFT) & M48,
        rated_production_wh=(word >> RATED_SHIFT) & M48,
        maintenance_threshold_wh=(word >> THRESHOLD_SHIFT) & M48,
        maintenance_flagged=word & MAINTENANCE_BIT != 0,
        suspended=word & SUSPENDED_BIT != 0,
        balance=self.balance_of[who],
    )


@internal
def _expire_unbid(lot_id: uint256, lot: Lot):
    if lot.status == LOT_OPEN and lot.bid_count == 0 and block.timestamp >= lot.deadline:
        log LotExpired(lot=lot_id, seller=lot.seller)
        return
    assert lot.status == LOT_EXPIRED, "lot not expired"


@internal
def _unlock(seller: address, quantity_wh: uint256):
    index: uint256 = self.index_of[seller]
    word: uint256 = self._state[index]
    locked: uint256 = (word >> LOCKED_SHIFT) & M48
    released: uint256 = min(locked, quantity_wh)
    self._state[index] = word - (released << LOCKED_SHIFT)
