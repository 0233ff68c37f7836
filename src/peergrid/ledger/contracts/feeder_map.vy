# pragma version ~=0.4.3
"""
@title feeder_map
@notice The DSO's map of the feeder on chain: the network node of each
        member and the path length between nodes, in millimetres. The
        distance matrix is "computed only once and saved in the Blockchain"
        unless the topology changes (003_dpda.md §1.3); the DSO keeps it.
@dev A module on top of `accounts` (the DSO role). Node 0 is the unknown
     node. A distance is stored plus one under the key min << 32 | max of
     its two nodes, so an absent pair (0) is an unknown distance; a node is at
     distance 0 from itself. Millimetres keep the precision of the thesis's
     distances (e.g. 121.332 m, Appendix B), so a charge per metre computed
     on chain equals the one computed off chain.

     A host contract that prices with the map while something is in
     progress (the batch market, from a slot's opening to its clearing)
     holds it with `_hold`/`_release`: the DSO cannot change a distance or a
     node under orders already sealed.
"""

import accounts

uses: accounts


struct NodeAssignment:
    member: address
    node: uint256


struct Distance:
    node_a: uint256
    node_b: uint256
    millimetres: uint256


# @notice Most node assignments or distances one DSO transaction carries.
MAX_TABLE_ROWS: constant(uint256) = 256
MAX_NODE: constant(uint256) = 2**32 - 1
MAX_DISTANCE_MM: constant(uint256) = 2**64 - 2

# @notice What `distance` returns for a pair not in the table.
UNKNOWN_DISTANCE: constant(uint256) = max_value(uint256)

# @notice The network node of each member (0: unknown), set by the DSO.
node_of: public(HashMap[address, uint256])

# distance + 1 in millimetres between two nodes, keyed min << 32 | max (0: unknown)
_distances: HashMap[uint256, uint256]

# @notice How many of the host's slots or sessions price with the map now.
map_holds: public(uint256)


event NodeSet:
    member: indexed(address)
    node: uint256


event DistanceSet:
    node_a: indexed(uint256)
    node_b: indexed(uint256)
    millimetres: uint256


@external
def set_nodes(assignments: DynArray[NodeAssignment, MAX_TABLE_ROWS]):
    """
    @notice Place members on network nodes (DSO); node 0 means unknown.
    """
    assert accounts._has_role(msg.sender, accounts.ROLE_DSO), "caller is not the dso"
    assert self.map_holds == 0, "the feeder map is in use by an open slot"
    for a: NodeAssignment in assignments:
        assert a.node <= MAX_NODE, "node out of range"
        self.node_of[a.member] = a.node
        log NodeSet(member=a.member, node=a.node)


@external
def set_distances(rows: DynArray[Distance, MAX_TABLE_ROWS]):
    """
    @notice Set path lengths between nodes, millimetres (DSO); symmetric.
    """
    assert accounts._has_role(msg.sender, accounts.ROLE_DSO), "caller is not the dso"
    assert self.map_holds == 0, "the feeder map is in use by an open slot"
    for row: Distance in rows:
        assert row.node_a != 0 and row.node_b != 0, "node 0 is the unknown node"
        assert row.node_a <= MAX_NODE and row.node_b <= MAX_NODE, "node out of range"
        assert row.node_a != row.node_b, "a node is at distance 0 from itself"
        assert row.millimetres <= MAX_DISTANCE_MM, "distance out of range"
        self._distances[self._pair(row.node_a, row.node_b)] = row.millimetres + 1
        log DistanceSet(node_a=row.node_a, node_b=row.node_b, millimetres=row.millimetres)


@external
@view
def distance(node_a: uint256, node_b: uint256) -> uint256:
    """
    @notice Millimetres between two nodes (max uint256: unknown).
    """
    return self._distance(node_a, node_b)


@internal
def _hold():
    self.map_holds += 1


@internal
def _release():
    self.map_holds -= 1


@internal
@pure
def _pair(node_a: uint256, node_b: uint256) -> uint256:
    if node_a < node_b:
        return (node_a << 32) | node_b
    return (node_b << 32) | node_a


@internal
@view
def _distance(node_a: uint256, node_b: uint256) -> uint256:
    if node_a == 0 or node_b == 0:
        return UNKNOWN_DISTANCE
    if node_a == node_b:
        return 0
    stored: uint256 = self._distances[self._pair(node_a, node_b)]
    if stored == 0:
        return UNKNOWN_DISTANCE
    return stored - 1


@internal
@view
def _member_distance(a: address, b: address) -> uint256:
    """
    @notice Millimetres between two members' nodes (max uint256: unknown).
    """
    return self._distance(self.node_of[a], self.node_of[b])
