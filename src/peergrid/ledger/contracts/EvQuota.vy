# pragma version ~=0.4.3
"""
@title EvQuota
@notice One delivery period's EV charging power quota market (001b_book.md
        chapter 9): the DSO's capacity margin is pre-allocated among the
        charging stations in proportion to their demands (eqs. 1-2), the
        stations trade quota in a double auction (Algorithm 1), then pay the
        charging fee on their metered energy and a penalty on any draw above
        their final quota, and withdraw the rest of their deposit.
@dev One contract per period: deploy, `initialize`, and the steps below.

     Roles. The DSO (fixed at deployment) initialises the period, closes
     the demand window (`pre_allocation`), runs the auction, reports the
     metered energy (`payment`) and receives fees and penalties. A charging
     station is any other account that submitted its demand with a deposit.

     Phases, advanced by the DSO as in the other market contracts (the
     platform's clock drives the chapter's 18:00-18:15 timeline):
         NONE    -> DEMAND   `initialize`
         DEMAND  -> ORDERS   `pre_allocation`, demands above the margin
         DEMAND  -> CLEARED  `pre_allocation`, demands within the margin:
                             every demand is met, no auction (eq. 1, beta 1)
         ORDERS  -> CLEARED  `auction`
     Two block times are set at `initialize`: `delivery_end`, from which the
     DSO may report readings (`payment` comes after delivery), and
     `settle_by`, the way out: from then on nothing but `withdraw` is
     accepted, and every station withdraws its deposit as it stands even if
     the DSO never ran the auction or never billed it (the DSO then forfeits
     that station's fee).

     Units (integers): quotas, demands, ratings, order quantities and
     readings in micro-kW (1e-6 kW; the chapter's one-hour basis: x kWh of
     a quota order or a reading is x kW of quota); prices, the tariff and
     the penalty rate in micro-tokens per kWh; money in micro-tokens (the
     settlement token's units, 6 decimals).

     Pre-allocation (eqs. 1-2). With D = sum of demands and M the margin: if
     D <= M every initial quota is the demand; else it is demand * M // D
     (rounded down: the quotas never exceed the margin). The quota is
     computed from the stored demand, D and M when read, so pre-allocation
     costs the same for any number of stations.

     Orders. One per station, a bid (buy quota) or an offer (sell quota):
     price > 0 and quantity > 0; an offer at most the initial quota; a bid
     at most rating - initial quota, and the deposit must cover the bid's
     most cost, price * quantity // 10**6, on top of the reserve below.
     Bids are kept sorted by price descending, offers ascending, each list
     singly linked; equal prices keep the order of submission. An insertion
     walks from `hint` (a station whose order ranks at or before the new
     one; 0: from the best), so a client that passes the exact predecessor
     pays one read, and one that does not pays a read per order passed.
     At most MAX_ORDERS orders: the auction must fit one transaction.

     Auction (Algorithm 1). While both lists are non-empty and the best bid
     >= the best offer: they trade q = min(remaining bid, remaining offer)
     at their own mid-point; value = (bid + offer) * q // (2 * 10**6)
     moves from the buyer's deposit to the seller's; the exhausted order
     leaves (both, if both are exhausted). Each trade is stored (`trade`).
     Final quota = initial + bought - sold.

     Payment. The DSO reports each station's metered energy (at most its
     rating); fee = tariff * metered // 10**6 and, if metered > final quota,
     penalty = penalty_rate * (metered - final) // 10**6, both taken from
     the deposit and sent to the DSO. A station deposits at least the
     reserve (tariff + penalty_rate) * rating // 10**6 when it submits its
     demand, the most it can owe for both (a reading above the rating is
     refused), so a payment never falls short.

     Money. Tokens enter only at `demand_submit` (transferFrom) and leave
     only to the DSO at `payment` and to a station at `withdraw`; the
     contract holds exactly the sum of the stations' deposits.
"""

from ethereum.ercs import IERC20

PHASE_NONE: public(constant(uint8)) = 0
PHASE_DEMAND: public(constant(uint8)) = 1
PHASE_ORDERS: public(constant(uint8)) = 2
PHASE_CLEARED: public(constant(uint8)) = 3

# @notice Most quota orders (bids and offers together) one period holds:
#         the auction's worst case (every step exhausts one order, each
#         step a stored trade) then stays within 2**24 gas.
MAX_ORDERS: public(constant(uint256)) = 400

# @notice Most readings one `payment` call carries.
MAX_READINGS_PER_CALL: public(constant(uint256)) = 256

