# pragma version ~=0.4.3
"""
@title Dvpp
@notice A community decentralized virtual power plant (002_dvpp.md §1.3,
        §2): PV-battery households report their state every coordination
        interval, read their battery's set-point (`read_instruction`), share
        energy inside the community (Eq. 6) and are paid for contracted
        flexibility (Eq. 7), in the settlement token, with pull withdrawals.
@dev Embeds the consortium (`accounts`, `voting`) and the escrow (`vault`).

     Units. Power in milliwatts (int, |P| < 2**31), state of charge in
     milli-percent (0..100 000), money in micro-currency of the settlement
     token, prices p_c and p_f in micro-currency per kW per interval.
     Producer arrows for battery power and contracted flexibility (positive:
     discharge, export), consumer arrows for the residual load (L - G).

     The interval clock. Interval k is [start + k*dt, start + (k+1)*dt) of
     block time, dt = `interval_seconds`: the coordination interval is
     decoupled from the block time (the paper's L338), any block of the
     interval carries its reports, and a simulation moves the clock.

     An interval's instruction. The instruction of interval m is the
     set-point of every household in the snapshot of m: the households
     registered at the end of m (joined at or before m, not left before
     m + 1), each with its latest report made in m or earlier, and the
     flexibility contracted for m. It is computed by the sorting heuristic
     (Eqs. 3-4): merit order by state of charge (discharging highest first,
     charging lowest first, ties by registration order), the paper's
     keep-or-drop rule or the published code's (`code_rule`), Eq. 4
     truncated toward zero. A household reads instruction m - 1 during m
     (`read_instruction`), runs it, and its report in m carries the battery
     power it measured (`p_measured_mw`), which settles interval m - 1.

     Settlement of m - 1 by the sender's report in m. Compliance: the
     measured power is within `tolerance_mw + |instruction| *
     tolerance_bps / 10 000` of the instruction. Not contracted in m - 1
     (Eq. 6): a complying sender takes r = max(0, P_m - P_res + P_max) * p_c
     // ((n - 1) * 10**6) from each other household of the snapshot (what it
     has, if less); n is the snapshot's size, P_max the largest grid
     connection of the registered households. Contracted in m - 1 (Eq. 7):
     no community settlement; a complying sender is paid C * |instruction|
     // |P_ESS| out of the contractor's locked budget (C // n if P_ESS is 0),
     C = |P_flex| * p_f // 10**6 the contract's price per interval. A share
     not claimed stays locked and is refunded when the contract is closed.

     Liveness. Each report checks the sender's two neighbours in
     registration order (the previous and next registered household,
     wrapping); a neighbour is deregistered if its last report is more than
     `OFFLINE_AFTER` (2) intervals old, if its free balance is below the
     two-interval need, or if the consortium revoked its prosumer role.

     The two-interval need: 6 * P_max * p_c / 10**6, rounded up. A household
     pays at most 3 * P_max * p_c / 10**6 in one interval (every other
     household's r, with |P_m| and |P_res| at most its P_max), so this is
     the worst case of two intervals.

     Admission. Only an account holding the consortium's PROSUMER role
     (granted by vote, or by the operator during the bootstrap) registers.
"""

from ethereum.ercs import IERC20

import accounts
import voting
import vault

initializes: accounts
initializes: voting[accounts := accounts]
initializes: vault[accounts := accounts]

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
    vault.token,
    vault.dso,
    vault.total_internal_balance,
    vault.deposit,
    vault.balance_of,
    vault.locked_of,
    vault.available_of,
)


# @notice Most households registered at once (and entries kept for the
#         previous interval's snapshot).
MAX_HOUSEHOLDS: public(constant(uint256)) = 64

# @notice Largest power, mW (int32 of the published contract).
MAX_POWER_MW: public(constant(uint256)) = 2**31 - 1

# @notice A full battery, milli-percent.
SOC_FULL: public(constant(uint256)) = 100_000

# @notice A household silent for more than this many intervals is offline.
OFFLINE_AFTER: public(constant(uint256)) = 2

# @notice State of charge margin of `flexibility_available` when a
#         contract is made (the published code's 10 %), milli-percent.
FLEX_BORDER: public(constant(uint256)) = 10_000

