//! Weakly connected components.
//!
//! Union-find over every edge (direction ignored), with union by size and full path compression:
//! O(n + m α(n)) time, O(n) extra memory (two `u32` per node). Component ids are the smallest
//! node index in the component, so the labelling does not depend on edge order.

use crate::csr::Csr;

/// The size of one component, from [`component_sizes`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ComponentSize {
    /// The component id (its smallest node index).
    pub component: u32,
    /// Number of nodes in it.
    pub size: u32,
}

fn find(parent: &mut [u32], x: u32) -> u32 {
    let mut root = x;
    while parent[root as usize] != root {
        root = parent[root as usize];
    }
    let mut cur = x;
    while parent[cur as usize] != root {
        let next = parent[cur as usize];
        parent[cur as usize] = root;
        cur = next;
    }
    root
}

/// Labels each node with its weakly connected component: the smallest node index in it.
/// Isolated nodes are their own component.
pub fn connected_components(csr: &Csr) -> Vec<u32> {
    let n = csr.node_count() as usize;
    let mut parent: Vec<u32> = (0..n as u32).collect();
    let mut size = vec![1u32; n];
    for u in 0..n as u32 {
        for p in csr.out_range(u) {
            let a = find(&mut parent, u);
            let b = find(&mut parent, csr.out_dst[p]);
            if a == b {
                continue;
            }
            let (big, small) = if size[a as usize] >= size[b as usize] {
                (a, b)
            } else {
                (b, a)
            };
            parent[small as usize] = big;
            size[big as usize] += size[small as usize];
        }
    }
    // Nodes are visited in increasing order, so the first node reaching a root is the smallest
    // of its component; `size` is reused as the root-to-label table.
    let root_label = &mut size;
    root_label.fill(u32::MAX);
    let mut labels = vec![0u32; n];
    for v in 0..n as u32 {
        let r = find(&mut parent, v) as usize;
        if root_label[r] == u32::MAX {
            root_label[r] = v;
        }
        labels[v as usize] = root_label[r];
    }
    labels
}

/// Sizes of the components in a labelling from [`connected_components`], by component id.
/// O(n).
pub fn component_sizes(labels: &[u32]) -> Vec<ComponentSize> {
    let mut counts = vec![0u32; labels.len()];
    for &l in labels {
        counts[l as usize] += 1;
    }
    counts
        .iter()
        .enumerate()
        .filter(|&(_, &c)| c > 0)
        .map(|(i, &c)| ComponentSize {
            component: i as u32,
            size: c,
        })
        .collect()
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

    #[test]
    fn two_components_and_an_isolated_node() {
        // {0, 3, 5} via 5->3 and 3->0, {1, 2, 4} via 4->2 and 1->4, {6} alone.
        let g = graph(7, &[(5, 3), (4, 2), (3, 0), (1, 4), (2, 2)]);
        let labels = connected_components(&g);
        assert_eq!(labels, vec![0, 1, 1, 0, 1, 0, 6]);
        assert_eq!(
            component_sizes(&labels),
            vec![
                ComponentSize {
                    component: 0,
                    size: 3
                },
                ComponentSize {
                    component: 1,
                    size: 3
                },
                ComponentSize {
                    component: 6,
                    size: 1
                },
            ]
        );
    }

    #[test]
    fn direction_is_ignored_and_empty_graph_works() {
        let g = graph(3, &[(2, 0), (2, 1)]);
        assert_eq!(connected_components(&g), vec![0, 0, 0]);
        let empty = graph(0, &[]);
        assert!(connected_components(&empty).is_empty());
        assert!(component_sizes(&[]).is_empty());
    }
}
