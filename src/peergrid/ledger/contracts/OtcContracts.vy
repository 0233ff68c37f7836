# pragma version ~=0.4.3
"""
@title OtcContracts
@notice Bilateral (over-the-counter) energy contracts between two members
        of a community (001a_book.md chapter 5): a fixed price and a fixed
        energy per slot from a first to a last slot, signed on chain by both
        (one proposes, the other accepts), settled each slot against the
        meters, with deviations at the pool price and the DSO's network fee.
@dev Roles. The operator (the deployer) admits and removes members and
     posts each slot's settlement (as the meter of the batch market does).
     The DSO sets the network fee rate, is paid the fee, and is the
     counterparty of every deviation. Members propose, accept or withdraw
     contracts, deposit and withdraw.

     Units: energy in Wh, prices and rates in micro-currency per kWh, money
     in micro-currency (the settlement token's 6 decimals); every product
     wh * price is rounded down: value = wh * price // 1000.

     Life of a contract: PROPOSED (`propose`, by the buyer or the seller,
     naming the other) -> ACTIVE (`accept`, by the other) -> ENDED (its
     last slot settled, or `release` after the settlement deadline), or
     WITHDRAWN (`withdraw_proposal` by either party before acceptance).
     Both parties must be members at proposal and acceptance. The DSO's fee
     rate is frozen at proposal. Acceptance locks the buyer's escrow: every
     slot's payment and fee, slots * (wh * price // 1000 + wh * fee // 1000).

     Settlement of slot s (operator, each active contract once per slot, in
     slot order, with the seller's metered production m_s and the buyer's
     metered consumption m_b of the slot, Wh, and the pool's clearing price
     pi of the slot): the contracted energy q is netted off the meters
     before the pool market clears (what each metered beyond q goes to the
     pool), and
       * the buyer pays the seller q * price // 1000 and the DSO the fee
         q * fee // 1000, from its escrow;
       * a seller that produced less than q buys the rest from the pool: it
         pays the DSO (q - m_s) * pi // 1000, from its free balance; what it
         cannot pay is logged as a shortfall and not collected (a balance
         never goes negative, and one member cannot block a settlement);
       * a buyer that consumed less than q sells the rest to the pool: the
         DSO pays it (q - m_b) * pi // 1000 (the DSO must hold it, else the
         settlement reverts).
     Money is conserved: every micro-unit leaves one balance for another,
     and the balances sum to the tokens the contract holds.

     A way out. From `settle_deadline_s` after the end of a contract's last
     slot, its buyer may `release` it: the escrow of the slots never
     settled is unlocked and the contract ends.

     Time. Slot s is [epoch + s * slot_seconds, epoch + (s + 1) * slot_seconds).
"""

from ethereum.ercs import IERC20

STATE_NONE: public(constant(uint8)) = 0
STATE_PROPOSED: public(constant(uint8)) = 1
STATE_ACTIVE: public(constant(uint8)) = 2
STATE_ENDED: public(constant(uint8)) = 3
STATE_WITHDRAWN: public(constant(uint8)) = 4

MAX_BATCH: public(constant(uint256)) = 128
MAX_WH: public(constant(uint256)) = 2**32 - 1
MAX_PRICE: public(constant(uint256)) = 2**32 - 1
MAX_SLOT: public(constant(uint256)) = 2**48 - 2
MAX_SLOTS: public(constant(uint256)) = 2**20
WH_PER_KWH: constant(uint256) = 1000
MASK_32: constant(uint256) = 2**32 - 1
MASK_48: constant(uint256) = 2**48 - 1


struct Otc:
    seller: address
    buyer: address
    proposer: address
    price: uint256
    wh_per_slot: uint256
    first_slot: uint256
    last_slot: uint256
    fee_rate: uint256
    state: uint8
    next_slot: uint256
    escrow: uint256


token: public(immutable(IERC20))
operator: public(immutable(address))
dso: public(immutable(address))
epoch: public(immutable(uint256))
slot_seconds: public(immutable(uint256))
settle_deadline_s: public(immutable(uint256))

