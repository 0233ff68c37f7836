# pragma version ~=0.4.3
"""
@title AdmmAggregator
@notice The aggregator of a consensus ADMM run on chain (000_bder.md §1.5,
        §2.5-2.8): configured with theta = [n, rho, phi, eps..., mu] by its
        operator, it admits the n agents (households, the feeder's operator,
        or the buses of the feeder) with the global rows of their coupling
        copies and their trading partners; each iteration it collects every
        agent's copies and bids, averages the copies of each global row
        (the z-update), forwards the bids, updates the trade prices, sums
        the four residuals, and declares convergence, the end of mu
        iterations, or a timeout when an agent does not submit before the
        deadline. The agents' local problems, their private variables and
        their scaled duals stay off chain.
@dev Fixed point (all exact integer arithmetic; the client mirrors it).

     Copies: integers in 1e-6 of the copy's unit (kW, kvar or per unit),
     |x| < 2**47. Four per word, 56-bit two's complement lanes at bits
     0, 56, 112, 168 (period t in word t // 4, lane t % 4); lanes beyond
     the horizon are zero. Bids: 1e-6 kW, int32, seven 32-bit lanes per
     word (period t in word t // 7). Prices xi: 1e-9 currency per kW and
     period, seven 36-bit lanes per word, |xi| < 2**35. Penalties: rho and
     phi in 1e-9 (currency per unit**2), times 2**e with the balancing
     exponent e in [-16, 16]. Tolerances in 1e-6 units (RMS). Row weights
     in 1e-6 (0: weight 1).

     Running sums. A submission adds each copy into its row's sum word (no
     copy is stored) and w * x**2 into one accumulator. Sums live in two
     banks, the iteration's parity; each sum word carries its iteration in
     bits 224..255, and a word from an older iteration counts as zero.
     z_g = S_g / k_g rounded to the nearest integer, ties away from zero,
     is computed from the sums when read, so the bank of the last closed
     iteration is z~, and the previous bank gives z~ before it:
       r_grid**2 = sum_c w (x_c - z)**2 = sum w x**2 - sum_g w (2 z S - k z**2)
       s_grid**2 = rho**2 * sum_g k w (z - z_prev)**2.
     The start z~0 is bank 0 of iteration 0 (S = z0 * k).

     Bids live in two banks too (tagged as the sums): the later of a pair's
     two submissions adds 2 * (d_ij + d_ji)**2 to r_trade**2 and moves the
     pair's price, xi -= phi * 2**e * m / 2, truncated toward zero (EVM
     SDIV); each submission adds (d - d_prev)**2 to s_trade**2.

     Convergence (RMS tests, as off chain): r**2 <= eps**2 * n for each
     residual present, n the number of copy (bid) values; the dual grid
     residual carries rho**2. Residual balancing (if adaptive): r > m s
     doubles the penalty, s > m r halves it (m = balance_ratio_milli /
     1000; phi against phi * s_trade).

     Timeout. Every iteration has a deadline (block time, `round_seconds`
     after it opened). A submission after it is refused; once it has passed
     with a submission missing anyone may declare the timeout, which ends
     the run. No z is ever computed from partial submissions: `update`
     needs all n.
"""

MAX_AGENTS: public(constant(uint256)) = 256
MAX_ROWS: public(constant(uint256)) = 4096
MAX_PERIODS: public(constant(uint256)) = 96
MAX_AGENT_ROWS: public(constant(uint256)) = 1024
MAX_PARTNERS: public(constant(uint256)) = 255
MAX_CHILDREN: public(constant(uint256)) = 64
MAX_COPIES_PER_ROW: public(constant(uint256)) = 255
MAX_WORDS: public(constant(uint256)) = 1024
MAX_EXPONENT: public(constant(int256)) = 16

WEIGHT_ONE: public(constant(uint256)) = 10**6
MICRO: constant(uint256) = 10**6
NANO: constant(uint256) = 10**9

STATUS_CONFIGURING: public(constant(uint8)) = 0
STATUS_RUNNING: public(constant(uint8)) = 1
STATUS_CONVERGED: public(constant(uint8)) = 2
STATUS_MAX_ITERATIONS: public(constant(uint8)) = 3
STATUS_TIMED_OUT: public(constant(uint8)) = 4

