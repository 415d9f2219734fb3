//! The CPU backend: GEMM from `ndarray` (matrixmultiply, multi-threaded) and rayon for the
//! row-parallel sparse and elementwise operations, so both cores work.

use ndarray::linalg::general_mat_mul;
use ndarray::{ArrayView2, ArrayViewMut2};
use rayon::prelude::*;

use super::backend::{AdamW, Aggregation, Backend, LayerNormCache};
use super::matrix::Matrix;
use super::relation::Relation;

/// The CPU device.
#[derive(Clone, Copy, Debug, Default)]
pub struct Cpu;

const LAYER_NORM_EPS: f32 = 1e-5;
/// Rows per rayon task for cheap row operations: large enough to amortise scheduling.
const ROWS_PER_TASK: usize = 256;

fn view(m: &Matrix) -> ArrayView2<'_, f32> {
    ArrayView2::from_shape((m.rows, m.cols), &m.data).expect("matrix shape matches its data")
}

/// `m`, or its transpose, as an array view.
fn oriented(m: &Matrix, transpose: bool) -> ArrayView2<'_, f32> {
    if transpose {
        view(m).reversed_axes()
    } else {
        view(m)
    }
}

/// matrixmultiply's default f32 depth block (`MATMUL_SGEMM_KC`).
const GEMM_DEPTH_BLOCK: usize = 256;

/// A stateless 64-bit mix (SplitMix64's finaliser): a reproducible random stream that any
/// thread can index into.
pub fn mix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn zip_map(a: &Matrix, b: &Matrix, f: impl Fn(f32, f32) -> f32 + Sync) -> Matrix {
    assert_eq!((a.rows, a.cols), (b.rows, b.cols), "elementwise shapes");
    let data = a
        .data
        .par_iter()
        .zip(b.data.par_iter())
        .map(|(&x, &y)| f(x, y))
        .collect();
    Matrix::from_vec(a.rows, a.cols, data)
}

impl Backend for Cpu {
    type Tensor = Matrix;
    type Graph = Relation;

    fn upload(&self, m: &Matrix) -> Matrix {
        m.clone()
    }

    fn download(&self, t: &Matrix) -> Matrix {
        t.clone()
    }

    fn upload_relation(&self, r: &Relation) -> Relation {
        r.clone()
    }

    fn with_graphs<R>(&self, relations: &[Relation], f: impl FnOnce(&[Relation]) -> R) -> R {
        f(relations)
    }

    fn shape(&self, t: &Matrix) -> (usize, usize) {
        (t.rows, t.cols)
    }

    fn zeros(&self, rows: usize, cols: usize) -> Matrix {
        Matrix::zeros(rows, cols)
    }

    fn matmul(&self, a: &Matrix, transpose_a: bool, b: &Matrix, transpose_b: bool) -> Matrix {
        let (a, b) = (oriented(a, transpose_a), oriented(b, transpose_b));
        let (m, k) = a.dim();
        let (k2, n) = b.dim();
        assert_eq!(k, k2, "matmul inner dimensions");
        // Matrix-vector shapes (the output layer, its gradients): GEMM would spend its time
        // packing the large operand for one column of output.
        if n == 1 {
            let column = b.column(0);
            let data = (0..m)
                .into_par_iter()
                .map(|i| a.row(i).dot(&column))
                .collect();
            return Matrix::from_vec(m, 1, data);
        }
        if m == 1 {
            let row = a.row(0);
            let data = (0..n).map(|j| row.dot(&b.column(j))).collect();
            return Matrix::from_vec(1, n, data);
        }
        let mut out = Matrix::zeros(m, n);
        let mut c = ArrayViewMut2::from_shape((m, n), &mut out.data).expect("output shape");
        general_mat_mul(1.0, &a, &b, 0.0, &mut c);
        out
    }

