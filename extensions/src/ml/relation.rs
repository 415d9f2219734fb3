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
    /// Time of each message in `sources` (empty for an untimed relation). Within a target,
    /// messages are ordered by time, so the messages known at a time are a prefix.
    pub times: Vec<i64>,
    /// For each message in `sources`, the index of the edge it came from in the caller's edge
    /// list (empty for an untimed relation): how features find the edge's properties.
    pub edge_ids: Vec<u32>,
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

/// Each edge in both directions (a self-loop once), with the index of the edge each pair
/// came from.
fn both_directions(edges: &[(u32, u32)]) -> (Vec<(u32, u32)>, Vec<u32>) {
    let mut both = Vec::with_capacity(edges.len() * 2);
    let mut ids = Vec::with_capacity(edges.len() * 2);
    for (e, &(a, b)) in edges.iter().enumerate() {
        both.push((a, b));
        ids.push(e as u32);
        if a != b {
            both.push((b, a));
            ids.push(e as u32);
        }
    }
    (both, ids)
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
            times: Vec::new(),
            edge_ids: Vec::new(),
        }
    }

    /// Undirected edges over one node set: each endpoint aggregates the other.
    pub fn undirected(node_count: usize, edges: &[(u32, u32)]) -> Relation {
        let (both, _) = both_directions(edges);
        Relation::from_edges(node_count, node_count, &both)
    }

    /// From `(source, target)` edges with one time each: like [`Relation::from_edges`], but each
    /// target's messages are ordered by (time, source) and remember their edge's position in
    /// `edges`.
    pub fn from_timed_edges(
        source_count: usize,
        target_count: usize,
        edges: &[(u32, u32)],
        times: &[i64],
    ) -> Relation {
        assert_eq!(edges.len(), times.len(), "one time per edge");
        let by_target: Vec<(u32, u32)> = edges
            .iter()
            .enumerate()
            .map(|(e, &(_, t))| (t, e as u32))
            .collect();
        let (offsets, mut order) = group(target_count, &by_target);
        for t in 0..target_count {
            order[offsets[t] as usize..offsets[t + 1] as usize]
                .sort_unstable_by_key(|&e| (times[e as usize], edges[e as usize].0, e));
        }
        let sources = order.iter().map(|&e| edges[e as usize].0).collect();
        let message_times = order.iter().map(|&e| times[e as usize]).collect();
        let (reverse_offsets, targets) = group(source_count, edges);
        Relation {
            target_count,
            source_count,
            offsets,
            sources,
            reverse_offsets,
            targets,
            times: message_times,
            edge_ids: order,
        }
    }

    /// Undirected timed edges over one node set: each endpoint receives the other's message,
    /// both carrying the edge's index and time.
    pub fn undirected_timed(node_count: usize, edges: &[(u32, u32)], times: &[i64]) -> Relation {
        let (both, ids) = both_directions(edges);
        let both_times: Vec<i64> = ids.iter().map(|&e| times[e as usize]).collect();
        let mut relation = Relation::from_timed_edges(node_count, node_count, &both, &both_times);
        // Positions in `both` map back to the caller's edges.
        for id in &mut relation.edge_ids {
            *id = ids[*id as usize];
        }
        relation
    }

    /// Positions (into `sources`, `times`, `edge_ids`) of `target`'s messages.
    pub fn messages(&self, target: usize) -> std::ops::Range<usize> {
        self.offsets[target] as usize..self.offsets[target + 1] as usize
    }

    /// Positions of `target`'s messages with time ≤ `as_of` (all when `as_of` is `None` or the
    /// relation is untimed).
    pub fn messages_as_of(&self, target: usize, as_of: Option<i64>) -> std::ops::Range<usize> {
        let all = self.messages(target);
        match as_of {
            Some(t) if !self.times.is_empty() => {
                let known = self.times[all.clone()].partition_point(|&x| x <= t);
                all.start..all.start + known
            }
            _ => all,
        }
    }

    /// The same relation with each target keeping only its newest `cap` messages (the last
    /// `cap` in time order; the last in stored order for untimed messages). Models aggregate
    /// over this bounded neighbourhood in training and in serving alike, so that scoring one
    /// entity reads exactly what training read.
    pub fn newest(&self, cap: usize) -> Relation {
        let timed = !self.times.is_empty();
        let mut offsets = Vec::with_capacity(self.target_count + 1);
        offsets.push(0u32);
        // Sized up front: grown by doubling, they were copied again and again on large graphs.
        let kept: usize = (0..self.target_count)
            .map(|t| self.in_degree(t).min(cap))
            .sum();
        let mut sources = Vec::with_capacity(kept);
        let mut times = Vec::with_capacity(if timed { kept } else { 0 });
        let mut edge_ids = Vec::with_capacity(if timed { kept } else { 0 });
        let mut pairs = Vec::with_capacity(kept);
        for t in 0..self.target_count {
            let all = self.messages(t);
            let kept = all.end - all.len().min(cap)..all.end;
            for m in kept {
                sources.push(self.sources[m]);
                pairs.push((self.sources[m], t as u32));
                if timed {
                    times.push(self.times[m]);
                    edge_ids.push(self.edge_ids[m]);
                }
            }
            offsets.push(sources.len() as u32);
        }
        let (reverse_offsets, targets) = group(self.source_count, &pairs);
        Relation {
            target_count: self.target_count,
            source_count: self.source_count,
            offsets,
            sources,
            reverse_offsets,
            targets,
            times,
            edge_ids,
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timed_messages_are_a_time_ordered_prefix() {
        let edges = [(0, 2), (1, 2), (3, 2), (2, 0)];
        let times = [30, 10, 20, 5];
        let r = Relation::from_timed_edges(4, 4, &edges, &times);
        assert_eq!(r.sources_of(2), &[1, 3, 0]);
        assert_eq!(&r.edge_ids[r.messages(2)], &[1, 2, 0]);
        assert_eq!(r.messages_as_of(2, Some(20)).len(), 2);
        assert_eq!(r.messages_as_of(2, Some(9)).len(), 0);
        assert_eq!(r.messages_as_of(2, None).len(), 3);
        assert_eq!(r.targets_of(2), &[0]);
        let u = Relation::undirected_timed(3, &[(0, 1), (1, 2)], &[7, 3]);
        assert_eq!(u.sources_of(1), &[2, 0]);
        assert_eq!(&u.edge_ids[u.messages(1)], &[1, 0]);
        assert_eq!(&u.times[u.messages(1)], &[3, 7]);
    }

    #[test]
    fn newest_keeps_the_latest_messages_of_each_target() {
        let edges = [(0, 2), (1, 2), (3, 2), (2, 0)];
        let times = [30, 10, 20, 5];
        let r = Relation::from_timed_edges(4, 4, &edges, &times).newest(2);
        assert_eq!(r.sources_of(2), &[3, 0]);
        assert_eq!(&r.times[r.messages(2)], &[20, 30]);
        assert_eq!(&r.edge_ids[r.messages(2)], &[2, 0]);
        assert_eq!(r.sources_of(0), &[2]);
        assert_eq!(r.edge_count(), 3);
        // The reverse adjacency follows: node 1's only message was dropped.
        assert_eq!(r.targets_of(1), &[] as &[u32]);
        assert_eq!(r.targets_of(3), &[2]);
    }
}
