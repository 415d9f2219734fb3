//! The explicit backward passes against central finite differences of the loss.

use super::backend::{Aggregation, Backend};
use super::cpu::{mix64, Cpu};
use super::matrix::Matrix;
use super::relation::Relation;
use super::sage::{Sage, SageConfig};

fn random_matrix(rows: usize, cols: usize, seed: u64) -> Matrix {
    let data = (0..rows * cols)
        .map(|i| ((mix64(seed ^ mix64(i as u64)) >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0)
        .collect();
    Matrix::from_vec(rows, cols, data)
}

fn loss(sage: &Sage<Cpu>, graphs: &[Relation], x: &Matrix, targets: &Matrix, w: &Matrix) -> f64 {
    let (logits, _) = sage.forward(&Cpu, graphs, x, false, 0);
    Cpu.bce_with_logits(&logits, targets, w).0 as f64
}

fn check_model(aggregation: Aggregation) {
    let n = 7;
    let edges_a = [
        (0, 1),
        (1, 2),
        (2, 3),
        (3, 0),
        (4, 5),
        (5, 6),
        (6, 4),
        (1, 5),
    ];
    let edges_b = [(0, 6), (2, 4), (3, 5), (6, 6)];
    let graphs = vec![
        Relation::undirected(n, &edges_a),
        Relation::from_edges(n, n, &edges_b),
    ];
    let x = random_matrix(n, 3, 1);
    let targets = Matrix::from_vec(n, 1, vec![1.0, 0.0, 1.0, 0.0, 0.0, 1.0, 0.0]);
    let weights = Matrix::from_vec(n, 1, vec![1.0, 1.0, 2.0, 1.0, 0.0, 1.0, 1.0]);
    let config = SageConfig {
        input: 3,
        hidden: 4,
        layers: 2,
        relations: 2,
        aggregation,
        dropout: 0.0,
        seed: 5,
    };
    let mut sage = Sage::new(&Cpu, config);
    // Non-trivial normalisation parameters, so their gradients are exercised too.
    for (i, p) in sage.params_mut().iter_mut().enumerate() {
        let noise = random_matrix(p.value.rows, p.value.cols, 100 + i as u64);
        for (v, e) in p.value.data.iter_mut().zip(noise.data) {
            *v += 0.3 * e;
        }
    }
    let (logits, cache) = sage.forward(&Cpu, &graphs, &x, false, 0);
    let (_, dlogits) = Cpu.bce_with_logits(&logits, &targets, &weights);
    sage.backward(&Cpu, &graphs, &cache, &dlogits);
    let analytic: Vec<Matrix> = sage.params().iter().map(|p| p.grad.clone()).collect();

    // Small enough that no perturbation crosses a ReLU kink at these seeds, large enough for f32.
    let eps = 3e-3f32;
    let mut worst = 0f64;
    for (pi, grad) in analytic.iter().enumerate() {
        for j in 0..grad.data.len() {
            let original = sage.params()[pi].value.data[j];
            sage.params_mut()[pi].value.data[j] = original + eps;
            let up = loss(&sage, &graphs, &x, &targets, &weights);
            sage.params_mut()[pi].value.data[j] = original - eps;
            let down = loss(&sage, &graphs, &x, &targets, &weights);
            sage.params_mut()[pi].value.data[j] = original;
            let numeric = (up - down) / (2.0 * eps as f64);
            let a = grad.data[j] as f64;
            let err = (a - numeric).abs() / (1e-2 + a.abs().max(numeric.abs()));
            assert!(
                err < 0.05,
                "parameter {pi}[{j}]: analytic {a:.6}, numeric {numeric:.6} ({aggregation:?})"
            );
            worst = worst.max(err);
        }
    }
    assert!(worst.is_finite());
}

#[test]
fn sage_gradients_match_finite_differences_mean() {
    check_model(Aggregation::Mean);
}

#[test]
fn sage_gradients_match_finite_differences_sum() {
    check_model(Aggregation::Sum);
}

#[test]
fn aggregation_backward_is_the_transpose() {
    // <aggregate(x), y> == <x, aggregate_backward(y)> for any x, y.
    let rel = Relation::from_edges(4, 3, &[(0, 0), (1, 0), (3, 0), (2, 1), (2, 1)]);
    let x = random_matrix(4, 2, 9);
    let y = random_matrix(3, 2, 10);
    for how in [Aggregation::Mean, Aggregation::Sum] {
        let ax = Cpu.aggregate(&rel, &x, how);
        let aty = Cpu.aggregate_backward(&rel, &y, how);
        let lhs: f32 = ax.data.iter().zip(&y.data).map(|(a, b)| a * b).sum();
        let rhs: f32 = x.data.iter().zip(&aty.data).map(|(a, b)| a * b).sum();
        assert!((lhs - rhs).abs() < 1e-5, "{how:?}: {lhs} vs {rhs}");
    }
    // Target 2 has no messages: its aggregate is zero.
    assert_eq!(
        Cpu.aggregate(&rel, &x, Aggregation::Mean).row(2),
        &[0.0, 0.0]
    );
}

#[test]
fn matmul_transposes() {
    let a = Matrix::from_vec(2, 3, vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    let b = Matrix::from_vec(2, 2, vec![1.0, 0.0, 0.0, 2.0]);
    let atb = Cpu.matmul(&a, true, &b, false);
    assert_eq!(
        atb,
        Matrix::from_vec(3, 2, vec![1.0, 8.0, 2.0, 10.0, 3.0, 12.0])
    );
    let aat = Cpu.matmul(&a, false, &a, true);
    assert_eq!(aat, Matrix::from_vec(2, 2, vec![14.0, 32.0, 32.0, 77.0]));
}

#[test]
fn dropout_mask_is_seeded_and_scaled() {
    let m1 = Cpu.dropout_mask(100, 10, 0.3, 42);
    let m2 = Cpu.dropout_mask(100, 10, 0.3, 42);
    assert_eq!(m1, m2);
    let dropped = m1.data.iter().filter(|&&v| v == 0.0).count();
    assert!(
        (200..400).contains(&dropped),
        "{dropped} of 1000 dropped at p = 0.3"
    );
    assert!(m1
        .data
        .iter()
        .all(|&v| v == 0.0 || (v - 1.0 / 0.7).abs() < 1e-6));
}

#[test]
fn accumulating_in_the_gemm_equals_adding_the_product_bit_for_bit() {
    // (m, k, n, transpose a, transpose b): square and odd shapes, the depth block's edge and
    // beyond it, and the vector shapes.
    let shapes = [
        (37, 64, 16, false, false),
        (300, 129, 7, true, false),
        (65, 256, 33, false, true),
        (40, 300, 24, true, true),
        (1, 20, 9, false, false),
        (50, 12, 1, false, false),
    ];
    for (seed, &(m, k, n, ta, tb)) in shapes.iter().enumerate() {
        let seed = seed as u64 * 3;
        let a = if ta {
            random_matrix(k, m, seed)
        } else {
            random_matrix(m, k, seed)
        };
        let b = if tb {
            random_matrix(n, k, seed + 1)
        } else {
            random_matrix(k, n, seed + 1)
        };
        let start = random_matrix(m, n, seed + 2);
        let mut fused = start.clone();
        Cpu.matmul_add(&mut fused, &a, ta, &b, tb);
        let mut separate = start;
        Cpu.add_assign(&mut separate, &Cpu.matmul(&a, ta, &b, tb));
        let same = fused
            .data
            .iter()
            .zip(&separate.data)
            .all(|(x, y)| x.to_bits() == y.to_bits());
        assert!(same, "{m}×{k}·{k}×{n}");
    }
}