# @notice Bounds of the inputs (so that every packed field fits).
MAX_KW_UNITS: public(constant(uint256)) = 2**64 - 1
MAX_PRICE: public(constant(uint256)) = 2**48 - 1
MAX_DEPOSIT: public(constant(uint256)) = 2**120 - 1
MAX_STATIONS: public(constant(uint256)) = 2**32 - 1

UNITS: constant(uint256) = 10**6
M32: constant(uint256) = 2**32 - 1
M48: constant(uint256) = 2**48 - 1
M64: constant(uint256) = 2**64 - 1
M96: constant(uint256) = 2**96 - 1
M128: constant(uint256) = 2**128 - 1

# station word: demand 0..63 | rating 64..127 | ordered 128 | paid 129 |
# withdrawn 130
RATING_SHIFT: constant(uint256) = 64
ORDERED_BIT: constant(uint256) = 1 << 128
PAID_BIT: constant(uint256) = 1 << 129
WITHDRAWN_BIT: constant(uint256) = 1 << 130

# order word: price 0..47 | quantity 64..127 | next station 128..159 |
# sell 160 | quantity moved in the auction 168..231
QUANTITY_SHIFT: constant(uint256) = 64
NEXT_SHIFT: constant(uint256) = 128
SELL_BIT: constant(uint256) = 1 << 160
MOVED_SHIFT: constant(uint256) = 168
NEXT_MASK: constant(uint256) = M32 << 128

# money word: deposit 0..127 | auction value paid or received 128..255
VALUE_SHIFT: constant(uint256) = 128

# settled word: metered 0..63 | fee 64..159 | penalty 160..255
FEE_SHIFT: constant(uint256) = 64
PENALTY_SHIFT: constant(uint256) = 160

# trade word: buyer 0..31 | seller 32..63 | quantity 64..127 |
# bid + offer 128..176
SELLER_SHIFT: constant(uint256) = 32
PRICE_SUM_SHIFT: constant(uint256) = 128


struct StationView:
    index: uint256
    demand: uint256
    rating: uint256
    initial_quota: uint256
    final_quota: uint256
    deposit: uint256
    auction_payment: int256
    ordered: bool
    paid: bool
    withdrawn: bool
    metered: uint256
    fee: uint256
    penalty: uint256


struct OrderView:
    station: uint256
    owner: address
    is_bid: bool
    price: uint256
    quantity: uint256
    moved: uint256


struct TradeView:
    buyer: address
    seller: address
    quantity: uint256
    price_sum: uint256
    value: uint256


# @notice The settlement token (micro-tokens) and the DSO.
token: public(immutable(IERC20))
dso: public(immutable(address))

phase: public(uint8)
period: public(uint256)
capacity_margin: public(uint256)
tariff: public(uint256)
penalty_rate: public(uint256)
delivery_end: public(uint256)
settle_by: public(uint256)
total_demand: public(uint256)
station_count: public(uint256)
auction_held: public(bool)
order_count: public(uint256)
trade_count: public(uint256)
bid_head: public(uint256)
offer_head: public(uint256)

# @notice A station's index (from 1, in order of registration); 0: none.
index_of: public(HashMap[address, uint256])
station_at: public(HashMap[uint256, address])

_stations: HashMap[uint256, uint256]
_orders: HashMap[uint256, uint256]
_money: HashMap[uint256, uint256]
_settled: HashMap[uint256, uint256]
_trades: HashMap[uint256, uint256]


event Initialized:
    period: indexed(uint256)
    capacity_margin: uint256
    tariff: uint256
    penalty_rate: uint256
    delivery_end: uint256
    settle_by: uint256


event DemandSubmitted:
    station: indexed(address)
    index: uint256
    demand: uint256
    rating: uint256
    deposit: uint256


event PreAllocated:
    total_demand: uint256
    capacity_margin: uint256
    auction_held: bool


event OrderSubmitted:
    station: indexed(address)
    is_bid: bool
    price: uint256
    quantity: uint256


# Station indices, not addresses: the trade is also stored (`trades`), and
# two more storage reads per step would be the log's dearest part.
event Traded:
    buyer: uint256
    seller: uint256
    quantity: uint256
    price_sum: uint256
    value: uint256


event AuctionCleared:
    trades: uint256


event Paid:
    station: indexed(address)
    metered: uint256
    fee: uint256
    penalty: uint256


event Withdrawn:
    station: indexed(address)
    amount: uint256


