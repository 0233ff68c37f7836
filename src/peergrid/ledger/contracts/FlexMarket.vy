# pragma version ~=0.4.3
"""
@title FlexMarket
@notice The DSO's local flexibility market (001a_book.md chapter 5,
        business model B, and the aggregator auction): the DSO posts a need
        found by its congestion screening, members offer flexibility from
        their buses inside the need's area, the contract clears the need
        (cheapest suitable offers per effective kW until it is covered) and
        settles each award against the metered delivery: paid from the
        DSO's escrow, or penalised.
@dev Roles. The DSO (the deployer) registers members with their bus, posts
     needs, runs the award and deposits the escrow. The meter operator (an
     address fixed at deployment) reports, per awarded offer, the baseline
     and the metered energy of the member in the slot. A member offers,
     deposits its collateral and withdraws.

     Units (integers): energy in Wh over the need's slot (kW * slot hours);
     prices and penalty rates in micro-currency per kWh; relative
     sensitivities in parts per million (10**6: the most effective bus);
     money in micro-currency (the settlement token's 6 decimals). Every
     product wh * price is rounded down: value = wh * price // 1000.

     A need: slot, direction (0 down: draw less; 1 up: draw more), the
     effective Wh it needs (at the most effective bus), the maximum price,
     the penalty rate and its area: the buses and their relative
     sensitivities, each at least MIN_WEIGHT (the suitability threshold,
     the off-chain mechanism's MIN_RELATIVE_SENSITIVITY). Only a member
     whose registered bus is in the area may offer, at most the maximum
     price; the offer locks offered_wh * penalty_rate // 1000 of the
     member's free balance as collateral.

     Award (clearing on chain, the order checked): the DSO passes every
     offer of the need in merit order, by price * 10**6 // weight
     ascending, equal keys by offer number; the contract checks the order
     and completeness, then takes offers whole while the need is not
     covered, the marginal one in part: awarded = remaining * 10**6 //
     weight. An offer's effective Wh is offered * weight // 10**6. The
     escrow sum(awarded * price // 1000) is locked from the DSO's free
     balance; collateral of unawarded offers, and the part of an award's
     collateral above awarded * penalty_rate // 1000, is released.

     Settlement: for every awarded offer, in offer order, the meter
     operator gives the baseline and the metered Wh; delivered = baseline -
     metered (down) or metered - baseline (up), at least 0 and at most the
     award. The member is paid delivered * price // 1000 from the DSO's
     lock and penalised (awarded - delivered) * penalty_rate // 1000 from
     its collateral, paid to the DSO; the rest of both locks is released.
     Neither the award nor the settlement is accepted from the need's
     `settle_by` on; then anyone may `release` the need: every lock it
     holds is freed, nobody paid or penalised.
     Money only moves between balances: the sum of balances is what was
     deposited less what was withdrawn.
"""

from ethereum.ercs import IERC20

PHASE_NONE: public(constant(uint8)) = 0
PHASE_OPEN: public(constant(uint8)) = 1
PHASE_AWARDED: public(constant(uint8)) = 2
PHASE_SETTLED: public(constant(uint8)) = 3
PHASE_RELEASED: public(constant(uint8)) = 4

DOWN: public(constant(uint8)) = 0
UP: public(constant(uint8)) = 1

# @notice Most buses one need's area lists, and most offers one need holds.
MAX_AREA: public(constant(uint256)) = 128
MAX_OFFERS: public(constant(uint256)) = 128
WEIGHT_ONE: public(constant(uint256)) = 10**6
# @notice Least relative sensitivity of an area's bus (ppm): 0.5.
MIN_WEIGHT: public(constant(uint256)) = 500_000
MAX_WH: public(constant(uint256)) = 2**48 - 1
MAX_PRICE: public(constant(uint256)) = 2**48 - 1
WH_PER_KWH: constant(uint256) = 1000


struct Need:
    phase: uint8
    slot: uint256
    direction: uint8
    need_wh: uint256
    max_price: uint256
    penalty_rate: uint256
    settle_by: uint256
    area_size: uint256
    offer_count: uint256
    covered_wh: uint256
    escrow: uint256
    paid: uint256
    penalties: uint256


struct Offer:
    member: address
    bus: uint256
    wh: uint256
    price: uint256
    kind: uint8
    collateral: uint256
    awarded_wh: uint256
    delivered_wh: uint256
    payment: uint256
    penalty: uint256


token: public(immutable(IERC20))
dso: public(immutable(address))
meter_operator: public(immutable(address))

# @notice A member's bus plus one (0: not a member).
_bus_plus_one: HashMap[address, uint256]
member_count: public(uint256)

balance_of: public(HashMap[address, uint256])
locked: public(HashMap[address, uint256])
total_balance: public(uint256)