    fn matmul_add(
        &self,
        c: &mut Matrix,
        a: &Matrix,
        transpose_a: bool,
        b: &Matrix,
        transpose_b: bool,
    ) {
        let (m, k) = if transpose_a {
            (a.cols, a.rows)
        } else {
            (a.rows, a.cols)
        };
        let n = if transpose_b { b.rows } else { b.cols };
        // Accumulating in the GEMM's own epilogue saves a product the size of the output. The
        // sum is the same bit for bit as adding the product afterwards while the GEMM adds its
        // one block of depth (`k` ≤ matrixmultiply's f32 depth block, 256) to the output once;
        // deeper products and vector shapes take the product-then-add way.
        if k > GEMM_DEPTH_BLOCK || m == 1 || n == 1 {
            let product = self.matmul(a, transpose_a, b, transpose_b);
            self.add_assign(c, &product);
            return;
        }
        let (a, b) = (oriented(a, transpose_a), oriented(b, transpose_b));
        assert_eq!(k, b.dim().0, "matmul inner dimensions");
        assert_eq!((c.rows, c.cols), (m, n), "matmul_add output shape");
        let mut out = ArrayViewMut2::from_shape((m, n), &mut c.data).expect("output shape");
        general_mat_mul(1.0, &a, &b, 1.0, &mut out);
    }

    fn add_row(&self, x: &mut Matrix, bias: &Matrix) {
        assert_eq!(bias.data.len(), x.cols, "bias width");
        let cols = x.cols;
        x.data
            .par_chunks_mut(cols * ROWS_PER_TASK)
            .for_each(|rows| {
                for row in rows.chunks_mut(cols) {
                    for (v, b) in row.iter_mut().zip(&bias.data) {
                        *v += b;
                    }
                }
            });
    }

    fn column_sums(&self, x: &Matrix) -> Matrix {
        let cols = x.cols;
        let partials: Vec<Vec<f32>> = x
            .data
            .par_chunks(cols.max(1) * ROWS_PER_TASK)
            .map(|rows| {
                let mut acc = vec![0f32; cols];
                for row in rows.chunks(cols) {
                    for (a, v) in acc.iter_mut().zip(row) {
                        *a += v;
                    }
                }
                acc
            })
            .collect();
        // The partial sums are added in row order, not in the order threads finish: a parallel
        // reduce pairs them as the work happened to be split, which changed the last bits of
        // the bias gradients, and so trained networks, from run to run.
        let mut sums = vec![0f32; cols];
        for partial in partials {
            for (s, v) in sums.iter_mut().zip(partial) {
                *s += v;
            }
        }
        Matrix::from_vec(1, cols, sums)
    }

    fn add_assign(&self, a: &mut Matrix, b: &Matrix) {
        assert_eq!((a.rows, a.cols), (b.rows, b.cols), "add_assign shapes");
        a.data
            .par_iter_mut()
            .zip(b.data.par_iter())
            .for_each(|(x, y)| *x += y);
    }

    fn head_rows(&self, x: &Matrix, rows: usize) -> Matrix {
        assert!(rows <= x.rows, "head_rows beyond the tensor");
        Matrix::from_vec(rows, x.cols, x.data[..rows * x.cols].to_vec())
    }

    fn add_assign_head(&self, a: &mut Matrix, b: &Matrix) {
        assert!(
            a.cols == b.cols && b.rows <= a.rows,
            "add_assign_head shapes"
        );
        a.data[..b.data.len()]
            .par_iter_mut()
            .zip(b.data.par_iter())
            .for_each(|(x, y)| *x += y);
    }

    fn message_count(&self, g: &Relation) -> usize {
        g.edge_count()
    }

    fn relu(&self, x: &Matrix) -> Matrix {
        let data = x.data.par_iter().map(|&v| v.max(0.0)).collect();
        Matrix::from_vec(x.rows, x.cols, data)
    }

    fn relu_backward(&self, dy: &Matrix, y: &Matrix) -> Matrix {
        zip_map(dy, y, |g, out| if out > 0.0 { g } else { 0.0 })
    }

    fn mul(&self, a: &Matrix, b: &Matrix) -> Matrix {
        zip_map(a, b, |x, y| x * y)
    }

