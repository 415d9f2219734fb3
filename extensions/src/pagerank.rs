//! PageRank by power iteration.
//!
//! Each iteration is one pull over the in-CSR: O(n + m) time, three `f64` per node of memory.
//! At most `iterations` iterations; it stops earlier once the L1 change between two iterations
//! is below `tolerance`. Parallel edges count with their multiplicity (ten payments pass on ten
//! times the share of one), self-loops count like any edge, and the rank of nodes without
//! out-edges is spread uniformly over all nodes, so the scores always sum to 1.

use crate::csr::Csr;

/// PageRank scores by node index, summing to 1 (empty for an empty graph).
///
/// `damping` is the probability of following an edge (0.85 is the usual choice) and is
/// expected in `[0, 1]`.
pub fn pagerank(csr: &Csr, damping: f64, iterations: usize, tolerance: f64) -> Vec<f64> {
    let n = csr.node_count() as usize;
    if n == 0 {
        return Vec::new();
    }
    let nf = n as f64;
    let inv_out: Vec<f64> = (0..n as u32)
        .map(|u| match csr.out_degree(u) {
            0 => 0.0,
            d => 1.0 / d as f64,
        })
        .collect();
    let mut rank = vec![1.0 / nf; n];
    let mut next = vec![0.0; n];
    let mut share = vec![0.0; n];
    for _ in 0..iterations {
        let mut dangling = 0.0;
        for u in 0..n {
            if inv_out[u] == 0.0 {
                dangling += rank[u];
            }
            share[u] = rank[u] * inv_out[u];
        }
        let base = (1.0 - damping) / nf + damping * dangling / nf;
        let mut change = 0.0;
        for v in 0..n {
            let pulled: f64 = csr
                .in_range(v as u32)
                .map(|q| share[csr.in_src[q] as usize])
                .sum();
            next[v] = base + damping * pulled;
            change += (next[v] - rank[v]).abs();
        }
        std::mem::swap(&mut rank, &mut next);
        if change < tolerance {
            break;
        }
    }
    // Rounding drifts the total slightly over many iterations; callers rely on it being 1.
    let total: f64 = rank.iter().sum();
    if total > 0.0 {
        for r in &mut rank {
            *r /= total;
        }
    }
    rank
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::csr::{EdgeRow, NO_TIME};

    fn graph(n: u32, pairs: &[(u32, u32)]) -> Csr {
        let edges = pairs
            .iter()
            .enumerate()
            .map(|(i, &(src, dst))| EdgeRow {
                src,
                dst,
                time: NO_TIME,
                amount: f64::NAN,
                edge: i as u64,
                edge_type: 0,
            })
            .collect();
        Csr::from_edges(n, edges).unwrap()
    }

    /// Dense power iteration straight from the definition, as an independent reference.
    fn reference(n: usize, pairs: &[(u32, u32)], d: f64, iters: usize) -> Vec<f64> {
        let mut m = vec![vec![0.0; n]; n]; // m[v][u]: probability of stepping u -> v
        for u in 0..n {
            let outs: Vec<usize> = pairs
                .iter()
                .filter(|p| p.0 as usize == u)
                .map(|p| p.1 as usize)
                .collect();
            if outs.is_empty() {
                for row in m.iter_mut() {
                    row[u] = 1.0 / n as f64;
                }
            } else {
                for v in outs.iter() {
                    m[*v][u] += 1.0 / outs.len() as f64;
                }
            }
        }
        let mut r = vec![1.0 / n as f64; n];
        for _ in 0..iters {
            r = (0..n)
                .map(|v| (1.0 - d) / n as f64 + d * (0..n).map(|u| m[v][u] * r[u]).sum::<f64>())
                .collect();
        }
        r
    }

    #[test]
    fn two_nodes_with_a_dangling_node_match_the_closed_form() {
        // r0 = 0.15/2 + 0.85 r1/2 and r0 + r1 = 1 give r0 = 0.5 / 1.425.
        let g = graph(2, &[(0, 1)]);
        let r = pagerank(&g, 0.85, 1000, 1e-15);
        let r0 = 0.5 / 1.425;
        assert!((r[0] - r0).abs() < 1e-12, "{r:?}");
        assert!((r[1] - (1.0 - r0)).abs() < 1e-12, "{r:?}");
    }

    #[test]
    fn a_directed_cycle_is_uniform() {
        let g = graph(3, &[(0, 1), (1, 2), (2, 0)]);
        for x in pagerank(&g, 0.85, 100, 1e-14) {
            assert!((x - 1.0 / 3.0).abs() < 1e-12);
        }
    }

    #[test]
    fn matches_dense_reference_with_parallel_edges_self_loops_and_dangling_nodes() {
        let pairs = [
            (0, 1),
            (0, 1),
            (0, 2),
            (1, 2),
            (2, 0),
            (3, 3),
            (3, 2),
            (4, 0),
            (2, 5),
        ];
        let g = graph(6, &pairs);
        let r = pagerank(&g, 0.85, 500, 1e-15);
        let want = reference(6, &pairs, 0.85, 500);
        assert!((r.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        for (a, b) in r.iter().zip(&want) {
            assert!((a - b).abs() < 1e-10, "{r:?} vs {want:?}");
        }
        // The node fed by three in-edges outranks the nodes nothing points to.
        assert!(r[2] > r[4] && r[2] > r[3]);
    }

    #[test]
    fn empty_and_edgeless_graphs() {
        assert!(pagerank(&graph(0, &[]), 0.85, 10, 1e-9).is_empty());
        let r = pagerank(&graph(4, &[]), 0.85, 10, 1e-9);
        assert_eq!(r, vec![0.25; 4]);
    }
}