fee_rate: public(uint256)
is_member: public(HashMap[address, bool])
balance_of: public(HashMap[address, uint256])
locked: public(HashMap[address, uint256])
total_balance: public(uint256)
contract_count: public(uint256)
# A contract in four words: its parties, its terms (written once) and its progress.
#   terms:    price | wh_per_slot << 32 | first_slot << 64 | last_slot << 112
#             | fee_rate << 160 | proposer is the seller << 208
#   progress: state | next_slot << 8 | escrow << 56
# (escrow < 2**20 slots * 2**57 micro-currency a slot, well within 200 bits)
_seller: HashMap[uint256, address]
_buyer: HashMap[uint256, address]
_terms: HashMap[uint256, uint256]
_progress: HashMap[uint256, uint256]


event MemberSet:
    member: indexed(address)
    admitted: bool


event FeeRateSet:
    fee_rate: uint256


event Deposited:
    account: indexed(address)
    amount: uint256


event Withdrawn:
    account: indexed(address)
    amount: uint256


event Proposed:
    id: indexed(uint256)
    seller: indexed(address)
    buyer: indexed(address)
    price: uint256
    wh_per_slot: uint256
    first_slot: uint256
    last_slot: uint256
    fee_rate: uint256


event Accepted:
    id: indexed(uint256)
    escrow: uint256


event ProposalWithdrawn:
    id: indexed(uint256)


event Settled:
    id: indexed(uint256)
    slot: indexed(uint256)
    seller_wh: uint256
    buyer_wh: uint256
    pool_price: uint256
    paid_to_seller: uint256
    fee: uint256
    seller_to_dso: uint256
    seller_shortfall: uint256
    dso_to_buyer: uint256


event Released:
    id: indexed(uint256)
    unlocked: uint256


@deploy
def __init__(
    token_: IERC20,
    dso_: address,
    fee_rate_: uint256,
    epoch_: uint256,
    slot_seconds_: uint256,
    settle_deadline_s_: uint256,
):
    assert token_.address != empty(address), "token is the zero address"
    assert dso_ != empty(address) and dso_ != msg.sender, "dso is the zero address or the operator"
    assert fee_rate_ <= MAX_PRICE, "fee rate out of range"
    assert slot_seconds_ != 0 and slot_seconds_ <= 2**32, "slot length not in 1..2**32 s"
    assert epoch_ <= 2**64 and settle_deadline_s_ <= 2**64, "time out of range"
    token = token_
    operator = msg.sender
    dso = dso_
    epoch = epoch_
    slot_seconds = slot_seconds_
    settle_deadline_s = settle_deadline_s_
    self.fee_rate = fee_rate_


# --- operator and DSO ---------------------------------------------------------


@external
def set_member(member: address, admitted: bool):
    """@notice Admit or remove a member (operator)."""
    assert msg.sender == operator, "caller is not the operator"
    assert member != empty(address), "member is the zero address"
    assert member != operator and member != dso, "the operator and the DSO are not members"
    self.is_member[member] = admitted
    log MemberSet(member=member, admitted=admitted)


@external
def set_fee_rate(rate: uint256):
    """@notice The network fee on contracted energy, micro-currency per kWh (DSO); applies to
               contracts proposed from now on."""
    assert msg.sender == dso, "caller is not the DSO"
    assert rate <= MAX_PRICE, "fee rate out of range"
    self.fee_rate = rate
    log FeeRateSet(fee_rate=rate)


# --- members: contracts -------------------------------------------------------


