//! Degree vectors, read off the CSR offsets in O(n).

use crate::csr::{Csr, Direction};

/// The degree of every node in `direction` (`Both` = in + out, a self-loop counting twice),
/// saturating at `u32::MAX`. O(n).
pub fn degrees(csr: &Csr, direction: Direction) -> Vec<u32> {
    (0..csr.node_count())
        .map(|v| csr.degree(v, direction).min(u32::MAX as u64) as u32)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::csr::{EdgeRow, NO_TIME};

    #[test]
    fn degrees_by_direction() {
        let edges = [(0, 1), (0, 2), (2, 0), (1, 1)]
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
        let g = Csr::from_edges(4, edges).unwrap();
        assert_eq!(degrees(&g, Direction::Out), vec![2, 1, 1, 0]);
        assert_eq!(degrees(&g, Direction::In), vec![1, 2, 1, 0]);
        assert_eq!(degrees(&g, Direction::Both), vec![3, 3, 2, 0]);
    }
}
