# pragma version ~=0.4.3
"""
@title Community
@notice An energy community's escrow and slot settlement in the settlement
        token (micro-currency).
@dev Money moves by pull. Members `deposit` tokens (pulled with
     `transferFrom`) and are credited an internal balance; settlements move
     internal balances only; members (and the DSO, for its fees) `withdraw`
     their own balance. Roles are checked here, not only off chain.

     Settlement of one trade (integers only):
       value        = energy_wh * price_micro_per_kwh // 1000   (floor)
       seller_fee   = fee_micro // 2                 (the smaller half)
       buyer_fee    = fee_micro - seller_fee         (the larger half)
       buyer pays     value + buyer_fee
       seller gets    value - seller_fee   (its balance covers any shortfall)
       DSO gets       fee_micro
     so buyer's debit == seller's credit + DSO's credit, exactly: money is
     conserved. `total_internal_balance` is the running sum of all member
     balances plus the DSO balance; it equals the contract's token balance
     unless someone sends tokens to the contract without `deposit` (such
     tokens are credited to nobody).

     A slot is settled once. Its trades go in one `settle_slot` call (up to
     MAX_TRADES trades) or, when there are more, in several
     `settle_slot_part` calls with the same order-set hash, the last one with
     `last=True`. A slot whose last part is in can never be settled again.
     Every call is atomic: a failing trade reverts the whole call.

     Input bounds (energy, price, fee) keep every product and sum far from
     2**256, so no arithmetic check fails without a reason string. The
     contract holds at most MAX_TOTAL_MICRO (2**255 - 1): a member's flag and
     balance share one storage word (`membership`).
"""

from ethereum.ercs import IERC20

import membership

initializes: membership

exports: (
    membership.operator,
    membership.dso,
    membership.is_member,
    membership.member_count,
)


struct Trade:
    buyer: address
    seller: address
    energy_wh: uint256
    price_micro_per_kwh: uint256
    fee_micro: uint256


struct SlotRecord:
    order_set_hash: bytes32
    trade_count: uint256
    energy_wh: uint256
    value_micro: uint256
    fee_micro: uint256
    status: uint8


# @notice Most trades one settlement call carries.
MAX_TRADES: public(constant(uint256)) = 256

# @notice Most members one `register_members` call registers.
MAX_MEMBERS_PER_CALL: public(constant(uint256)) = 128

# @notice Bounds on one trade's inputs: products and sums stay below 2**200.
MAX_ENERGY_WH: public(constant(uint256)) = 2**64 - 1
MAX_PRICE_MICRO_PER_KWH: public(constant(uint256)) = 2**64 - 1
MAX_FEE_MICRO: public(constant(uint256)) = 2**128 - 1

# @notice Slot status values in `SlotRecord.status`.
SLOT_OPEN: public(constant(uint8)) = 1
SLOT_SETTLED: public(constant(uint8)) = 2

WH_PER_KWH: constant(uint256) = 1000


# @notice The settlement token held in escrow.
token: public(immutable(IERC20))

# @notice Most micro-currency the contract holds: a balance fits its word.
MAX_TOTAL_MICRO: public(constant(uint256)) = 2**255 - 1

# @notice The DSO's internal balance (collected fees), micro-currency.
dso_balance: public(uint256)

# @notice Sum of every member balance plus the DSO balance.
total_internal_balance: public(uint256)

_slots: HashMap[uint256, SlotRecord]


event Deposited:
    member: indexed(address)
    amount_micro: uint256


event Withdrawn:
    account: indexed(address)
    amount_micro: uint256


# `trade`: energy Wh 0..63 | price 64..127 | fee 128..255 (each within its
# bound); the value is energy * price // 1000. Logged per trade, so its
# data is packed and the parties are data, not topics.
event TradeSettled:
    slot: indexed(uint256)
    buyer: address
    seller: address
    trade: uint256


