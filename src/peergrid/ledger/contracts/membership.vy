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
"""


# @notice The account that registers members and posts settlements.
operator: public(immutable(address))

# @notice The distribution system operator, paid the grid fees.
dso: public(immutable(address))

# @notice Whether an address is a registered member.
is_member: public(HashMap[address, bool])

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


@internal
def _register(member: address):
    assert member != empty(address), "member is the zero address"
    assert not self.is_member[member], "already a member"
    self.is_member[member] = True
    self.member_count += 1
    log MemberRegistered(member=member)


@internal
def _remove(member: address):
    assert self.is_member[member], "not a member"
    self.is_member[member] = False
    self.member_count -= 1
    log MemberRemoved(member=member)
