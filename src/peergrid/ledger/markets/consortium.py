"""A typed client of a consortium: members, roles, and admission and removal by vote.

The consortium lives in the ``accounts`` and ``voting`` Vyper modules. The market contracts
(:mod:`peergrid.ledger.markets.batch_market`, :mod:`peergrid.ledger.markets.orderbook`) embed
them, so that a role check costs one storage read in the contract that makes it;
``Consortium.vy`` is the same two modules alone. :class:`ConsortiumClient` drives any of these
contracts.

Roles (:class:`Role`, a bit mask): OPERATOR advances market phases and posts clearings; DSO sets
fees, penalties and the distance table and receives fees and penalties; PROSUMER trades and
deposits; METER posts meter readings. Operator, DSO and prosumers vote; a meter (a device) does
not.

Rules (the "democratic consensus" that 002_dvpp.md §2.6 names but never specifies):

* **Bootstrap.** At deployment the operator and the DSO hold their roles and the operator alone
  grants roles (:meth:`ConsortiumClient.bootstrap`), until it ends the bootstrap, once and for
  ever; no proposal can be made before.
* **Proposals.** A voter proposes one change: grant roles to an account (its admission if it had
  none), revoke roles (its removal when none remain; its money stays withdrawable), or set the
  quorum. The proposal counts as the proposer's yes vote.
* **Votes.** One vote per voter, yes or no. A proposal passes and is executed in the vote's
  transaction when ``yes * 10 000 >= quorum_bps * voters``, ``voters`` counted when it was made;
  it is rejected once ``no * 10 000 > (10 000 - quorum_bps) * voters`` (it can no longer pass).
* **Lapse.** A pending proposal expires when its voting period (block time) is over, or as soon
  as another proposal changes who votes or the quorum: every vote is cast by the electorate the
  proposal was made for. On the embedded chain block time stands still, so only the second rule
  applies there.
* A change that would leave no operator reverts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import IntEnum, IntFlag

from peergrid.core.errors import LedgerError
from peergrid.ledger.chain.base import Chain, Contract, Receipt
from peergrid.ledger.chain.compile import compile_contract

MAX_BOOTSTRAP_PER_TX = 128
"""Most grants one ``bootstrap_members`` transaction carries (the contract's bound)."""

DEFAULT_QUORUM_BPS = 5001
"""A strict majority of the voters."""

DEFAULT_VOTING_PERIOD_S = 7 * 24 * 3600
"""A week of block time."""

BPS = 10_000


class Role(IntFlag):
    """Consortium roles, as the contract's bit mask."""

    NONE = 0
    OPERATOR = 1
    DSO = 2
    PROSUMER = 4
    METER = 8


VOTER_ROLES = Role.OPERATOR | Role.DSO | Role.PROSUMER
"""Roles that carry a vote."""

ALL_ROLES = Role.OPERATOR | Role.DSO | Role.PROSUMER | Role.METER


class ProposalKind(IntEnum):
    GRANT = 1
    REVOKE = 2
    QUORUM = 3


class ProposalState(IntEnum):
    NONE = 0
    PENDING = 1
    EXECUTED = 2
    REJECTED = 3
    EXPIRED = 4


@dataclass(frozen=True, slots=True)
class RoleGrant:
    """Roles to add to an account during the bootstrap."""

    account: str
    roles: Role

    def as_tuple(self) -> tuple[str, int]:
        return (self.account, int(self.roles))


@dataclass(frozen=True, slots=True)
class Proposal:
    """A proposal as stored, with its current state (``EXPIRED`` computed by the contract).

    ``argument`` is the role mask of a grant or revocation, the quorum in basis points of a quorum
    change; ``deadline`` is in block-time seconds; ``voters`` is the electorate's size when it was
    made.
    """

    proposal_id: int
    kind: ProposalKind
    account: str
    argument: int
    proposer: str
    deadline: int
    electorate: int
    voters: int
    yes: int
    no: int
    state: ProposalState

    @property
    def roles(self) -> Role:
        return Role(self.argument) if self.kind is not ProposalKind.QUORUM else Role.NONE


def votes_needed(voters: int, quorum_bps: int) -> int:
    """Least number of yes votes that pass a proposal among ``voters`` at ``quorum_bps``."""
    return -(-quorum_bps * voters // BPS)


class ConsortiumClient:
    """Consortium functions of any contract that embeds the ``accounts`` and ``voting`` modules."""

    def __init__(self, chain: Chain, contract: Contract, *, operator: str) -> None:
        self.chain = chain
        self.contract = contract
        self.operator = operator

    @classmethod
    def deploy(
        cls,
        chain: Chain,
        *,
        operator: str,
        dso: str,
        quorum_bps: int = DEFAULT_QUORUM_BPS,
        voting_period_s: int = DEFAULT_VOTING_PERIOD_S,
    ) -> ConsortiumClient:
        """Deploy ``Consortium.vy`` alone (governance without money)."""
        contract = chain.deploy(
            operator, compile_contract("Consortium"), operator, dso, quorum_bps, voting_period_s
        )
        return cls(chain, contract, operator=operator)

    # --- bootstrap ---------------------------------------------------------------------------

    def bootstrap(self, grants: Sequence[RoleGrant] | Mapping[str, Role]) -> list[Receipt]:
        """Grant roles without a vote (operator, bootstrap only), 128 grants to a transaction."""
        rows = (
            [RoleGrant(a, Role(r)).as_tuple() for a, r in grants.items()]
            if isinstance(grants, Mapping)
            else [g.as_tuple() for g in grants]
        )
        return [
            self.chain.transact(
                self.operator,
                self.contract,
                "bootstrap_members",
                rows[start : start + MAX_BOOTSTRAP_PER_TX],
            )
            for start in range(0, len(rows), MAX_BOOTSTRAP_PER_TX)
        ]

    def end_bootstrap(self) -> Receipt:
        """Close the bootstrap for ever (operator)."""
        return self.chain.transact(self.operator, self.contract, "end_bootstrap")

    # --- proposals and votes -------------------------------------------------------------------

    def propose(
        self, proposer: str, kind: ProposalKind, account: str, argument: int
    ) -> tuple[int, Receipt]:
        """Make a proposal (a voter, who votes yes with it): its id and the receipt."""
        receipt = self.chain.transact(
            proposer, self.contract, "propose", int(kind), account, int(argument)
        )
        (created,) = receipt.events_named("ProposalCreated")
        return int(created.args["proposal_id"]), receipt

    def propose_grant(self, proposer: str, account: str, roles: Role) -> tuple[int, Receipt]:
        """Propose to grant ``roles`` to ``account`` (its admission if it has none)."""
        return self.propose(proposer, ProposalKind.GRANT, account, int(roles))

    def propose_revoke(
        self, proposer: str, account: str, roles: Role = ALL_ROLES
    ) -> tuple[int, Receipt]:
        """Propose to revoke ``roles`` from ``account`` (its removal if none remain)."""
        return self.propose(proposer, ProposalKind.REVOKE, account, int(roles))

    def propose_quorum(self, proposer: str, quorum_bps: int) -> tuple[int, Receipt]:
        """Propose a new quorum, basis points of the voters (1..10 000)."""
        return self.propose(proposer, ProposalKind.QUORUM, "0x" + "00" * 20, quorum_bps)

    def vote(self, voter: str, proposal_id: int, support: bool = True) -> Receipt:
        """Vote once on a pending proposal; the deciding vote executes or rejects it."""
        return self.chain.transact(voter, self.contract, "vote", proposal_id, support)

    # --- views ---------------------------------------------------------------------------------

    def roles_of(self, account: str) -> Role:
        return Role(int(self.chain.call(self.contract, "roles_of", account)))

    def is_member(self, account: str) -> bool:
        return bool(self.chain.call(self.contract, "is_member", account))

    def index_of(self, account: str) -> int:
        """The member index of ``account`` (0 if it was never a member)."""
        return int(self.chain.call(self.contract, "index_of", account))

    def member_count(self) -> int:
        return int(self.chain.call(self.contract, "member_count"))

    def voter_count(self) -> int:
        return int(self.chain.call(self.contract, "voter_count"))

    def quorum_bps(self) -> int:
        return int(self.chain.call(self.contract, "quorum_bps"))

    def bootstrapping(self) -> bool:
        return bool(self.chain.call(self.contract, "bootstrapping"))

    def electorate_version(self) -> int:
        return int(self.chain.call(self.contract, "electorate_version"))

    def has_voted(self, proposal_id: int, account: str) -> bool:
        return bool(self.chain.call(self.contract, "has_voted", proposal_id, account))

    def proposal(self, proposal_id: int) -> Proposal:
        """The stored proposal and its state; :class:`LedgerError` if there is none."""
        raw = self.chain.call(self.contract, "proposal", proposal_id)
        state = int(self.chain.call(self.contract, "proposal_state", proposal_id))
        kind, account, argument, proposer, deadline, electorate, voters, yes, no, _ = raw
        if state == ProposalState.NONE:
            raise LedgerError(f"{self.contract.name}.proposal", f"no proposal {proposal_id}")
        return Proposal(
            proposal_id=proposal_id,
            kind=ProposalKind(int(kind)),
            account=account,
            argument=int(argument),
            proposer=proposer,
            deadline=int(deadline),
            electorate=int(electorate),
            voters=int(voters),
            yes=int(yes),
            no=int(no),
            state=ProposalState(state),
        )

    def proposal_state(self, proposal_id: int) -> ProposalState:
        return ProposalState(int(self.chain.call(self.contract, "proposal_state", proposal_id)))
