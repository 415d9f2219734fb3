//! Unweighted shortest paths by bidirectional breadth-first search.
//!
//! The search grows whole BFS layers from both ends, always expanding the side whose frontier
//! has fewer edges, until the two meet or `max_hops` rules out a path. On the skewed degree
//! distributions of payment graphs this visits roughly the square root of what a one-sided BFS
//! does. Time and memory are O(V + E) of the visited part, never O(n): visited sets are hash maps.
//!
//! The answer is deterministic: among all shortest paths, the one whose node sequence is
//! lexicographically smallest, and between parallel edges the earliest `(time, edge id)`. To get
//! it, the nodes lying on some shortest path are marked by walking back from the meeting layer
//! through both searches, and the path is then built greedily from `from`, taking the smallest
//! marked node of the next layer at each step.

use crate::csr::{Csr, Direction, NO_TIME};
use rustc_hash::{FxHashMap, FxHashSet};

/// One node of a path, with the edge that reached it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PathStep {
    /// The node index.
    pub node: u32,
    /// The caller's id of the edge from the previous step; `None` on the first step.
    pub edge: Option<u64>,
    /// The type of that edge; `None` on the first step.
    pub edge_type: Option<u16>,
    /// The time of that edge; `None` on the first step or when the edge has no time.
    pub time: Option<i64>,
}

/// Sum of the degrees of `nodes` in `direction`: the cost of expanding them.
fn frontier_cost(csr: &Csr, nodes: &[u32], direction: Direction) -> u64 {
    nodes.iter().map(|&v| csr.degree(v, direction)).sum()
}

/// Expands one BFS layer, recording new nodes at `depth`; returns them in discovery order.
fn expand(
    csr: &Csr,
    frontier: &[u32],
    direction: Direction,
    depth_of: &mut FxHashMap<u32, u32>,
    depth: u32,
) -> Vec<u32> {
    let mut next = Vec::new();
    for &u in frontier {
        for (v, _) in csr.adjacent(u, direction, None) {
            if let std::collections::hash_map::Entry::Vacant(slot) = depth_of.entry(v) {
                slot.insert(depth);
                next.push(v);
            }
        }
    }
    next
}

