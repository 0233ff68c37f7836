# pragma version ~=0.4.3
"""
@title AssetFunding
@notice Community financing of a shared asset (a community battery or PV
        plant; 001a_book.md chapter 5, business model D, equity-based
        crowdsale): members buy shares until a deadline; if the target is
        missed each buyer takes its money back, otherwise the operator
        takes the money raised to build the asset and pays the asset's
        metered revenue in, which share holders claim pro rata. Shares are
        transferable once the sale has succeeded.
@dev Roles. The operator (the deployer) runs the asset: it withdraws the
     money raised (once, after a successful sale) and distributes revenue.
     Anyone may buy shares before the deadline; a holder transfers, claims
     its revenue, or (after a failed sale) refunds.

     Sale. Shares cost `share_price` micro-currency each; at most `cap`
     shares are sold. At the deadline (block time) the sale has succeeded
     if at least `target` shares were sold, else failed. Buying from the
     deadline on reverts.

     Revenue (pull payments, O(1) per distribution). `revenue_per_share`
     accumulates amount * SCALE / total shares; a holder's entitlement is
     shares * (revenue_per_share - its checkpoint), kept in SCALE units
     (`accrued`) whenever its shares change or it claims, so no rounding is
     lost: a claim pays accrued // SCALE and keeps the remainder, and the
     distribution's own remainder (`carry`) is added to the next one.
     Invariant: the contract's tokens * SCALE == (raised not yet withdrawn
     + refunds not yet taken) * SCALE + the holders' accrued and pending
     revenue + carry.
"""

from ethereum.ercs import IERC20

SCALE: public(constant(uint256)) = 10**18
MAX_SHARES: public(constant(uint256)) = 2**64

token: public(immutable(IERC20))
operator: public(immutable(address))
share_price: public(immutable(uint256))
target: public(immutable(uint256))
cap: public(immutable(uint256))
deadline: public(immutable(uint256))

shares_of: public(HashMap[address, uint256])
total_shares: public(uint256)
raised_withdrawn: public(bool)

revenue_per_share: public(uint256)
carry: public(uint256)
distributed: public(uint256)
_checkpoint: HashMap[address, uint256]
_accrued: HashMap[address, uint256]


event Bought:
    buyer: indexed(address)
    shares: uint256
    paid: uint256


event Refunded:
    holder: indexed(address)
    shares: uint256
    amount: uint256


event RaisedWithdrawn:
    amount: uint256


event Transfer:
    sender: indexed(address)
    receiver: indexed(address)
    shares: uint256


event Distributed:
    amount: uint256
    revenue_per_share: uint256


event Claimed:
    holder: indexed(address)
    amount: uint256


@deploy
def __init__(
    token_: IERC20, share_price_: uint256, target_: uint256, cap_: uint256, deadline_: uint256
):
    assert token_.address != empty(address), "token is the zero address"
    assert share_price_ != 0, "zero share price"
    assert target_ != 0, "zero target"
    assert cap_ >= target_, "cap below the target"
    assert cap_ <= MAX_SHARES, "cap out of range"
    assert deadline_ > block.timestamp, "deadline passed"
    token = token_
    operator = msg.sender
    share_price = share_price_
    target = target_
    cap = cap_
    deadline = deadline_


@internal
@view
def _succeeded() -> bool:
    return block.timestamp >= deadline and self.total_shares >= target


@internal
def _checkpoint_holder(holder: address):
    # settle what the holder's shares earned since its last checkpoint
    acc: uint256 = self.revenue_per_share
    self._accrued[holder] += self.shares_of[holder] * (acc - self._checkpoint[holder])
    self._checkpoint[holder] = acc