@deploy
def __init__(token_: IERC20, dso_: address):
    assert token_.address != empty(address), "token is the zero address"
    assert dso_ != empty(address), "dso is the zero address"
    token = token_
    dso = dso_


# --- DSO -----------------------------------------------------------------------


@external
def initialize(
    period_: uint256,
    capacity_margin_: uint256,
    tariff_: uint256,
    penalty_rate_: uint256,
    delivery_end_: uint256,
    settle_by_: uint256,
):
    """
    @notice Open the period (DSO): the transformer's capacity margin
            (micro-kW), the charging tariff and the over-quota penalty rate
            (micro-tokens per kWh), the end of delivery and the settlement
            deadline (block times, seconds). Demands open.
    """
    assert msg.sender == dso, "caller is not the dso"
    assert self.phase == PHASE_NONE, "period already initialized"
    assert capacity_margin_ <= MAX_KW_UNITS, "capacity margin out of range"
    assert tariff_ <= MAX_PRICE, "tariff out of range"
    assert penalty_rate_ <= MAX_PRICE, "penalty rate out of range"
    assert settle_by_ > delivery_end_, "settlement deadline not after delivery"
    assert settle_by_ > block.timestamp, "settlement deadline passed"
    self.period = period_
    self.capacity_margin = capacity_margin_
    self.tariff = tariff_
    self.penalty_rate = penalty_rate_
    self.delivery_end = delivery_end_
    self.settle_by = settle_by_
    self.phase = PHASE_DEMAND
    log Initialized(
        period=period_,
        capacity_margin=capacity_margin_,
        tariff=tariff_,
        penalty_rate=penalty_rate_,
        delivery_end=delivery_end_,
        settle_by=settle_by_,
    )


@external
def pre_allocation():
    """
    @notice Close the demand window and fix the initial quotas (DSO): eqs.
            1-2. If the demands fit in the margin, every demand is met and
            no auction is held.
    """
    assert msg.sender == dso, "caller is not the dso"
    self._before_deadline()
    self._in_phase(PHASE_DEMAND, "not in the demand phase")
    held: bool = self.total_demand > self.capacity_margin
    self.auction_held = held
    if held:
        self.phase = PHASE_ORDERS
    else:
        self.phase = PHASE_CLEARED
    log PreAllocated(
        total_demand=self.total_demand, capacity_margin=self.capacity_margin, auction_held=held
    )


@external
def auction():
    """
    @notice Close the order book and run Algorithm 1 (DSO): matched pairs
            trade at their own mid-point, the value moves between deposits,
            final quotas follow.
    """
    assert msg.sender == dso, "caller is not the dso"
    self._before_deadline()
    self._in_phase(PHASE_ORDERS, "not in the order phase")
    trades: uint256 = 0
    bid: uint256 = self.bid_head
    offer: uint256 = self.offer_head
    bid_word: uint256 = 0
    offer_word: uint256 = 0
    bid_left: uint256 = 0
    offer_left: uint256 = 0
    bid_moved: uint256 = 0
    offer_moved: uint256 = 0
    bid_value: uint256 = 0
    offer_value: uint256 = 0
    if bid != 0:
        bid_word = self._orders[bid]
        bid_left = (bid_word >> QUANTITY_SHIFT) & M64
    if offer != 0:
        offer_word = self._orders[offer]
        offer_left = (offer_word >> QUANTITY_SHIFT) & M64
    # Each step exhausts an order: at most MAX_ORDERS steps.
    for step: uint256 in range(MAX_ORDERS):
        if bid == 0 or offer == 0:
            break
        price_sum: uint256 = (bid_word & M48) + (offer_word & M48)
        if bid_word & M48 < offer_word & M48:
            break
        amount: uint256 = min(bid_left, offer_left)
        worth: uint256 = price_sum * amount // (2 * UNITS)
        self._trades[trades] = (
            bid | (offer << SELLER_SHIFT) | (amount << QUANTITY_SHIFT) | (price_sum << PRICE_SUM_SHIFT)
        )
        trades += 1
        log Traded(
            buyer=bid,
            seller=offer,
            quantity=amount,
            price_sum=price_sum,
            value=worth,
        )
        bid_left -= amount
        offer_left -= amount
        bid_moved += amount
        offer_moved += amount
        bid_value += worth
        offer_value += worth
        if bid_left == 0:
            self._settle_order(bid, bid_word, bid_moved, bid_value, True)
            bid = (bid_word >> NEXT_SHIFT) & M32
            bid_moved = 0
            bid_value = 0
            if bid != 0:
                bid_word = self._orders[bid]
                bid_left = (bid_word >> QUANTITY_SHIFT) & M64
        if offer_left == 0:
            self._settle_order(offer, offer_word, offer_moved, offer_value, False)
            offer = (offer_word >> NEXT_SHIFT) & M32
            offer_moved = 0
            offer_value = 0
            if offer != 0:
                offer_word = self._orders[offer]
                offer_left = (offer_word >> QUANTITY_SHIFT) & M64
    # The best remaining bid and offer may have traded in part.
    if bid_moved != 0:
        self._settle_order(bid, bid_word, bid_moved, bid_value, True)
    if offer_moved != 0:
        self._settle_order(offer, offer_word, offer_moved, offer_value, False)
    self.trade_count = trades
    self.phase = PHASE_CLEARED
    log AuctionCleared(trades=trades)