COPY_LANES: constant(uint256) = 4
COPY_BITS: constant(uint256) = 56
COPY_MASK: constant(uint256) = 2**56 - 1
COPY_LIMIT: constant(int256) = 2**47
BID_LANES: constant(uint256) = 7
BID_BITS: constant(uint256) = 32
BID_MASK: constant(uint256) = 2**32 - 1
PRICE_BITS: constant(uint256) = 36
PRICE_MASK: constant(uint256) = 2**36 - 1
PRICE_LIMIT: constant(int256) = 2**35
# Sign bits of the lanes (sign extension is (v ^ half) - half).
COPY_HALF: constant(uint256) = 2**55
COPY_HALF_I: constant(int256) = 2**55
BID_HALF: constant(uint256) = 2**31
BID_HALF_I: constant(int256) = 2**31
PRICE_HALF: constant(uint256) = 2**35
PRICE_HALF_I: constant(int256) = 2**35
TAG_SHIFT: constant(uint256) = 224
LANES_MASK: constant(uint256) = 2**224 - 1
M16: constant(uint256) = 2**16 - 1
M32: constant(uint256) = 2**32 - 1

# Agent word: rows 0..15 | first edge 16..31 | edges 32..47 | iteration of
# the progress 48..79 | rows done 80..95 | edges done 96..111 | done 112.
ITER_SHIFT: constant(uint256) = 48
ROWS_DONE_SHIFT: constant(uint256) = 80
EDGES_DONE_SHIFT: constant(uint256) = 96
DONE_BIT: constant(uint256) = 2**112

operator: public(immutable(address))
n_agents: public(immutable(uint256))
n_rows: public(immutable(uint256))
periods: public(immutable(uint256))
rho_nano: public(immutable(uint256))
phi_nano: public(immutable(uint256))
eps_grid_primal: public(immutable(uint256))
eps_grid_dual: public(immutable(uint256))
eps_trade_primal: public(immutable(uint256))
eps_trade_dual: public(immutable(uint256))
max_iterations: public(immutable(uint256))
round_seconds: public(immutable(uint256))
adaptive: public(immutable(bool))
balance_ratio_milli: public(immutable(uint256))
copy_words: immutable(uint256)
bid_words: immutable(uint256)

# @notice Agents admitted so far; agent index + 1 of each account.
agent_count: public(uint256)
index_of: public(HashMap[address, uint256])
address_of: public(HashMap[uint256, address])
_agent: HashMap[uint256, uint256]
_agent_rows: HashMap[uint256, HashMap[uint256, uint256]]

# @notice Copies of each global row (low 16 bits) and its weight (bits 16+).
_row: HashMap[uint256, uint256]
rows_covered: public(uint256)
total_copies: public(uint256)

# @notice Directed trading edges: owner | partner << 16 | (reverse + 1) << 32.
n_edges: public(uint256)
linked_edges: public(uint256)
_edge: HashMap[uint256, uint256]
_edge_of: HashMap[uint256, uint256]

_sums: HashMap[uint256, uint256]
_bids: HashMap[uint256, uint256]
_prices: HashMap[uint256, uint256]

# @notice The run: status, iteration, submissions, z-update cursor, deadline.
status: public(uint8)
iteration: public(uint256)
submitted: public(uint256)
cursor: public(uint256)
deadline: public(uint256)
rho_exponent: public(int256)
phi_exponent: public(int256)

_acc_sq: uint256
_acc_cross: int256
_acc_dz: uint256
_acc_rt: uint256
_acc_st: uint256

# @notice The residual sums of the last closed iteration (module docstring).
last_r_grid_sq: public(uint256)
last_dz_sum: public(uint256)
last_r_trade_sq: public(uint256)
last_s_trade_sq: public(uint256)


event Admitted:
    account: indexed(address)
    index: uint256
    node: uint256
    parent: uint256
    children: DynArray[uint256, MAX_CHILDREN]


event Opened:
    iteration: uint256
    deadline: uint256


event Closed:
    iteration: uint256
    r_grid_sq: uint256
    dz_sum: uint256
    r_trade_sq: uint256
    s_trade_sq: uint256
    rho_exponent: int256
    phi_exponent: int256
    status: uint8


event TimedOut:
    iteration: uint256
    submitted: uint256


