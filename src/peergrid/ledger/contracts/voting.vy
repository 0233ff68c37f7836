# pragma version ~=0.4.3
"""
@title voting
@notice Admission and removal of consortium members, and changes of the
        quorum, by a vote of the existing members (the "democratic consensus"
        that the DVPP paper names but never specifies).
@dev A module on top of `accounts`. The rules:

     Bootstrap. The contract starts in bootstrap: the operator alone grants
     roles (`bootstrap_members`), so that the first members exist, until it
     calls `end_bootstrap`, once and for ever. No proposal can be made before.

     Voters. Every account holding OPERATOR, DSO or PROSUMER has one vote; a
     meter (a device) has none.

     Proposal. A voter proposes one change: GRANT roles to an account (its
     admission if it had none), REVOKE roles from an account (its removal
     when none remain; its money stays withdrawable), or set the QUORUM. The
     proposer's proposal counts as its yes vote.

     Vote. Each voter votes once, yes or no. A proposal passes, and is
     executed in the same transaction, when
         yes * 10 000 >= quorum_bps * voters
     with `voters` the number of voters when it was made. It is rejected as
     soon as it can no longer pass:
         no * 10 000 > (10 000 - quorum_bps) * voters.

     Lapse. A pending proposal lapses (state EXPIRED) when its voting period
     (seconds of block time) is over, or as soon as another proposal changes
     the electorate (who votes) or the quorum. So every vote on a proposal is
     cast by the electorate and under the quorum it was made for, without
     snapshots; the price is that changes to the electorate go one at a time.
     (The embedded chain's block time stands still; there only the second
     rule makes proposals lapse.)

     Safety. A change that would leave no operator reverts.
"""

import accounts

uses: accounts

# @notice Proposal kinds.
KIND_GRANT: public(constant(uint8)) = 1
KIND_REVOKE: public(constant(uint8)) = 2
KIND_QUORUM: public(constant(uint8)) = 3

# @notice Proposal states (EXPIRED is computed, never stored).
STATE_PENDING: public(constant(uint8)) = 1
STATE_EXECUTED: public(constant(uint8)) = 2
STATE_REJECTED: public(constant(uint8)) = 3
STATE_EXPIRED: public(constant(uint8)) = 4

BPS: constant(uint256) = 10_000

# @notice Most grants one `bootstrap_members` call carries.
MAX_BOOTSTRAP: public(constant(uint256)) = 128


struct Grant:
    account: address
    roles: uint256


struct Proposal:
    kind: uint8
    account: address
    argument: uint256
    proposer: address
    deadline: uint256
    electorate: uint256
    voters: uint256
    yes: uint256
    no: uint256
    status: uint8


# @notice Share of the voters whose yes votes pass a proposal, basis points.
quorum_bps: public(uint256)

# @notice Seconds of block time a proposal stays open.
voting_period: public(uint256)

# @notice Whether the operator may still grant roles alone.
bootstrapping: public(bool)

# @notice Incremented whenever the set of voters or the quorum changes.
electorate_version: public(uint256)

# @notice Number of proposals made (ids run from 1).
proposal_count: public(uint256)

# @notice Whether an account has voted on a proposal.
has_voted: public(HashMap[uint256, HashMap[address, bool]])

_proposals: HashMap[uint256, Proposal]


event BootstrapEnded:
    operator: indexed(address)
    member_count: uint256


event ProposalCreated:
    proposal_id: indexed(uint256)
    kind: uint8
    account: indexed(address)
    argument: uint256
    proposer: indexed(address)
    deadline: uint256
    voters: uint256


event Voted:
    proposal_id: indexed(uint256)
    voter: indexed(address)
    support: bool
    yes: uint256
    no: uint256


event ProposalDecided:
    proposal_id: indexed(uint256)
    state: uint8


event QuorumChanged:
    quorum_bps: uint256


@deploy
def __init__(operator_: address, dso_: address, quorum_bps_: uint256, voting_period_: uint256):
    """
    @notice Give `operator_` the operator role and `dso_` the DSO role, and
            open the bootstrap.
    """
    assert operator_ != empty(address), "operator is the zero address"
    assert dso_ != empty(address), "dso is the zero address"
    assert quorum_bps_ != 0 and quorum_bps_ <= BPS, "quorum out of range"
    assert voting_period_ != 0, "voting period is zero"
    self.quorum_bps = quorum_bps_
    self.voting_period = voting_period_
    self.bootstrapping = True
    accounts._set_roles(operator_, accounts.ROLE_OPERATOR)
    accounts._set_roles(dso_, accounts.records[dso_] & accounts.ROLES_MASK | accounts.ROLE_DSO)


@external
def bootstrap_members(grants: DynArray[Grant, MAX_BOOTSTRAP]):
    """
    @notice Add roles to accounts without a vote (operator, bootstrap only).
    """
    assert self.bootstrapping, "bootstrap has ended"
    assert accounts._has_role(msg.sender, accounts.ROLE_OPERATOR), "caller is not the operator"
    for grant: Grant in grants:
        assert grant.roles != 0, "no roles to grant"
        old: uint256 = accounts.records[grant.account] & accounts.ROLES_MASK
        accounts._set_roles(grant.account, old | grant.roles)