@external
def propose(
    counterparty: address,
    as_seller: bool,
    price: uint256,
    wh_per_slot: uint256,
    first_slot: uint256,
    last_slot: uint256,
) -> uint256:
    """
    @notice Propose a contract to `counterparty`: the caller sells (or buys)
            `wh_per_slot` Wh each slot from `first_slot` to `last_slot` at
            `price` micro-currency per kWh. Returns its id (from 1).
    """
    assert self.is_member[msg.sender], "caller is not a member"
    assert self.is_member[counterparty], "counterparty is not a member"
    assert counterparty != msg.sender, "counterparty is the caller"
    assert price != 0 and price <= MAX_PRICE, "price not in 1..2**32-1"
    assert wh_per_slot != 0 and wh_per_slot <= MAX_WH, "energy not in 1..2**32-1 Wh"
    assert first_slot <= last_slot, "last slot before the first"
    assert last_slot <= MAX_SLOT, "slot out of range"
    assert last_slot - first_slot < MAX_SLOTS, "too many slots"
    assert block.timestamp < self._slot_start(first_slot), "first slot has started"
    seller: address = msg.sender
    buyer: address = counterparty
    if not as_seller:
        seller = counterparty
        buyer = msg.sender
    id: uint256 = self.contract_count + 1
    self.contract_count = id
    fee: uint256 = self.fee_rate
    proposer_is_seller: uint256 = 0
    if as_seller:
        proposer_is_seller = 1
    self._seller[id] = seller
    self._buyer[id] = buyer
    self._terms[id] = (
        price
        | (wh_per_slot << 32)
        | (first_slot << 64)
        | (last_slot << 112)
        | (fee << 160)
        | (proposer_is_seller << 208)
    )
    self._progress[id] = self._packed_progress(STATE_PROPOSED, first_slot, 0)
    log Proposed(
        id=id,
        seller=seller,
        buyer=buyer,
        price=price,
        wh_per_slot=wh_per_slot,
        first_slot=first_slot,
        last_slot=last_slot,
        fee_rate=fee,
    )
    return id


@external
def accept(id: uint256):
    """@notice Sign the contract proposed to the caller; locks the buyer's escrow."""
    c: Otc = self._load(id)
    assert c.state == STATE_PROPOSED, "contract is not proposed"
    assert msg.sender != c.proposer and (msg.sender == c.seller or msg.sender == c.buyer), (
        "caller is not the counterparty"
    )
    assert self.is_member[c.seller] and self.is_member[c.buyer], "a party is not a member"
    assert block.timestamp < self._slot_start(c.first_slot), "first slot has started"
    slots: uint256 = c.last_slot - c.first_slot + 1
    escrow: uint256 = slots * self._per_slot(c)
    assert self.balance_of[c.buyer] - self.locked[c.buyer] >= escrow, "buyer's free balance too low"
    self.locked[c.buyer] += escrow
    self._progress[id] = self._packed_progress(STATE_ACTIVE, c.next_slot, escrow)
    log Accepted(id=id, escrow=escrow)


@external
def withdraw_proposal(id: uint256):
    """@notice Withdraw (proposer) or decline (counterparty) a proposed contract."""
    c: Otc = self._load(id)
    assert c.state == STATE_PROPOSED, "contract is not proposed"
    assert msg.sender == c.seller or msg.sender == c.buyer, "caller is not a party"
    self._progress[id] = self._packed_progress(STATE_WITHDRAWN, c.next_slot, 0)
    log ProposalWithdrawn(id=id)


@external
def release(id: uint256):
    """@notice Unlock the escrow of slots never settled, after the deadline (buyer)."""
    c: Otc = self._load(id)
    assert c.state == STATE_ACTIVE, "contract is not active"
    assert msg.sender == c.buyer, "caller is not the buyer"
    deadline: uint256 = self._slot_start(c.last_slot + 1) + settle_deadline_s
    assert block.timestamp >= deadline, "settlement deadline not passed"
    self.locked[c.buyer] -= c.escrow
    self._progress[id] = self._packed_progress(STATE_ENDED, c.next_slot, 0)
    log Released(id=id, unlocked=c.escrow)


# --- operator: settlement -----------------------------------------------------