@external
@nonreentrant
def buy(shares: uint256):
    """@notice Buy `shares` at the share price (the caller approved the payment)."""
    assert block.timestamp < deadline, "sale closed"
    assert shares != 0, "zero shares"
    assert self.total_shares + shares <= cap, "above the share cap"
    paid: uint256 = shares * share_price
    self._checkpoint_holder(msg.sender)
    self.shares_of[msg.sender] += shares
    self.total_shares += shares
    log Bought(buyer=msg.sender, shares=shares, paid=paid)
    assert extcall token.transferFrom(msg.sender, self, paid), "token transfer failed"


@external
@nonreentrant
def refund():
    """@notice After a failed sale, take back what the caller's shares cost."""
    assert block.timestamp >= deadline, "sale still open"
    assert self.total_shares < target, "target reached: no refunds"
    shares: uint256 = self.shares_of[msg.sender]
    assert shares != 0, "no shares to refund"
    amount: uint256 = shares * share_price
    self.shares_of[msg.sender] = 0
    self.total_shares -= shares
    log Refunded(holder=msg.sender, shares=shares, amount=amount)
    assert extcall token.transfer(msg.sender, amount), "token transfer failed"


@external
@nonreentrant
def withdraw_raised():
    """@notice The operator takes the money raised, once, after a successful sale."""
    assert msg.sender == operator, "caller is not the operator"
    assert self._succeeded(), "sale has not succeeded"
    assert not self.raised_withdrawn, "raised funds already withdrawn"
    self.raised_withdrawn = True
    amount: uint256 = self.total_shares * share_price
    log RaisedWithdrawn(amount=amount)
    assert extcall token.transfer(operator, amount), "token transfer failed"


@external
def transfer(receiver: address, shares: uint256) -> bool:
    """@notice Move `shares` to `receiver`; their future revenue goes with them."""
    assert self._succeeded(), "shares move only after a successful sale"
    assert receiver != empty(address), "receiver is the zero address"
    assert shares != 0, "zero shares"
    assert self.shares_of[msg.sender] >= shares, "transfer above the balance"
    self._checkpoint_holder(msg.sender)
    self._checkpoint_holder(receiver)
    self.shares_of[msg.sender] -= shares
    self.shares_of[receiver] += shares
    log Transfer(sender=msg.sender, receiver=receiver, shares=shares)
    return True


@external
@nonreentrant
def distribute(amount: uint256):
    """@notice The operator pays in the asset's metered revenue for the holders."""
    assert msg.sender == operator, "caller is not the operator"
    assert self._succeeded(), "sale has not succeeded"
    assert amount != 0, "zero amount"
    scaled: uint256 = amount * SCALE + self.carry
    step: uint256 = scaled // self.total_shares
    self.carry = scaled - step * self.total_shares
    self.revenue_per_share += step
    self.distributed += amount
    log Distributed(amount=amount, revenue_per_share=self.revenue_per_share)
    assert extcall token.transferFrom(msg.sender, self, amount), "token transfer failed"


@external
@nonreentrant
def claim() -> uint256:
    """@notice Pay the caller the revenue its shares earned (whole micro-units)."""
    self._checkpoint_holder(msg.sender)
    amount: uint256 = self._accrued[msg.sender] // SCALE
    assert amount != 0, "nothing to claim"
    self._accrued[msg.sender] -= amount * SCALE
    log Claimed(holder=msg.sender, amount=amount)
    assert extcall token.transfer(msg.sender, amount), "token transfer failed"
    return amount


@view
@external
def accrued(holder: address) -> uint256:
    """@notice The holder's revenue not yet claimed, in SCALE units."""
    return self._accrued[holder] + self.shares_of[holder] * (
        self.revenue_per_share - self._checkpoint[holder]
    )


@view
@external
def claimable(holder: address) -> uint256:
    """@notice What `claim` would pay the holder now."""
    return (
        self._accrued[holder]
        + self.shares_of[holder] * (self.revenue_per_share - self._checkpoint[holder])
    ) // SCALE


@view
@external
def phase() -> uint8:
    """@notice 0: sale open, 1: succeeded, 2: failed."""
    if block.timestamp < deadline:
        return 0
    if self.total_shares >= target:
        return 1
    return 2
