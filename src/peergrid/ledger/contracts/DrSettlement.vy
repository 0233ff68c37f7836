# pragma version ~=0.4.3
"""
@title DrSettlement
@notice The two-stage demand-response market of 001a_book.md chapter 7 on
        chain: hourly bids of registered prosumers, the first settlement
        (uniform price and DR price, Eqs. 2-3), rescheduling (Eq. 4) and
        the final settlement (Eqs. 5-8 with the power balance), with
        deposits and pull withdrawals.
@dev Roles. The system operator (the deployer) registers qualified
     prosumers, opens each hourly slot with its upstream price, alpha and
     penalty rate, may change alpha until the first settlement, runs both
     settlements and stands for the upstream market: it is paid for
     imports, pays the DR payments and collects penalties. A prosumer bids,
     reschedules, deposits and withdraws.

     Slot phases: NONE -> OPEN (`open_slot`) -> RESCHEDULE (`settle_first`)
     -> SETTLED (`settle_final`). From `settle_by` on, neither settlement is
     accepted and each bidder may `release` the reserve its bid locked.

     Units (integers): quantities in Wh; prices in micro-currency per kWh;
     alpha in parts per million (10**6 is 1); money in micro-currency (the
     settlement token's 6 decimals). Every product quantity * price is
     rounded down: value = wh * price // 1000.

     A bid is (demand, price, supply), gross; the prosumer's net position
     trades: a buyer of demand - supply or a seller of supply - demand, at
     most or at least its price, which may not exceed the upstream price.

     First settlement. The operator passes the buyers sorted by price
     descending and the sellers ascending, equal prices in registration
     order; the contract checks that each list holds every such bid once,
     in that order, and walks the two lists: while the buyer's price is at
     least the seller's, they trade the smaller remainder. The uniform price
     is the mid-point (rounded down) of the last pair that traded; with no
     trade, the upstream price if anyone buys, else the lowest offer, else
     0. DR price: min(alpha * price // 10**6, upstream) if the net demand
     exceeds the net supply, else 0.

     Final settlement. Each seller's local supply is what it was cleared
     for, at most what its meter delivered (reported by the operator); a
     shortfall pays penalty_rate * shortfall // 1000. Buyers' net demands
     after rescheduling are served from the local supply in the buyers'
     order, the rest imported at the upstream price; sellers sell in their
     order. DR parts (net reduction) are paid at the DR price, in all at
     most the stage-1 deficit (pro rata, rounded down). Each prosumer's
     balance changes by sold * p - penalty - local * p - import * upstream
     + paid DR * dr_price (each // 1000); the operator's by the negative of
     their sum, so money is conserved to the unit.

     Reserves. A buy bid locks buy * upstream // 1000 (the most it can pay),
     a sell bid sell * penalty_rate // 1000 (the most its penalty can be),
     from the free balance (balance - locked); the final settlement or a
     release after the deadline unlocks it. Withdrawals take free balance.
"""

from ethereum.ercs import IERC20

PHASE_NONE: public(constant(uint8)) = 0
PHASE_OPEN: public(constant(uint8)) = 1
PHASE_RESCHEDULE: public(constant(uint8)) = 2
PHASE_SETTLED: public(constant(uint8)) = 3

# @notice Most bids one slot holds (both settlements walk every bid once).
MAX_BIDS: public(constant(uint256)) = 140
MAX_WH: public(constant(uint256)) = 2**48 - 1
MAX_PRICE: public(constant(uint256)) = 2**48 - 1
MAX_ALPHA: public(constant(uint256)) = 2**32 - 1
ALPHA_ONE: public(constant(uint256)) = 10**6
MAX_PAGE: public(constant(uint256)) = 256
WH_PER_KWH: constant(uint256) = 1000


struct Bid:
    placed: bool
    demand: uint256
    supply: uint256
    price: uint256
    reserve: uint256
    bought: uint256
    sold: uint256
    rescheduled: bool
    new_demand: uint256
    local: uint256
    imported: uint256
    sold_final: uint256
    shortfall: uint256
    dr: uint256
    dr_paid: uint256
    penalty: uint256
    change: int256
    released: bool


