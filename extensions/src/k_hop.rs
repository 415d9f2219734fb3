//! Time-bounded k-hop neighbourhoods by breadth-first search.
//!
//! Each node appears once, at its smallest hop. Each visited node's edges in the time window
//! are found by binary search over its time-sorted adjacency, so the cost is
//! O(V log d + E_w) for the V nodes visited and the E_w in-window edges they have, and the
//! search stops as soon as `limit` rows are produced. Memory follows the rows returned.

use crate::csr::{time_bounds, Csr, Direction, NO_TIME};
use rustc_hash::FxHashSet;

/// One node of a k-hop neighbourhood.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HopRow {
    /// The node index.
    pub node: u32,
    /// Its hop distance from the start (0 for the start itself).
    pub hop: u32,
    /// The caller's id of the edge it was first reached by; `None` for the start.
    pub via_edge: Option<u64>,
    /// The type of that edge; `None` for the start.
    pub via_edge_type: Option<u16>,
    /// The time of that edge; `None` for the start or when the edge has no time.
    pub via_time: Option<i64>,
    /// The node it was reached from; `None` for the start.
    pub parent: Option<u32>,
}

/// The nodes within `hops` hops of `start` following `direction`, using only edges with time in
/// `[since, until]` (inclusive; edges without time pass only when neither bound is given).
///
/// Rows come in BFS order: the start first (hop 0), then by hop; within a hop, in the order
/// their parents were reached, each parent's edges in `(time, edge id)` order. Each node is
/// reported once, reached by the first such edge. At most `limit` rows (the start included) are
/// returned; an out-of-range `start` gives none.
pub fn k_hop(
    csr: &Csr,
    start: u32,
    hops: u32,
    direction: Direction,
    since: Option<i64>,
    until: Option<i64>,
    limit: usize,
) -> Vec<HopRow> {
    if start >= csr.node_count() || limit == 0 {
        return Vec::new();
    }
    let bounds = time_bounds(since, until);
    let mut rows = vec![HopRow {
        node: start,
        hop: 0,
        via_edge: None,
        via_edge_type: None,
        via_time: None,
        parent: None,
    }];
    if limit == 1 {
        return rows;
    }
    // Keys are dense node indexes, not untrusted input: a fast non-DoS-resistant hash will do,
    // and a set (not a bitmap over every node) keeps memory to what the search visits.
    let mut seen = FxHashSet::default();
    seen.insert(start);
    let mut frontier = vec![start];
    for hop in 1..=hops {
        let mut next = Vec::new();
        for &u in &frontier {
            for (v, p) in csr.adjacent(u, direction, bounds) {
                if !seen.insert(v) {
                    continue;
                }
                let p = p as usize;
                let time = csr.time[p];
                rows.push(HopRow {
                    node: v,
                    hop,
                    via_edge: Some(csr.edge_id[p]),
                    via_edge_type: Some(csr.edge_type[p]),
                    via_time: (time != NO_TIME).then_some(time),
                    parent: Some(u),
                });
                if rows.len() >= limit {
                    return rows;
                }
                next.push(v);
            }
        }
        if next.is_empty() {
            break;
        }
        frontier = next;
    }
    rows
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
                edge_type: 3,
            })
            .collect();
        Csr::from_edges(n, rows).unwrap()
    }

    fn summary(rows: &[HopRow]) -> Vec<(u32, u32, Option<u32>)> {
        rows.iter().map(|r| (r.node, r.hop, r.parent)).collect()
    }

    /// 0 -> 1 (t=10), 0 -> 2 (t=50), 1 -> 3 (t=20), 2 -> 3 (t=60), 3 -> 4 (t=100),
    /// 5 -> 0 (no time), 1 -> 2 (t=5).
    fn sample() -> Csr {
        graph(
            6,
            &[
                (0, 1, 10, 1),
                (0, 2, 50, 2),
                (1, 3, 20, 3),
                (2, 3, 60, 4),
                (3, 4, 100, 5),
                (5, 0, NO_TIME, 6),
                (1, 2, 5, 7),
            ],
        )
    }

    #[test]
    fn each_node_once_at_its_smallest_hop() {
        let g = sample();
        let rows = k_hop(&g, 0, 3, Direction::Out, None, None, 100);
        assert_eq!(
            summary(&rows),
            vec![
                (0, 0, None),
                (1, 1, Some(0)),
                (2, 1, Some(0)),
                (3, 2, Some(1)),
                (4, 3, Some(3))
            ]
        );
        assert_eq!(rows[0].via_edge, None);
        assert_eq!(rows[3].via_edge, Some(3));
        assert_eq!(rows[3].via_edge_type, Some(3));
        assert_eq!(rows[3].via_time, Some(20));
        let two = k_hop(&g, 0, 2, Direction::Out, None, None, 100);
        assert_eq!(two.len(), 4);
    }

    #[test]
    fn time_window_filters_edges() {
        let g = sample();
        // Only edges in [40, 70]: 0->2 (50) and 2->3 (60).
        let rows = k_hop(&g, 0, 3, Direction::Out, Some(40), Some(70), 100);
        assert_eq!(
            summary(&rows),
            vec![(0, 0, None), (2, 1, Some(0)), (3, 2, Some(2))]
        );
        // Edges without time pass only without bounds.
        let back = k_hop(&g, 0, 1, Direction::In, None, None, 100);
        assert_eq!(summary(&back), vec![(0, 0, None), (5, 1, Some(0))]);
        assert_eq!(back[1].via_time, None);
        let back = k_hop(&g, 0, 1, Direction::In, None, Some(1000), 100);
        assert_eq!(back.len(), 1);
        // Open-ended bounds.
        let late = k_hop(&g, 0, 3, Direction::Out, Some(50), None, 100);
        assert_eq!(
            summary(&late),
            vec![
                (0, 0, None),
                (2, 1, Some(0)),
                (3, 2, Some(2)),
                (4, 3, Some(3))
            ]
        );
    }

    #[test]
    fn limit_and_direction() {
        let g = sample();
        let rows = k_hop(&g, 0, 3, Direction::Out, None, None, 2);
        assert_eq!(summary(&rows), vec![(0, 0, None), (1, 1, Some(0))]);
        assert!(k_hop(&g, 0, 3, Direction::Out, None, None, 0).is_empty());
        assert!(k_hop(&g, 9, 3, Direction::Out, None, None, 10).is_empty());
        let rows = k_hop(&g, 3, 1, Direction::Both, Some(0), Some(1000), 100);
        // Both directions merged in time order: 1->3 (20), 2->3 (60), 3->4 (100).
        assert_eq!(
            summary(&rows),
            vec![
                (3, 0, None),
                (1, 1, Some(3)),
                (2, 1, Some(3)),
                (4, 1, Some(3))
            ]
        );
        let zero = k_hop(&g, 3, 0, Direction::Both, None, None, 100);
        assert_eq!(summary(&zero), vec![(3, 0, None)]);
    }
}