event SlotSettled:
    slot: indexed(uint256)
    order_set_hash: bytes32
    trade_count: uint256
    energy_wh: uint256
    value_micro: uint256
    fee_micro: uint256


@deploy
def __init__(token_: IERC20, operator_: address, dso_: address):
    assert token_.address != empty(address), "token is the zero address"
    membership.__init__(operator_, dso_)
    token = token_


@external
def register_members(members: DynArray[address, MAX_MEMBERS_PER_CALL]):
    """
    @notice Register `members` (operator only). Reverts on a duplicate.
    """
    membership._check_operator()
    for member: address in members:
        membership._register(member)


@external
def remove_member(member: address):
    """
    @notice Remove a member whose internal balance is zero (operator only).
    """
    membership._check_operator()
    assert membership.accounts[member] & membership.BALANCE_MASK == 0, "member balance is not zero"
    membership._remove(member)


@external
@nonreentrant
def deposit(amount_micro: uint256):
    """
    @notice Pull `amount_micro` tokens from the caller (a member, who has
            approved this contract) and credit its internal balance.
    """
    word: uint256 = membership.accounts[msg.sender]
    assert word & membership.MEMBER_BIT != 0, "caller is not a member"
    assert amount_micro != 0, "zero amount"
    total: uint256 = self.total_internal_balance
    assert amount_micro <= MAX_TOTAL_MICRO - total, "deposit exceeds the contract's capacity"
    # The balance is at most the total: the sum stays below the member bit.
    membership.accounts[msg.sender] = unsafe_add(word, amount_micro)
    self.total_internal_balance = unsafe_add(total, amount_micro)
    log Deposited(member=msg.sender, amount_micro=amount_micro)
    assert extcall token.transferFrom(msg.sender, self, amount_micro), "token transfer failed"


@external
@nonreentrant
def withdraw(amount_micro: uint256):
    """
    @notice Pay out `amount_micro` of the caller's own internal balance.
    """
    assert amount_micro != 0, "zero amount"
    word: uint256 = membership.accounts[msg.sender]
    assert word & membership.BALANCE_MASK >= amount_micro, "balance too low"
    # Taken from the balance bits only: the member flag stays.
    membership.accounts[msg.sender] = unsafe_sub(word, amount_micro)
    self.total_internal_balance = unsafe_sub(self.total_internal_balance, amount_micro)
    log Withdrawn(account=msg.sender, amount_micro=amount_micro)
    assert extcall token.transfer(msg.sender, amount_micro), "token transfer failed"


@external
@nonreentrant
def withdraw_fees(amount_micro: uint256):
    """
    @notice Pay out `amount_micro` of the DSO's collected fees (DSO only).
    """
    membership._check_dso()
    assert amount_micro != 0, "zero amount"
    balance: uint256 = self.dso_balance
    assert balance >= amount_micro, "dso balance too low"
    self.dso_balance = unsafe_sub(balance, amount_micro)
    self.total_internal_balance = unsafe_sub(self.total_internal_balance, amount_micro)
    log Withdrawn(account=msg.sender, amount_micro=amount_micro)
    assert extcall token.transfer(msg.sender, amount_micro), "token transfer failed"


@external
def settle_slot(slot: uint256, order_set_hash: bytes32, trades: DynArray[Trade, MAX_TRADES]):
    """
    @notice Settle all of `slot`'s trades in one call (operator only).
    @dev The same as `settle_slot_part(..., last=True)`: on a slot opened
         by parts it settles the last part.
    """
    self._settle(slot, order_set_hash, trades, True)


@external
def settle_slot_part(
    slot: uint256, order_set_hash: bytes32, trades: DynArray[Trade, MAX_TRADES], last: bool
):
    """
    @notice Settle part of `slot`'s trades (operator only); `last` closes
            the slot. Every part carries the same order-set hash.
    """
    self._settle(slot, order_set_hash, trades, last)


