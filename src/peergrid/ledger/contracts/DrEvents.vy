# pragma version ~=0.4.3
"""
@title DrEvents
@notice The DR contracts of 001b_book.md chapter 8: a per-prosumer DR
        contract (baseline, current profile from the meter's readings,
        commanded profile) and the grid-level contract (energy state, DR
        signals, reward and penalty rates), settled in the token after a
        stake-weighted verification of the readings.
@dev Roles. The operator (the DSO, the deployer) registers prosumers with
     their meters, adds stakeholder validators with a genesis stake, sets
     the rates, the threshold and the event length, and commands the
     interested prosumers' profiles when an event starts. A meter posts its
     prosumer's readings (the transaction is the meter's signature). A
     validator (every prosumer, and each stakeholder) attests to an event's
     readings. Anyone closes an event whose readings are all in. Prosumers
     and the operator deposit and withdraw (pull payments).

     Units: readings are net consumption in Wh (consumption less generation,
     signed); rates in micro-currency per kWh; money in micro-currency.

     Slots are numbered from 0; a slot's time of day is slot % slots_per_day.
     Grid energy state of a slot: the sum of the readings posted for it (the
     prosumers' imbalances). When a reading makes |state| exceed the
     threshold and no event is running, the contract starts an event
     covering the next `duration` slots with the current rates.

     Baseline (per prosumer and time of day): the mean of its readings at
     that time of day outside the events it took part in, truncated toward
     zero; frozen for the event's slots when its profile is commanded.

     Settlement (per participant, when the event is closed): requested
     r = baseline - commanded, delivered d = baseline - actual; credited
     f = d in the direction of r, within [0, |r|]; shortfall
     s = max(|r| - f - tolerance, 0); reward = sum(f) * reward_rate // 1000,
     penalty = sum(s) * penalty_rate // 1000. Closing reserves the total
     reward from the operator's balance and fixes the digest of the readings
     and the total stake.

     Verification. stake = genesis + incentives + incentives * min(age,
     AGE_CAP) // AGE_CAP, incentives being the DR rewards received to date
     and age the number of events confirmed since their (incentive-weighted)
     mean receipt. The event is confirmed when the stake attesting to its
     digest exceeds two thirds of the total: each participant then receives
     its reward and pays its penalty (at most its balance) to the operator,
     and its reward is added to its incentives. It is disputed, and nothing
     is paid, when the stake attesting to another digest makes two thirds
     unreachable. One event runs at a time.
"""

from ethereum.ercs import IERC20

PHASE_NONE: public(constant(uint8)) = 0
PHASE_ACTIVE: public(constant(uint8)) = 1
PHASE_VERIFYING: public(constant(uint8)) = 2
PHASE_CONFIRMED: public(constant(uint8)) = 3
PHASE_DISPUTED: public(constant(uint8)) = 4
PHASE_CANCELLED: public(constant(uint8)) = 5

MAX_EVENT_SLOTS: public(constant(uint256)) = 12
MAX_PARTICIPANTS: public(constant(uint256)) = 128
MAX_VALIDATORS: public(constant(uint256)) = 256
MAX_SLOTS_PER_DAY: public(constant(uint256)) = 96
MAX_WH: public(constant(int256)) = 2**48 - 1
MAX_RATE: public(constant(uint256)) = 2**48 - 1
AGE_CAP: public(constant(uint256)) = 24
WH_PER_KWH: constant(uint256) = 1000


struct DrEvent:
    phase: uint8
    start: uint256
    duration: uint256
    trigger_slot: uint256
    trigger_state: int256
    reward_rate: uint256
    penalty_rate: uint256
    tolerance: uint256
    participants: uint256
    missing: uint256
    digest: bytes32
    total_stake: uint256
    stake_for: uint256
    stake_against: uint256
    total_reward: uint256
    total_penalty: uint256


# What the contract stores per event and participant; the settlement is
# computed from it (when closing, confirming, and in `participation`), not
# stored, which keeps closing an event of 128 participants within a block.
struct Profiles:
    baseline: int256[MAX_EVENT_SLOTS]
    commanded: int256[MAX_EVENT_SLOTS]
    actual: int256[MAX_EVENT_SLOTS]
    penalty_paid: uint256