@external
def payment(stations: DynArray[address, MAX_READINGS_PER_CALL], metered: DynArray[uint256, MAX_READINGS_PER_CALL]):
    """
    @notice After delivery, the DSO reports each station's metered energy
            (micro-kWh, at most its rating); the station pays the charging
            fee tariff * metered // 10**6 and, above its final quota, the
            penalty penalty_rate * excess // 10**6 from its deposit to the
            DSO. Each station is billed once.
    """
    assert msg.sender == dso, "caller is not the dso"
    self._before_deadline()
    self._in_phase(PHASE_CLEARED, "period not cleared")
    assert block.timestamp >= self.delivery_end, "delivery not over"
    assert len(stations) == len(metered), "one reading per station"
    margin: uint256 = self.capacity_margin
    total: uint256 = self.total_demand
    held: bool = self.auction_held
    tariff: uint256 = self.tariff
    penalty_rate: uint256 = self.penalty_rate
    to_dso: uint256 = 0
    for k: uint256 in range(len(stations), bound=MAX_READINGS_PER_CALL):
        station: address = stations[k]
        index: uint256 = self.index_of[station]
        assert index != 0, "not a registered station"
        word: uint256 = self._stations[index]
        assert word & PAID_BIT == 0, "station already paid"
        reading: uint256 = metered[k]
        assert reading <= (word >> RATING_SHIFT) & M64, "reading above rating"
        final: uint256 = self._final(index, word, margin, total, held)
        fee: uint256 = tariff * reading // UNITS
        penalty: uint256 = 0
        if reading > final:
            penalty = penalty_rate * (reading - final) // UNITS
        # The reserve taken at demand_submit covers both (see @dev).
        self._money[index] = self._money[index] - fee - penalty
        self._stations[index] = word | PAID_BIT
        self._settled[index] = reading | (fee << FEE_SHIFT) | (penalty << PENALTY_SHIFT)
        to_dso += fee + penalty
        log Paid(station=station, metered=reading, fee=fee, penalty=penalty)
    if to_dso != 0:
        assert extcall token.transfer(dso, to_dso, default_return_value=True), "transfer failed"


# --- charging stations -------------------------------------------------------------


@external
def demand_submit(demand: uint256, rating: uint256, deposit: uint256):
    """
    @notice Register as a charging station with the period's charging
            demand and the chargers' rating (micro-kW), and deposit
            `deposit` micro-tokens (approve the contract first). The deposit
            must cover the fee and penalty reserve
            (tariff + penalty_rate) * rating // 10**6.
    """
    self._before_deadline()
    self._in_phase(PHASE_DEMAND, "demand window is closed")
    assert msg.sender != dso, "the dso is not a station"
    assert self.index_of[msg.sender] == 0, "station already registered"
    assert rating != 0, "zero rating"
    assert rating <= MAX_KW_UNITS, "rating out of range"
    assert demand <= rating, "demand above rating"
    assert deposit != 0, "no deposit"
    assert deposit <= MAX_DEPOSIT, "deposit out of range"
    assert deposit >= self._reserve(rating), "deposit below the fee and penalty reserve"
    index: uint256 = self.station_count + 1
    assert index <= MAX_STATIONS, "too many stations"
    self.station_count = index
    self.index_of[msg.sender] = index
    self.station_at[index] = msg.sender
    self._stations[index] = demand | (rating << RATING_SHIFT)
    self._money[index] = deposit
    self.total_demand += demand
    log DemandSubmitted(station=msg.sender, index=index, demand=demand, rating=rating, deposit=deposit)
    assert extcall token.transferFrom(msg.sender, self, deposit, default_return_value=True), "deposit transfer failed"