@deploy
def __init__(
    n_agents_: uint256,
    n_rows_: uint256,
    periods_: uint256,
    rho_nano_: uint256,
    phi_nano_: uint256,
    eps_grid_primal_: uint256,
    eps_grid_dual_: uint256,
    eps_trade_primal_: uint256,
    eps_trade_dual_: uint256,
    max_iterations_: uint256,
    round_seconds_: uint256,
    adaptive_: bool,
    balance_ratio_milli_: uint256,
):
    assert n_agents_ >= 1 and n_agents_ <= MAX_AGENTS, "n not in 1..256"
    assert n_rows_ <= MAX_ROWS, "rows above 4096"
    assert periods_ >= 1 and periods_ <= MAX_PERIODS, "periods not in 1..96"
    assert rho_nano_ != 0 and rho_nano_ <= M32 * M32, "rho not positive"
    assert phi_nano_ != 0 and phi_nano_ <= M32 * M32, "phi not positive"
    assert eps_grid_primal_ != 0 and eps_grid_dual_ != 0, "grid tolerance not positive"
    assert eps_trade_primal_ != 0 and eps_trade_dual_ != 0, "trade tolerance not positive"
    assert eps_grid_primal_ <= M32 and eps_grid_dual_ <= M32, "grid tolerance out of range"
    assert eps_trade_primal_ <= M32 and eps_trade_dual_ <= M32, "trade tolerance out of range"
    assert max_iterations_ >= 1 and max_iterations_ <= M32, "mu not in 1..2**32-1"
    assert round_seconds_ != 0, "deadline is zero seconds"
    assert balance_ratio_milli_ > 1000 and balance_ratio_milli_ <= 10**6, "balance ratio not in (1, 1000]"
    operator = msg.sender
    n_agents = n_agents_
    n_rows = n_rows_
    periods = periods_
    rho_nano = rho_nano_
    phi_nano = phi_nano_
    eps_grid_primal = eps_grid_primal_
    eps_grid_dual = eps_grid_dual_
    eps_trade_primal = eps_trade_primal_
    eps_trade_dual = eps_trade_dual_
    max_iterations = max_iterations_
    round_seconds = round_seconds_
    adaptive = adaptive_
    balance_ratio_milli = balance_ratio_milli_
    copy_words = (periods_ + COPY_LANES - 1) // COPY_LANES
    bid_words = (periods_ + BID_LANES - 1) // BID_LANES


# --- fixed point ----------------------------------------------------------


@internal
@pure
def _lane(word: uint256, at: uint256, mask: uint256, bits: uint256) -> int256:
    # Sign extension without a branch: (v ^ half) - half, half = 2**(bits-1).
    half: uint256 = unsafe_add(mask >> 1, 1)
    return unsafe_sub(convert(((word >> at) & mask) ^ half, int256), convert(half, int256))


@internal
@pure
def _unlane(v: int256, at: uint256, mask: uint256) -> uint256:
    # Two's complement of v in a lane (v within the lane's range).
    half: uint256 = unsafe_add(mask >> 1, 1)
    return (convert(unsafe_add(v, convert(half, int256)), uint256) ^ half) << at


