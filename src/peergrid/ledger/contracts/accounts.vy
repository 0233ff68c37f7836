# pragma version ~=0.4.3
"""
@title accounts
@notice One packed record per account of a consortium market: its roles,
        its member index, a per-contract counter, its balance and the part of
        the balance locked in escrow.
@dev A module: `voting` changes roles, `vault` moves money, the market
     contracts read both. The record is a single storage word so that a
     market call that checks the caller's role and locks its escrow touches
     one slot (one cold SLOAD, one SSTORE), which is what keeps an order
     placement under 60 000 gas. Layout (bit positions, low to high):

         0 ..   7  roles     bit mask: OPERATOR 1, DSO 2, PROSUMER 4, METER 8
         8 ..  39  index     member index, from 1, given at first admission
                             and kept for ever (0: never a member)
        40 ..  71  counter   the host contract's per-account counter (the
                             order book's order nonce; the batch market's last
                             revealed slot + 1)
        72 .. 163  balance   micro-currency held for the account (92 bits)
       164 .. 255  locked    part of `balance` reserved in escrow (92 bits)

     Invariant: locked <= balance, and the sum of every balance equals the
     vault's `total_internal_balance`, which is capped at MAX_TOTAL_MICRO
     = 2**92 - 1 on deposit; so no field ever overflows into its neighbour.
     Voters are accounts holding OPERATOR, DSO or PROSUMER; a meter is a
     device and does not vote.
"""

# @notice Role bits.
ROLE_OPERATOR: public(constant(uint256)) = 1
ROLE_DSO: public(constant(uint256)) = 2
ROLE_PROSUMER: public(constant(uint256)) = 4
ROLE_METER: public(constant(uint256)) = 8
ALL_ROLES: constant(uint256) = 15
VOTER_ROLES: constant(uint256) = 7

# @notice Field layout of the packed record.
ROLES_MASK: constant(uint256) = 255
INDEX_SHIFT: constant(uint256) = 8
INDEX_MASK: constant(uint256) = 2**32 - 1
COUNTER_SHIFT: constant(uint256) = 40
COUNTER_MASK: constant(uint256) = 2**32 - 1
BALANCE_SHIFT: constant(uint256) = 72
LOCKED_SHIFT: constant(uint256) = 164
AMOUNT_MASK: constant(uint256) = 2**92 - 1

# @notice Most micro-currency the contract may hold: fits every packed field.
MAX_TOTAL_MICRO: public(constant(uint256)) = 2**92 - 1

# @notice Packed record of every account (see the module docstring).
records: HashMap[address, uint256]

# @notice Address of each member index.
address_of: public(HashMap[uint256, address])

# @notice Number of member indices given so far (the last index).
index_count: public(uint256)

# @notice Accounts holding at least one role.
member_count: public(uint256)

# @notice Accounts holding a voting role (operator, DSO or prosumer).
voter_count: public(uint256)

# @notice Accounts holding the operator role.
operator_count: public(uint256)


event RolesChanged:
    account: indexed(address)
    index: uint256
    old_roles: uint256
    new_roles: uint256


@internal
@pure
def _roles(record: uint256) -> uint256:
    return record & ROLES_MASK


@internal
@pure
def _index(record: uint256) -> uint256:
    return (record >> INDEX_SHIFT) & INDEX_MASK


@internal
@pure
def _counter(record: uint256) -> uint256:
    return (record >> COUNTER_SHIFT) & COUNTER_MASK


@internal
@pure
def _balance(record: uint256) -> uint256:
    return (record >> BALANCE_SHIFT) & AMOUNT_MASK


@internal
@pure
def _locked(record: uint256) -> uint256:
    return record >> LOCKED_SHIFT


@internal
@pure
def _with_counter(record: uint256, counter: uint256) -> uint256:
    """
    @dev `counter` must be below 2**32 (the caller checks).
    """
    return (record & ~(COUNTER_MASK << COUNTER_SHIFT)) | (counter << COUNTER_SHIFT)


@internal
@pure
def _with_money(record: uint256, balance: uint256, locked: uint256) -> uint256:
    """
    @dev Both amounts are below 2**92: the vault caps the total it holds.
    """
    return (record & ((1 << BALANCE_SHIFT) - 1)) | (balance << BALANCE_SHIFT) | (
        locked << LOCKED_SHIFT
    )


@internal
@view
def _has_role(account: address, role: uint256) -> bool:
    return self.records[account] & role != 0


@internal
def _set_roles(account: address, new_roles: uint256) -> bool:
    """
    @notice Give `account` exactly `new_roles`; returns whether the set of
            voters changed. A first admission assigns the next member index.
    """
    assert account != empty(address), "account is the zero address"
    assert new_roles & ~ALL_ROLES == 0, "unknown role bits"
    record: uint256 = self.records[account]
    old_roles: uint256 = record & ROLES_MASK
    index: uint256 = (record >> INDEX_SHIFT) & INDEX_MASK
    if index == 0 and new_roles != 0:
        index = self.index_count + 1
        assert index <= INDEX_MASK, "no member index left"
        self.index_count = index
        self.address_of[index] = account
        record = record | (index << INDEX_SHIFT)
    self.records[account] = (record & ~ROLES_MASK) | new_roles

    if old_roles == 0 and new_roles != 0:
        self.member_count += 1
    elif old_roles != 0 and new_roles == 0:
        self.member_count -= 1
    was_operator: bool = old_roles & ROLE_OPERATOR != 0
    is_operator: bool = new_roles & ROLE_OPERATOR != 0
    if is_operator and not was_operator:
        self.operator_count += 1
    elif was_operator and not is_operator:
        assert self.operator_count > 1, "would leave no operator"
        self.operator_count -= 1
    was_voter: bool = old_roles & VOTER_ROLES != 0
    is_voter: bool = new_roles & VOTER_ROLES != 0
    if is_voter and not was_voter:
        self.voter_count += 1
    elif was_voter and not is_voter:
        self.voter_count -= 1
    log RolesChanged(account=account, index=index, old_roles=old_roles, new_roles=new_roles)
    return was_voter != is_voter


@external
@view
def roles_of(account: address) -> uint256:
    """
    @notice The role bit mask of `account` (0: not a member).
    """
    return self.records[account] & ROLES_MASK


@external
@view
def index_of(account: address) -> uint256:
    """
    @notice The member index of `account` (0: never a member).
    """
    return (self.records[account] >> INDEX_SHIFT) & INDEX_MASK


@external
@view
def is_member(account: address) -> bool:
    """
    @notice Whether `account` holds at least one role.
    """
    return self.records[account] & ROLES_MASK != 0
