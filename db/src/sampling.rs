//! Neighbour sampling with fanouts, as of a time: the computation graph ("block") that scores a
//! few entities without touching the rest of the graph. Hop by hop, each frontier node draws at
//! most `fanout` of its messages per relation among those with time ≤ its as-of time, so an
//! edge created after that time can never influence the result. Sampled neighbours are fresh
//! copies (the block is a tree per target), which keeps every hop's aggregation exactly the one
//! a full-graph pass would compute when no node has more neighbours than the fanout.
//!
//! Draws are a deterministic function of (seed, node, relation, as-of prefix), so the same
//! entity scored twice at the same time sees the same neighbours.

use argus_extensions::ml::cpu::mix64;
use argus_extensions::ml::relation::Relation;

use crate::projection::Projection;

/// A sampled computation graph. Local nodes `0..targets` are the targets, in request order.
#[derive(Clone, Debug)]
pub struct Block {
    /// Global index (in the projection) of each local node.
    pub nodes: Vec<u32>,
    /// As-of time of each local node (its target's).
    pub as_of: Vec<Option<i64>>,
    /// Per local node: the local node it sends its message to, the relation and the message's
    /// position in that projection relation (`None` for targets).
    pub parent: Vec<Option<Parent>>,
    /// One local relation per projection relation, over the local nodes.
    pub relations: Vec<Relation>,
    /// Number of targets.
    pub targets: usize,
    /// Local nodes are ordered by hop: hop `h` ends at `hop_ends[h]` (hop 0 = the targets).
    pub hop_ends: Vec<usize>,
}

/// Where a sampled node attaches.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Parent {
    /// Local index of the receiving node.
    pub node: u32,
    /// Projection relation index.
    pub relation: usize,
    /// Message position in that relation (index into its `sources`, `times`, `edge_ids`).
    pub message: usize,
}

/// Up to `k` distinct positions of `0..n`, a deterministic function of `seed` (all of them, in
/// order, when `n ≤ k`).
fn choose(n: usize, k: usize, seed: u64) -> Vec<usize> {
    if n <= k {
        return (0..n).collect();
    }
    // Partial Fisher–Yates over a sparse permutation: O(k) work whatever n is.
    let mut swapped = std::collections::HashMap::with_capacity(k * 2);
    let mut out = Vec::with_capacity(k);
    for i in 0..k {
        let j = i + (mix64(seed ^ mix64(i as u64)) % (n - i) as u64) as usize;
        let at_j = *swapped.get(&j).unwrap_or(&j);
        let at_i = *swapped.get(&i).unwrap_or(&i);
        swapped.insert(j, at_i);
        out.push(at_j);
    }
    out.sort_unstable();
    out
}

/// Sample the block of `targets` (global index, as-of time) with one fanout per hop, skipping
/// the messages for which `skip(relation, message)` is true (used to measure an edge's effect).
pub fn sample_block(
    projection: &Projection,
    targets: &[(u32, Option<i64>)],
    fanouts: &[usize],
    seed: u64,
    skip: &dyn Fn(usize, usize) -> bool,
) -> Block {
    let mut nodes: Vec<u32> = targets.iter().map(|t| t.0).collect();
    let mut as_of: Vec<Option<i64>> = targets.iter().map(|t| t.1).collect();
    let mut parent: Vec<Option<Parent>> = vec![None; targets.len()];
    let mut edges: Vec<Vec<(u32, u32)>> = vec![Vec::new(); projection.relations.len()];
    let mut frontier = 0..nodes.len();
    let mut hop_ends = vec![nodes.len()];
    for &fanout in fanouts {
        let start = nodes.len();
        for local in frontier.clone() {
            let (global, time) = (nodes[local] as usize, as_of[local]);
            for (r, rel) in projection.relations.iter().enumerate() {
                let known = rel.relation.messages_as_of(global, time);
                let positions: Vec<usize> = known.filter(|&m| !skip(r, m)).collect();
                let draw_seed = mix64(seed ^ mix64(global as u64) ^ mix64(r as u64 + 1));
                for pick in choose(positions.len(), fanout, draw_seed) {
                    let message = positions[pick];
                    edges[r].push((nodes.len() as u32, local as u32));
                    nodes.push(rel.relation.sources[message]);
                    as_of.push(time);
                    parent.push(Some(Parent {
                        node: local as u32,
                        relation: r,
                        message,
                    }));
                }
            }
        }
        frontier = start..nodes.len();
        hop_ends.push(nodes.len());
    }
    let n = nodes.len();
    Block {
        relations: edges
            .iter()
            .map(|e| Relation::from_edges(n, n, e))
            .collect(),
        nodes,
        as_of,
        parent,
        targets: targets.len(),
        hop_ends,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn choose_is_distinct_bounded_and_deterministic() {
        let a = choose(1000, 10, 42);
        assert_eq!(a.len(), 10);
        let mut d = a.clone();
        d.dedup();
        assert_eq!(d.len(), 10);
        assert!(a.iter().all(|&i| i < 1000));
        assert_eq!(a, choose(1000, 10, 42));
        assert_ne!(a, choose(1000, 10, 43));
        assert_eq!(choose(3, 10, 1), vec![0, 1, 2]);
    }
}