struct Outcome:
    delivered: int256
    flexibility: uint256
    shortfall: uint256
    reward: uint256
    penalty: uint256
    actual: int256[MAX_EVENT_SLOTS]


struct Participation:
    baseline: int256[MAX_EVENT_SLOTS]
    commanded: int256[MAX_EVENT_SLOTS]
    actual: int256[MAX_EVENT_SLOTS]
    delivered: int256
    flexibility: uint256
    shortfall: uint256
    reward: uint256
    penalty: uint256
    penalty_paid: uint256


token: public(immutable(IERC20))
operator: public(immutable(address))
slots_per_day: public(immutable(uint256))

# Rates and event settings the next event takes.
reward_rate: public(uint256)
penalty_rate: public(uint256)
tolerance: public(uint256)
threshold: public(uint256)
duration: public(uint256)

prosumer_index: public(HashMap[address, uint256])
prosumer_of_meter: public(HashMap[address, address])
meter_of: public(HashMap[address, address])
next_slot: public(HashMap[address, uint256])
prosumer_count: public(uint256)

_sum: HashMap[address, HashMap[uint256, int256]]
_count: HashMap[address, HashMap[uint256, uint256]]

grid_state: public(HashMap[uint256, int256])
active_event: public(uint256)
event_count: public(uint256)
_events: HashMap[uint256, DrEvent]
_participants: HashMap[uint256, DynArray[address, MAX_PARTICIPANTS]]
_parts: HashMap[uint256, HashMap[address, Profiles]]
event_of: public(HashMap[address, uint256])

validators: public(DynArray[address, MAX_VALIDATORS])
is_validator: public(HashMap[address, bool])
genesis_of: public(HashMap[address, uint256])
incentives_of: public(HashMap[address, uint256])
mean_epoch_of: public(HashMap[address, uint256])
epoch: public(uint256)
attested: public(HashMap[uint256, HashMap[address, bool]])

balance_of: public(HashMap[address, uint256])
locked: public(HashMap[address, uint256])
total_balance: public(uint256)


event Registered:
    prosumer: indexed(address)
    meter: indexed(address)


event ValidatorAdded:
    validator: indexed(address)
    genesis: uint256


event RatesSet:
    reward_rate: uint256
    penalty_rate: uint256
    tolerance: uint256
    threshold: uint256
    duration: uint256


event Reading:
    prosumer: indexed(address)
    slot: indexed(uint256)
    wh: int256


event EventStarted:
    event_id: indexed(uint256)
    start: uint256
    duration: uint256
    grid_state: int256
    reward_rate: uint256
    penalty_rate: uint256


event Commanded:
    event_id: indexed(uint256)
    prosumer: indexed(address)


event EventClosed:
    event_id: indexed(uint256)
    digest: bytes32
    total_stake: uint256
    total_reward: uint256
    total_penalty: uint256


event Attested:
    event_id: indexed(uint256)
    validator: indexed(address)
    digest: bytes32
    stake: uint256


event EventConfirmed:
    event_id: indexed(uint256)
    stake_for: uint256


event EventDisputed:
    event_id: indexed(uint256)
    stake_against: uint256


event Deposited:
    account: indexed(address)
    amount: uint256


event Withdrawn:
    account: indexed(address)
    amount: uint256


@deploy
def __init__(token_: IERC20, slots_per_day_: uint256):
    assert token_.address != empty(address), "token is the zero address"
    assert slots_per_day_ >= 1 and slots_per_day_ <= MAX_SLOTS_PER_DAY, (
        "slots per day out of range"
    )
    token = token_
    operator = msg.sender
    slots_per_day = slots_per_day_
    self.duration = 1


# --- the operator -------------------------------------------------------------