# What the order check reads of each bid once, kept in memory for the walk.
struct Entry:
    net: uint256
    supply: uint256
    price: uint256


struct Slot:
    phase: uint8
    upstream_price: uint256
    alpha: uint256
    penalty_rate: uint256
    settle_by: uint256
    bidders: uint256
    buyers: uint256
    sellers: uint256
    total_buy: uint256
    total_sell: uint256
    price: uint256
    dr_price: uint256
    cleared: uint256
    operator_change: int256


token: public(immutable(IERC20))
operator: public(immutable(address))

# @notice A prosumer's index (from 1, in order of registration); 0: none.
index_of: public(HashMap[address, uint256])
prosumer_at: public(HashMap[uint256, address])
prosumer_count: public(uint256)

balance_of: public(HashMap[address, uint256])
locked: public(HashMap[address, uint256])
total_balance: public(uint256)

_slots: HashMap[uint256, Slot]
_bids: HashMap[uint256, HashMap[address, Bid]]


event Registered:
    prosumer: indexed(address)
    index: uint256


event Deposited:
    account: indexed(address)
    amount: uint256


event Withdrawn:
    account: indexed(address)
    amount: uint256


event SlotOpened:
    slot: indexed(uint256)
    upstream_price: uint256
    alpha: uint256
    penalty_rate: uint256
    settle_by: uint256


event AlphaSet:
    slot: indexed(uint256)
    alpha: uint256


event BidPlaced:
    slot: indexed(uint256)
    prosumer: indexed(address)
    demand: uint256
    price: uint256
    supply: uint256


event FirstSettled:
    slot: indexed(uint256)
    price: uint256
    dr_price: uint256
    cleared: uint256


event Rescheduled:
    slot: indexed(uint256)
    prosumer: indexed(address)
    new_demand: uint256


event FinalSettled:
    slot: indexed(uint256)
    operator_change: int256


event Released:
    slot: indexed(uint256)
    prosumer: indexed(address)
    amount: uint256


@deploy
def __init__(token_: IERC20):
    assert token_.address != empty(address), "token is the zero address"
    token = token_
    operator = msg.sender


# --- the operator -----------------------------------------------------------


@external
def register(prosumer: address):
    """
    @notice Register a qualified prosumer (operator).
    """
    assert msg.sender == operator, "caller is not the operator"
    assert prosumer != empty(address), "prosumer is the zero address"
    assert prosumer != operator, "the operator is not a prosumer"
    assert self.index_of[prosumer] == 0, "prosumer already registered"
    index: uint256 = self.prosumer_count + 1
    self.prosumer_count = index
    self.index_of[prosumer] = index
    self.prosumer_at[index] = prosumer
    log Registered(prosumer=prosumer, index=index)


@external
def open_slot(
    slot: uint256, upstream_price: uint256, alpha: uint256, penalty_rate: int256, settle_by: uint256
):
    """
    @notice Open an hourly slot for bids (operator): the upstream price
            (micro-currency per kWh), alpha (ppm, at least 10**6), the
            penalty rate on sellers' shortfalls (micro-currency per kWh) and
            the settlement deadline (block time).
    """
    assert msg.sender == operator, "caller is not the operator"
    assert self._slots[slot].phase == PHASE_NONE, "slot already open"
    assert upstream_price != 0, "zero upstream price"
    assert upstream_price <= MAX_PRICE, "price out of range"
    assert alpha >= ALPHA_ONE, "alpha below 1"
    assert alpha <= MAX_ALPHA, "alpha out of range"
    assert penalty_rate >= 0, "penalty rate is negative"
    rate: uint256 = convert(penalty_rate, uint256)
    assert rate <= MAX_PRICE, "penalty rate out of range"
    assert settle_by > block.timestamp, "settlement deadline passed"
    self._slots[slot] = Slot(
        phase=PHASE_OPEN,
        upstream_price=upstream_price,
        alpha=alpha,
        penalty_rate=rate,
        settle_by=settle_by,
        bidders=0,
        buyers=0,
        sellers=0,
        total_buy=0,
        total_sell=0,
        price=0,
        dr_price=0,
        cleared=0,
        operator_change=0,
    )
    log SlotOpened(
        slot=slot,
        upstream_price=upstream_price,
        alpha=alpha,
        penalty_rate=rate,
        settle_by=settle_by,
    )


