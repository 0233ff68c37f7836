# pragma version ~=0.4.3
"""
@title membership
@notice Roles of an energy community: one operator, one DSO, and members
        registered by the operator.
@dev A module (snekmate style): the contract that `initializes` it calls
     `__init__` once and exports the views it wants public. The operator and
     the DSO are fixed at deployment. Whether a member may be removed (for
     instance only with a zero balance) is the initializing contract's rule:
     `_remove` only checks membership.

     Membership and money share one storage word per account (`accounts`):
     bit 255 is the member flag, bits 0..254 the account's balance, which
     the initializing contract keeps below 2**255. A settlement then checks
     a member and moves its money in one storage slot: one cold read and
     one write per account, not two reads.
"""


# @notice The account that registers members and posts settlements.
operator: public(immutable(address))

# @notice The distribution system operator, paid the grid fees.
dso: public(immutable(address))

# @notice The member flag of an account word.
MEMBER_BIT: constant(uint256) = 2**255

# @notice Largest balance an account word holds (bits 0..254).
BALANCE_MASK: constant(uint256) = 2**255 - 1

# Each account's word: member flag 255 | balance 0..254.
accounts: HashMap[address, uint256]

# @notice Number of registered members.
member_count: public(uint256)


event MemberRegistered:
    member: indexed(address)


event MemberRemoved:
    member: indexed(address)


@deploy
def __init__(operator_: address, dso_: address):
    assert operator_ != empty(address), "operator is the zero address"
    assert dso_ != empty(address), "dso is the zero address"
    operator = operator_
    dso = dso_


@internal
@view
def _check_operator():
    assert msg.sender == operator, "caller is not the operator"


@internal
@view
def _check_dso():
    assert msg.sender == dso, "caller is not the dso"


@external
@view
def is_member(account: address) -> bool:
    """
    @notice Whether `account` is a registered member.
    """
    return self.accounts[account] & MEMBER_BIT != 0


@internal
def _register(member: address):
    assert member != empty(address), "member is the zero address"
    word: uint256 = self.accounts[member]
    assert word & MEMBER_BIT == 0, "already a member"
    self.accounts[member] = word | MEMBER_BIT
    self.member_count += 1
    log MemberRegistered(member=member)


@internal
def _remove(member: address):
    word: uint256 = self.accounts[member]
    assert word & MEMBER_BIT != 0, "not a member"
    self.accounts[member] = word & BALANCE_MASK
    self.member_count -= 1
    log MemberRemoved(member=member)