need_count: public(uint256)
_needs: HashMap[uint256, Need]
# need -> bus -> relative sensitivity (ppm); 0: outside the area
weight_of: public(HashMap[uint256, HashMap[uint256, uint256]])
# Offers packed in four words (a struct's members take a word each):
# terms = bus | wh << 64 | price << 112 | kind << 160 | awarded_wh << 168,
# result = delivered_wh | payment << 48 | penalty << 152.
struct StoredOffer:
    member: address
    terms: uint256
    collateral: uint256
    result: uint256


_stored: HashMap[uint256, HashMap[uint256, StoredOffer]]
MASK48: constant(uint256) = 2**48 - 1
MASK64: constant(uint256) = 2**64 - 1
MASK104: constant(uint256) = 2**104 - 1
MAX_BUS: public(constant(uint256)) = 2**64 - 1


event MemberRegistered:
    member: indexed(address)
    bus: uint256


event Deposited:
    account: indexed(address)
    amount: uint256


event Withdrawn:
    account: indexed(address)
    amount: uint256


event NeedPosted:
    need: indexed(uint256)
    slot: uint256
    direction: uint8
    need_wh: uint256
    max_price: uint256
    penalty_rate: uint256
    settle_by: uint256


event Offered:
    need: indexed(uint256)
    offer: uint256
    member: indexed(address)
    wh: uint256
    price: uint256
    kind: uint8


event Awarded:
    need: indexed(uint256)
    covered_wh: uint256
    escrow: uint256


event Settled:
    need: indexed(uint256)
    paid: uint256
    penalties: uint256


event Released:
    need: indexed(uint256)
    escrow: uint256


@deploy
def __init__(token_: IERC20, meter_operator_: address):
    assert token_.address != empty(address), "token is the zero address"
    assert meter_operator_ != empty(address), "meter operator is the zero address"
    token = token_
    dso = msg.sender
    meter_operator = meter_operator_


# --- the DSO ------------------------------------------------------------------


@external
def register(member: address, bus: uint256):
    """@notice Register a member connected at `bus` (DSO)."""
    assert msg.sender == dso, "caller is not the DSO"
    assert member != empty(address), "member is the zero address"
    assert member != dso, "the DSO is not a member"
    assert self._bus_plus_one[member] == 0, "member already registered"
    assert bus < MAX_BUS, "bus out of range"
    self._bus_plus_one[member] = bus + 1
    self.member_count += 1
    log MemberRegistered(member=member, bus=bus)


@external
def post_need(
    slot: uint256,
    direction: uint8,
    need_wh: uint256,
    max_price: uint256,
    penalty_rate: uint256,
    settle_by: uint256,
    buses: DynArray[uint256, MAX_AREA],
    weights: DynArray[uint256, MAX_AREA],
) -> uint256:
    """
    @notice Post a need (DSO): its slot, direction, effective Wh, maximum
            price, penalty rate, settlement deadline (block time) and area
            (buses with relative sensitivities in ppm). Returns the need's
            number (from 1).
    """
    assert msg.sender == dso, "caller is not the DSO"
    assert direction == DOWN or direction == UP, "direction not down or up"
    assert need_wh != 0, "zero need"
    assert need_wh <= MAX_WH, "need out of range"
    assert max_price <= MAX_PRICE, "price out of range"
    assert penalty_rate <= MAX_PRICE, "penalty rate out of range"
    assert settle_by > block.timestamp, "settlement deadline passed"
    assert len(buses) != 0, "empty area"
    assert len(buses) == len(weights), "buses and weights differ in length"
    need: uint256 = self.need_count + 1
    self.need_count = need
    for i: uint256 in range(MAX_AREA):
        if i >= len(buses):
            break
        assert weights[i] >= MIN_WEIGHT and weights[i] <= WEIGHT_ONE, "weight not in 0.5..1"
        assert self.weight_of[need][buses[i]] == 0, "bus listed twice"
        self.weight_of[need][buses[i]] = weights[i]
    self._needs[need] = Need(
        phase=PHASE_OPEN,
        slot=slot,
        direction=direction,
        need_wh=need_wh,
        max_price=max_price,
        penalty_rate=penalty_rate,
        settle_by=settle_by,
        area_size=len(buses),
        offer_count=0,
        covered_wh=0,
        escrow=0,
        paid=0,
        penalties=0,
    )
    log NeedPosted(
        need=need,
        slot=slot,
        direction=direction,
        need_wh=need_wh,
        max_price=max_price,
        penalty_rate=penalty_rate,
        settle_by=settle_by,
    )
    return need


