//! One relation of a (possibly heterogeneous) graph in the form message passing needs: for each
//! target node the source nodes it aggregates from, and the reverse, for the backward pass.

/// Messages from `source_count` source nodes to `target_count` target nodes along the edges of
/// one (edge type, direction) pair. Parallel edges count once per edge.
#[derive(Clone, Debug, Default)]
pub struct Relation {
    /// Number of target nodes (rows of an aggregation's output).
    pub target_count: usize,
    /// Number of source nodes (rows of an aggregation's input).
    pub source_count: usize,
    /// `target_count + 1` offsets into `sources`.
    pub offsets: Vec<u32>,
    /// Source node of each incoming message, grouped by target.
    pub sources: Vec<u32>,
    /// `source_count + 1` offsets into `targets`.
    pub reverse_offsets: Vec<u32>,
    /// Target node of each message, grouped by source.
    pub targets: Vec<u32>,
}

fn group(count: usize, pairs: &[(u32, u32)]) -> (Vec<u32>, Vec<u32>) {
    let mut offsets = vec![0u32; count + 1];
    for &(key, _) in pairs {
        offsets[key as usize + 1] += 1;
    }
    for i in 0..count {
        offsets[i + 1] += offsets[i];
    }
    let mut fill = offsets.clone();
    let mut values = vec![0u32; pairs.len()];
    for &(key, value) in pairs {
        let slot = &mut fill[key as usize];
        values[*slot as usize] = value;
        *slot += 1;
    }
    // Sorted neighbour lists make aggregation read memory in order and results reproducible.
    for i in 0..count {
        values[offsets[i] as usize..offsets[i + 1] as usize].sort_unstable();
    }
    (offsets, values)
}

impl Relation {
    /// From `(source, target)` edges: each target aggregates its sources.
    pub fn from_edges(source_count: usize, target_count: usize, edges: &[(u32, u32)]) -> Relation {
        let by_target: Vec<(u32, u32)> = edges.iter().map(|&(s, t)| (t, s)).collect();
        let (offsets, sources) = group(target_count, &by_target);
        let (reverse_offsets, targets) = group(source_count, edges);
        Relation {
            target_count,
            source_count,
            offsets,
            sources,
            reverse_offsets,
            targets,
        }
    }

    /// Undirected edges over one node set: each endpoint aggregates the other.
    pub fn undirected(node_count: usize, edges: &[(u32, u32)]) -> Relation {
        let mut both = Vec::with_capacity(edges.len() * 2);
        for &(a, b) in edges {
            both.push((a, b));
            if a != b {
                both.push((b, a));
            }
        }
        Relation::from_edges(node_count, node_count, &both)
    }

    /// Messages arriving at `target`.
    pub fn in_degree(&self, target: usize) -> usize {
        (self.offsets[target + 1] - self.offsets[target]) as usize
    }

    /// Sources of `target`'s messages.
    pub fn sources_of(&self, target: usize) -> &[u32] {
        &self.sources[self.offsets[target] as usize..self.offsets[target + 1] as usize]
    }

    /// Targets that `source` sends to.
    pub fn targets_of(&self, source: usize) -> &[u32] {
        &self.targets
            [self.reverse_offsets[source] as usize..self.reverse_offsets[source + 1] as usize]
    }

    /// Number of messages (edges).
    pub fn edge_count(&self) -> usize {
        self.sources.len()
    }
}