# @notice Why a household left (`Deregistered.reason`).
REASON_OWN: public(constant(uint8)) = 0
REASON_SILENT: public(constant(uint8)) = 1
REASON_FUNDS: public(constant(uint8)) = 2
REASON_REVOKED: public(constant(uint8)) = 3

# @notice Settlement kinds (`Settled.kind`).
KIND_COMMUNITY: public(constant(uint8)) = 1
KIND_FLEXIBILITY: public(constant(uint8)) = 2
KIND_NOT_COMPLIANT: public(constant(uint8)) = 3

MW_PER_KW: constant(uint256) = 10**6
BPS: constant(uint256) = 10_000
POWER_OFFSET: constant(int256) = 2**31
MASK31: constant(uint256) = 2**31 - 1
MASK32: constant(uint256) = 2**32 - 1
MASK17: constant(uint256) = 2**17 - 1
ADDRESS_MASK: constant(uint256) = 2**160 - 1

# Entry word: address 0..159 | p_opt discharge 160..190 | p_opt charge
# 191..221 | (left interval + 1) 222..253 (0: registered).
DIS_SHIFT: constant(uint256) = 160
CH_SHIFT: constant(uint256) = 191
LEFT_SHIFT: constant(uint256) = 222

# Report word: current report (interval 0..31, soc 32..48, P_res + 2**31
# 49..80), previous report (81..161, the same three fields), P_max
# 162..192, has a previous report 193.
SOC_SHIFT: constant(uint256) = 32
PRES_SHIFT: constant(uint256) = 49
REPORT_BITS: constant(uint256) = 81
REPORT_MASK: constant(uint256) = 2**81 - 1
PMAX_SHIFT: constant(uint256) = 162
HAS_PREV: constant(uint256) = 2**193


struct Snapshot:
    count: uint256
    me: uint256
    target: int256
    contracted: bool
    who: address[MAX_HOUSEHOLDS]
    soc: uint256[MAX_HOUSEHOLDS]
    p_opt_discharge: uint256[MAX_HOUSEHOLDS]
    p_opt_charge: uint256[MAX_HOUSEHOLDS]
    p_res: int256[MAX_HOUSEHOLDS]


struct Flexibility:
    contractor: address
    p_flex_mw: int256
    start: uint256
    end: uint256
    per_interval_micro: uint256
    locked_micro: uint256


struct HouseholdView:
    registered: bool
    p_opt_discharge_mw: uint256
    p_opt_charge_mw: uint256
    p_max_mw: uint256
    last_interval: uint256
    soc_mpct: uint256
    p_res_mw: int256


# @notice Seconds of block time in one coordination interval.
interval_seconds: public(immutable(uint256))

# @notice Block time at which interval 0 began.
start_time: public(immutable(uint256))

# @notice p_c of Eq. 6, micro-currency per kW per interval.
price_community: public(immutable(uint256))

# @notice Compliance tolerance: an absolute part, mW ...
tolerance_mw: public(immutable(uint256))

# @notice ... and a part relative to the instruction, basis points.
tolerance_bps: public(immutable(uint256))

# @notice Whether the published code's keep-or-drop rule runs (always z)
#         instead of the paper's (z or z - 1, whichever is closer).
code_rule: public(immutable(bool))

# @notice The meters contract (`DvppMeters`, or none: the zero address)
#         that relays reports signed by the households' meters.
meters: public(immutable(address))

# @notice p_f of Eq. 7, micro-currency per kW per interval; the operator
#         changes it only while no flexibility contract is open.
price_flexibility: public(uint256)

# @notice P_max of Eq. 6: the largest grid connection of the registered
#         households, mW.
p_max_mw: public(uint256)

# @notice Number of registered households.
household_count: public(uint256)

_entries: DynArray[uint256, MAX_HOUSEHOLDS]
_position: HashMap[address, uint256]
_reports: HashMap[address, uint256]
_flex: Flexibility


event Registered:
    household: indexed(address)
    interval: uint256


event Deregistered:
    household: indexed(address)
    by: indexed(address)
    reason: uint8
    interval: uint256


event Settled:
    household: indexed(address)
    interval: uint256
    kind: uint8
    amount_micro: uint256