@external
@view
def slot_record(slot: uint256) -> SlotRecord:
    """
    @notice What was settled for `slot` (all zero if nothing yet).
    """
    return self._slots[slot]


@external
@view
def balance_of(account: address) -> uint256:
    """
    @notice `account`'s internal balance, micro-currency.
    """
    return membership.accounts[account] & membership.BALANCE_MASK


@internal
def _settle(
    slot: uint256, order_set_hash: bytes32, trades: DynArray[Trade, MAX_TRADES], last: bool
):
    membership._check_operator()
    record: SlotRecord = self._slots[slot]
    assert record.status != SLOT_SETTLED, "slot already settled"
    if record.status == SLOT_OPEN:
        assert record.order_set_hash == order_set_hash, "order set hash differs from first part"
    else:
        record.order_set_hash = order_set_hash

    energy_total: uint256 = 0
    value_total: uint256 = 0
    fee_total: uint256 = 0
    for t: Trade in trades:
        assert t.buyer != t.seller, "buyer and seller are the same"
        assert t.energy_wh != 0, "zero energy"
        assert t.energy_wh <= MAX_ENERGY_WH, "energy out of range"
        assert t.price_micro_per_kwh <= MAX_PRICE_MICRO_PER_KWH, "price out of range"
        assert t.fee_micro <= MAX_FEE_MICRO, "fee out of range"
        # One word per account holds its member flag and its balance.
        buyer_word: uint256 = membership.accounts[t.buyer]
        seller_word: uint256 = membership.accounts[t.seller]
        assert buyer_word & membership.MEMBER_BIT != 0, "buyer is not a member"
        assert seller_word & membership.MEMBER_BIT != 0, "seller is not a member"

        # Bounded inputs: the product is below 2**128, the sum below 2**129.
        value: uint256 = unsafe_div(unsafe_mul(t.energy_wh, t.price_micro_per_kwh), WH_PER_KWH)
        seller_fee: uint256 = unsafe_div(t.fee_micro, 2)
        buyer_cost: uint256 = unsafe_add(value, unsafe_sub(t.fee_micro, seller_fee))

        assert buyer_word & membership.BALANCE_MASK >= buyer_cost, "buyer balance too low"
        # Taken from the balance bits only: the member flag stays.
        membership.accounts[t.buyer] = unsafe_sub(buyer_word, buyer_cost)

        # value came out of the buyer's balance, so the seller's balance plus
        # value stays below the member bit (the total is below 2**255).
        # Buyer and seller differ: the buyer's write left this word as read.
        seller_funds: uint256 = unsafe_add(seller_word & membership.BALANCE_MASK, value)
        assert seller_funds >= seller_fee, "seller balance too low for its fee share"
        membership.accounts[t.seller] = unsafe_sub(unsafe_add(seller_word, value), seller_fee)

        log TradeSettled(
            slot=slot,
            buyer=t.buyer,
            seller=t.seller,
            trade=t.energy_wh | (t.price_micro_per_kwh << 64) | (t.fee_micro << 128),
        )
        energy_total = unsafe_add(energy_total, t.energy_wh)
        value_total = unsafe_add(value_total, value)
        fee_total = unsafe_add(fee_total, t.fee_micro)

    # The fees were paid out of member balances: the DSO balance stays within the supply.
    self.dso_balance = unsafe_add(self.dso_balance, fee_total)

    record.trade_count += len(trades)
    record.energy_wh += energy_total
    record.value_micro += value_total
    record.fee_micro += fee_total
    if last:
        record.status = SLOT_SETTLED
        log SlotSettled(
            slot=slot,
            order_set_hash=record.order_set_hash,
            trade_count=record.trade_count,
            energy_wh=record.energy_wh,
            value_micro=record.value_micro,
            fee_micro=record.fee_micro,
        )
    else:
        record.status = SLOT_OPEN
    self._slots[slot] = record
