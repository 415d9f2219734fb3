//! Temporal cycles: simple directed cycles whose edges are strictly increasing in time.
//!
//! A cycle `s -e1-> v1 -e2-> ... -ek-> s` (2 ≤ k ≤ `max_len`, nodes distinct) qualifies when
//! `t(e1) < t(e2) < ... < t(ek)`, `t(ek) - t(e1) ≤ within` and every amount is at least
//! `min_amount`. Only one rotation of a cycle can be increasing, so starting the search from
//! every edge and only closing back to that edge's source reports each cycle exactly once, at
//! its earliest edge.
//!
//! Start edges are taken per source node in time order. Per start edge `e1 = (s -> v1, t1)`,
//! with deadline `D = t1 + within`:
//!
//! 1. `s` must have an in-edge with time in `(t1, D]`; a pointer moving forward through `s`'s
//!    time-sorted in-edges answers this in O(1) amortized and discards most start edges at once.
//! 2. A backward pass from `s` over in-edges with time in the window computes, for each node `w`
//!    and hop budget `h ≤ max_len - 2`, the latest time `w` can leave and still reach `s` by a
//!    time-increasing path of at most `h` edges before the deadline (a hop-bounded
//!    latest-departure table, like Bellman–Ford in reverse time). Cost O(max_len · E_w), where
//!    E_w is the number of in-window edges within `max_len - 2` hops behind `s`. The table only
//!    prunes, so one computed for a later deadline is still sound: it is reused for the
//!    following start edges of `s` until their deadline passes `D + within / 2`, which bounds
//!    the rebuilds per node by its time span rather than its out-degree.
//! 3. A depth-first search forward from `v1` follows only edges later than the previous one and
//!    no later than `D` (binary search into the time-sorted out-lists), and enters a node only if
//!    the table says it can still get back to `s` later than the edge used, with the hops left.
//!    Dead ends are therefore cut one step early, so the search mostly walks paths that close.
//!
//! Every start edge passing step 1 and every edge looked at in steps 2 and 3 is charged to an
//! expansion budget; the search stops, marked truncated, when the budget or `max_results` runs
//! out. Memory is O(n) (8 bytes per node for the table's index) plus the table and the path.
//!
//! With windows of hours to days the window restricts each search to a small time slice, so the
//! work is near linear in the edges: on a random 1M-node, 5M-edge graph spanning a year, cycles
//! of up to 4 edges within 7 days take well under a second, about 1.4M expansions. Windows as
//! long as the data on such a graph need tens of millions of expansions; that is where the
//! budget takes over.

use crate::csr::{Csr, NO_TIME};

/// The longest cycle searched for; longer `max_len` values are clamped to it, since the number of
/// paths grows exponentially with length.
pub const MAX_CYCLE_LEN: usize = 16;

/// The expansion budget used by [`temporal_cycles`]. An expansion is mostly a random access
/// into the graph (100–400 ns once the graph is larger than the CPU caches), so this bounds a
/// search to seconds.
pub const DEFAULT_CYCLE_BUDGET: u64 = 20_000_000;

/// One temporal cycle.
#[derive(Clone, Debug, PartialEq)]
pub struct Cycle {
    /// The nodes, starting with the source of the earliest edge; the cycle returns to it.
    pub nodes: Vec<u32>,
    /// The caller's edge ids: `edges[i]` goes from `nodes[i]` to `nodes[(i + 1) % len]`.
    pub edges: Vec<u64>,
    /// The edges' times, strictly increasing.
    pub times: Vec<i64>,
    /// The edges' amounts (NaN where an edge has none).
    pub amounts: Vec<f64>,
    /// Time of the first edge.
    pub start: i64,
    /// Time of the last edge.
    pub end: i64,
}

/// The result of a cycle search.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CycleSearch {
    /// The cycles found, by start node, then by start edge `(time, edge id)`, then in search
    /// order (the sequence of edge times).
    pub cycles: Vec<Cycle>,
    /// True when the search stopped early, at `max_results` or the expansion budget, with at
    /// least one cycle possibly missing; false when `cycles` is complete.
    pub truncated: bool,
    /// Expansions used (start edges searched from plus edges examined).
    pub expansions: u64,
}

