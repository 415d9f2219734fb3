//! Fan-in and fan-out: how many distinct counterparts a node deals with inside a time window.
//!
//! For each node, a sliding window runs over its time-sorted edges, keeping a count per
//! counterpart and the number of distinct counterparts in the window. Counts live in one dense
//! array indexed by node, shared by all nodes and cleared as the window moves, so there is no
//! hashing and the whole pass is O(n + m) time with O(n) memory.

use crate::csr::{Csr, Direction, NO_TIME};

/// A node's busiest window, from [`fan`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FanRow {
    /// The node index.
    pub node: u32,
    /// The most distinct counterparts within one window.
    pub count: u32,
    /// Time of the first edge in the (earliest) window reaching `count`.
    pub window_start: i64,
    /// Time of the last edge in that window.
    pub window_end: i64,
}

/// For each node, the maximum number of distinct counterparts among its in-edges (`In`, fan-in),
/// out-edges (`Out`, fan-out) or all edges (`Both`) whose times span at most `window`
/// microseconds (last − first ≤ `window`), reported when at least `min_count`.
///
/// Edges without time and self-loops are ignored; nodes with no remaining edge are never
/// reported. Rows are by node index. A negative `window` gives no rows.
pub fn fan(csr: &Csr, direction: Direction, window: i64, min_count: u32) -> Vec<FanRow> {
    let n = csr.node_count() as usize;
    if window < 0 {
        return Vec::new();
    }
    let mut counts = vec![0u32; n];
    let mut edges: Vec<(i64, u32)> = Vec::new();
    let mut rows = Vec::new();
    for v in 0..n as u32 {
        edges.clear();
        // Untimed edges sort first, so skipping them keeps the list in time order.
        match direction {
            Direction::Out => edges.extend(
                csr.out_range(v)
                    .map(|p| (csr.time[p], csr.out_dst[p]))
                    .filter(|&(t, c)| t != NO_TIME && c != v),
            ),
            Direction::In => edges.extend(
                csr.in_range(v)
                    .map(|q| (csr.in_time[q], csr.in_src[q]))
                    .filter(|&(t, c)| t != NO_TIME && c != v),
            ),
            Direction::Both => edges.extend(
                csr.adjacent(v, Direction::Both, None)
                    .map(|(c, p)| (csr.time[p as usize], c))
                    .filter(|&(t, c)| t != NO_TIME && c != v),
            ),
        }
        let mut left = 0;
        let mut distinct = 0u32;
        let mut best: Option<FanRow> = None;
        for right in 0..edges.len() {
            let (t, c) = edges[right];
            if counts[c as usize] == 0 {
                distinct += 1;
            }
            counts[c as usize] += 1;
            // Widened so that spans beyond i64 (times near both ends) compare correctly.
            while (t as i128) - (edges[left].0 as i128) > window as i128 {
                let c0 = edges[left].1 as usize;
                counts[c0] -= 1;
                if counts[c0] == 0 {
                    distinct -= 1;
                }
                left += 1;
            }
            if best.is_none_or(|b| distinct > b.count) {
                best = Some(FanRow {
                    node: v,
                    count: distinct,
                    window_start: edges[left].0,
                    window_end: t,
                });
            }
        }
        for &(_, c) in &edges[left..] {
            counts[c as usize] = 0;
        }
        if let Some(row) = best {
            if row.count >= min_count {
                rows.push(row);
            }
        }
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::csr::EdgeRow;

    const MIN: i64 = 60_000_000;
    const DAY: i64 = 24 * 60 * MIN;

    fn graph(n: u32, edges: &[(u32, u32, i64)]) -> Csr {
        let rows = edges
            .iter()
            .enumerate()
            .map(|(i, &(src, dst, time))| EdgeRow {
                src,
                dst,
                time,
                amount: 10.0,
                edge: i as u64,
                edge_type: 0,
            })
            .collect();
        Csr::from_edges(n, rows).unwrap()
    }

    #[test]
    fn five_senders_in_ten_minutes_versus_spread_over_days() {
        let t0 = 1_700_000_000_000_000;
        let mut edges = Vec::new();
        // Node 0 receives from 1..=5 within 8 minutes, and from 1 again (a repeat).
        for s in 1..=5u32 {
            edges.push((s, 0, t0 + (s as i64) * 2 * MIN - 2 * MIN));
        }
        edges.push((1, 0, t0 + 3 * MIN));
        // Node 6 receives from the same five senders, one per day.
        for s in 1..=5u32 {
            edges.push((s, 6, t0 + s as i64 * DAY));
        }
        let g = graph(7, &edges);
        let rows = fan(&g, Direction::In, 10 * MIN, 5);
        assert_eq!(
            rows,
            vec![FanRow {
                node: 0,
                count: 5,
                window_start: t0,
                window_end: t0 + 8 * MIN
            }]
        );
        // With a two-day window node 6 reaches 3 (days 1 to 3, bounds inclusive); node 0 still 5.
        let rows = fan(&g, Direction::In, 2 * DAY, 2);
        assert_eq!(rows.len(), 2);
        assert_eq!((rows[1].node, rows[1].count), (6, 3));
        // A window under 6 minutes holds at most four distinct senders.
        let rows = fan(&g, Direction::In, 6 * MIN - 1, 1);
        assert_eq!((rows[0].node, rows[0].count), (0, 4));
        // Fan-out: each sender 1..=5 pays two distinct receivers, but never within 10 minutes.
        let rows = fan(&g, Direction::Out, 10 * MIN, 2);
        assert!(rows.is_empty());
        let rows = fan(&g, Direction::Out, 10 * DAY, 2);
        assert_eq!(
            rows.iter().map(|r| r.node).collect::<Vec<_>>(),
            vec![1, 2, 3, 4, 5]
        );
        assert!(rows.iter().all(|r| r.count == 2));
    }

    #[test]
    fn both_directions_untimed_and_self_loops() {
        let g = graph(
            4,
            &[
                (1, 0, 100),
                (0, 2, 105),
                (0, 0, 101),
                (3, 0, NO_TIME),
                (2, 0, 106),
            ],
        );
        let rows = fan(&g, Direction::Both, 10, 1);
        assert_eq!(
            rows[0],
            FanRow {
                node: 0,
                count: 2,
                window_start: 100,
                window_end: 105
            }
        );
        assert!(fan(&g, Direction::In, -1, 0).is_empty());
        // Node 3's only edge has no time: never reported, even with min_count 0.
        assert!(fan(&g, Direction::Out, 10, 0).iter().all(|r| r.node != 3));
    }
}