    fn dropout_mask(&self, rows: usize, cols: usize, p: f32, seed: u64) -> Matrix {
        let keep = 1.0 - p;
        let scale = if keep > 0.0 { 1.0 / keep } else { 0.0 };
        let data = (0..rows * cols)
            .into_par_iter()
            .map(|i| {
                let r = mix64(seed ^ mix64(i as u64));
                let u = (r >> 40) as f32 / (1u64 << 24) as f32;
                if u < p {
                    0.0
                } else {
                    scale
                }
            })
            .collect();
        Matrix::from_vec(rows, cols, data)
    }

    fn layer_norm(
        &self,
        x: &Matrix,
        gamma: &Matrix,
        beta: &Matrix,
    ) -> (Matrix, LayerNormCache<Matrix>) {
        let cols = x.cols;
        let mut normalized = Matrix::zeros(x.rows, cols);
        let mut out = Matrix::zeros(x.rows, cols);
        let mut inv_std = Matrix::zeros(x.rows, 1);
        normalized
            .data
            .par_chunks_mut(cols)
            .zip(out.data.par_chunks_mut(cols))
            .zip(inv_std.data.par_iter_mut())
            .zip(x.data.par_chunks(cols))
            .for_each(|(((xhat, y), rstd), row)| {
                *rstd = layer_norm_row(row, gamma, beta, y, |j, v| xhat[j] = v);
            });
        (
            out,
            LayerNormCache {
                normalized,
                inv_std,
            },
        )
    }

    fn layer_norm_output(&self, x: &Matrix, gamma: &Matrix, beta: &Matrix) -> Matrix {
        let mut out = Matrix::zeros(x.rows, x.cols);
        out.data
            .par_chunks_mut(x.cols.max(1))
            .zip(x.data.par_chunks(x.cols.max(1)))
            .for_each(|(y, row)| {
                layer_norm_row(row, gamma, beta, y, |_, _| {});
            });
        out
    }

    fn layer_norm_backward(
        &self,
        dy: &Matrix,
        cache: &LayerNormCache<Matrix>,
        gamma: &Matrix,
    ) -> (Matrix, Matrix, Matrix) {
        let cols = dy.cols;
        let mut dx = Matrix::zeros(dy.rows, cols);
        dx.data
            .par_chunks_mut(cols)
            .zip(dy.data.par_chunks(cols))
            .zip(cache.normalized.data.par_chunks(cols))
            .zip(cache.inv_std.data.par_iter())
            .for_each(|(((dxr, dyr), xhat), &rstd)| {
                let n = cols as f32;
                let mut mean_g = 0.0;
                let mut mean_gx = 0.0;
                for j in 0..cols {
                    let g = dyr[j] * gamma.data[j];
                    mean_g += g;
                    mean_gx += g * xhat[j];
                }
                mean_g /= n;
                mean_gx /= n;
                for j in 0..cols {
                    let g = dyr[j] * gamma.data[j];
                    dxr[j] = rstd * (g - mean_g - xhat[j] * mean_gx);
                }
            });
        let dgamma = self.column_sums(&self.mul(dy, &cache.normalized));
        let dbeta = self.column_sums(dy);
        (dx, dgamma, dbeta)
    }

    fn aggregate(&self, graph: &Relation, x: &Matrix, how: Aggregation) -> Matrix {
        self.aggregate_rows(graph, x, how, graph.target_count)
    }

    fn aggregate_rows(
        &self,
        graph: &Relation,
        x: &Matrix,
        how: Aggregation,
        rows: usize,
    ) -> Matrix {
        assert_eq!(x.rows, graph.source_count, "aggregate input rows");
        assert!(
            rows <= graph.target_count,
            "aggregate rows beyond the targets"
        );
        let cols = x.cols;
        let mut out = Matrix::zeros(rows, cols);
        out.data
            .par_chunks_mut(cols.max(1))
            .enumerate()
            .for_each(|(t, row)| {
                let sources = graph.sources_of(t);
                for &s in sources {
                    for (o, v) in row.iter_mut().zip(x.row(s as usize)) {
                        *o += v;
                    }
                }
                if how == Aggregation::Mean && !sources.is_empty() {
                    let inv = 1.0 / sources.len() as f32;
                    row.iter_mut().for_each(|o| *o *= inv);
                }
            });
        out
    }