@external
def register(prosumer: address, meter: address):
    """
    @notice Register a prosumer and its meter (operator); the prosumer
            becomes a validator (with no stake until it earns incentives).
    """
    assert msg.sender == operator, "caller is not the operator"
    assert prosumer != empty(address) and meter != empty(address), "zero address"
    assert prosumer != operator, "the operator is not a prosumer"
    assert self.prosumer_index[prosumer] == 0, "prosumer already registered"
    assert self.prosumer_of_meter[meter] == empty(address), "meter already registered"
    assert not self.is_validator[prosumer], "validator already registered"
    assert len(self.validators) < MAX_VALIDATORS, "too many validators"
    index: uint256 = self.prosumer_count + 1
    self.prosumer_count = index
    self.prosumer_index[prosumer] = index
    self.prosumer_of_meter[meter] = prosumer
    self.meter_of[prosumer] = meter
    self.validators.append(prosumer)
    self.is_validator[prosumer] = True
    log Registered(prosumer=prosumer, meter=meter)


@external
def add_validator(validator: address, genesis: uint256):
    """
    @notice Add a stakeholder validator (TSO, retailer, the DSO's own node)
            with a genesis stake (operator).
    """
    assert msg.sender == operator, "caller is not the operator"
    assert validator != empty(address), "zero address"
    assert not self.is_validator[validator], "validator already registered"
    assert genesis != 0, "zero genesis stake"
    assert genesis <= MAX_RATE, "genesis stake out of range"
    assert len(self.validators) < MAX_VALIDATORS, "too many validators"
    # The total stake of an event under verification is fixed when it closes.
    active: uint256 = self.active_event
    assert active == 0 or self._events[active].phase != PHASE_VERIFYING, (
        "an event is being verified"
    )
    self.validators.append(validator)
    self.is_validator[validator] = True
    self.genesis_of[validator] = genesis
    log ValidatorAdded(validator=validator, genesis=genesis)


@external
def set_rates(
    reward_rate: int256,
    penalty_rate: int256,
    tolerance: uint256,
    threshold: uint256,
    duration: uint256,
):
    """
    @notice Rates for the next events (operator): reward and penalty
            (micro-currency per kWh), shortfall tolerance (Wh per slot), the
            grid-state threshold that starts an event (Wh, 0: none) and the
            event's length (slots).
    """
    assert msg.sender == operator, "caller is not the operator"
    assert reward_rate >= 0, "reward rate is negative"
    assert penalty_rate >= 0, "penalty rate is negative"
    assert convert(reward_rate, uint256) <= MAX_RATE, "reward rate out of range"
    assert convert(penalty_rate, uint256) <= MAX_RATE, "penalty rate out of range"
    assert tolerance <= MAX_RATE and threshold <= MAX_RATE, "quantity out of range"
    assert duration >= 1 and duration <= MAX_EVENT_SLOTS, "event duration out of range"
    self.reward_rate = convert(reward_rate, uint256)
    self.penalty_rate = convert(penalty_rate, uint256)
    self.tolerance = tolerance
    self.threshold = threshold
    self.duration = duration
    log RatesSet(
        reward_rate=self.reward_rate,
        penalty_rate=self.penalty_rate,
        tolerance=tolerance,
        threshold=threshold,
        duration=duration,
    )


@external
def command(event_id: uint256, prosumer: address, commanded: DynArray[int256, MAX_EVENT_SLOTS]):
    """
    @notice The DR signal to one interested prosumer (operator): its
            commanded profile (Wh per slot of the event); freezes its baseline.
    """
    assert msg.sender == operator, "caller is not the operator"
    assert self.prosumer_index[prosumer] != 0, "prosumer not registered"
    e: DrEvent = self._events[event_id]
    assert e.phase == PHASE_ACTIVE, "event not active"
    assert len(commanded) == e.duration, "commanded profile has the wrong length"
    assert self.event_of[prosumer] != event_id, "prosumer already commanded"
    assert self.next_slot[prosumer] <= e.start, "prosumer already metered in the event"
    assert e.participants < MAX_PARTICIPANTS, "event is full"
    for k: uint256 in range(len(commanded), bound=MAX_EVENT_SLOTS):
        assert commanded[k] <= MAX_WH and commanded[k] >= -MAX_WH, "reading out of range"
        tod: uint256 = (e.start + k) % slots_per_day
        n: uint256 = self._count[prosumer][tod]
        assert n != 0, "prosumer has no baseline"
        self._parts[event_id][prosumer].baseline[k] = self._sum[prosumer][tod] // convert(n, int256)
        self._parts[event_id][prosumer].commanded[k] = commanded[k]
    self._participants[event_id].append(prosumer)
    self._events[event_id].participants = e.participants + 1
    self._events[event_id].missing = e.missing + e.duration
    self.event_of[prosumer] = event_id
    log Commanded(event_id=event_id, prosumer=prosumer)