@external
def end_bootstrap():
    """
    @notice Close the bootstrap for ever (operator): from now on only votes
            change roles.
    """
    assert self.bootstrapping, "bootstrap has ended"
    assert accounts._has_role(msg.sender, accounts.ROLE_OPERATOR), "caller is not the operator"
    self.bootstrapping = False
    log BootstrapEnded(operator=msg.sender, member_count=accounts.member_count)


@external
def propose(kind: uint8, account: address, argument: uint256) -> uint256:
    """
    @notice Propose a change (a voter); the proposer votes yes. Returns the
            proposal id. `argument` is the role mask for GRANT and REVOKE, the
            quorum in basis points for QUORUM (with `account` zero).
    """
    assert not self.bootstrapping, "bootstrap has not ended"
    assert accounts._has_role(msg.sender, accounts.VOTER_ROLES), "caller is not a voting member"
    roles: uint256 = accounts.records[account] & accounts.ROLES_MASK
    if kind == KIND_GRANT:
        assert account != empty(address), "account is the zero address"
        assert argument != 0 and argument & ~accounts.ALL_ROLES == 0, "bad role mask"
        assert argument & ~roles != 0, "account already holds these roles"
    elif kind == KIND_REVOKE:
        assert argument != 0 and argument & ~accounts.ALL_ROLES == 0, "bad role mask"
        assert argument & roles != 0, "account holds none of these roles"
    elif kind == KIND_QUORUM:
        assert account == empty(address), "a quorum proposal names no account"
        assert argument != 0 and argument <= BPS, "quorum out of range"
    else:
        raise "unknown proposal kind"

    proposal_id: uint256 = self.proposal_count + 1
    self.proposal_count = proposal_id
    proposal: Proposal = Proposal(
        kind=kind,
        account=account,
        argument=argument,
        proposer=msg.sender,
        deadline=block.timestamp + self.voting_period,
        electorate=self.electorate_version,
        voters=accounts.voter_count,
        yes=1,
        no=0,
        status=STATE_PENDING,
    )
    self.has_voted[proposal_id][msg.sender] = True
    log ProposalCreated(
        proposal_id=proposal_id,
        kind=kind,
        account=account,
        argument=argument,
        proposer=msg.sender,
        deadline=proposal.deadline,
        voters=proposal.voters,
    )
    log Voted(proposal_id=proposal_id, voter=msg.sender, support=True, yes=1, no=0)
    self._decide(proposal_id, proposal)
    return proposal_id


@external
def vote(proposal_id: uint256, support: bool):
    """
    @notice Vote yes or no on a pending proposal (a voter, once).
    """
    assert accounts._has_role(msg.sender, accounts.VOTER_ROLES), "caller is not a voting member"
    proposal: Proposal = self._proposals[proposal_id]
    assert proposal.status != 0, "no such proposal"
    assert proposal.status == STATE_PENDING, "proposal is decided"
    assert not self._lapsed(proposal), "proposal has expired"
    assert not self.has_voted[proposal_id][msg.sender], "already voted"
    self.has_voted[proposal_id][msg.sender] = True
    if support:
        proposal.yes += 1
    else:
        proposal.no += 1
    log Voted(
        proposal_id=proposal_id, voter=msg.sender, support=support, yes=proposal.yes, no=proposal.no
    )
    self._decide(proposal_id, proposal)


@external
@view
def proposal(proposal_id: uint256) -> Proposal:
    """
    @notice The stored proposal (status as stored: see `proposal_state`).
    """
    return self._proposals[proposal_id]


@external
@view
def proposal_state(proposal_id: uint256) -> uint8:
    """
    @notice PENDING, EXECUTED, REJECTED or EXPIRED (0: no such proposal).
    """
    proposal: Proposal = self._proposals[proposal_id]
    if proposal.status == STATE_PENDING and self._lapsed(proposal):
        return STATE_EXPIRED
    return proposal.status


@internal
@view
def _lapsed(proposal: Proposal) -> bool:
    return (
        block.timestamp > proposal.deadline
        or proposal.electorate != self.electorate_version
    )


@internal
def _decide(proposal_id: uint256, proposal: Proposal):
    """
    @notice Store the tally; execute or reject the proposal if its votes
            decide it.
    """
    quorum: uint256 = self.quorum_bps
    if proposal.yes * BPS >= quorum * proposal.voters:
        proposal.status = STATE_EXECUTED
        self._proposals[proposal_id] = proposal
        self._execute(proposal)
        log ProposalDecided(proposal_id=proposal_id, state=STATE_EXECUTED)
    elif proposal.no * BPS > (BPS - quorum) * proposal.voters:
        proposal.status = STATE_REJECTED
        self._proposals[proposal_id] = proposal
        log ProposalDecided(proposal_id=proposal_id, state=STATE_REJECTED)
    else:
        self._proposals[proposal_id] = proposal


@internal
def _execute(proposal: Proposal):
    electorate_changed: bool = False
    if proposal.kind == KIND_QUORUM:
        self.quorum_bps = proposal.argument
        electorate_changed = True
        log QuorumChanged(quorum_bps=proposal.argument)
    else:
        roles: uint256 = accounts.records[proposal.account] & accounts.ROLES_MASK
        if proposal.kind == KIND_GRANT:
            roles = roles | proposal.argument
        else:
            roles = roles & ~proposal.argument
        electorate_changed = accounts._set_roles(proposal.account, roles)
    if electorate_changed:
        self.electorate_version += 1