    fn aggregate_backward(&self, graph: &Relation, dy: &Matrix, how: Aggregation) -> Matrix {
        assert_eq!(dy.rows, graph.target_count, "aggregate gradient rows");
        let cols = dy.cols;
        let mut dx = Matrix::zeros(graph.source_count, cols);
        // Gather over the reverse adjacency instead of scattering: no two threads write a row.
        dx.data
            .par_chunks_mut(cols)
            .enumerate()
            .for_each(|(s, row)| {
                for &t in graph.targets_of(s) {
                    let scale = match how {
                        Aggregation::Mean => 1.0 / graph.in_degree(t as usize) as f32,
                        Aggregation::Sum => 1.0,
                    };
                    for (o, g) in row.iter_mut().zip(dy.row(t as usize)) {
                        *o += g * scale;
                    }
                }
            });
        dx
    }

    fn bce_with_logits(
        &self,
        logits: &Matrix,
        targets: &Matrix,
        weights: &Matrix,
    ) -> (f32, Matrix) {
        let total_weight: f64 = weights.data.iter().map(|&w| w as f64).sum();
        let norm = if total_weight > 0.0 {
            total_weight
        } else {
            1.0
        };
        let mut loss = 0f64;
        let mut grad = Matrix::zeros(logits.rows, logits.cols);
        for i in 0..logits.data.len() {
            let (z, y, w) = (logits.data[i], targets.data[i], weights.data[i]);
            if w == 0.0 {
                continue;
            }
            let l = z.max(0.0) - z * y + (-z.abs()).exp().ln_1p();
            loss += (w * l) as f64;
            let sigmoid = 1.0 / (1.0 + (-z).exp());
            grad.data[i] = (w as f64 * (sigmoid - y) as f64 / norm) as f32;
        }
        ((loss / norm) as f32, grad)
    }

    fn adamw_step(
        &self,
        param: &mut Matrix,
        grad: &Matrix,
        m: &mut Matrix,
        v: &mut Matrix,
        step: u32,
        hp: &AdamW,
    ) {
        let bias1 = 1.0 - hp.beta1.powi(step as i32);
        let bias2 = 1.0 - hp.beta2.powi(step as i32);
        param
            .data
            .par_iter_mut()
            .zip(grad.data.par_iter())
            .zip(m.data.par_iter_mut())
            .zip(v.data.par_iter_mut())
            .for_each(|(((p, &g), m), v)| {
                *m = hp.beta1 * *m + (1.0 - hp.beta1) * g;
                *v = hp.beta2 * *v + (1.0 - hp.beta2) * g * g;
                let update = (*m / bias1) / ((*v / bias2).sqrt() + hp.eps);
                *p -= hp.lr * (update + hp.weight_decay * *p);
            });
    }
}

/// One row of layer normalisation into `y`, handing each normalised value to `normalized`;
/// returns the row's inverse standard deviation. Training and inference share it, so their
/// outputs are the same bit for bit.
fn layer_norm_row(
    row: &[f32],
    gamma: &Matrix,
    beta: &Matrix,
    y: &mut [f32],
    mut normalized: impl FnMut(usize, f32),
) -> f32 {
    let n = row.len() as f32;
    let mean = row.iter().sum::<f32>() / n;
    let var = row.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / n;
    let rstd = 1.0 / (var + LAYER_NORM_EPS).sqrt();
    for j in 0..row.len() {
        let xhat = (row[j] - mean) * rstd;
        normalized(j, xhat);
        y[j] = xhat * gamma.data[j] + beta.data[j];
    }
    rstd
}