@external
def settle(
    slot: uint256,
    pool_price: uint256,
    ids: DynArray[uint256, MAX_BATCH],
    seller_wh: DynArray[uint256, MAX_BATCH],
    buyer_wh: DynArray[uint256, MAX_BATCH],
):
    """
    @notice Settle `slot` of each contract in `ids` against the seller's
            metered production and the buyer's metered consumption (Wh),
            deviations at `pool_price` (operator). The slot must have ended.
    """
    assert msg.sender == operator, "caller is not the operator"
    assert len(ids) == len(seller_wh) and len(ids) == len(buyer_wh), "readings do not match the contracts"
    assert pool_price <= MAX_PRICE, "price out of range"
    assert slot <= MAX_SLOT, "slot out of range"
    assert block.timestamp >= self._slot_start(slot + 1), "slot has not ended"
    dso_in: uint256 = 0
    dso_out: uint256 = 0
    for i: uint256 in range(len(ids), bound=MAX_BATCH):
        id: uint256 = ids[i]
        c: Otc = self._load(id)
        assert c.state == STATE_ACTIVE, "contract is not active"
        assert c.next_slot == slot, "slot is not the contract's next"
        assert seller_wh[i] <= MAX_WH and buyer_wh[i] <= MAX_WH, "reading out of range"
        q: uint256 = c.wh_per_slot
        value: uint256 = q * c.price // WH_PER_KWH
        fee: uint256 = q * c.fee_rate // WH_PER_KWH
        # the buyer's escrow pays the seller and the DSO
        self.locked[c.buyer] -= value + fee
        self.balance_of[c.buyer] -= value + fee
        self.balance_of[c.seller] += value
        dso_in += fee
        # the seller's shortfall, bought from the pool
        to_dso: uint256 = 0
        shortfall: uint256 = 0
        if seller_wh[i] < q:
            owed: uint256 = (q - seller_wh[i]) * pool_price // WH_PER_KWH
            free: uint256 = self.balance_of[c.seller] - self.locked[c.seller]
            to_dso = min(owed, free)
            shortfall = owed - to_dso
            self.balance_of[c.seller] -= to_dso
            dso_in += to_dso
        # the buyer's unconsumed energy, sold to the pool
        refund: uint256 = 0
        if buyer_wh[i] < q:
            refund = (q - buyer_wh[i]) * pool_price // WH_PER_KWH
            self.balance_of[c.buyer] += refund
            dso_out += refund
        state: uint8 = STATE_ACTIVE
        if slot == c.last_slot:
            state = STATE_ENDED
        self._progress[id] = self._packed_progress(state, slot + 1, c.escrow - value - fee)
        log Settled(
            id=id,
            slot=slot,
            seller_wh=seller_wh[i],
            buyer_wh=buyer_wh[i],
            pool_price=pool_price,
            paid_to_seller=value,
            fee=fee,
            seller_to_dso=to_dso,
            seller_shortfall=shortfall,
            dso_to_buyer=refund,
        )
    dso_balance: uint256 = self.balance_of[dso] + dso_in
    assert dso_balance - self.locked[dso] >= dso_out, "dso balance too low for the deviations"
    self.balance_of[dso] = dso_balance - dso_out


# --- money ----------------------------------------------------------------------


@external
@nonreentrant
def deposit(amount: uint256):
    """@notice Pull `amount` tokens from the caller (a member or the DSO) into its balance."""
    assert self.is_member[msg.sender] or msg.sender == dso, "caller is not a member"
    assert amount != 0, "zero amount"
    self.balance_of[msg.sender] += amount
    self.total_balance += amount
    log Deposited(account=msg.sender, amount=amount)
    assert extcall token.transferFrom(msg.sender, self, amount), "token transfer failed"


@external
@nonreentrant
def withdraw(amount: uint256):
    """@notice Pay out `amount` of the caller's free balance (balance less its escrow)."""
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
def contract_of(id: uint256) -> Otc:
    return self._load(id)


@internal
@view
def _load(id: uint256) -> Otc:
    terms: uint256 = self._terms[id]
    progress: uint256 = self._progress[id]
    seller: address = self._seller[id]
    buyer: address = self._buyer[id]
    proposer: address = buyer
    if (terms >> 208) & 1 == 1:
        proposer = seller
    return Otc(
        seller=seller,
        buyer=buyer,
        proposer=proposer,
        price=terms & MASK_32,
        wh_per_slot=(terms >> 32) & MASK_32,
        first_slot=(terms >> 64) & MASK_48,
        last_slot=(terms >> 112) & MASK_48,
        fee_rate=(terms >> 160) & MASK_32,
        state=convert(progress & 255, uint8),
        next_slot=(progress >> 8) & MASK_48,
        escrow=progress >> 56,
    )


@internal
@pure
def _packed_progress(state: uint8, next_slot: uint256, escrow: uint256) -> uint256:
    return convert(state, uint256) | (next_slot << 8) | (escrow << 56)


@internal
@view
def _slot_start(slot: uint256) -> uint256:
    return epoch + slot * slot_seconds


@internal
@pure
def _per_slot(c: Otc) -> uint256:
    return c.wh_per_slot * c.price // WH_PER_KWH + c.wh_per_slot * c.fee_rate // WH_PER_KWH