@external
def cancel_event(event_id: uint256):
    """
    @notice Cancel an active event nobody was commanded in (operator).
    """
    assert msg.sender == operator, "caller is not the operator"
    assert self._events[event_id].phase == PHASE_ACTIVE, "event not active"
    assert self._events[event_id].participants == 0, "event has participants"
    self._events[event_id].phase = PHASE_CANCELLED
    self.active_event = 0


# --- meters -------------------------------------------------------------------


@external
def post_reading(slot: uint256, wh: int256):
    """
    @notice A registered meter posts its prosumer's net consumption (Wh) in
            `slot`; slots in order, without gaps after the first.
    """
    prosumer: address = self.prosumer_of_meter[msg.sender]
    assert prosumer != empty(address), "meter not registered"
    assert wh <= MAX_WH and wh >= -MAX_WH, "reading out of range"
    expected: uint256 = self.next_slot[prosumer]
    # next_slot is 0 only before the first reading (after one it is slot + 1).
    assert slot == expected or expected == 0, "reading not for the meter's next slot"
    self.next_slot[prosumer] = slot + 1
    state: int256 = self.grid_state[slot] + wh
    self.grid_state[slot] = state

    e_id: uint256 = self.event_of[prosumer]
    in_event: bool = False
    if e_id != 0:
        start: uint256 = self._events[e_id].start
        if slot >= start and slot < start + self._events[e_id].duration:
            in_event = True
            self._parts[e_id][prosumer].actual[slot - start] = wh
            self._events[e_id].missing -= 1
    if not in_event:
        tod: uint256 = slot % slots_per_day
        self._sum[prosumer][tod] += wh
        self._count[prosumer][tod] += 1
    log Reading(prosumer=prosumer, slot=slot, wh=wh)

    threshold: uint256 = self.threshold
    if threshold != 0 and self.active_event == 0 and convert(abs(state), uint256) > threshold:
        self._start_event(slot, state)


# --- anyone -------------------------------------------------------------------


@external
def close_event(event_id: uint256):
    """
    @notice Settle an event whose readings are all in: each participant's
            flexibility, reward and penalty, the digest of the readings and
            the stake that will verify it; reserves the rewards.
    """
    e: DrEvent = self._events[event_id]
    assert e.phase == PHASE_ACTIVE, "event not active"
    assert e.participants != 0, "event has no participants"
    assert e.missing == 0, "event readings incomplete"
    digest: bytes32 = keccak256(abi_encode(self, event_id, e.start, e.duration))
    total_reward: uint256 = 0
    total_penalty: uint256 = 0
    for who: address in self._participants[event_id]:
        o: Outcome = self._outcome(event_id, who, e)
        total_reward += o.reward
        total_penalty += o.penalty
        digest = keccak256(abi_encode(digest, who, o.actual))
    assert self.balance_of[operator] - self.locked[operator] >= total_reward, (
        "operator cannot fund the rewards"
    )
    self.locked[operator] += total_reward
    total_stake: uint256 = self._total_stake()
    assert total_stake != 0, "no validator holds stake"
    self._events[event_id].phase = PHASE_VERIFYING
    self._events[event_id].digest = digest
    self._events[event_id].total_stake = total_stake
    self._events[event_id].total_reward = total_reward
    log EventClosed(
        event_id=event_id,
        digest=digest,
        total_stake=total_stake,
        total_reward=total_reward,
        total_penalty=total_penalty,
    )


