# pragma version ~=0.4.3
"""
@title SettlementToken
@notice ERC-20 settlement token of an energy community, counted in
        micro-currency (decimals 6: one token unit is 1e-6 of the currency).
@dev The whole supply is minted once, in the constructor, to the issuer.
     There is no mint and no burn afterwards: no path creates or destroys
     money, so `totalSupply` is a constant and the sum of all balances equals
     it at every moment. A transfer of zero is allowed (ERC-20); a transfer
     to the zero address is refused, because it would destroy money.
     An allowance of `max_value(uint256)` is never decreased (infinite
     approval, as in snekmate and OpenZeppelin).
"""

from ethereum.ercs import IERC20
from ethereum.ercs import IERC20Detailed

implements: IERC20
implements: IERC20Detailed


# @notice Number of decimals: balances are in micro-currency.
decimals: public(constant(uint8)) = 6

# @notice Token name and symbol, set once at deployment.
name: public(immutable(String[32]))
symbol: public(immutable(String[8]))

# @notice The fixed supply, minted to the issuer at deployment.
totalSupply: public(immutable(uint256))

balanceOf: public(HashMap[address, uint256])
allowance: public(HashMap[address, HashMap[address, uint256]])


@deploy
def __init__(name_: String[32], symbol_: String[8], issuer: address, supply: uint256):
    """
    @notice Mint the whole `supply` to `issuer`; nothing is minted afterwards.
    """
    assert issuer != empty(address), "token: issuer is the zero address"
    name = name_
    symbol = symbol_
    totalSupply = supply
    self.balanceOf[issuer] = supply
    log IERC20.Transfer(sender=empty(address), receiver=issuer, value=supply)


@external
def transfer(to: address, amount: uint256) -> bool:
    """
    @notice Move `amount` from the caller to `to`.
    """
    self._transfer(msg.sender, to, amount)
    return True


@external
def approve(spender: address, amount: uint256) -> bool:
    """
    @notice Let `spender` move up to `amount` of the caller's tokens.
    """
    assert spender != empty(address), "token: approve to the zero address"
    self.allowance[msg.sender][spender] = amount
    log IERC20.Approval(owner=msg.sender, spender=spender, value=amount)
    return True


@external
def transferFrom(owner: address, to: address, amount: uint256) -> bool:
    """
    @notice Move `amount` from `owner` to `to` within the caller's allowance.
    """
    allowed: uint256 = self.allowance[owner][msg.sender]
    if allowed != max_value(uint256):
        assert allowed >= amount, "token: insufficient allowance"
        self.allowance[owner][msg.sender] = unsafe_sub(allowed, amount)
    self._transfer(owner, to, amount)
    return True


@internal
def _transfer(owner: address, to: address, amount: uint256):
    assert to != empty(address), "token: transfer to the zero address"
    balance: uint256 = self.balanceOf[owner]
    assert balance >= amount, "token: transfer amount exceeds balance"
    self.balanceOf[owner] = unsafe_sub(balance, amount)
    # Cannot overflow: the sum of all balances is the fixed supply.
    self.balanceOf[to] = unsafe_add(self.balanceOf[to], amount)
    log IERC20.Transfer(sender=owner, receiver=to, value=amount)
