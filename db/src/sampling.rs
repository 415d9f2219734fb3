//! Bounded neighbourhoods as of a time: the computation graph ("block") that scores a few
//! entities without touching the rest of the graph. Hop by hop, each frontier node takes its
//! newest `cap` messages per relation among those with time ≤ its as-of time, so an edge created
//! after that time can never influence the result. Neighbours are fresh copies (the block is a
//! tree per target), and training aggregates over the same newest-`cap` neighbourhoods
//! ([`argus_extensions::ml::relation::Relation::newest`]): a node's score from the block equals
//! its score from the full-graph pass of training and evaluation.

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

/// The block of `targets` (global index, as-of time) over `hops` hops of at most `cap` newest
/// messages per relation, skipping the messages for which `skip(relation, message)` is true
/// (used to measure an edge's effect: the next older message then takes its place, as if the
/// edge had never been written).
pub fn sample_block(
    projection: &Projection,
    targets: &[(u32, Option<i64>)],
    hops: usize,
    cap: usize,
    skip: &dyn Fn(usize, usize) -> bool,
) -> Block {
    let mut nodes: Vec<u32> = targets.iter().map(|t| t.0).collect();
    let mut as_of: Vec<Option<i64>> = targets.iter().map(|t| t.1).collect();
    let mut parent: Vec<Option<Parent>> = vec![None; targets.len()];
    let mut edges: Vec<Vec<(u32, u32)>> = vec![Vec::new(); projection.relations.len()];
    let mut frontier = 0..nodes.len();
    let mut hop_ends = vec![nodes.len()];
    for _ in 0..hops {
        let start = nodes.len();
        for local in frontier.clone() {
            let (global, time) = (nodes[local] as usize, as_of[local]);
            for (r, rel) in projection.relations.iter().enumerate() {
                let known = rel.relation.messages_as_of(global, time);
                let newest = known.rev().filter(|&m| !skip(r, m)).take(cap);
                let mut messages: Vec<usize> = newest.collect();
                messages.reverse();
                for message in messages {
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