# --- validators ---------------------------------------------------------------


@external
def attest(event_id: uint256, digest: bytes32):
    """
    @notice Attest to the digest of an event's readings (a validator with
            stake), once per event. Confirms and pays, or disputes, when the
            stake decides.
    """
    assert self._events[event_id].phase == PHASE_VERIFYING, "event not awaiting verification"
    assert self.is_validator[msg.sender], "caller is not a validator"
    assert not self.attested[event_id][msg.sender], "validator already attested"
    weight: uint256 = self._stake(msg.sender)
    assert weight != 0, "caller has no stake"
    self.attested[event_id][msg.sender] = True
    log Attested(event_id=event_id, validator=msg.sender, digest=digest, stake=weight)
    total: uint256 = self._events[event_id].total_stake
    if digest == self._events[event_id].digest:
        stake_for: uint256 = self._events[event_id].stake_for + weight
        self._events[event_id].stake_for = stake_for
        if 3 * stake_for > 2 * total:
            self._confirm(event_id)
            log EventConfirmed(event_id=event_id, stake_for=stake_for)
    else:
        against: uint256 = self._events[event_id].stake_against + weight
        self._events[event_id].stake_against = against
        if 3 * (total - min(against, total)) <= 2 * total:
            self._events[event_id].phase = PHASE_DISPUTED
            self.locked[operator] -= self._events[event_id].total_reward
            self.active_event = 0
            log EventDisputed(event_id=event_id, stake_against=against)


# --- money --------------------------------------------------------------------


@external
@nonreentrant
def deposit(amount: uint256):
    """
    @notice Pull `amount` tokens from the caller (a prosumer or the
            operator, having approved this contract) into its balance.
    """
    assert self.prosumer_index[msg.sender] != 0 or msg.sender == operator, (
        "caller is not a participant"
    )
    assert amount != 0, "zero amount"
    self.balance_of[msg.sender] += amount
    self.total_balance += amount
    log Deposited(account=msg.sender, amount=amount)
    assert extcall token.transferFrom(msg.sender, self, amount), "token transfer failed"


@external
@nonreentrant
def withdraw(amount: uint256):
    """
    @notice Pay out `amount` of the caller's free balance.
    """
    assert amount != 0, "zero amount"
    assert self.balance_of[msg.sender] - self.locked[msg.sender] >= amount, (
        "amount above the free balance"
    )
    self.balance_of[msg.sender] -= amount
    self.total_balance -= amount
    log Withdrawn(account=msg.sender, amount=amount)
    assert extcall token.transfer(msg.sender, amount), "token transfer failed"


# --- views --------------------------------------------------------------------


@view
@external
def event_state(event_id: uint256) -> DrEvent:
    return self._events[event_id]


@view
@external
def participation(event_id: uint256, prosumer: address) -> Participation:
    """
    @notice A participant's profiles and, once the event is closed, its
            delivered and credited flexibility, shortfall, reward and penalty.
    """
    p: Profiles = self._parts[event_id][prosumer]
    out: Participation = Participation(
        baseline=p.baseline,
        commanded=p.commanded,
        actual=p.actual,
        delivered=0,
        flexibility=0,
        shortfall=0,
        reward=0,
        penalty=0,
        penalty_paid=p.penalty_paid,
    )
    e: DrEvent = self._events[event_id]
    # A prosumer not commanded in the event has zero profiles: a zero outcome.
    if e.phase >= PHASE_VERIFYING and e.phase <= PHASE_DISPUTED:
        o: Outcome = self._outcome(event_id, prosumer, e)
        out.delivered = o.delivered
        out.flexibility = o.flexibility
        out.shortfall = o.shortfall
        out.reward = o.reward
        out.penalty = o.penalty
    return out


@view
@external
def participants(event_id: uint256) -> DynArray[address, MAX_PARTICIPANTS]:
    return self._participants[event_id]


@view
@external
def baseline_sum(prosumer: address, time_of_day: uint256) -> (int256, uint256):
    return self._sum[prosumer][time_of_day], self._count[prosumer][time_of_day]