@external
def submit(is_bid: bool, price: uint256, quantity: uint256, hint: uint256):
    """
    @notice Place the station's one quota order: a bid (buy `quantity`
            micro-kW of quota at most `price` micro-tokens per kWh) or an
            offer (sell at least at `price`). `hint`: the index of a station
            whose order on the same side ranks at or before this one (0:
            search from the best).
    """
    self._before_deadline()
    self._in_phase(PHASE_ORDERS, "not in the order phase")
    index: uint256 = self.index_of[msg.sender]
    assert index != 0, "not a registered station"
    word: uint256 = self._stations[index]
    assert word & ORDERED_BIT == 0, "station already placed an order"
    assert price != 0, "zero price"
    assert price <= MAX_PRICE, "price out of range"
    assert quantity != 0, "zero quantity"
    assert quantity <= MAX_KW_UNITS, "quantity out of range"
    initial: uint256 = self._initial(word & M64, self.capacity_margin, self.total_demand, True)
    assert initial != 0, "station has no quota"
    rating: uint256 = (word >> RATING_SHIFT) & M64
    if is_bid:
        assert quantity <= rating - initial, "bid above rating"
        assert self._money[index] >= self._reserve(rating) + price * quantity // UNITS, "deposit does not cover the bid"
    else:
        assert quantity <= initial, "offer above quota"
    assert self.order_count < MAX_ORDERS, "book is full"
    self.order_count += 1
    self._stations[index] = word | ORDERED_BIT

    # Find the place: after every order that ranks at or before this one.
    previous: uint256 = 0
    current: uint256 = 0
    if is_bid:
        current = self.bid_head
    else:
        current = self.offer_head
    if hint != 0:
        hint_word: uint256 = self._orders[hint]
        assert (
            hint_word != 0
            and (hint_word & SELL_BIT == 0) == is_bid
            and not self._before(is_bid, price, hint_word & M48)
        ), "bad hint"
        previous = hint
        current = (hint_word >> NEXT_SHIFT) & M32
    for i: uint256 in range(MAX_ORDERS):
        if current == 0:
            break
        current_word: uint256 = self._orders[current]
        if self._before(is_bid, price, current_word & M48):
            break
        previous = current
        current = (current_word >> NEXT_SHIFT) & M32
    order_word: uint256 = price | (quantity << QUANTITY_SHIFT) | (current << NEXT_SHIFT)
    if not is_bid:
        order_word = order_word | SELL_BIT
    self._orders[index] = order_word
    if previous == 0:
        if is_bid:
            self.bid_head = index
        else:
            self.offer_head = index
    else:
        self._orders[previous] = (self._orders[previous] & ~NEXT_MASK) | (index << NEXT_SHIFT)
    log OrderSubmitted(station=msg.sender, is_bid=is_bid, price=price, quantity=quantity)


@external
def withdraw():
    """
    @notice Take the rest of the deposit back: after the station's payment,
            or from the settlement deadline on whatever happened.
    """
    index: uint256 = self.index_of[msg.sender]
    assert index != 0, "not a registered station"
    word: uint256 = self._stations[index]
    assert word & WITHDRAWN_BIT == 0, "already withdrawn"
    assert word & PAID_BIT != 0 or block.timestamp >= self.settle_by, "payment not made"
    amount: uint256 = self._money[index] & M128
    self._money[index] = self._money[index] & ~M128
    self._stations[index] = word | WITHDRAWN_BIT
    log Withdrawn(station=msg.sender, amount=amount)
    if amount != 0:
        assert extcall token.transfer(msg.sender, amount, default_return_value=True), "transfer failed"


# --- views -----------------------------------------------------------------------------


@external
@view
def station(account: address) -> StationView:
    """
    @notice A station's demand, quotas, deposit, auction payment (positive:
            paid; negative: received) and bill; all zero if not registered.
    """
    index: uint256 = self.index_of[account]
    if index == 0:
        return empty(StationView)
    word: uint256 = self._stations[index]
    margin: uint256 = self.capacity_margin
    total: uint256 = self.total_demand
    settled_in: bool = self.phase >= PHASE_ORDERS
    initial: uint256 = 0
    final: uint256 = 0
    if settled_in:
        initial = self._initial(word & M64, margin, total, self.auction_held)
        final = self._final(index, word, margin, total, self.auction_held)
    money: uint256 = self._money[index]
    paid: int256 = convert(money >> VALUE_SHIFT, int256)
    if self._orders[index] & SELL_BIT != 0:
        paid = -paid
    settled: uint256 = self._settled[index]
    return StationView(
        index=index,
        demand=word & M64,
        rating=(word >> RATING_SHIFT) & M64,
        initial_quota=initial,
        final_quota=final,
        deposit=money & M128,
        auction_payment=paid,
        ordered=word & ORDERED_BIT != 0,
        paid=word & PAID_BIT != 0,
        withdrawn=word & WITHDRAWN_BIT != 0,
        metered=settled & M64,
        fee=(settled >> FEE_SHIFT) & M96,
        penalty=settled >> PENALTY_SHIFT,
    )