@external
def award(need: uint256, order: DynArray[uint256, MAX_OFFERS]):
    """
    @notice Clear a need (DSO): `order` is every offer number (from 1) in
            merit order; the contract checks it and awards.
    """
    assert msg.sender == dso, "caller is not the DSO"
    n: Need = self._needs[need]
    assert n.phase == PHASE_OPEN, "need not open for offers"
    assert block.timestamp < n.settle_by, "settlement deadline passed"
    assert len(order) == n.offer_count, "order does not list every offer"
    remaining: uint256 = n.need_wh
    escrow: uint256 = 0
    last_key: uint256 = 0
    last_id: uint256 = 0
    for i: uint256 in range(MAX_OFFERS):
        if i >= len(order):
            break
        k: uint256 = order[i]
        assert k != 0 and k <= n.offer_count, "no such offer"
        o: Offer = self._load(need, k)
        weight: uint256 = self.weight_of[need][o.bus]
        key: uint256 = o.price * WEIGHT_ONE // weight
        if i > 0:
            assert key > last_key or (key == last_key and k > last_id), (
                "order is not the merit order"
            )
        last_key = key
        last_id = k
        awarded: uint256 = 0
        if remaining > 0:
            effective: uint256 = o.wh * weight // WEIGHT_ONE
            if effective <= remaining:
                awarded = o.wh
                remaining -= effective
            else:
                awarded = remaining * WEIGHT_ONE // weight
                remaining = 0
        keep: uint256 = awarded * n.penalty_rate // WH_PER_KWH
        self.locked[o.member] -= o.collateral - keep
        self._stored[need][k].collateral = keep
        self._stored[need][k].terms |= awarded << 168
        escrow += awarded * o.price // WH_PER_KWH
    assert self.balance_of[dso] - self.locked[dso] >= escrow, "escrow above the DSO's free balance"
    self.locked[dso] += escrow
    covered: uint256 = n.need_wh - remaining
    self._needs[need].phase = PHASE_AWARDED
    self._needs[need].covered_wh = covered
    self._needs[need].escrow = escrow
    log Awarded(need=need, covered_wh=covered, escrow=escrow)


# --- the meter operator --------------------------------------------------------


@external
def settle(
    need: uint256,
    offers: DynArray[uint256, MAX_OFFERS],
    baseline_wh: DynArray[uint256, MAX_OFFERS],
    metered_wh: DynArray[uint256, MAX_OFFERS],
):
    """
    @notice Settle an awarded need (meter operator): every awarded offer,
            in increasing offer number, with the member's baseline and
            metered Wh in the slot.
    """
    assert msg.sender == meter_operator, "caller is not the meter operator"
    n: Need = self._needs[need]
    assert n.phase == PHASE_AWARDED, "need not awarded"
    assert block.timestamp < n.settle_by, "settlement deadline passed"
    assert len(offers) == len(baseline_wh) and len(offers) == len(metered_wh), (
        "readings differ in length"
    )
    seen: uint256 = 0
    last: uint256 = 0
    paid: uint256 = 0
    penalties: uint256 = 0
    for i: uint256 in range(MAX_OFFERS):
        if i >= len(offers):
            break
        k: uint256 = offers[i]
        assert k > last and k <= n.offer_count, "offers not in increasing order"
        last = k
        o: Offer = self._load(need, k)
        assert o.awarded_wh != 0, "offer not awarded"
        seen += 1
        assert baseline_wh[i] <= MAX_WH and metered_wh[i] <= MAX_WH, "reading out of range"
        delivered: uint256 = 0
        if n.direction == DOWN:
            if baseline_wh[i] > metered_wh[i]:
                delivered = baseline_wh[i] - metered_wh[i]
        elif metered_wh[i] > baseline_wh[i]:
            delivered = metered_wh[i] - baseline_wh[i]
        delivered = min(delivered, o.awarded_wh)
        payment: uint256 = delivered * o.price // WH_PER_KWH
        penalty: uint256 = (o.awarded_wh - delivered) * n.penalty_rate // WH_PER_KWH
        # the DSO pays from its lock; the member's penalty comes from its collateral
        self.balance_of[dso] = self.balance_of[dso] - payment + penalty
        self.balance_of[o.member] = self.balance_of[o.member] + payment - penalty
        self.locked[o.member] -= o.collateral
        self._stored[need][k].collateral = 0
        self._stored[need][k].result = delivered | (payment << 48) | (penalty << 152)
        paid += payment
        penalties += penalty
    assert seen == self._awarded_count(need, n.offer_count), "settlement does not list every award"
    self.locked[dso] -= n.escrow
    self._needs[need].phase = PHASE_SETTLED
    self._needs[need].paid = paid
    self._needs[need].penalties = penalties
    log Settled(need=need, paid=paid, penalties=penalties)