@view
@external
def stake_of(validator: address) -> uint256:
    return self._stake(validator)


@view
@external
def total_stake() -> uint256:
    return self._total_stake()


@view
@external
def validator_count() -> uint256:
    return len(self.validators)


# --- internal -----------------------------------------------------------------


@internal
def _start_event(slot: uint256, state: int256):
    e_id: uint256 = self.event_count + 1
    self.event_count = e_id
    self.active_event = e_id
    d: uint256 = self.duration
    self._events[e_id] = DrEvent(
        phase=PHASE_ACTIVE,
        start=slot + 1,
        duration=d,
        trigger_slot=slot,
        trigger_state=state,
        reward_rate=self.reward_rate,
        penalty_rate=self.penalty_rate,
        tolerance=self.tolerance,
        participants=0,
        missing=0,
        digest=empty(bytes32),
        total_stake=0,
        stake_for=0,
        stake_against=0,
        total_reward=0,
        total_penalty=0,
    )
    log EventStarted(
        event_id=e_id,
        start=slot + 1,
        duration=d,
        grid_state=state,
        reward_rate=self.reward_rate,
        penalty_rate=self.penalty_rate,
    )


@view
@internal
def _outcome(event_id: uint256, who: address, e: DrEvent) -> Outcome:
    # Only the event's slots of the three profiles are read (not the whole struct).
    o: Outcome = empty(Outcome)
    for k: uint256 in range(e.duration, bound=MAX_EVENT_SLOTS):
        b: int256 = self._parts[event_id][who].baseline[k]
        a: int256 = self._parts[event_id][who].actual[k]
        o.actual[k] = a
        r: int256 = b - self._parts[event_id][who].commanded[k]
        d: int256 = b - a
        f: int256 = 0
        if r > 0:
            f = min(max(d, 0), r)
        elif r < 0:
            f = min(max(-d, 0), -r)
        o.delivered += d
        ar: uint256 = convert(abs(r), uint256)
        fu: uint256 = convert(f, uint256)
        o.flexibility += fu
        if ar > fu + e.tolerance:
            o.shortfall += ar - fu - e.tolerance
    o.reward = o.flexibility * e.reward_rate // WH_PER_KWH
    o.penalty = o.shortfall * e.penalty_rate // WH_PER_KWH
    return o


@view
@internal
def _stake(v: address) -> uint256:
    inc: uint256 = self.incentives_of[v]
    age: uint256 = self.epoch - self.mean_epoch_of[v]
    return self.genesis_of[v] + inc + inc * min(age, AGE_CAP) // AGE_CAP


@view
@internal
def _total_stake() -> uint256:
    total: uint256 = 0
    for v: address in self.validators:
        total += self._stake(v)
    return total


@internal
def _confirm(event_id: uint256):
    ep: uint256 = self.epoch
    paid_rewards: uint256 = 0
    paid_penalties: uint256 = 0
    e: DrEvent = self._events[event_id]
    for who: address in self._participants[event_id]:
        o: Outcome = self._outcome(event_id, who, e)
        reward: uint256 = o.reward
        penalty: uint256 = o.penalty
        available: uint256 = self.balance_of[who] - self.locked[who] + reward
        paid: uint256 = min(penalty, available)
        self.balance_of[who] = self.balance_of[who] + reward - paid
        if paid != 0:
            self._parts[event_id][who].penalty_paid = paid
        paid_rewards += reward
        paid_penalties += paid
        if reward != 0:
            inc: uint256 = self.incentives_of[who]
            self.mean_epoch_of[who] = (inc * self.mean_epoch_of[who] + reward * ep) // (inc + reward)
            self.incentives_of[who] = inc + reward
    self.locked[operator] -= paid_rewards
    self.balance_of[operator] = self.balance_of[operator] - paid_rewards + paid_penalties
    self._events[event_id].total_penalty = paid_penalties
    self._events[event_id].phase = PHASE_CONFIRMED
    self.epoch = ep + 1
    self.active_event = 0