/// Temporal cycles of 2 to `max_len` edges (clamped to [`MAX_CYCLE_LEN`]) with strictly
/// increasing times spanning at most `within` microseconds (`None`: any span), ignoring edges
/// without time and edges whose amount is below `min_amount` (with a minimum, edges without
/// amount are ignored too). At most `max_results` cycles, with the [`DEFAULT_CYCLE_BUDGET`].
pub fn temporal_cycles(
    csr: &Csr,
    max_len: usize,
    within: Option<i64>,
    min_amount: Option<f64>,
    max_results: usize,
) -> CycleSearch {
    temporal_cycles_with_budget(
        csr,
        max_len,
        within,
        min_amount,
        max_results,
        DEFAULT_CYCLE_BUDGET,
    )
}

/// [`temporal_cycles`] with an explicit expansion budget.
pub fn temporal_cycles_with_budget(
    csr: &Csr,
    max_len: usize,
    within: Option<i64>,
    min_amount: Option<f64>,
    max_results: usize,
    budget: u64,
) -> CycleSearch {
    let max_len = max_len.min(MAX_CYCLE_LEN);
    let mut search = Search {
        csr,
        max_len,
        levels: max_len.saturating_sub(2),
        min_amount,
        max_results,
        budget,
        result: CycleSearch::default(),
        stopped: false,
        start: 0,
        deadline: 0,
        slot_of: vec![(0, 0); csr.node_count() as usize],
        epoch: 0,
        slots: 0,
        latest: Vec::new(),
        changed_at: Vec::new(),
        path_nodes: Vec::with_capacity(max_len),
        path_edges: Vec::with_capacity(max_len),
    };
    if max_len < 2 || within.is_some_and(|w| w < 0) {
        return search.result;
    }
    let within = within.unwrap_or(i64::MAX);
    // A table computed for deadline D also serves later start edges of the same node whose
    // deadline is at most D + within / 2: it then over-approximates, which keeps it a sound
    // filter, while each node's table is rebuilt at most about twice per `within` of its history.
    let reuse = within / 2;
    'nodes: for s in 0..csr.node_count() {
        let ins = csr.in_range(s);
        if ins.is_empty() {
            continue;
        }
        // First in-edge of `s` later than the current start edge; start edges come in time
        // order, so it only moves forward.
        let mut next_in = ins.start;
        let mut table_until: Option<i64> = None;
        for p in csr.out_range(s) {
            if search.stopped {
                break 'nodes;
            }
            let t1 = csr.time[p];
            let v1 = csr.out_dst[p];
            // No edge can be strictly later than i64::MAX.
            if t1 == NO_TIME || t1 == i64::MAX || v1 == s || !search.amount_ok(p) {
                continue;
            }
            let deadline = t1.saturating_add(within);
            while next_in < ins.end && csr.in_time[next_in] <= t1 {
                next_in += 1;
            }
            if next_in == ins.end || csr.in_time[next_in] > deadline {
                continue;
            }
            // Only start edges that get this far are charged: the scan above is one sequential
            // O(m) pass, and charging it would truncate large graphs that need no search.
            if !search.charge(1) {
                break 'nodes;
            }
            search.start = s;
            search.deadline = deadline;
            if table_until.is_none_or(|until| deadline > until) {
                let until = deadline.saturating_add(reuse);
                if !search.latest_departures(t1, until) {
                    break 'nodes;
                }
                table_until = Some(until);
            }
            search.path_nodes.clear();
            search.path_edges.clear();
            search.path_nodes.extend([s, v1]);
            search.path_edges.push(p);
            search.extend(v1, t1);
        }
    }
    search.result
}

