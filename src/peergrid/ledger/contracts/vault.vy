# pragma version ~=0.4.3
"""
@title vault
@notice Custody of the settlement token for a consortium market: members
        deposit, the market moves internal balances and escrow locks, every
        account withdraws its own free balance (pull payments).
@dev A module on top of `accounts` (balances live in the packed account
     record). Money never enters or leaves except through `deposit` (tokens
     pulled with `transferFrom`) and `withdraw` (tokens sent to the caller):
     settlement moves internal balances only, so `total_internal_balance`,
     the sum of every account's balance, changes only there. It is capped at
     `MAX_TOTAL_MICRO` (2**92 - 1) so that no packed field can overflow.

     Reentrancy cannot hurt: both token calls come after every check and
     every state change (checks, effects, interactions), and both functions
     are `@nonreentrant`. A removed member keeps its balance and may still
     withdraw it: withdrawing needs no role, only money of one's own.

     `dso` is the account that receives the DSO's fees and penalties (and
     pays imbalance true-ups in the batch market); it is fixed at deployment.
"""

from ethereum.ercs import IERC20

import accounts

uses: accounts

# @notice The settlement token held in custody (micro-currency).
token: public(immutable(IERC20))

# @notice The account credited with fees and penalties.
dso: public(immutable(address))

# @notice Sum of every account's balance, micro-currency.
total_internal_balance: public(uint256)


event Deposited:
    account: indexed(address)
    amount_micro: uint256


event Withdrawn:
    account: indexed(address)
    amount_micro: uint256


@deploy
def __init__(token_: IERC20, dso_: address):
    assert token_.address != empty(address), "token is the zero address"
    assert dso_ != empty(address), "dso is the zero address"
    token = token_
    dso = dso_


@external
@nonreentrant
def deposit(amount_micro: uint256):
    """
    @notice Pull `amount_micro` tokens from the caller (a member that has
            approved this contract) and credit its balance.
    """
    record: uint256 = accounts.records[msg.sender]
    assert record & accounts.ROLES_MASK != 0, "caller is not a member"
    assert amount_micro != 0, "zero amount"
    total: uint256 = self.total_internal_balance
    assert amount_micro <= accounts.MAX_TOTAL_MICRO - total, "deposit exceeds the vault's capacity"
    # The balance is at most the total, so the sum stays within its 92 bits.
    accounts.records[msg.sender] = record + (amount_micro << accounts.BALANCE_SHIFT)
    self.total_internal_balance = total + amount_micro
    log Deposited(account=msg.sender, amount_micro=amount_micro)
    assert extcall token.transferFrom(msg.sender, self, amount_micro), "token transfer failed"


@external
@nonreentrant
def withdraw(amount_micro: uint256):
    """
    @notice Pay out `amount_micro` of the caller's own free balance (its
            balance less what is locked in escrow). Needs no role.
    """
    assert amount_micro != 0, "zero amount"
    record: uint256 = accounts.records[msg.sender]
    balance: uint256 = accounts._balance(record)
    locked: uint256 = accounts._locked(record)
    assert balance - locked >= amount_micro, "free balance too low"
    accounts.records[msg.sender] = accounts._with_money(
        record, unsafe_sub(balance, amount_micro), locked
    )
    self.total_internal_balance = unsafe_sub(self.total_internal_balance, amount_micro)
    log Withdrawn(account=msg.sender, amount_micro=amount_micro)
    assert extcall token.transfer(msg.sender, amount_micro), "token transfer failed"


@external
@view
def balance_of(account: address) -> uint256:
    """
    @notice Micro-currency held for `account`, locked part included.
    """
    return accounts._balance(accounts.records[account])


@external
@view
def locked_of(account: address) -> uint256:
    """
    @notice Part of `account`'s balance locked in escrow, micro-currency.
    """
    return accounts._locked(accounts.records[account])


@external
@view
def available_of(account: address) -> uint256:
    """
    @notice What `account` may withdraw or lock: balance less locked.
    """
    record: uint256 = accounts.records[account]
    return accounts._balance(record) - accounts._locked(record)


@external
@view
def available_of_many(accounts_: DynArray[address, 256]) -> DynArray[uint256, 256]:
    """
    @notice `available_of` of each account, in one call.
    """
    out: DynArray[uint256, 256] = []
    for account: address in accounts_:
        record: uint256 = accounts.records[account]
        out.append(accounts._balance(record) - accounts._locked(record))
    return out


@internal
def _credit(account: address, amount_micro: uint256):
    """
    @notice Add `amount_micro` to `account`'s balance. The caller has taken
            the same amount from other balances, so the total is unchanged.
    """
    record: uint256 = accounts.records[account]
    accounts.records[account] = record + (amount_micro << accounts.BALANCE_SHIFT)