@internal
@pure
def _z(s: int256, k: uint256) -> int256:
    # s / k to the nearest integer, ties away from zero.
    kk: int256 = convert(k, int256)
    if s >= 0:
        return (2 * s + kk) // (2 * kk)
    return -((-2 * s + kk) // (2 * kk))


@internal
@pure
def _pow4(e: int256) -> uint256:
    return 4 ** convert(abs(e), uint256)


@internal
@view
def _closed() -> uint256:
    # The last iteration whose z and bids are published.
    k: uint256 = self.iteration
    if self.status == STATUS_CONVERGED or self.status == STATUS_MAX_ITERATIONS:
        return k
    if k == 0:
        return 0
    return k - 1


@internal
@view
def _weight(info: uint256) -> uint256:
    w: uint256 = info >> 16
    if w == 0:
        return WEIGHT_ONE
    return w


# --- configuration (the operator) -----------------------------------------


@internal
@view
def _configuring():
    assert msg.sender == operator, "caller is not the operator"
    assert self.status == STATUS_CONFIGURING, "the run has started"


@external
def admit(
    account: address,
    node: uint256,
    parent: uint256,
    children: DynArray[uint256, MAX_CHILDREN],
    rows: DynArray[uint256, MAX_AGENT_ROWS],
    partners: DynArray[uint256, MAX_PARTNERS],
):
    """
    @notice Admit the next agent (index = admission order) with its node,
            parent and children on the feeder (for the record), the global
            rows of its copies, and its trading partners (agent indices).
    """
    self._configuring()
    i: uint256 = self.agent_count
    assert i < n_agents, "all n agents are admitted"
    assert account != empty(address), "account is the zero address"
    assert self.index_of[account] == 0, "agent already admitted"
    assert len(rows) != 0 or len(partners) != 0, "agent has neither copies nor partners"
    for r: uint256 in range(len(rows), bound=MAX_AGENT_ROWS):
        row: uint256 = rows[r]
        assert row < n_rows, "row out of range"
        info: uint256 = self._row[row]
        count: uint256 = info & M16
        assert count < MAX_COPIES_PER_ROW, "a row has too many copies"
        if count == 0:
            self.rows_covered += 1
        self._row[row] = info + 1
        slot: uint256 = r // 16
        self._agent_rows[i][slot] = self._agent_rows[i][slot] | (row << (16 * (r % 16)))
    first: uint256 = self.n_edges
    for p: uint256 in range(len(partners), bound=MAX_PARTNERS):
        j: uint256 = partners[p]
        assert j < n_agents, "partner out of range"
        assert j != i, "partner is the agent itself"
        assert self._edge_of[i * MAX_AGENTS + j] == 0, "partner listed twice"
        e: uint256 = first + p
        self._edge_of[i * MAX_AGENTS + j] = e + 1
        back: uint256 = self._edge_of[j * MAX_AGENTS + i]
        if back != 0:
            self._edge[e] = i | (j << 16) | (back << 32)
            self._edge[back - 1] = self._edge[back - 1] | ((e + 1) << 32)
            self.linked_edges += 2
        else:
            self._edge[e] = i | (j << 16)
    self.n_edges = first + len(partners)
    self.total_copies += len(rows)
    self._agent[i] = len(rows) | (first << 16) | (len(partners) << 32)
    self.index_of[account] = i + 1
    self.address_of[i] = account
    self.agent_count = i + 1
    log Admitted(account=account, index=i, node=node, parent=parent, children=children)


@external
def set_weights(first_row: uint256, weights: DynArray[uint256, MAX_WORDS]):
    """
    @notice Weights of rows first_row.. in 1e-6 (default 1): the penalty of
            a copy is (rho w / 2) (x - z)**2, as off chain.
    """
    self._configuring()
    assert first_row + len(weights) <= n_rows, "row out of range"
    for r: uint256 in range(len(weights), bound=MAX_WORDS):
        w: uint256 = weights[r]
        assert w != 0 and w <= M32 * M32, "weight not in 1..2**64-1"
        row: uint256 = first_row + r
        self._row[row] = (self._row[row] & M16) | (w << 16)


@external
def set_start(first_row: uint256, words: DynArray[uint256, MAX_WORDS]):
    """
    @notice The start z~0 of rows first_row.. (copy words, whole rows),
            after every agent is admitted.
    """
    self._configuring()
    assert self.agent_count == n_agents, "not every agent is admitted"
    assert len(words) % copy_words == 0, "start not whole rows"
    count: uint256 = len(words) // copy_words
    assert first_row + count <= n_rows, "row out of range"
    for i: uint256 in range(len(words), bound=MAX_WORDS):
        row: uint256 = first_row + i // copy_words
        k: int256 = convert(self._row[row] & M16, int256)
        word: uint256 = words[i]
        assert word >> TAG_SHIFT == 0, "start word has a tag"
        out: uint256 = 0
        for lane: uint256 in range(COPY_LANES):
            x: int256 = unsafe_sub(convert(((word >> lane * COPY_BITS) & COPY_MASK) ^ COPY_HALF, int256), COPY_HALF_I)
            assert abs(x) < COPY_LIMIT, "start value out of range"
            out = out | self._unlane(x * k, lane * COPY_BITS, COPY_MASK)
        self._sums[((row * copy_words + i % copy_words) << 1)] = out


@external
def set_prices(first_edge: uint256, words: DynArray[uint256, MAX_WORDS]):
    """
    @notice The start prices xi0 of edges first_edge.. (price words, whole
            edges); a pair holds one price, the last one set for either side.
    """
    self._configuring()
    assert self.agent_count == n_agents, "not every agent is admitted"
    assert len(words) % bid_words == 0, "prices not whole edges"
    assert first_edge + len(words) // bid_words <= self.n_edges, "edge out of range"
    for i: uint256 in range(len(words), bound=MAX_WORDS):
        e: uint256 = first_edge + i // bid_words
        rev: uint256 = self._edge[e] >> 32
        assert rev != 0, "a trade partner is not reciprocal"
        pair: uint256 = min(e, rev - 1)
        word: uint256 = words[i]
        assert word >> (BID_LANES * PRICE_BITS) == 0, "price word out of range"
        self._prices[pair * bid_words + i % bid_words] = word


@external
def set_bids(first_edge: uint256, words: DynArray[uint256, MAX_WORDS]):
    """
    @notice The start bids d0 of edges first_edge.. (bid words, whole
            edges): what the dual residual of iteration 1 is measured from,
            as the agents' first local steps read them. Without them d0 = 0.
    """
    self._configuring()
    assert self.agent_count == n_agents, "not every agent is admitted"
    assert len(words) % bid_words == 0, "bids not whole edges"
    assert first_edge + len(words) // bid_words <= self.n_edges, "edge out of range"
    for i: uint256 in range(len(words), bound=MAX_WORDS):
        word: uint256 = words[i]
        assert word >> TAG_SHIFT == 0, "bid word has a tag"
        wi: uint256 = i % bid_words
        for lane: uint256 in range(BID_LANES):
            if wi * BID_LANES + lane >= periods:
                assert word >> (lane * BID_BITS) == 0, "value beyond the horizon"
                break
        # Bank 0, tag 0: iteration 1 reads it as the bids before its own.
        self._bids[((first_edge + i // bid_words) * bid_words + wi) << 1] = word


@external
def open():
    """
    @notice Start iteration 1: every agent admitted, every row copied,
            every trade reciprocal.
    """
    self._configuring()
    assert self.agent_count == n_agents, "not every agent is admitted"
    assert self.rows_covered == n_rows, "a global row has no copy"
    assert self.linked_edges == self.n_edges, "a trade partner is not reciprocal"
    self.status = STATUS_RUNNING
    self._start_iteration(1)


@internal
def _start_iteration(k: uint256):
    self.iteration = k
    self.submitted = 0
    self.cursor = 0
    self.deadline = block.timestamp + round_seconds
    self._acc_sq = 0
    self._acc_cross = 0
    self._acc_dz = 0
    self._acc_rt = 0
    self._acc_st = 0
    log Opened(iteration=k, deadline=block.timestamp + round_seconds)


# --- an iteration (the agents) --------------------------------------------


@external
def submit(
    row_offset: uint256,
    copies: DynArray[uint256, MAX_WORDS],
    edge_offset: uint256,
    bids: DynArray[uint256, MAX_WORDS],
):
    """
    @notice The caller's copies of rows row_offset.. of its row list (copy
            words, whole rows) and bids on edges edge_offset.. of its
            partner list (bid words, whole edges); in parts, in order. It
            has submitted when every row and edge is in.
    """
    idx: uint256 = self.index_of[msg.sender]
    assert idx != 0, "caller is not an agent"
    i: uint256 = idx - 1
    assert self.status == STATUS_RUNNING, "the run is not running"
    assert block.timestamp <= self.deadline, "the deadline has passed"
    k: uint256 = self.iteration
    rec: uint256 = self._agent[i]
    rows_done: uint256 = 0
    edges_done: uint256 = 0
    if (rec >> ITER_SHIFT) & M32 == k:
        assert rec & DONE_BIT == 0, "already submitted in this iteration"
        rows_done = (rec >> ROWS_DONE_SHIFT) & M16
        edges_done = (rec >> EDGES_DONE_SHIFT) & M16
    assert row_offset == rows_done, "copies out of order"
    assert edge_offset == edges_done, "bids out of order"
    assert len(copies) % copy_words == 0, "copies not whole rows"
    assert len(bids) % bid_words == 0, "bids not whole edges"
    n_own_rows: uint256 = rec & M16
    n_own_edges: uint256 = (rec >> 32) & M16
    rows_done += len(copies) // copy_words
    edges_done += len(bids) // bid_words
    assert rows_done <= n_own_rows, "too many copies"
    assert edges_done <= n_own_edges, "too many bids"
    bank: uint256 = k % 2
    if len(copies) != 0:
        self._add_copies(i, row_offset, copies, k, bank)
    if len(bids) != 0:
        self._add_bids((rec >> 16) & M16, edge_offset, bids, k, bank)
    rec = rec & (2**48 - 1)
    rec = rec | (k << ITER_SHIFT) | (rows_done << ROWS_DONE_SHIFT) | (edges_done << EDGES_DONE_SHIFT)
    if rows_done == n_own_rows and edges_done == n_own_edges:
        rec = rec | DONE_BIT
        self.submitted += 1
    self._agent[i] = rec


@internal
def _add_copies(i: uint256, row_offset: uint256, copies: DynArray[uint256, MAX_WORDS], k: uint256, bank: uint256):
    sq: uint256 = 0
    row: uint256 = 0
    w_row: uint256 = 0
    for n: uint256 in range(len(copies), bound=MAX_WORDS):
        wi: uint256 = n % copy_words
        if wi == 0:
            r: uint256 = row_offset + n // copy_words
            row = (self._agent_rows[i][r // 16] >> (16 * (r % 16))) & M16
            w_row = self._weight(self._row[row])
        word: uint256 = copies[n]
        assert word >> TAG_SHIFT == 0, "copy word has a tag"
        key: uint256 = ((row * copy_words + wi) << 1) | bank
        old: uint256 = self._sums[key]
        if old >> TAG_SHIFT != k:
            old = 0
        out: uint256 = k << TAG_SHIFT
        for lane: uint256 in range(COPY_LANES):
            at: uint256 = lane * COPY_BITS
            x: int256 = unsafe_sub(convert(((word >> at) & COPY_MASK) ^ COPY_HALF, int256), COPY_HALF_I)
            if x == 0:
                out = out | (old & (COPY_MASK << at))
                continue
            assert wi * COPY_LANES + lane < periods, "value beyond the horizon"
            assert abs(x) < COPY_LIMIT, "copy value out of range"
            sq = unsafe_add(sq, unsafe_mul(w_row, convert(unsafe_mul(x, x), uint256)))
            total: int256 = unsafe_add(unsafe_sub(convert(((old >> at) & COPY_MASK) ^ COPY_HALF, int256), COPY_HALF_I), x)
            out = out | ((convert(unsafe_add(total, COPY_HALF_I), uint256) ^ COPY_HALF) << at)
        self._sums[key] = out
    self._acc_sq += sq


@internal
def _add_bids(first: uint256, edge_offset: uint256, bids: DynArray[uint256, MAX_WORDS], k: uint256, bank: uint256):
    rt: uint256 = 0
    st: uint256 = 0
    e: uint256 = 0
    rev: uint256 = 0
    phi_e: int256 = self.phi_exponent
    num: int256 = convert(phi_nano, int256)
    den: int256 = 2 * convert(MICRO, int256)
    if phi_e >= 0:
        num = num * convert(2 ** convert(phi_e, uint256), int256)
    else:
        den = den * convert(2 ** convert(-phi_e, uint256), int256)
    for n: uint256 in range(len(bids), bound=MAX_WORDS):
        wi: uint256 = n % bid_words
        if wi == 0:
            e = first + edge_offset + n // bid_words
            rev = (self._edge[e] >> 32) - 1
        word: uint256 = bids[n]
        assert word >> TAG_SHIFT == 0, "bid word has a tag"
        for lane: uint256 in range(BID_LANES):
            if wi * BID_LANES + lane >= periods:
                assert word >> (lane * BID_BITS) == 0, "value beyond the horizon"
                break
        old: uint256 = self._bids[((e * bid_words + wi) << 1) | (1 - bank)]
        if (old >> TAG_SHIFT) + 1 != k:
            old = 0
        other: uint256 = self._bids[((rev * bid_words + wi) << 1) | bank]
        paired: bool = other >> TAG_SHIFT == k
        price_key: uint256 = min(e, rev) * bid_words + wi
        price: uint256 = 0
        if paired:
            price = self._prices[price_key]
        for lane: uint256 in range(BID_LANES):
            at: uint256 = lane * BID_BITS
            d: int256 = unsafe_sub(convert(((word >> at) & BID_MASK) ^ BID_HALF, int256), BID_HALF_I)
            step: int256 = d - unsafe_sub(convert(((old >> at) & BID_MASK) ^ BID_HALF, int256), BID_HALF_I)
            st = unsafe_add(st, convert(unsafe_mul(step, step), uint256))
            if paired:
                m: int256 = d + unsafe_sub(convert(((other >> at) & BID_MASK) ^ BID_HALF, int256), BID_HALF_I)
                rt = unsafe_add(rt, 2 * convert(unsafe_mul(m, m), uint256))
                pat: uint256 = lane * PRICE_BITS
                xi: int256 = unsafe_sub(convert(((price >> pat) & PRICE_MASK) ^ PRICE_HALF, int256), PRICE_HALF_I) - (num * m) // den
                assert abs(xi) < PRICE_LIMIT, "price out of range"
                price = (price & ~(PRICE_MASK << pat)) | ((convert(unsafe_add(xi, PRICE_HALF_I), uint256) ^ PRICE_HALF) << pat)
        self._bids[((e * bid_words + wi) << 1) | bank] = word | (k << TAG_SHIFT)
        if paired:
            self._prices[price_key] = price
    self._acc_st += st
    if rt != 0:
        self._acc_rt += rt


# --- the z-update and the close -------------------------------------------


@external
def update(max_rows: uint256):
    """
    @notice The z-update of the next max_rows global rows (an agent or the
            operator calls it, after every submission); the last part
            closes the iteration: residuals, convergence, penalties, and
            the next iteration opens.
    """
    assert msg.sender == operator or self.index_of[msg.sender] != 0, "caller is not an agent or the operator"
    assert self.status == STATUS_RUNNING, "the run is not running"
    assert self.submitted == n_agents, "submissions are missing"
    assert max_rows != 0, "max_rows is zero"
    k: uint256 = self.iteration
    bank: uint256 = k % 2
    start: uint256 = self.cursor
    end: uint256 = min(start + max_rows, n_rows)
    cross: int256 = 0
    dz: uint256 = 0
    for row: uint256 in range(start, end, bound=MAX_ROWS):
        info: uint256 = self._row[row]
        kg: uint256 = info & M16
        w: uint256 = self._weight(info)
        ki: int256 = convert(kg, int256)
        two_k: int256 = unsafe_add(ki, ki)
        wk: int256 = convert(w, int256)
        # Bounded by the lanes (|S| < 2**55, w < 2**64): plain EVM arithmetic cannot overflow.
        for wi: uint256 in range(copy_words, bound=MAX_PERIODS):
            key: uint256 = (row * copy_words + wi) << 1
            cur: uint256 = self._sums[key | bank]
            prev: uint256 = self._sums[key | (1 - bank)]
            for lane: uint256 in range(COPY_LANES):
                at: uint256 = lane * COPY_BITS
                s: int256 = unsafe_sub(convert(((cur >> at) & COPY_MASK) ^ COPY_HALF, int256), COPY_HALF_I)
                sp: int256 = unsafe_sub(convert(((prev >> at) & COPY_MASK) ^ COPY_HALF, int256), COPY_HALF_I)
                # z = S / k to the nearest, ties away from zero (as _z)
                z: int256 = 0
                zp: int256 = 0
                if s >= 0:
                    z = unsafe_div(unsafe_add(unsafe_add(s, s), ki), two_k)
                else:
                    z = unsafe_sub(0, unsafe_div(unsafe_add(unsafe_sub(0, unsafe_add(s, s)), ki), two_k))
                if sp >= 0:
                    zp = unsafe_div(unsafe_add(unsafe_add(sp, sp), ki), two_k)
                else:
                    zp = unsafe_sub(0, unsafe_div(unsafe_add(unsafe_sub(0, unsafe_add(sp, sp)), ki), two_k))
                dzl: int256 = unsafe_sub(z, zp)
                cross = unsafe_add(cross, unsafe_mul(wk, unsafe_sub(unsafe_mul(unsafe_add(z, z), s), unsafe_mul(ki, unsafe_mul(z, z)))))
                dz = unsafe_add(dz, unsafe_mul(unsafe_mul(kg, w), convert(unsafe_mul(dzl, dzl), uint256)))
    self._acc_cross += cross
    self._acc_dz += dz
    self.cursor = end
    if end == n_rows:
        self._close(k)


@internal
def _close(k: uint256):
    r2: uint256 = convert(convert(self._acc_sq, int256) - self._acc_cross, uint256)
    dz: uint256 = self._acc_dz
    rt: uint256 = self._acc_rt
    st: uint256 = self._acc_st
    self.last_r_grid_sq = r2
    self.last_dz_sum = dz
    self.last_r_trade_sq = rt
    self.last_s_trade_sq = st
    ok: bool = True
    rho_e: int256 = self.rho_exponent
    phi_e: int256 = self.phi_exponent
    # r > m s and s > m r with r, s on one scale: lhs = r**2 * 1e18, rhs = pen**2 4**e sum.
    g_l: uint256 = r2 * NANO * NANO
    g_r: uint256 = rho_nano * rho_nano * dz
    t_l: uint256 = rt * NANO * NANO
    t_r: uint256 = phi_nano * phi_nano * st
    if rho_e >= 0:
        g_r = g_r * self._pow4(rho_e)
    else:
        g_l = g_l * self._pow4(rho_e)
    if phi_e >= 0:
        t_r = t_r * self._pow4(phi_e)
    else:
        t_l = t_l * self._pow4(phi_e)
    n_grid: uint256 = self.total_copies * periods
    n_trade: uint256 = self.n_edges * periods
    if n_grid != 0:
        ok = ok and r2 <= eps_grid_primal * eps_grid_primal * n_grid * WEIGHT_ONE
        bound: uint256 = eps_grid_dual * eps_grid_dual * n_grid * WEIGHT_ONE * NANO * NANO
        if rho_e < 0:
            bound = bound * self._pow4(rho_e)
        ok = ok and g_r <= bound
    if n_trade != 0:
        ok = ok and rt <= eps_trade_primal * eps_trade_primal * n_trade
        ok = ok and st <= eps_trade_dual * eps_trade_dual * n_trade
    outcome: uint8 = STATUS_RUNNING
    if ok:
        outcome = STATUS_CONVERGED
    else:
        if adaptive:
            m2: uint256 = balance_ratio_milli * balance_ratio_milli
            if n_grid != 0:
                if g_l * MICRO > m2 * g_r:
                    rho_e = min(rho_e + 1, MAX_EXPONENT)
                elif g_r * MICRO > m2 * g_l:
                    rho_e = max(rho_e - 1, -MAX_EXPONENT)
            if n_trade != 0:
                if t_l * MICRO > m2 * t_r:
                    phi_e = min(phi_e + 1, MAX_EXPONENT)
                elif t_r * MICRO > m2 * t_l:
                    phi_e = max(phi_e - 1, -MAX_EXPONENT)
            self.rho_exponent = rho_e
            self.phi_exponent = phi_e
        if k >= max_iterations:
            outcome = STATUS_MAX_ITERATIONS
    log Closed(iteration=k, r_grid_sq=r2, dz_sum=dz, r_trade_sq=rt, s_trade_sq=st, rho_exponent=rho_e, phi_exponent=phi_e, status=outcome)
    if outcome == STATUS_RUNNING:
        self._start_iteration(k + 1)
    else:
        self.status = outcome


@external
def declare_timeout():
    """
    @notice End the run: the deadline has passed and a submission is
            missing (anyone may call it).
    """
    assert self.status == STATUS_RUNNING, "the run is not running"
    assert self.submitted < n_agents, "every agent has submitted"
    assert block.timestamp > self.deadline, "the deadline has not passed"
    self.status = STATUS_TIMED_OUT
    log TimedOut(iteration=self.iteration, submitted=self.submitted)


# --- reading ----------------------------------------------------------------


@external
@view
def closed_iteration() -> uint256:
    """
    @notice The last iteration whose z and bids are published (0: the start).
    """
    return self._closed()


@external
@view
def z_words(first_row: uint256, count: uint256) -> DynArray[uint256, MAX_WORDS]:
    """
    @notice z~ of the last closed iteration, rows first_row.., copy words.
    """
    assert first_row + count <= n_rows, "row out of range"
    assert count * copy_words <= MAX_WORDS, "too many rows"
    bank: uint256 = self._closed() % 2
    out: DynArray[uint256, MAX_WORDS] = []
    for r: uint256 in range(count, bound=MAX_WORDS):
        row: uint256 = first_row + r
        kg: uint256 = self._row[row] & M16
        for wi: uint256 in range(copy_words, bound=MAX_PERIODS):
            cur: uint256 = self._sums[((row * copy_words + wi) << 1) | bank]
            word: uint256 = 0
            for lane: uint256 in range(COPY_LANES):
                at: uint256 = lane * COPY_BITS
                word = word | self._unlane(self._z(unsafe_sub(convert(((cur >> at) & COPY_MASK) ^ COPY_HALF, int256), COPY_HALF_I), kg), at, COPY_MASK)
            out.append(word)
    return out


@external
@view
def bid_words_of(first_edge: uint256, count: uint256) -> DynArray[uint256, MAX_WORDS]:
    """
    @notice The bids of the last closed iteration on edges first_edge..
    """
    assert first_edge + count <= self.n_edges, "edge out of range"
    assert count * bid_words <= MAX_WORDS, "too many edges"
    closed: uint256 = self._closed()
    bank: uint256 = closed % 2
    out: DynArray[uint256, MAX_WORDS] = []
    for r: uint256 in range(count, bound=MAX_WORDS):
        for wi: uint256 in range(bid_words, bound=MAX_PERIODS):
            word: uint256 = self._bids[(((first_edge + r) * bid_words + wi) << 1) | bank]
            if word >> TAG_SHIFT != closed:
                word = 0
            out.append(word & LANES_MASK)
    return out


@external
@view
def price_words_of(first_edge: uint256, count: uint256) -> DynArray[uint256, MAX_WORDS]:
    """
    @notice The prices of the pairs of edges first_edge.. (read them after
            the iteration closed and before submitting the next one).
    """
    assert first_edge + count <= self.n_edges, "edge out of range"
    assert count * bid_words <= MAX_WORDS, "too many edges"
    out: DynArray[uint256, MAX_WORDS] = []
    for r: uint256 in range(count, bound=MAX_WORDS):
        e: uint256 = first_edge + r
        pair: uint256 = min(e, (self._edge[e] >> 32) - 1)
        for wi: uint256 in range(bid_words, bound=MAX_PERIODS):
            out.append(self._prices[pair * bid_words + wi])
    return out


@external
@view
def agent(index: uint256) -> (address, uint256, uint256, uint256, bool):
    """
    @notice An agent: account, rows, first edge, edges, and whether it has
            submitted in the iteration being collected.
    """
    rec: uint256 = self._agent[index]
    done: bool = (rec >> ITER_SHIFT) & M32 == self.iteration and rec & DONE_BIT != 0
    return self.address_of[index], rec & M16, (rec >> 16) & M16, (rec >> 32) & M16, done


@external
@view
def row_copies(row: uint256) -> uint256:
    return self._row[row] & M16