struct Search<'a> {
    csr: &'a Csr,
    max_len: usize,
    /// Hop budgets kept in the latest-departure table: `1..=levels`.
    levels: usize,
    min_amount: Option<f64>,
    max_results: usize,
    budget: u64,
    result: CycleSearch,
    stopped: bool,
    /// The current start edge's source and deadline.
    start: u32,
    deadline: i64,
    /// Node -> `(epoch, slot in latest)` for the nodes the backward pass reached, valid where
    /// the epoch is current. A dense array (8 bytes per node, reset in O(1) by bumping the
    /// epoch, one cache line per lookup) since the search covers the whole graph anyway.
    slot_of: Vec<(u32, u32)>,
    epoch: u32,
    /// Slots in use.
    slots: usize,
    /// `latest[slot * levels + h - 1]`: latest departure to `start` within `h` hops, or
    /// `NO_TIME` when there is none.
    latest: Vec<i64>,
    /// Per slot, the last level at which it was queued for relaxation (dedupes the queue).
    changed_at: Vec<u32>,
    path_nodes: Vec<u32>,
    path_edges: Vec<usize>,
}

impl Search<'_> {
    /// Spends `n` expansions; false (and stops) when the budget is exhausted.
    fn charge(&mut self, n: u64) -> bool {
        self.result.expansions += n;
        if self.result.expansions > self.budget {
            self.result.truncated = true;
            self.stopped = true;
        }
        !self.stopped
    }

    fn amount_ok(&self, p: usize) -> bool {
        // NaN fails the comparison, so edges without amount drop out under a minimum.
        self.min_amount.is_none_or(|min| self.csr.amount[p] >= min)
    }

    /// Fills the latest-departure table for paths back to `start` using edges with time in
    /// `(lo, hi]`; false if out of budget.
    fn latest_departures(&mut self, lo: i64, hi: i64) -> bool {
        self.epoch = match self.epoch.checked_add(1) {
            Some(e) => e,
            None => {
                self.slot_of.fill((0, 0));
                1
            }
        };
        self.slots = 0;
        self.latest.clear();
        self.changed_at.clear();
        let levels = self.levels;
        if levels == 0 {
            return true;
        }
        let csr = self.csr;
        // Nodes whose value improved at the previous level; `start` has no value of its own:
        // edges into it only have to meet the deadline.
        let mut frontier: Vec<u32> = vec![self.start];
        for h in 1..=levels {
            // The table is cumulative over hops: level h starts from level h - 1.
            if h > 1 {
                for slot in 0..self.slots {
                    let base = slot * levels;
                    self.latest[base + h - 1] = self.latest[base + h - 2];
                }
                if !self.charge(self.slots as u64) {
                    return false;
                }
            }
            let mut next = Vec::new();
            for &w in &frontier {
                // Edges into `w` must arrive strictly before `w` leaves again.
                let arrive_by = if w == self.start {
                    hi
                } else {
                    self.latest[self.slot_of[w as usize].1 as usize * levels + h - 2] - 1
                };
                let range = csr.in_range_between(w, lo + 1, arrive_by);
                if !self.charge(range.len() as u64) {
                    return false;
                }
                for q in range {
                    let u = csr.in_src[q];
                    if u == self.start || !self.amount_ok(csr.in_pos[q] as usize) {
                        continue;
                    }
                    let t = csr.in_time[q];
                    let (epoch, slot) = self.slot_of[u as usize];
                    let slot = if epoch == self.epoch {
                        slot as usize
                    } else {
                        let slot = self.slots;
                        self.slots += 1;
                        self.slot_of[u as usize] = (self.epoch, slot as u32);
                        self.latest.resize(self.latest.len() + levels, NO_TIME);
                        self.changed_at.push(0);
                        slot
                    };
                    let cell = &mut self.latest[slot * levels + h - 1];
                    if t > *cell {
                        *cell = t;
                        if self.changed_at[slot] != h as u32 {
                            self.changed_at[slot] = h as u32;
                            next.push(u);
                        }
                    }
                }
            }
            if next.is_empty() {
                // Nothing improved, so higher levels equal this one.
                for slot in 0..self.slots {
                    let base = slot * levels;
                    for k in h..levels {
                        self.latest[base + k] = self.latest[base + h - 1];
                    }
                }
                break;
            }
            frontier = next;
        }
        true
    }

    /// Whether `w` can leave strictly after `t` and reach `start` within `hops` edges.
    fn can_return(&self, w: u32, t: i64, hops: usize) -> bool {
        let (epoch, slot) = self.slot_of[w as usize];
        epoch == self.epoch && self.latest[slot as usize * self.levels + hops - 1] > t
    }

    /// Depth-first search from `v`, reached by an edge at time `t_prev`.
    fn extend(&mut self, v: u32, t_prev: i64) {
        let csr = self.csr;
        let used = self.path_edges.len();
        let Some(lo) = t_prev.checked_add(1) else {
            return;
        };
        let range = csr.out_range_between(v, lo, self.deadline);
        for p in range {
            if !self.charge(1) {
                return;
            }
            if !self.amount_ok(p) {
                continue;
            }
            let w = csr.out_dst[p];
            let t = csr.time[p];
            if w == self.start {
                self.path_edges.push(p);
                self.record();
                self.path_edges.pop();
                if self.stopped {
                    return;
                }
                continue;
            }
            // Edges left after this one; at least one is needed to close the cycle.
            let left = self.max_len - used - 1;
            if left == 0 || self.path_nodes.contains(&w) || !self.can_return(w, t, left) {
                continue;
            }
            self.path_nodes.push(w);
            self.path_edges.push(p);
            self.extend(w, t);
            self.path_edges.pop();
            self.path_nodes.pop();
            if self.stopped {
                return;
            }
        }
    }

    fn record(&mut self) {
        if self.result.cycles.len() >= self.max_results {
            self.result.truncated = true;
            self.stopped = true;
            return;
        }
        let csr = self.csr;
        let times: Vec<i64> = self.path_edges.iter().map(|&p| csr.time[p]).collect();
        self.result.cycles.push(Cycle {
            nodes: self.path_nodes.clone(),
            edges: self.path_edges.iter().map(|&p| csr.edge_id[p]).collect(),
            amounts: self.path_edges.iter().map(|&p| csr.amount[p]).collect(),
            start: times[0],
            end: times[times.len() - 1],
            times,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::csr::EdgeRow;

    const A: u32 = 0;
    const B: u32 = 1;
    const C: u32 = 2;
    const D: u32 = 3;

    fn graph(n: u32, edges: &[(u32, u32, i64, f64)]) -> Csr {
        let rows = edges
            .iter()
            .enumerate()
            .map(|(i, &(src, dst, time, amount))| EdgeRow {
                src,
                dst,
                time,
                amount,
                edge: 100 + i as u64,
                edge_type: 0,
            })
            .collect();
        Csr::from_edges(n, rows).unwrap()
    }

    fn edge_lists(s: &CycleSearch) -> Vec<Vec<u64>> {
        s.cycles.iter().map(|c| c.edges.clone()).collect()
    }

    #[test]
    fn increasing_triangle_found_once() {
        let g = graph(
            3,
            &[(A, B, 10, 500.0), (B, C, 20, 490.0), (C, A, 30, 480.0)],
        );
        let r = temporal_cycles(&g, 5, None, None, 100);
        assert!(!r.truncated);
        assert_eq!(
            r.cycles,
            vec![Cycle {
                nodes: vec![A, B, C],
                edges: vec![100, 101, 102],
                times: vec![10, 20, 30],
                amounts: vec![500.0, 490.0, 480.0],
                start: 10,
                end: 30,
            }]
        );
        // Too short a length limit.
        assert!(temporal_cycles(&g, 2, None, None, 100).cycles.is_empty());
    }

    #[test]
    fn non_increasing_times_are_not_cycles() {
        for closing in [20, 15] {
            let g = graph(3, &[(A, B, 10, 1.0), (B, C, 20, 1.0), (C, A, closing, 1.0)]);
            assert!(temporal_cycles(&g, 5, None, None, 100).cycles.is_empty());
        }
        let g = graph(3, &[(A, B, 10, 1.0), (B, C, NO_TIME, 1.0), (C, A, 30, 1.0)]);
        assert!(temporal_cycles(&g, 5, None, None, 100).cycles.is_empty());
    }

    #[test]
    fn window_bounds_the_span() {
        let g = graph(3, &[(A, B, 10, 1.0), (B, C, 20, 1.0), (C, A, 30, 1.0)]);
        assert!(temporal_cycles(&g, 3, Some(19), None, 100)
            .cycles
            .is_empty());
        assert_eq!(temporal_cycles(&g, 3, Some(20), None, 100).cycles.len(), 1);
        assert!(temporal_cycles(&g, 3, Some(-1), None, 100)
            .cycles
            .is_empty());
    }

    #[test]
    fn min_amount_drops_small_edges() {
        let g = graph(3, &[(A, B, 10, 900.0), (B, C, 20, 50.0), (C, A, 30, 880.0)]);
        assert!(temporal_cycles(&g, 3, None, Some(100.0), 100)
            .cycles
            .is_empty());
        assert_eq!(
            temporal_cycles(&g, 3, None, Some(50.0), 100).cycles.len(),
            1
        );
        let g = graph(2, &[(A, B, 10, f64::NAN), (B, A, 20, 5.0)]);
        assert_eq!(temporal_cycles(&g, 3, None, None, 100).cycles.len(), 1);
        assert!(temporal_cycles(&g, 3, None, Some(0.0), 100)
            .cycles
            .is_empty());
    }

    #[test]
    fn only_simple_cycles_and_parallel_edges_give_distinct_cycles() {
        // A->B->A (1, 2) and A->C->A (3, 4); the figure-eight A->B->A->C->A is not simple.
        let g = graph(
            3,
            &[
                (A, B, 1, 1.0),
                (B, A, 2, 1.0),
                (A, C, 3, 1.0),
                (C, A, 4, 1.0),
            ],
        );
        let r = temporal_cycles(&g, 4, None, None, 100);
        assert_eq!(edge_lists(&r), vec![vec![100, 101], vec![102, 103]]);
        // Two parallel first edges before the rest: two cycles.
        let g = graph(
            3,
            &[
                (A, B, 1, 1.0),
                (A, B, 2, 1.0),
                (B, C, 3, 1.0),
                (C, A, 4, 1.0),
            ],
        );
        let r = temporal_cycles(&g, 3, None, None, 100);
        assert_eq!(
            edge_lists(&r),
            vec![vec![100, 102, 103], vec![101, 102, 103]]
        );
    }

    #[test]
    fn cycles_sharing_edges_are_all_found() {
        // A square A->B->C->D->A, plus B->D (5) and D->B (6), which close B->C->D->B (2, 3, 6)
        // and B->D->B (5, 6). D->B->C would go back in time.
        let g = graph(
            4,
            &[
                (A, B, 1, 1.0),
                (B, C, 2, 1.0),
                (C, D, 3, 1.0),
                (D, A, 4, 1.0),
                (B, D, 5, 1.0),
                (D, B, 6, 1.0),
            ],
        );
        let r = temporal_cycles(&g, 4, None, None, 100);
        assert_eq!(
            edge_lists(&r),
            vec![
                vec![100, 101, 102, 103],
                vec![101, 102, 105],
                vec![104, 105]
            ]
        );
        assert_eq!(r.cycles[1].nodes, vec![B, C, D]);
        let r = temporal_cycles(&g, 3, None, None, 100);
        assert_eq!(edge_lists(&r), vec![vec![101, 102, 105], vec![104, 105]]);
        let r = temporal_cycles(&g, 2, None, None, 100);
        assert_eq!(edge_lists(&r), vec![vec![104, 105]]);
        let r = temporal_cycles(&g, 4, Some(3), None, 100);
        assert_eq!(
            edge_lists(&r),
            vec![vec![100, 101, 102, 103], vec![104, 105]]
        );
        assert!(temporal_cycles(&g, 4, Some(0), None, 100).cycles.is_empty());
    }

    #[test]
    fn caps_mark_truncation() {
        let g = graph(
            3,
            &[
                (A, B, 1, 1.0),
                (B, A, 2, 1.0),
                (A, C, 3, 1.0),
                (C, A, 4, 1.0),
            ],
        );
        let r = temporal_cycles(&g, 4, None, None, 1);
        assert_eq!(r.cycles.len(), 1);
        assert!(r.truncated);
        let r = temporal_cycles(&g, 4, None, None, 2);
        assert_eq!(r.cycles.len(), 2);
        assert!(!r.truncated);
        let r = temporal_cycles_with_budget(&g, 4, None, None, 100, 2);
        assert!(r.truncated);
        assert!(r.cycles.len() < 2);
        let full = temporal_cycles(&g, 4, None, None, 100);
        assert!(full.expansions > 2);
    }
}
