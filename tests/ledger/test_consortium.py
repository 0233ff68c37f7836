"""The consortium: roles, bootstrap, admission and removal by vote, quorum, lapse and expiry."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from peergrid.core.errors import LedgerError
from peergrid.ledger import (
    ConsortiumClient,
    EmbeddedChain,
    ProposalKind,
    ProposalState,
    Role,
    RoleGrant,
)
from peergrid.ledger.chain.abi import ContractAbi
from peergrid.ledger.chain.compile import compile_contract
from peergrid.ledger.markets.consortium import VOTER_ROLES, votes_needed

from .helpers import reverts
from .market_helpers import make_batch, make_book


@dataclass
class Club:
    chain: EmbeddedChain
    club: ConsortiumClient
    operator: str
    dso: str
    prosumers: list[str]
    meter: str
    newcomer: str


def make_club(n_prosumers: int = 3, quorum_bps: int = 5001) -> Club:
    """Operator, DSO, prosumers and a meter bootstrapped; bootstrap ended."""
    chain = EmbeddedChain()
    operator, dso, meter, newcomer = (
        chain.new_account(n) for n in ("operator", "dso", "meter", "newcomer")
    )
    prosumers = [chain.new_account(f"p{i}") for i in range(n_prosumers)]
    club = ConsortiumClient.deploy(chain, operator=operator, dso=dso, quorum_bps=quorum_bps)
    club.bootstrap({**{p: Role.PROSUMER for p in prosumers}, meter: Role.METER})
    club.end_bootstrap()
    return Club(chain, club, operator, dso, prosumers, meter, newcomer)


@pytest.fixture
def c() -> Club:
    return make_club()


# --- deployment and bootstrap -------------------------------------------------------------------


def test_deployment_gives_the_operator_and_the_dso_their_roles() -> None:
    chain = EmbeddedChain()
    operator, dso = chain.new_account("operator"), chain.new_account("dso")
    club = ConsortiumClient.deploy(chain, operator=operator, dso=dso, quorum_bps=6000)
    assert club.roles_of(operator) == Role.OPERATOR
    assert club.roles_of(dso) == Role.DSO
    assert (club.member_count(), club.voter_count(), club.quorum_bps()) == (2, 2, 6000)
    assert club.bootstrapping()
    assert (club.index_of(operator), club.index_of(dso)) == (1, 2)


@pytest.mark.parametrize("quorum", [0, 10_001])
def test_quorum_out_of_range_is_refused_at_deployment(quorum: int) -> None:
    chain = EmbeddedChain()
    operator = chain.new_account("operator")
    with reverts("Consortium.constructor", "quorum out of range"):
        ConsortiumClient.deploy(chain, operator=operator, dso=operator, quorum_bps=quorum)


def test_the_operator_bootstraps_members_then_ends_the_bootstrap(c: Club) -> None:
    club = c.club
    assert not club.bootstrapping()
    assert [club.roles_of(p) for p in c.prosumers] == [Role.PROSUMER] * 3
    assert club.roles_of(c.meter) == Role.METER
    # operator, dso and 3 prosumers vote; the meter is a member without a vote
    assert (club.member_count(), club.voter_count()) == (6, 5)
    with reverts("Consortium.bootstrap_members", "bootstrap has ended"):
        club.bootstrap([RoleGrant(c.newcomer, Role.PROSUMER)])
    with reverts("Consortium.end_bootstrap", "bootstrap has ended"):
        club.end_bootstrap()


def test_only_the_operator_bootstraps() -> None:
    chain = EmbeddedChain()
    operator, dso, other = (chain.new_account(n) for n in ("operator", "dso", "other"))
    club = ConsortiumClient.deploy(chain, operator=operator, dso=dso)
    for sender in (dso, other):
        with reverts("Consortium.bootstrap_members", "caller is not the operator"):
            chain.transact(
                sender, club.contract, "bootstrap_members", [(other, int(Role.PROSUMER))]
            )
        with reverts("Consortium.end_bootstrap", "caller is not the operator"):
            chain.transact(sender, club.contract, "end_bootstrap")
    with reverts("Consortium.propose", "bootstrap has not ended"):
        club.propose_grant(operator, other, Role.PROSUMER)
    with reverts("Consortium.bootstrap_members", "unknown role bits"):
        club.bootstrap([RoleGrant(other, Role(16))])
    assert not club.is_member(other)


# --- admission by vote --------------------------------------------------------------------------


def test_admission_passes_when_the_quorum_of_yes_votes_is_reached(c: Club) -> None:
    club, p = c.club, c.prosumers
    # 5 voters at 50.01 %: 3 yes votes pass (3 * 10 000 >= 5 001 * 5; 2 do not)
    assert votes_needed(5, 5001) == 3
    proposal_id, receipt = club.propose_grant(p[0], c.newcomer, Role.PROSUMER)
    assert receipt.events_named("Voted")[0].args["support"] is True  # the proposer's yes
    proposal = club.proposal(proposal_id)
    assert (proposal.kind, proposal.yes, proposal.no, proposal.voters) == (
        ProposalKind.GRANT,
        1,
        0,
        5,
    )
    assert proposal.state is ProposalState.PENDING
    club.vote(p[1], proposal_id)
    assert not club.is_member(c.newcomer)
    version = club.electorate_version()
    decisive = club.vote(c.dso, proposal_id)
    assert [e.args["state"] for e in decisive.events_named("ProposalDecided")] == [2]
    assert club.roles_of(c.newcomer) == Role.PROSUMER
    assert club.index_of(c.newcomer) == 7
    assert (club.member_count(), club.voter_count()) == (7, 6)
    assert club.electorate_version() == version + 1
    assert club.proposal_state(proposal_id) is ProposalState.EXECUTED
    with reverts("Consortium.vote", "proposal is decided"):
        club.vote(p[2], proposal_id)


def test_one_vote_per_member_and_only_voters_vote(c: Club) -> None:
    club = c.club
    proposal_id, _ = club.propose_grant(c.prosumers[0], c.newcomer, Role.PROSUMER)
    with reverts("Consortium.vote", "already voted"):
        club.vote(c.prosumers[0], proposal_id)  # the proposer voted by proposing
    club.vote(c.prosumers[1], proposal_id, support=False)
    with reverts("Consortium.vote", "already voted"):
        club.vote(c.prosumers[1], proposal_id)
    for outsider in (c.meter, c.newcomer):
        with reverts("Consortium.vote", "caller is not a voting member"):
            club.vote(outsider, proposal_id)
        with reverts("Consortium.propose", "caller is not a voting member"):
            club.propose_grant(outsider, outsider, Role.PROSUMER)
    with reverts("Consortium.vote", "no such proposal"):
        club.vote(c.prosumers[2], 99)
    assert club.has_voted(proposal_id, c.prosumers[1])
    assert not club.has_voted(proposal_id, c.prosumers[2])


def test_a_proposal_is_rejected_once_it_can_no_longer_pass(c: Club) -> None:
    club, p = c.club, c.prosumers
    proposal_id, _ = club.propose_grant(p[0], c.newcomer, Role.PROSUMER)
    club.vote(p[1], proposal_id, support=False)
    assert club.proposal_state(proposal_id) is ProposalState.PENDING
    # 5 voters, 3 needed: a third "no" leaves at most 2 yes
    club.vote(p[2], proposal_id, support=False)
    assert club.proposal_state(proposal_id) is ProposalState.PENDING
    receipt = club.vote(c.dso, proposal_id, support=False)
    assert [e.args["state"] for e in receipt.events_named("ProposalDecided")] == [3]
    assert club.proposal_state(proposal_id) is ProposalState.REJECTED
    assert not club.is_member(c.newcomer)
    with reverts("Consortium.vote", "proposal is decided"):
        club.vote(c.operator, proposal_id)


def test_a_single_voter_decides_alone() -> None:
    chain = EmbeddedChain()
    operator, newcomer = chain.new_account("operator"), chain.new_account("newcomer")
    club = ConsortiumClient.deploy(chain, operator=operator, dso=operator)  # one account, 2 roles
    assert club.roles_of(operator) == Role.OPERATOR | Role.DSO
    assert club.voter_count() == 1
    club.end_bootstrap()
    proposal_id, _ = club.propose_grant(operator, newcomer, Role.METER)
    assert club.proposal_state(proposal_id) is ProposalState.EXECUTED
    assert club.roles_of(newcomer) == Role.METER


def test_unanimity_needs_every_voter() -> None:
    c = make_club(n_prosumers=2, quorum_bps=10_000)
    club = c.club
    proposal_id, _ = club.propose_grant(c.operator, c.newcomer, Role.PROSUMER)
    for voter in (c.dso, c.prosumers[0]):
        club.vote(voter, proposal_id)
    assert club.proposal_state(proposal_id) is ProposalState.PENDING
    club.vote(c.prosumers[1], proposal_id)
    assert club.proposal_state(proposal_id) is ProposalState.EXECUTED


# --- lapse, removal, quorum -------------------------------------------------------------------


def test_a_change_of_electorate_lapses_the_other_pending_proposals(c: Club) -> None:
    club, p = c.club, c.prosumers
    admit, _ = club.propose_grant(p[0], c.newcomer, Role.PROSUMER)
    other = c.chain.new_account("other")
    meter_grant, _ = club.propose_grant(p[1], other, Role.METER)
    rival, _ = club.propose_grant(p[2], other, Role.PROSUMER)
    # the meter grant passes: meters do not vote, so the electorate does not change
    club.vote(p[0], meter_grant)
    club.vote(c.dso, meter_grant)
    assert club.roles_of(other) == Role.METER
    assert club.proposal_state(admit) is ProposalState.PENDING
    # the admission passes: one more voter, so every other pending proposal lapses
    club.vote(p[1], admit)
    club.vote(c.dso, admit)
    assert club.proposal_state(admit) is ProposalState.EXECUTED
    assert club.proposal_state(rival) is ProposalState.EXPIRED
    with reverts("Consortium.vote", "proposal has expired"):
        club.vote(c.operator, rival)


def test_removal_by_vote(c: Club) -> None:
    club, p = c.club, c.prosumers
    proposal_id, _ = club.propose_revoke(p[0], p[2])
    club.vote(p[1], proposal_id)
    club.vote(c.operator, proposal_id)
    assert club.roles_of(p[2]) == Role.NONE
    assert not club.is_member(p[2])
    assert (club.member_count(), club.voter_count()) == (5, 4)
    assert club.index_of(p[2]) == 5  # the index stays with the address
    with reverts("Consortium.propose", "caller is not a voting member"):
        club.propose_grant(p[2], p[2], Role.PROSUMER)


def test_a_role_is_revoked_and_the_rest_kept(c: Club) -> None:
    club, p = c.club, c.prosumers
    grant, _ = club.propose_grant(p[0], p[1], Role.METER)
    club.vote(p[2], grant)
    club.vote(c.dso, grant)
    assert club.roles_of(p[1]) == Role.PROSUMER | Role.METER
    revoke, _ = club.propose_revoke(p[0], p[1], Role.METER)
    club.vote(p[2], revoke)
    club.vote(c.dso, revoke)
    assert club.roles_of(p[1]) == Role.PROSUMER


def test_the_last_operator_cannot_be_removed(c: Club) -> None:
    club, p = c.club, c.prosumers
    proposal_id, _ = club.propose_revoke(p[0], c.operator, Role.OPERATOR)
    club.vote(p[1], proposal_id)
    with reverts("Consortium.vote", "would leave no operator"):
        club.vote(p[2], proposal_id)  # the deciding vote cannot execute, so it is not cast
    assert club.roles_of(c.operator) == Role.OPERATOR
    assert club.proposal(proposal_id).yes == 2


def test_the_quorum_changes_by_vote(c: Club) -> None:
    club, p = c.club, c.prosumers
    proposal_id, _ = club.propose_quorum(p[0], 2000)
    club.vote(p[1], proposal_id)
    club.vote(p[2], proposal_id)
    assert club.quorum_bps() == 2000
    # now 1 yes of 5 voters passes (1 * 10 000 >= 2 000 * 5)
    proposal_id, _ = club.propose_grant(p[0], c.newcomer, Role.PROSUMER)
    assert club.proposal_state(proposal_id) is ProposalState.EXECUTED


@pytest.mark.parametrize(
    ("kind", "account", "argument", "reason"),
    [
        (ProposalKind.GRANT, "zero", 4, "account is the zero address"),
        (ProposalKind.GRANT, "newcomer", 0, "bad role mask"),
        (ProposalKind.GRANT, "newcomer", 16, "bad role mask"),
        (ProposalKind.GRANT, "p0", 4, "account already holds these roles"),
        (ProposalKind.REVOKE, "newcomer", 4, "account holds none of these roles"),
        (ProposalKind.REVOKE, "p0", 0, "bad role mask"),
        (ProposalKind.QUORUM, "zero", 0, "quorum out of range"),
        (ProposalKind.QUORUM, "zero", 10_001, "quorum out of range"),
        (ProposalKind.QUORUM, "p0", 5000, "a quorum proposal names no account"),
        (7, "p0", 4, "unknown proposal kind"),
    ],
)
def test_malformed_proposals_are_refused(
    c: Club, kind: int, account: str, argument: int, reason: str
) -> None:
    address = {"zero": "0x" + "00" * 20, "newcomer": c.newcomer, "p0": c.prosumers[0]}[account]
    before = c.club.chain.call(c.club.contract, "proposal_count")
    with reverts("Consortium.propose", reason):
        c.chain.transact(c.prosumers[1], c.club.contract, "propose", int(kind), address, argument)
    assert c.club.chain.call(c.club.contract, "proposal_count") == before


def test_a_missing_proposal_is_a_ledger_error(c: Club) -> None:
    with pytest.raises(LedgerError, match="no proposal 5"):
        c.club.proposal(5)


def test_proposals_expire_after_the_voting_period() -> None:
    """Block time stands still on the embedded chain; titanoboa's clock moves."""
    import boa

    artifact = compile_contract("Consortium")
    abi = ContractAbi(artifact.name, artifact.abi)
    env = boa.Env()
    operator, dso, alice, bob, carol = (env.generate_address() for _ in range(5))

    def send(sender: str, fn: str, *args: object) -> bytes:
        computation = env.execute_code(
            address, sender=sender, data=abi.encode_call(abi.function(fn, len(args)), args)
        )
        if computation.is_error:
            raise AssertionError(bytes(computation.output))
        return bytes(computation.output)

    address, _ = env.deploy_code(
        sender=operator,
        bytecode=artifact.bytecode + abi.encode_constructor([operator, dso, 5001, 3600]),
    )
    send(operator, "bootstrap_members", [(alice, 4), (bob, 4)])
    send(operator, "end_bootstrap")
    send(alice, "propose", 1, carol, 4)
    fn = abi.function("proposal_state", 1)
    state = abi.decode_output(fn, send(alice, "proposal_state", 1))
    assert state == ProposalState.PENDING
    env.time_travel(seconds=3601)
    assert abi.decode_output(fn, send(alice, "proposal_state", 1)) == ProposalState.EXPIRED
    with pytest.raises(AssertionError) as info:
        send(bob, "vote", 1, True)
    assert b"proposal has expired" in info.value.args[0]


# --- the markets embed the same consortium -----------------------------------------------------


@pytest.mark.parametrize("make", [make_batch, make_book])
def test_the_markets_embed_the_consortium(make: object) -> None:
    market = make(n_members=2)  # type: ignore[operator]
    club = market.ledger.consortium
    assert club.roles_of(market.operator) == Role.OPERATOR
    assert club.roles_of(market.dso) == Role.DSO
    assert all(club.roles_of(m) == Role.PROSUMER for m in market.members)
    proposal_id, _ = club.propose_grant(market.members[0], market.outsider, Role.PROSUMER)
    club.vote(market.members[1], proposal_id)
    club.vote(market.dso, proposal_id)
    assert club.roles_of(market.outsider) == Role.PROSUMER
    assert Role.PROSUMER in VOTER_ROLES and Role.METER not in VOTER_ROLES