@external
def set_alpha(slot: uint256, alpha: uint256):
    """
    @notice Change a slot's alpha before its first settlement (operator).
    """
    assert msg.sender == operator, "caller is not the operator"
    assert self._slots[slot].phase == PHASE_OPEN, "slot not open for bids"
    assert alpha >= ALPHA_ONE, "alpha below 1"
    assert alpha <= MAX_ALPHA, "alpha out of range"
    self._slots[slot].alpha = alpha
    log AlphaSet(slot=slot, alpha=alpha)


@external
def settle_first(slot: uint256, buyers: DynArray[address, MAX_BIDS], sellers: DynArray[address, MAX_BIDS]):
    """
    @notice Stage 1 (operator): uniform clearing of the slot's bids and the
            DR price. `buyers` and `sellers` are the bids in merit order.
    """
    assert msg.sender == operator, "caller is not the operator"
    s: Slot = self._slots[slot]
    assert s.phase == PHASE_OPEN, "slot not open for bids"
    assert block.timestamp < s.settle_by, "settlement deadline passed"
    bs: DynArray[Entry, MAX_BIDS] = self._check_order(slot, buyers, s.buyers, True)
    ss: DynArray[Entry, MAX_BIDS] = self._check_order(slot, sellers, s.sellers, False)

    i: uint256 = 0
    j: uint256 = 0
    left_b: uint256 = 0
    left_s: uint256 = 0
    if len(bs) > 0:
        left_b = bs[0].net
    if len(ss) > 0:
        left_s = ss[0].net
    cleared: uint256 = 0
    last_b: uint256 = 0
    last_s: uint256 = 0
    for _: uint256 in range(2 * MAX_BIDS):
        if i >= len(bs) or j >= len(ss):
            break
        if bs[i].price < ss[j].price:
            break
        q: uint256 = min(left_b, left_s)
        cleared += q
        last_b = bs[i].price
        last_s = ss[j].price
        left_b -= q
        left_s -= q
        if left_b == 0:
            self._bids[slot][buyers[i]].bought = bs[i].net
            i += 1
            if i < len(bs):
                left_b = bs[i].net
        if left_s == 0:
            self._bids[slot][sellers[j]].sold = ss[j].net
            j += 1
            if j < len(ss):
                left_s = ss[j].net
    # The marginal orders, filled in part (written once, not per step).
    if i < len(bs) and left_b < bs[i].net:
        self._bids[slot][buyers[i]].bought = bs[i].net - left_b
    if j < len(ss) and left_s < ss[j].net:
        self._bids[slot][sellers[j]].sold = ss[j].net - left_s

    price: uint256 = 0
    if cleared > 0:
        price = (last_b + last_s) // 2
    elif s.total_buy > 0:
        price = s.upstream_price
    elif len(ss) > 0:
        price = ss[0].price
    dr_price: uint256 = 0
    if s.total_buy > s.total_sell:
        dr_price = min(s.alpha * price // ALPHA_ONE, s.upstream_price)
    self._slots[slot].price = price
    self._slots[slot].dr_price = dr_price
    self._slots[slot].cleared = cleared
    self._slots[slot].phase = PHASE_RESCHEDULE
    log FirstSettled(slot=slot, price=price, dr_price=dr_price, cleared=cleared)


@external
def settle_final(
    slot: uint256,
    buyers: DynArray[address, MAX_BIDS],
    sellers: DynArray[address, MAX_BIDS],
    delivered: DynArray[uint256, MAX_BIDS],
):
    """
    @notice Stage 2 (operator): the final settlement with the sellers'
            metered deliveries (Wh, one per seller in `sellers`' order);
            balances move and the bids' reserves unlock.
    """
    assert msg.sender == operator, "caller is not the operator"
    s: Slot = self._slots[slot]
    assert s.phase == PHASE_RESCHEDULE, "slot not awaiting its final settlement"
    assert block.timestamp < s.settle_by, "settlement deadline passed"
    assert len(delivered) == len(sellers), "one delivery per seller"
    bs: DynArray[Entry, MAX_BIDS] = self._check_order(slot, buyers, s.buyers, True)
    self._check_order(slot, sellers, s.sellers, False)

    supply: uint256 = 0
    cleared: DynArray[uint256, MAX_BIDS] = []
    for k: uint256 in range(len(sellers), bound=MAX_BIDS):
        assert delivered[k] <= MAX_WH, "quantity out of range"
        sold_first: uint256 = self._bids[slot][sellers[k]].sold
        cleared.append(sold_first)
        supply += min(sold_first, delivered[k])
    demand: uint256 = 0
    dr_total: uint256 = 0
    new_buys: DynArray[uint256, MAX_BIDS] = []
    for k: uint256 in range(len(buyers), bound=MAX_BIDS):
        new_buy: uint256 = bs[k].net
        if self._bids[slot][buyers[k]].rescheduled:
            new_buy = self._net_of(self._bids[slot][buyers[k]].new_demand, bs[k].supply)
        new_buys.append(new_buy)
        demand += new_buy
        dr_total += bs[k].net - new_buy
    local_total: uint256 = min(supply, demand)
    cap: uint256 = 0
    if s.total_buy > s.total_sell:
        cap = s.total_buy - s.total_sell

    net: int256 = 0
    left: uint256 = local_total
    for k: uint256 in range(len(sellers), bound=MAX_BIDS):
        who: address = sellers[k]
        available: uint256 = min(cleared[k], delivered[k])
        sold: uint256 = min(available, left)
        left -= sold
        shortfall: uint256 = cleared[k] - available
        penalty: uint256 = shortfall * s.penalty_rate // WH_PER_KWH
        change: int256 = convert(sold * s.price // WH_PER_KWH, int256) - convert(penalty, int256)
        if sold != 0:
            self._bids[slot][who].sold_final = sold
        if shortfall != 0:
            self._bids[slot][who].shortfall = shortfall
            self._bids[slot][who].penalty = penalty
        net += self._apply(slot, who, change)

    left = local_total
    for k: uint256 in range(len(buyers), bound=MAX_BIDS):
        who: address = buyers[k]
        new_buy: uint256 = new_buys[k]
        local: uint256 = min(new_buy, left)
        left -= local
        imported: uint256 = new_buy - local
        dr: uint256 = bs[k].net - new_buy
        paid: uint256 = 0
        if s.dr_price > 0:
            if dr_total <= cap:
                paid = dr
            else:
                paid = dr * cap // dr_total
        change: int256 = (
            convert(paid * s.dr_price // WH_PER_KWH, int256)
            - convert(local * s.price // WH_PER_KWH, int256)
            - convert(imported * s.upstream_price // WH_PER_KWH, int256)
        )
        if local != 0:
            self._bids[slot][who].local = local
        if imported != 0:
            self._bids[slot][who].imported = imported
        if dr != 0:
            self._bids[slot][who].dr = dr
            self._bids[slot][who].dr_paid = paid
        net += self._apply(slot, who, change)

    # Bids that neither buy nor sell only unlock nothing: their reserve is 0.
    operator_change: int256 = -net
    if operator_change < 0:
        assert self.balance_of[operator] >= convert(-operator_change, uint256), (
            "operator cannot fund the settlement"
        )
        self.balance_of[operator] -= convert(-operator_change, uint256)
    else:
        self.balance_of[operator] += convert(operator_change, uint256)
    self._slots[slot].operator_change = operator_change
    self._slots[slot].phase = PHASE_SETTLED
    log FinalSettled(slot=slot, operator_change=operator_change)


# --- prosumers ----------------------------------------------------------------


@external
def bid(slot: uint256, demand: uint256, price: uint256, supply: uint256):
    """
    @notice Bid in an open slot (a registered prosumer): offered demand and
            PV capacity (Wh) at one price (micro-currency per kWh), at most
            the upstream price. Locks the bid's reserve.
    """
    assert self.index_of[msg.sender] != 0, "caller is not a registered prosumer"
    # Field by field: the whole Slot struct would be fourteen storage reads.
    assert self._slots[slot].phase == PHASE_OPEN, "slot not open for bids"
    assert block.timestamp < self._slots[slot].settle_by, "settlement deadline passed"
    assert not self._bids[slot][msg.sender].placed, "prosumer already bid in this slot"
    bidders: uint256 = self._slots[slot].bidders
    assert bidders < MAX_BIDS, "slot is full"
    assert demand <= MAX_WH and supply <= MAX_WH, "quantity out of range"
    upstream_price: uint256 = self._slots[slot].upstream_price
    assert price <= upstream_price, "price above the upstream price"
    reserve: uint256 = 0
    if demand > supply:
        reserve = (demand - supply) * upstream_price // WH_PER_KWH
        self._slots[slot].buyers += 1
        self._slots[slot].total_buy += demand - supply
    elif supply > demand:
        reserve = (supply - demand) * self._slots[slot].penalty_rate // WH_PER_KWH
        self._slots[slot].sellers += 1
        self._slots[slot].total_sell += supply - demand
    assert self.balance_of[msg.sender] - self.locked[msg.sender] >= reserve, (
        "deposit does not cover the bid"
    )
    self.locked[msg.sender] += reserve
    self._slots[slot].bidders = bidders + 1
    # Only the non-zero fields: every other field starts at zero, and a
    # bid that is not rescheduled keeps its demand (read through `_new_demand`).
    self._bids[slot][msg.sender].placed = True
    self._bids[slot][msg.sender].demand = demand
    self._bids[slot][msg.sender].supply = supply
    self._bids[slot][msg.sender].price = price
    self._bids[slot][msg.sender].reserve = reserve
    log BidPlaced(slot=slot, prosumer=msg.sender, demand=demand, price=price, supply=supply)


@external
def reschedule(slot: uint256, new_demand: uint256):
    """
    @notice Post the demand rescheduled after the first settlement (a buyer
            of the slot): at most its bid's demand (Eq. 4's DR part is a
            reduction), once.
    """
    assert self._slots[slot].phase == PHASE_RESCHEDULE, "slot not open for rescheduling"
    assert block.timestamp < self._slots[slot].settle_by, "settlement deadline passed"
    demand: uint256 = self._bids[slot][msg.sender].demand
    assert demand > self._bids[slot][msg.sender].supply, "caller is not a buyer in this slot"
    assert not self._bids[slot][msg.sender].rescheduled, "demand already rescheduled"
    assert new_demand <= demand, "rescheduled demand above the bid"
    self._bids[slot][msg.sender].new_demand = new_demand
    self._bids[slot][msg.sender].rescheduled = True
    log Rescheduled(slot=slot, prosumer=msg.sender, new_demand=new_demand)


@external
def release(slot: uint256):
    """
    @notice From the slot's deadline on, if it was never finally settled,
            unlock the caller's reserve (the way out of a slot the operator
            abandoned).
    """
    s: Slot = self._slots[slot]
    b: Bid = self._bids[slot][msg.sender]
    assert b.placed, "caller has no bid in this slot"
    assert s.phase != PHASE_SETTLED, "slot already settled"
    assert block.timestamp >= s.settle_by, "settlement deadline not reached"
    assert not b.released, "reserve already released"
    self._bids[slot][msg.sender].released = True
    self.locked[msg.sender] -= b.reserve
    log Released(slot=slot, prosumer=msg.sender, amount=b.reserve)


@external
@nonreentrant
def deposit(amount: uint256):
    """
    @notice Pull `amount` tokens from the caller (a registered prosumer or
            the operator, having approved this contract) into its balance.
    """
    assert self.index_of[msg.sender] != 0 or msg.sender == operator, (
        "caller is not a participant"
    )
    assert amount != 0, "zero amount"
    self.balance_of[msg.sender] += amount
    self.total_balance += amount
    log Deposited(account=msg.sender, amount=amount)
    assert extcall token.transferFrom(msg.sender, self, amount), "token transfer failed"


@external
@nonreentrant
def withdraw(amount: uint256):
    """
    @notice Pay out `amount` of the caller's free balance (balance less the
            reserves its open bids lock).
    """
    assert amount != 0, "zero amount"
    assert self.balance_of[msg.sender] - self.locked[msg.sender] >= amount, (
        "amount above the free balance"
    )
    self.balance_of[msg.sender] -= amount
    self.total_balance -= amount
    log Withdrawn(account=msg.sender, amount=amount)
    assert extcall token.transfer(msg.sender, amount), "token transfer failed"


# --- views --------------------------------------------------------------------


@view
@external
def slot_of(slot: uint256) -> Slot:
    return self._slots[slot]


@view
@external
def bid_of(slot: uint256, prosumer: address) -> Bid:
    b: Bid = self._bids[slot][prosumer]
    b.new_demand = self._new_demand(b)
    return b


@view
@external
def bids_of(slot: uint256, prosumers: DynArray[address, MAX_BIDS]) -> DynArray[Bid, MAX_BIDS]:
    """
    @notice Many prosumers' bids in `slot` at once (`new_demand` is the
            bid's demand until it is rescheduled).
    """
    out: DynArray[Bid, MAX_BIDS] = []
    for who: address in prosumers:
        b: Bid = self._bids[slot][who]
        b.new_demand = self._new_demand(b)
        out.append(b)
    return out


@view
@external
def prosumer_range(start: uint256, count: uint256) -> DynArray[address, MAX_PAGE]:
    """
    @notice Registered prosumers from index `start` (from 1), at most
            `count` (and MAX_PAGE).
    """
    out: DynArray[address, MAX_PAGE] = []
    last: uint256 = self.prosumer_count
    for k: uint256 in range(MAX_PAGE):
        if k >= count or start + k > last or start + k == 0:
            break
        out.append(self.prosumer_at[start + k])
    return out


@view
@external
def free_balance(account: address) -> uint256:
    return self.balance_of[account] - self.locked[account]


# --- internal -----------------------------------------------------------------


@pure
@internal
def _new_demand(b: Bid) -> uint256:
    if b.rescheduled:
        return b.new_demand
    return b.demand


@pure
@internal
def _net_of(demand: uint256, supply: uint256) -> uint256:
    if demand > supply:
        return demand - supply
    return 0


@view
@internal
def _check_order(
    slot: uint256, orders: DynArray[address, MAX_BIDS], count: uint256, buying: bool
) -> DynArray[Entry, MAX_BIDS]:
    # Strictly ordered keys and the right count make the list a permutation
    # of the side's bids.
    if buying:
        assert len(orders) == count, "buyer list incomplete"
    else:
        assert len(orders) == count, "seller list incomplete"
    out: DynArray[Entry, MAX_BIDS] = []
    last_price: uint256 = 0
    last_index: uint256 = 0
    for k: uint256 in range(len(orders), bound=MAX_BIDS):
        who: address = orders[k]
        demand: uint256 = self._bids[slot][who].demand
        supply: uint256 = self._bids[slot][who].supply
        price: uint256 = self._bids[slot][who].price
        # A bid with demand != supply was placed; an unplaced one has both 0.
        index: uint256 = self.index_of[who]
        if buying:
            assert demand > supply, "not a buyer in this slot"
            out.append(Entry(net=demand - supply, supply=supply, price=price))
        else:
            assert supply > demand, "not a seller in this slot"
            out.append(Entry(net=supply - demand, supply=supply, price=price))
        if k > 0:
            if buying:
                assert price < last_price or (price == last_price and index > last_index), (
                    "buyers out of order"
                )
            else:
                assert price > last_price or (price == last_price and index > last_index), (
                    "sellers out of order"
                )
        last_price = price
        last_index = index
    return out


@internal
def _apply(slot: uint256, who: address, change: int256) -> int256:
    # The reserve covered the most this bid could owe: a debit never
    # exceeds the balance.
    self.locked[who] -= self._bids[slot][who].reserve
    if change < 0:
        self.balance_of[who] -= convert(-change, uint256)
    elif change > 0:
        self.balance_of[who] += convert(change, uint256)
    if change != 0:
        self._bids[slot][who].change = change
    return change