/// A shortest path from `from` to `to` of at most `max_hops` edges following `direction`
/// (`In` walks edges backwards, `Both` ignores their direction), or `None` if there is none or
/// either node is out of range. The path starts with `from` (no edge) and ends with `to`; a
/// path from a node to itself is that node alone.
pub fn shortest_path(
    csr: &Csr,
    from: u32,
    to: u32,
    max_hops: u32,
    direction: Direction,
) -> Option<Vec<PathStep>> {
    let n = csr.node_count();
    if from >= n || to >= n {
        return None;
    }
    let start = PathStep {
        node: from,
        edge: None,
        edge_type: None,
        time: None,
    };
    if from == to {
        return Some(vec![start]);
    }
    let forward = direction;
    let backward = direction.reverse();
    // Keys are dense node indexes, not untrusted input, so the fast non-DoS-resistant hash.
    let mut fdepth: FxHashMap<u32, u32> = FxHashMap::default();
    let mut bdepth: FxHashMap<u32, u32> = FxHashMap::default();
    fdepth.insert(from, 0);
    bdepth.insert(to, 0);
    let mut ffront = vec![from];
    let mut bfront = vec![to];
    let (mut a, mut b) = (0u32, 0u32);

    // Layers are expanded whole, so when they first share nodes every shared node has forward
    // depth `a` and backward depth `b`, and the distance is exactly `a + b`.
    let meet: Vec<u32> = loop {
        if a + b >= max_hops || ffront.is_empty() || bfront.is_empty() {
            return None;
        }
        if frontier_cost(csr, &ffront, forward) <= frontier_cost(csr, &bfront, backward) {
            a += 1;
            ffront = expand(csr, &ffront, forward, &mut fdepth, a);
            let m: Vec<u32> = ffront
                .iter()
                .copied()
                .filter(|v| bdepth.contains_key(v))
                .collect();
            if !m.is_empty() {
                break m;
            }
        } else {
            b += 1;
            bfront = expand(csr, &bfront, backward, &mut bdepth, b);
            let m: Vec<u32> = bfront
                .iter()
                .copied()
                .filter(|v| fdepth.contains_key(v))
                .collect();
            if !m.is_empty() {
                break m;
            }
        }
    };
    let d = a + b;

    // Mark the nodes on some shortest path: back from the meeting layer to `from` through the
    // forward layers, and on from it to `to` through the backward layers.
    let mut on_path: FxHashSet<u32> = meet.iter().copied().collect();
    let mut layer = meet.clone();
    for depth in (0..a).rev() {
        let mut prev = Vec::new();
        for &x in &layer {
            for (w, _) in csr.adjacent(x, backward, None) {
                if fdepth.get(&w) == Some(&depth) && on_path.insert(w) {
                    prev.push(w);
                }
            }
        }
        layer = prev;
    }
    let mut layer = meet;
    for depth in (0..b).rev() {
        let mut next = Vec::new();
        for &y in &layer {
            for (z, _) in csr.adjacent(y, forward, None) {
                if bdepth.get(&z) == Some(&depth) && on_path.insert(z) {
                    next.push(z);
                }
            }
        }
        layer = next;
    }

    // Greedy walk: the smallest marked node of the next layer; the first edge found to it is
    // the earliest, since adjacency is in (time, edge id) order.
    let mut path = Vec::with_capacity(d as usize + 1);
    path.push(start);
    let mut cur = from;
    for pos in 1..=d {
        let mut best: Option<(u32, u32)> = None;
        for (y, p) in csr.adjacent(cur, forward, None) {
            let in_layer = if pos <= a {
                fdepth.get(&y) == Some(&pos)
            } else {
                bdepth.get(&y) == Some(&(d - pos))
            };
            if in_layer && on_path.contains(&y) && best.is_none_or(|(node, _)| y < node) {
                best = Some((y, p));
            }
        }
        let (y, p) = best?;
        let p = p as usize;
        let time = csr.time[p];
        path.push(PathStep {
            node: y,
            edge: Some(csr.edge_id[p]),
            edge_type: Some(csr.edge_type[p]),
            time: (time != NO_TIME).then_some(time),
        });
        cur = y;
    }
    Some(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::csr::EdgeRow;

    fn graph(n: u32, edges: &[(u32, u32, i64, u64)]) -> Csr {
        let rows = edges
            .iter()
            .map(|&(src, dst, time, edge)| EdgeRow {
                src,
                dst,
                time,
                amount: f64::NAN,
                edge,
                edge_type: (edge % 7) as u16,
            })
            .collect();
        Csr::from_edges(n, rows).unwrap()
    }

    fn nodes(path: &[PathStep]) -> Vec<u32> {
        path.iter().map(|s| s.node).collect()
    }

    #[test]
    fn picks_the_shortest_of_several_routes() {
        // Long route 0-1-2-3-4-5 and a shortcut 0-6-5.
        let g = graph(
            7,
            &[
                (0, 1, 1, 10),
                (1, 2, 2, 11),
                (2, 3, 3, 12),
                (3, 4, 4, 13),
                (4, 5, 5, 14),
                (0, 6, 6, 15),
                (6, 5, 7, 16),
            ],
        );
        let p = shortest_path(&g, 0, 5, 10, Direction::Out).unwrap();
        assert_eq!(nodes(&p), vec![0, 6, 5]);
        assert_eq!(p[0].edge, None);
        assert_eq!(p[1].edge, Some(15));
        assert_eq!(p[1].edge_type, Some(1));
        assert_eq!(p[1].time, Some(6));
        assert_eq!(p[2].edge, Some(16));
        // Too few hops allowed.
        assert_eq!(shortest_path(&g, 0, 5, 1, Direction::Out), None);
        assert!(shortest_path(&g, 0, 5, 2, Direction::Out).is_some());
        // Against the edge direction only `In` or `Both` find it.
        assert_eq!(shortest_path(&g, 5, 0, 10, Direction::Out), None);
        assert_eq!(
            nodes(&shortest_path(&g, 5, 0, 10, Direction::In).unwrap()),
            vec![5, 6, 0]
        );
        assert_eq!(
            nodes(&shortest_path(&g, 5, 0, 10, Direction::Both).unwrap()),
            vec![5, 6, 0]
        );
    }

    #[test]
    fn ties_go_to_the_lowest_node_then_the_earliest_edge() {
        // Two shortest routes 0-3-1 and 0-2-1; 0-2-1 has the lower middle node. Parallel edges
        // 2->1 at times 9 and 4: the earlier one (edge 23) is used.
        let g = graph(
            4,
            &[
                (0, 3, 1, 20),
                (3, 1, 2, 21),
                (0, 2, 3, 22),
                (2, 1, 9, 24),
                (2, 1, 4, 23),
            ],
        );
        let p = shortest_path(&g, 0, 1, 5, Direction::Out).unwrap();
        assert_eq!(nodes(&p), vec![0, 2, 1]);
        assert_eq!(p[2].edge, Some(23));
    }

    #[test]
    fn trivial_and_out_of_range() {
        let g = graph(3, &[(0, 1, NO_TIME, 1)]);
        let p = shortest_path(&g, 2, 2, 0, Direction::Out).unwrap();
        assert_eq!(nodes(&p), vec![2]);
        assert_eq!(shortest_path(&g, 0, 1, 0, Direction::Out), None);
        let p = shortest_path(&g, 0, 1, 1, Direction::Out).unwrap();
        assert_eq!(p[1].time, None);
        assert_eq!(shortest_path(&g, 0, 2, 5, Direction::Both), None);
        assert_eq!(shortest_path(&g, 0, 9, 5, Direction::Out), None);
    }
}