event FlexibilityContracted:
    contractor: indexed(address)
    p_flex_mw: int256
    start: uint256
    end: uint256
    per_interval_micro: uint256


event FlexibilityCancelled:
    contractor: indexed(address)
    end: uint256


event FlexibilityClosed:
    contractor: indexed(address)
    refund_micro: uint256


event FlexibilityPriceChanged:
    price_micro_per_kw: uint256


event Withdrawn:
    account: indexed(address)
    amount_micro: uint256


@deploy
def __init__(
    token_: IERC20,
    operator_: address,
    dso_: address,
    quorum_bps_: uint256,
    voting_period_: uint256,
    interval_seconds_: uint256,
    price_community_: uint256,
    price_flexibility_: uint256,
    tolerance_mw_: uint256,
    tolerance_bps_: uint256,
    code_rule_: bool,
    meters_: address,
):
    assert interval_seconds_ != 0, "interval is zero seconds"
    assert price_community_ <= MASK32 and price_flexibility_ <= MASK32, "price out of range"
    assert tolerance_mw_ <= MAX_POWER_MW and tolerance_bps_ <= BPS, "tolerance out of range"
    voting.__init__(operator_, dso_, quorum_bps_, voting_period_)
    vault.__init__(token_, dso_)
    interval_seconds = interval_seconds_
    start_time = block.timestamp
    price_community = price_community_
    self.price_flexibility = price_flexibility_
    tolerance_mw = tolerance_mw_
    tolerance_bps = tolerance_bps_
    code_rule = code_rule_
    meters = meters_


# --- the clock and small helpers ---------------------------------------------------------


@internal
@view
def _interval() -> uint256:
    k: uint256 = (block.timestamp - start_time) // interval_seconds
    assert k < MASK32, "interval counter exhausted"
    return k


@internal
@view
def _need(p_max: uint256) -> uint256:
    return (6 * p_max * price_community + MW_PER_KW - 1) // MW_PER_KW


@internal
@pure
def _rating(power_mw: int256) -> bool:
    return power_mw > 0 and power_mw <= convert(MAX_POWER_MW, int256)


@internal
@pure
def _report(interval: uint256, soc: uint256, p_res: int256) -> uint256:
    return interval | (soc << SOC_SHIFT) | (convert(p_res + POWER_OFFSET, uint256) << PRES_SHIFT)


@internal
@pure
def _free(record: uint256) -> uint256:
    return accounts._balance(record) - accounts._locked(record)


@internal
@view
def _flex_active(flex: Flexibility, m: uint256) -> bool:
    return flex.contractor != empty(address) and flex.start <= m and m < flex.end


# --- the snapshot and the instruction ------------------------------------------------------


@internal
@view
def _snapshot(m: uint256, who: address) -> Snapshot:
    """
    @notice The households of interval `m` with their latest report made in
            `m` or earlier, and the target P_ESS = sum P_res + P_flex.
    """
    s: Snapshot = empty(Snapshot)
    s.me = MAX_HOUSEHOLDS
    total: int256 = 0
    for entry: uint256 in self._entries:
        left: uint256 = (entry >> LEFT_SHIFT) & MASK32
        if left != 0 and left - 1 <= m:
            continue
        account: address = convert(convert(entry & ADDRESS_MASK, uint160), address)
        word: uint256 = self._reports[account]
        report: uint256 = word & REPORT_MASK
        if report & MASK32 > m:
            if word & HAS_PREV == 0:
                continue  # joined after m
            report = (word >> REPORT_BITS) & REPORT_MASK
        i: uint256 = s.count
        if account == who:
            s.me = i
        s.who[i] = account
        s.soc[i] = (report >> SOC_SHIFT) & MASK17
        s.p_res[i] = convert((report >> PRES_SHIFT) & MASK32, int256) - POWER_OFFSET
        s.p_opt_discharge[i] = (entry >> DIS_SHIFT) & MASK31
        s.p_opt_charge[i] = (entry >> CH_SHIFT) & MASK31
        total += s.p_res[i]
        s.count = i + 1
    flex: Flexibility = self._flex
    if self._flex_active(flex, m):
        s.contracted = True
        total += flex.p_flex_mw
    s.target = total
    return s