@external
def release(need: uint256):
    """
    @notice After the settlement deadline of a need neither settled nor
            released (anyone): every lock it holds is released; nobody is
            paid or penalised.
    """
    n: Need = self._needs[need]
    assert n.phase == PHASE_OPEN or n.phase == PHASE_AWARDED, "need not open or awarded"
    assert block.timestamp >= n.settle_by, "settlement deadline not passed"
    for k: uint256 in range(1, MAX_OFFERS + 1):
        if k > n.offer_count:
            break
        member: address = self._stored[need][k].member
        self.locked[member] -= self._stored[need][k].collateral
        self._stored[need][k].collateral = 0
    self.locked[dso] -= n.escrow
    self._needs[need].phase = PHASE_RELEASED
    log Released(need=need, escrow=n.escrow)


@internal
@view
def _load(need: uint256, k: uint256) -> Offer:
    stored: StoredOffer = self._stored[need][k]
    t: uint256 = stored.terms
    r: uint256 = stored.result
    return Offer(
        member=stored.member,
        bus=t & MASK64,
        wh=(t >> 64) & MASK48,
        price=(t >> 112) & MASK48,
        kind=convert((t >> 160) & 255, uint8),
        collateral=stored.collateral,
        awarded_wh=t >> 168,
        delivered_wh=r & MASK48,
        payment=(r >> 48) & MASK104,
        penalty=r >> 152,
    )


@internal
@view
def _awarded_count(need: uint256, count: uint256) -> uint256:
    awarded: uint256 = 0
    for k: uint256 in range(1, MAX_OFFERS + 1):
        if k > count:
            break
        if self._stored[need][k].terms >> 168 != 0:
            awarded += 1
    return awarded


# --- members -------------------------------------------------------------------


@external
def offer(need: uint256, wh: uint256, price: uint256, kind: uint8) -> uint256:
    """
    @notice Offer `wh` of flexibility at `price` in a need from the caller's
            bus (member); `kind`: 0 battery, 1 EV, 2 flexible load. Locks
            the collateral. Returns the offer's number (from 1).
    """
    plus_one: uint256 = self._bus_plus_one[msg.sender]
    assert plus_one != 0, "caller is not a member"
    n: Need = self._needs[need]
    assert n.phase == PHASE_OPEN, "need not open for offers"
    bus: uint256 = plus_one - 1
    assert self.weight_of[need][bus] != 0, "bus outside the need's area"
    assert wh != 0, "zero offer"
    assert wh <= MAX_WH, "offer out of range"
    assert price <= n.max_price, "price above the need's maximum"
    assert kind <= 2, "unknown asset kind"
    assert n.offer_count < MAX_OFFERS, "need full"
    collateral: uint256 = wh * n.penalty_rate // WH_PER_KWH
    assert self.balance_of[msg.sender] - self.locked[msg.sender] >= collateral, (
        "collateral above the free balance"
    )
    self.locked[msg.sender] += collateral
    k: uint256 = n.offer_count + 1
    self._needs[need].offer_count = k
    self._stored[need][k] = StoredOffer(
        member=msg.sender,
        terms=bus | (wh << 64) | (price << 112) | (convert(kind, uint256) << 160),
        collateral=collateral,
        result=0,
    )
    log Offered(need=need, offer=k, member=msg.sender, wh=wh, price=price, kind=kind)
    return k


@external
@nonreentrant
def deposit(amount: uint256):
    """@notice Pull `amount` tokens from the caller (a member or the DSO)."""
    assert self._bus_plus_one[msg.sender] != 0 or msg.sender == dso, (
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
    """@notice Pay out `amount` of the caller's free balance."""
    assert amount != 0, "zero amount"
    assert self.balance_of[msg.sender] - self.locked[msg.sender] >= amount, (
        "amount above the free balance"
    )
    self.balance_of[msg.sender] -= amount
    self.total_balance -= amount
    log Withdrawn(account=msg.sender, amount=amount)
    assert extcall token.transfer(msg.sender, amount), "token transfer failed"


# --- views ---------------------------------------------------------------------


@view
@external
def bus_of(member: address) -> uint256:
    """@notice A member's bus (reverts for a non-member)."""
    plus_one: uint256 = self._bus_plus_one[member]
    assert plus_one != 0, "not a member"
    return plus_one - 1


@view
@external
def is_member(account: address) -> bool:
    return self._bus_plus_one[account] != 0


@view
@external
def need_of(need: uint256) -> Need:
    return self._needs[need]


@view
@external
def offer_of(need: uint256, offer: uint256) -> Offer:
    return self._load(need, offer)


@view
@external
def offers_of(need: uint256) -> DynArray[Offer, MAX_OFFERS]:
    out: DynArray[Offer, MAX_OFFERS] = []
    count: uint256 = self._needs[need].offer_count
    for k: uint256 in range(1, MAX_OFFERS + 1):
        if k > count:
            break
        out.append(self._load(need, k))
    return out