@external
@view
def book(is_bid: bool, max_orders: uint256) -> DynArray[OrderView, MAX_ORDERS]:
    """
    @notice Up to `max_orders` orders of one side, best first.
    """
    current: uint256 = 0
    if is_bid:
        current = self.bid_head
    else:
        current = self.offer_head
    out: DynArray[OrderView, MAX_ORDERS] = []
    for i: uint256 in range(max_orders, bound=MAX_ORDERS):
        if current == 0:
            break
        word: uint256 = self._orders[current]
        out.append(
            OrderView(
                station=current,
                owner=self.station_at[current],
                is_bid=is_bid,
                price=word & M48,
                quantity=(word >> QUANTITY_SHIFT) & M64,
                moved=(word >> MOVED_SHIFT) & M64,
            )
        )
        current = (word >> NEXT_SHIFT) & M32
    return out


@external
@view
def trades(start: uint256, max_trades: uint256) -> DynArray[TradeView, MAX_ORDERS]:
    """
    @notice Up to `max_trades` trades from number `start`, in the order the
            auction formed them.
    """
    out: DynArray[TradeView, MAX_ORDERS] = []
    count: uint256 = self.trade_count
    for i: uint256 in range(max_trades, bound=MAX_ORDERS):
        if start + i >= count:
            break
        word: uint256 = self._trades[start + i]
        quantity: uint256 = (word >> QUANTITY_SHIFT) & M64
        price_sum: uint256 = word >> PRICE_SUM_SHIFT
        out.append(
            TradeView(
                buyer=self.station_at[word & M32],
                seller=self.station_at[(word >> SELLER_SHIFT) & M32],
                quantity=quantity,
                price_sum=price_sum,
                value=price_sum * quantity // (2 * UNITS),
            )
        )
    return out


# --- internals ---------------------------------------------------------------------------


@internal
@view
def _before_deadline():
    assert block.timestamp < self.settle_by or self.phase == PHASE_NONE, "settlement deadline passed"


@internal
@view
def _in_phase(expected: uint8, reason: String[32]):
    phase: uint8 = self.phase
    assert phase != PHASE_NONE, "period not initialized"
    assert phase == expected, reason


@internal
@view
def _reserve(rating: uint256) -> uint256:
    """
    @notice The most a station of this rating can owe at payment.
    """
    return (self.tariff + self.penalty_rate) * rating // UNITS


@internal
@pure
def _before(is_bid: bool, price: uint256, other: uint256) -> bool:
    """
    @notice Whether `price` ranks strictly before `other` on its side.
    """
    if is_bid:
        return price > other
    return price < other


@internal
@pure
def _initial(demand: uint256, margin: uint256, total: uint256, held: bool) -> uint256:
    """
    @notice Eq. 2 on the integer grid: demand * margin // total when the
            demands exceed the margin, else the demand.
    """
    if held:
        return demand * margin // total
    return demand


@internal
@view
def _final(index: uint256, word: uint256, margin: uint256, total: uint256, held: bool) -> uint256:
    """
    @notice Initial quota + bought - sold.
    """
    initial: uint256 = self._initial(word & M64, margin, total, held)
    if word & ORDERED_BIT == 0:
        return initial
    order_word: uint256 = self._orders[index]
    moved: uint256 = (order_word >> MOVED_SHIFT) & M64
    if order_word & SELL_BIT != 0:
        return initial - moved
    return initial + moved


@internal
def _settle_order(index: uint256, word: uint256, moved: uint256, worth: uint256, is_bid: bool):
    """
    @notice An order's share of the auction: the quantity it moved and the
            value it paid (a bid) or received (an offer), into its deposit.
    """
    self._orders[index] = word | (moved << MOVED_SHIFT)
    money: uint256 = self._money[index]
    if is_bid:
        money -= worth
    else:
        money += worth
    self._money[index] = money | (worth << VALUE_SHIFT)
