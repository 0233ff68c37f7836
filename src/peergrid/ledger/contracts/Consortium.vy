# pragma version ~=0.4.3
"""
@title Consortium
@notice The consortium of an energy community on its own: members, roles
        (operator, DSO, prosumer, meter) and admission and removal by vote.
@dev The market contracts (`BatchMarket`, `OrderBook`) embed the same two
     modules, so that a role check is a storage read in the contract that
     makes it rather than a call to another contract; this contract is the
     governance alone, for a community that keeps no money on chain.
"""

import accounts
import voting

initializes: accounts
initializes: voting[accounts := accounts]

exports: (
    accounts.roles_of,
    accounts.index_of,
    accounts.is_member,
    accounts.address_of,
    accounts.index_count,
    accounts.member_count,
    accounts.voter_count,
    accounts.operator_count,
    voting.quorum_bps,
    voting.voting_period,
    voting.bootstrapping,
    voting.electorate_version,
    voting.proposal_count,
    voting.has_voted,
    voting.bootstrap_members,
    voting.end_bootstrap,
    voting.propose,
    voting.vote,
    voting.proposal,
    voting.proposal_state,
)


@deploy
def __init__(operator_: address, dso_: address, quorum_bps_: uint256, voting_period_: uint256):
    """
    @notice Operator and DSO get their roles; the bootstrap is open.
    """
    voting.__init__(operator_, dso_, quorum_bps_, voting_period_)