@internal
@view
def _instruction(s: Snapshot, idx: uint256) -> int256:
    """
    @notice Eqs. 3-4 for household `idx` of the snapshot, mW.
    """
    magnitude: uint256 = convert(abs(s.target), uint256)
    if magnitude == 0:
        return 0
    charging: bool = s.target < 0
    n: uint256 = s.count
    # Merit order by selection, stopped as soon as Eq. 3 is met (z picks,
    # O(n*z)): the best state of charge not yet picked, the lowest index
    # (registration order) among equals.
    picked: uint256 = 0
    my_rank: uint256 = MAX_HOUSEHOLDS
    cumulated: uint256 = 0
    below: uint256 = 0
    active: uint256 = 0
    for r: uint256 in range(n, bound=MAX_HOUSEHOLDS):
        best: uint256 = MAX_HOUSEHOLDS
        for j: uint256 in range(n, bound=MAX_HOUSEHOLDS):
            if picked & (1 << j) != 0:
                continue
            if best == MAX_HOUSEHOLDS:
                best = j
            elif charging:
                if s.soc[j] < s.soc[best]:
                    best = j
            elif s.soc[j] > s.soc[best]:
                best = j
        picked |= 1 << best
        if best == idx:
            my_rank = r
        p: uint256 = s.p_opt_discharge[best]
        if charging:
            p = s.p_opt_charge[best]
        below = cumulated
        cumulated += p
        active = r + 1
        if cumulated >= magnitude:
            break
    # The keep-or-drop rule: z or z - 1 (when Eq. 3 was met at all).
    total: uint256 = cumulated
    if cumulated >= magnitude:
        if not code_rule and active > 1 and magnitude - below < cumulated - magnitude:
            active -= 1
            total = below
    if my_rank >= active:
        return 0
    mine: uint256 = s.p_opt_discharge[idx]
    if charging:
        mine = s.p_opt_charge[idx]
    value: int256 = convert(mine * magnitude // total, int256)
    if charging:
        return -value
    return value


@internal
@view
def _complies(measured: int256, instruction: int256) -> bool:
    allowed: uint256 = tolerance_mw + convert(abs(instruction), uint256) * tolerance_bps // BPS
    return convert(abs(measured - instruction), uint256) <= allowed


# --- registration ----------------------------------------------------------------------------


@external
@nonreentrant
def register(
    p_opt_discharge_mw: int256,
    p_opt_charge_mw: int256,
    p_max_mw_: int256,
    soc_mpct: uint256,
    p_res_mw: int256,
    deposit_micro: uint256,
):
    """
    @notice Join the DVPP (an account the consortium admitted as a
            prosumer): optimal operating points, grid connection limit,
            current state, and `deposit_micro` tokens pulled from the caller
            (approved beforehand). The registration is the interval's report.
    """
    assert self._position[msg.sender] == 0, "already registered"
    record: uint256 = accounts.records[msg.sender]
    assert record & accounts.ROLE_PROSUMER != 0, "caller is not admitted as a prosumer"
    assert self._rating(p_opt_discharge_mw), "p_opt_discharge_mw not in 1..2**31-1"
    assert self._rating(p_opt_charge_mw), "p_opt_charge_mw not in 1..2**31-1"
    assert self._rating(p_max_mw_), "p_max_mw not in 1..2**31-1"
    dis: uint256 = convert(p_opt_discharge_mw, uint256)
    ch: uint256 = convert(p_opt_charge_mw, uint256)
    p_max: uint256 = convert(p_max_mw_, uint256)
    assert soc_mpct <= SOC_FULL, "soc_mpct above 100 000"
    assert convert(abs(p_res_mw), uint256) < p_max, "p_res_mw beyond the household's p_max"
    k: uint256 = self._interval()

    # Entries that left before this interval are in no snapshot still read.
    kept: DynArray[uint256, MAX_HOUSEHOLDS] = []
    for entry: uint256 in self._entries:
        left: uint256 = (entry >> LEFT_SHIFT) & MASK32
        if left != 0 and left - 1 < k:
            continue
        if left != 0:
            assert entry & ADDRESS_MASK != convert(msg.sender, uint256), "left in this interval"
        kept.append(entry)
    if len(kept) != len(self._entries):
        self._entries = kept
        for i: uint256 in range(len(kept), bound=MAX_HOUSEHOLDS):
            entry: uint256 = kept[i]
            if (entry >> LEFT_SHIFT) & MASK32 == 0:
                self._position[convert(convert(entry & ADDRESS_MASK, uint160), address)] = i + 1
    assert len(kept) < MAX_HOUSEHOLDS, "the DVPP is full"

    new_p_max: uint256 = max(self.p_max_mw, p_max)
    if deposit_micro != 0:
        self._pull(deposit_micro)
        record = accounts.records[msg.sender]
    assert self._free(record) >= self._need(new_p_max), "deposit below the two-interval need"

    self._entries.append(
        convert(msg.sender, uint256) | (dis << DIS_SHIFT) | (ch << CH_SHIFT)
    )
    self._position[msg.sender] = len(kept) + 1
    self._reports[msg.sender] = self._report(k, soc_mpct, p_res_mw) | (p_max << PMAX_SHIFT)
    self.p_max_mw = new_p_max
    self.household_count += 1
    log Registered(household=msg.sender, interval=k)


@external
def deregister():
    """
    @notice Leave the DVPP; the money stays withdrawable.
    """
    position: uint256 = self._position[msg.sender]
    assert position != 0, "caller is not a registered household"
    self._deregister(msg.sender, position, msg.sender, REASON_OWN, self._interval())


@internal
def _deregister(who: address, position: uint256, by: address, reason: uint8, k: uint256):
    self._entries[position - 1] |= (k + 1) << LEFT_SHIFT
    self._position[who] = 0
    self.household_count -= 1
    # P_max of the households that stay.
    p_max: uint256 = 0
    for entry: uint256 in self._entries:
        if (entry >> LEFT_SHIFT) & MASK32 == 0:
            account: address = convert(convert(entry & ADDRESS_MASK, uint160), address)
            p_max = max(p_max, (self._reports[account] >> PMAX_SHIFT) & MASK31)
    self.p_max_mw = p_max
    log Deregistered(household=who, by=by, reason=reason, interval=k)


# --- the interval's report -----------------------------------------------------------------


@external
def set_state(household: address, soc_mpct: uint256, p_res_mw: int256, p_measured_mw: int256):
    """
    @notice Report this interval's state of charge and residual load
            (consumer arrows) and the battery power measured while following
            the previous interval's instruction (producer arrows). Settles
            the previous interval for the household and checks its
            neighbours. Sent by the household, or relayed by the meters
            contract (`meters`) after it checked the meter's signature.
            Settlement and neighbour check act for `household`.
    """
    # The household itself, or the meters contract relaying its meter's signed report.
    assert household == msg.sender or msg.sender == meters, "report for another household"
    position: uint256 = self._position[household]
    assert position != 0, "caller is not a registered household"
    assert accounts.records[household] & accounts.ROLE_PROSUMER != 0, "admission revoked"
    k: uint256 = self._interval()
    word: uint256 = self._reports[household]
    assert word & MASK32 != k, "second report in one interval"
    p_max: uint256 = (word >> PMAX_SHIFT) & MASK31
    assert soc_mpct <= SOC_FULL, "soc_mpct above 100 000"
    assert convert(abs(p_res_mw), uint256) < p_max, "p_res_mw beyond the household's p_max"
    assert convert(abs(p_measured_mw), uint256) <= p_max, "p_measured_mw beyond the household's p_max"

    if k > 0:
        self._settle(household, k - 1, p_measured_mw)
    self._reports[household] = (
        self._report(k, soc_mpct, p_res_mw)
        | ((word & REPORT_MASK) << REPORT_BITS)
        | (p_max << PMAX_SHIFT)
        | HAS_PREV
    )
    self._check_neighbours(household, position, k)


@internal
def _settle(who: address, m: uint256, measured: int256):
    s: Snapshot = self._snapshot(m, who)
    if s.me == MAX_HOUSEHOLDS:
        return
    instruction: int256 = self._instruction(s, s.me)
    if not self._complies(measured, instruction):
        log Settled(household=who, interval=m, kind=KIND_NOT_COMPLIANT, amount_micro=0)
        return
    if s.contracted:
        self._pay_flexibility(who, s, instruction, m)
        return
    if s.count < 2:
        return
    x: int256 = measured - s.p_res[s.me] + convert(self.p_max_mw, int256)
    if x <= 0:
        return
    share: uint256 = convert(x, uint256) * price_community // ((s.count - 1) * MW_PER_KW)
    if share == 0:
        return
    taken: uint256 = 0
    for i: uint256 in range(s.count, bound=MAX_HOUSEHOLDS):
        if i == s.me:
            continue
        payer: address = s.who[i]
        record: uint256 = accounts.records[payer]
        balance: uint256 = accounts._balance(record)
        locked: uint256 = accounts._locked(record)
        take: uint256 = min(share, balance - locked)
        if take != 0:
            accounts.records[payer] = accounts._with_money(record, balance - take, locked)
            taken += take
    vault._credit(who, taken)
    log Settled(household=who, interval=m, kind=KIND_COMMUNITY, amount_micro=taken)


@internal
def _pay_flexibility(who: address, s: Snapshot, instruction: int256, m: uint256):
    flex: Flexibility = self._flex
    reward: uint256 = 0
    if s.target == 0:
        reward = flex.per_interval_micro // s.count
    else:
        reward = (
            flex.per_interval_micro
            * convert(abs(instruction), uint256)
            // convert(abs(s.target), uint256)
        )
    reward = min(reward, flex.locked_micro)
    if reward != 0:
        record: uint256 = accounts.records[flex.contractor]
        accounts.records[flex.contractor] = accounts._with_money(
            record, accounts._balance(record) - reward, accounts._locked(record) - reward
        )
        self._flex.locked_micro = flex.locked_micro - reward
        vault._credit(who, reward)
    log Settled(household=who, interval=m, kind=KIND_FLEXIBILITY, amount_micro=reward)


@internal
def _check_neighbours(reporter: address, position: uint256, k: uint256):
    """
    @notice Deregister the previous or next registered household (by
            registration order, wrapping) if it is offline or short of funds.
    """
    n: uint256 = len(self._entries)
    me: uint256 = position - 1
    need: uint256 = self._need(self.p_max_mw)
    previous: uint256 = me
    following: uint256 = me
    for step: uint256 in range(1, MAX_HOUSEHOLDS):
        if step >= n:
            break
        i: uint256 = (me + n - step) % n
        if (self._entries[i] >> LEFT_SHIFT) & MASK32 == 0:
            previous = i
            break
    for step: uint256 in range(1, MAX_HOUSEHOLDS):
        if step >= n:
            break
        i: uint256 = (me + step) % n
        if (self._entries[i] >> LEFT_SHIFT) & MASK32 == 0:
            following = i
            break
    if previous != me:
        self._check_one(reporter, previous, need, k)
    if following != me and following != previous:
        self._check_one(reporter, following, need, k)


@internal
def _check_one(reporter: address, i: uint256, need: uint256, k: uint256):
    account: address = convert(convert(self._entries[i] & ADDRESS_MASK, uint160), address)
    record: uint256 = accounts.records[account]
    reason: uint8 = 255
    if (self._reports[account] & MASK32) + OFFLINE_AFTER < k:
        reason = REASON_SILENT
    elif self._free(record) < need:
        reason = REASON_FUNDS
    elif record & accounts.ROLE_PROSUMER == 0:
        reason = REASON_REVOKED
    if reason != 255:
        self._deregister(account, i + 1, reporter, reason, k)


# --- flexibility ---------------------------------------------------------------------------


@external
@nonreentrant
def contract_flexibility(p_flex_mw: int256, intervals: uint256, max_price_micro_per_kw: uint256):
    """
    @notice Contract `p_flex_mw` (producer arrows: positive, the DVPP
            delivers more) for `intervals` intervals from this one, at the
            current p_f (at most `max_price_micro_per_kw`); the whole price
            is pulled from the caller (approved beforehand) and locked.
            Not by a registered household; not while contracted.
    """
    assert self._position[msg.sender] == 0, "a registered household cannot contract flexibility"
    k: uint256 = self._interval()
    flex: Flexibility = self._flex
    if flex.contractor != empty(address):
        assert k > flex.end, "flexibility is already contracted"
        self._close(flex)
    assert p_flex_mw != 0, "p_flex_mw is zero"
    assert convert(abs(p_flex_mw), uint256) <= MAX_POWER_MW, "p_flex_mw out of range"
    assert intervals != 0 and intervals <= MASK32, "intervals out of range"
    price: uint256 = self.price_flexibility
    assert price <= max_price_micro_per_kw, "flexibility price above the limit"
    per_interval: uint256 = convert(abs(p_flex_mw), uint256) * price // MW_PER_KW
    assert per_interval != 0, "the contract is worth nothing"
    assert self._available(p_flex_mw, FLEX_BORDER), "not enough flexibility available"
    budget: uint256 = per_interval * intervals
    self._pull(budget)
    record: uint256 = accounts.records[msg.sender]
    accounts.records[msg.sender] = accounts._with_money(
        record, accounts._balance(record), accounts._locked(record) + budget
    )
    self._flex = Flexibility(
        contractor=msg.sender,
        p_flex_mw=p_flex_mw,
        start=k,
        end=k + intervals,
        per_interval_micro=per_interval,
        locked_micro=budget,
    )
    log FlexibilityContracted(
        contractor=msg.sender,
        p_flex_mw=p_flex_mw,
        start=k,
        end=k + intervals,
        per_interval_micro=per_interval,
    )


@external
def cancel_flexibility():
    """
    @notice End the contract from this interval on (the contractor only);
            the previous interval is still paid, the rest refunded on close.
    """
    flex: Flexibility = self._flex
    assert flex.contractor != empty(address), "no flexibility contract"
    assert msg.sender == flex.contractor, "caller is not the contractor"
    k: uint256 = self._interval()
    assert k < flex.end, "the contract has ended"
    self._flex.end = k
    log FlexibilityCancelled(contractor=msg.sender, end=k)


@external
def close_flexibility():
    """
    @notice Once the contract's last interval is settled (the interval after
            it has begun), release what is left of its budget to the
            contractor's free balance. Anyone may call it.
    """
    flex: Flexibility = self._flex
    assert flex.contractor != empty(address), "no flexibility contract"
    assert self._interval() > flex.end, "the contract is still being settled"
    self._close(flex)


@internal
def _close(flex: Flexibility):
    record: uint256 = accounts.records[flex.contractor]
    accounts.records[flex.contractor] = accounts._with_money(
        record, accounts._balance(record), accounts._locked(record) - flex.locked_micro
    )
    self._flex = empty(Flexibility)
    log FlexibilityClosed(contractor=flex.contractor, refund_micro=flex.locked_micro)


@external
def set_flexibility_price(price_micro_per_kw: uint256):
    """
    @notice Change p_f (the consortium's operator), only while no
            flexibility contract is open.
    """
    assert accounts._has_role(msg.sender, accounts.ROLE_OPERATOR), "caller is not the operator"
    assert self._flex.contractor == empty(address), "flexibility is contracted"
    assert price_micro_per_kw <= MASK32, "price out of range"
    self.price_flexibility = price_micro_per_kw
    log FlexibilityPriceChanged(price_micro_per_kw=price_micro_per_kw)


@internal
@view
def _available(p_flex_mw: int256, border: uint256) -> bool:
    n: uint256 = 0
    total: uint256 = 0
    low: uint256 = SOC_FULL
    high: uint256 = 0
    for entry: uint256 in self._entries:
        if (entry >> LEFT_SHIFT) & MASK32 != 0:
            continue
        account: address = convert(convert(entry & ADDRESS_MASK, uint160), address)
        soc: uint256 = (self._reports[account] >> SOC_SHIFT) & MASK17
        n += 1
        total += soc
        low = min(low, soc)
        high = max(high, soc)
    if n == 0:
        return False
    if p_flex_mw > 0:
        return total >= border * n and low >= border // 2
    return total <= (SOC_FULL - border) * n and high <= SOC_FULL - border // 2


# --- money -----------------------------------------------------------------------------------


@internal
def _pull(amount_micro: uint256):
    total: uint256 = vault.total_internal_balance
    assert amount_micro <= accounts.MAX_TOTAL_MICRO - total, "deposit exceeds the vault's capacity"
    record: uint256 = accounts.records[msg.sender]
    accounts.records[msg.sender] = record + (amount_micro << accounts.BALANCE_SHIFT)
    vault.total_internal_balance = total + amount_micro
    assert extcall vault.token.transferFrom(msg.sender, self, amount_micro), "token transfer failed"


@external
@nonreentrant
def withdraw(amount_micro: uint256):
    """
    @notice Pay out `amount_micro` of the caller's free balance; a
            registered household keeps at least the two-interval need.
    """
    assert amount_micro != 0, "zero amount"
    record: uint256 = accounts.records[msg.sender]
    balance: uint256 = accounts._balance(record)
    locked: uint256 = accounts._locked(record)
    assert balance - locked >= amount_micro, "free balance too low"
    if self._position[msg.sender] != 0:
        assert balance - locked - amount_micro >= self._need(self.p_max_mw), (
            "would leave less than the two-interval need"
        )
    accounts.records[msg.sender] = accounts._with_money(record, balance - amount_micro, locked)
    vault.total_internal_balance -= amount_micro
    log Withdrawn(account=msg.sender, amount_micro=amount_micro)
    assert extcall vault.token.transfer(msg.sender, amount_micro), "token transfer failed"


# --- readers ---------------------------------------------------------------------------------


@external
@view
def read_instruction() -> int256:
    """
    @notice The caller's battery set-point for this interval, mW (producer
            arrows): the instruction of the interval that just ended.
    """
    k: uint256 = self._interval()
    assert k > 0, "no interval has ended yet"
    s: Snapshot = self._snapshot(k - 1, msg.sender)
    assert s.me != MAX_HOUSEHOLDS, "caller is not in the interval's snapshot"
    return self._instruction(s, s.me)


@external
@view
def target_mw() -> int256:
    """
    @notice P_ESS of the interval that just ended (Eqs. 2, 5), mW.
    """
    k: uint256 = self._interval()
    assert k > 0, "no interval has ended yet"
    return self._snapshot(k - 1, empty(address)).target


@external
@view
def current_interval() -> uint256:
    return self._interval()


@external
@view
def two_interval_need() -> uint256:
    """
    @notice The least free balance a registered household keeps, micro.
    """
    return self._need(self.p_max_mw)


@external
@view
def households() -> DynArray[address, MAX_HOUSEHOLDS]:
    """
    @notice The registered households in registration order.
    """
    out: DynArray[address, MAX_HOUSEHOLDS] = []
    for entry: uint256 in self._entries:
        if (entry >> LEFT_SHIFT) & MASK32 == 0:
            out.append(convert(convert(entry & ADDRESS_MASK, uint160), address))
    return out


@external
@view
def household(account: address) -> HouseholdView:
    """
    @notice A household's ratings and latest report (registered or not).
    """
    out: HouseholdView = empty(HouseholdView)
    word: uint256 = self._reports[account]
    position: uint256 = self._position[account]
    out.registered = position != 0
    if position != 0:
        entry: uint256 = self._entries[position - 1]
        out.p_opt_discharge_mw = (entry >> DIS_SHIFT) & MASK31
        out.p_opt_charge_mw = (entry >> CH_SHIFT) & MASK31
    out.p_max_mw = (word >> PMAX_SHIFT) & MASK31
    out.last_interval = word & MASK32
    out.soc_mpct = (word >> SOC_SHIFT) & MASK17
    out.p_res_mw = convert((word >> PRES_SHIFT) & MASK32, int256) - POWER_OFFSET
    return out


@external
@view
def flexibility() -> Flexibility:
    """
    @notice The open flexibility contract (all zero if none).
    """
    return self._flex


@external
@view
def contracted() -> bool:
    """
    @notice Whether flexibility is contracted for this interval.
    """
    return self._flex_active(self._flex, self._interval())


@external
@view
def flexibility_available(p_flex_mw: int256) -> bool:
    """
    @notice Whether the batteries' states of charge leave room for
            `p_flex_mw` (the published code's test with a 10 % margin).
    """
    return self._available(p_flex_mw, FLEX_BORDER)
