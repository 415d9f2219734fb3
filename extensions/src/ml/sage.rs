//! A GraphSAGE-family node model with what makes it strong in practice: separate self and
//! neighbour transforms, one neighbour transform per relation (so a heterogeneous graph is not
//! flattened), pre-layer normalisation, residual connections and dropout.
//!
//! ```text
//! h₀ = relu(x·W_in + b_in)
//! for each layer:  z = LayerNorm(h)
//!                  h = h + dropout(relu(z·W_self + Σ_r agg_r(z)·W_r + b))
//! logit = LayerNorm(h)·W_out + b_out          (embedding = LayerNorm(h))
//! ```
//!
//! All node labels share one index space; a relation is one (edge type, direction) pair over it.
//! Forward and backward are explicit calls on a [`Backend`], checked against finite differences
//! in the tests.

use super::backend::{AdamW, Aggregation, Backend, LayerNormCache};
use super::cpu::mix64;
use super::matrix::Matrix;

/// Shape and regularisation of a [`Sage`] model.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SageConfig {
    /// Input feature width.
    pub input: usize,
    /// Hidden width.
    pub hidden: usize,
    /// Message-passing layers.
    pub layers: usize,
    /// Number of relations (each gets its own neighbour transform).
    pub relations: usize,
    /// How neighbours are combined.
    pub aggregation: Aggregation,
    /// Dropout probability on each layer's update.
    pub dropout: f32,
    /// Seed of the initial weights.
    pub seed: u64,
}

/// One trainable tensor with its gradient and AdamW moments.
#[derive(Clone)]
pub struct Param<T> {
    /// Current value.
    pub value: T,
    /// Gradient of the last backward pass.
    pub grad: T,
    m: T,
    v: T,
    /// Weight decay applies (matrices), or not (biases, normalisation).
    decay: bool,
}

/// What a forward pass keeps for the backward pass.
pub struct ForwardCache<T> {
    input: T,
    h0: T,
    layers: Vec<LayerCache<T>>,
    head_norm: LayerNormCache<T>,
    /// Final node embeddings (`n × hidden`): the normalised last hidden state.
    pub embedding: T,
}

struct LayerCache<T> {
    z: T,
    norm: LayerNormCache<T>,
    aggregated: Vec<T>,
    activation: T,
    mask: Option<T>,
}

/// The model; see the module documentation.
pub struct Sage<B: Backend> {
    /// Its shape.
    pub config: SageConfig,
    params: Vec<Param<B::Tensor>>,
    step: u32,
}

/// Glorot-uniform initial weights, reproducible from `seed`.
fn glorot(rows: usize, cols: usize, seed: u64) -> Matrix {
    let limit = (6.0 / (rows + cols) as f64).sqrt();
    let data = (0..rows * cols)
        .map(|i| {
            let u = (mix64(seed ^ mix64(i as u64)) >> 11) as f64 / (1u64 << 53) as f64;
            ((2.0 * u - 1.0) * limit) as f32
        })
        .collect();
    Matrix::from_vec(rows, cols, data)
}

impl<B: Backend> Sage<B> {
    /// A freshly initialised model.
    pub fn new(backend: &B, config: SageConfig) -> Sage<B> {
        let (f, d) = (config.input, config.hidden);
        let mut shapes: Vec<(usize, usize, bool, f32)> =
            vec![(f, d, true, 0.0), (1, d, false, 0.0)];
        for _ in 0..config.layers {
            shapes.push((1, d, false, 1.0)); // norm scale
            shapes.push((1, d, false, 0.0)); // norm shift
            shapes.push((d, d, true, 0.0)); // self
            for _ in 0..config.relations {
                shapes.push((d, d, true, 0.0)); // neighbours, per relation
            }
            shapes.push((1, d, false, 0.0)); // bias
        }
        shapes.push((1, d, false, 1.0));
        shapes.push((1, d, false, 0.0));
        shapes.push((d, 1, true, 0.0));
        shapes.push((1, 1, false, 0.0));
        let params = shapes
            .iter()
            .enumerate()
            .map(|(i, &(r, c, is_weight, fill))| {
                let value = if is_weight {
                    glorot(r, c, mix64(config.seed.wrapping_add(i as u64)))
                } else {
                    Matrix::filled(r, c, fill)
                };
                Param {
                    value: backend.upload(&value),
                    grad: backend.zeros(r, c),
                    m: backend.zeros(r, c),
                    v: backend.zeros(r, c),
                    decay: is_weight,
                }
            })
            .collect();
        Sage {
            config,
            params,
            step: 0,
        }
    }

    fn layer_base(&self, layer: usize) -> usize {
        2 + layer * (4 + self.config.relations)
    }

    fn head_base(&self) -> usize {
        self.layer_base(self.config.layers)
    }

    fn p(&self, i: usize) -> &B::Tensor {
        &self.params[i].value
    }

    /// Every parameter, in a fixed order (for saving and for tests).
    pub fn params(&self) -> &[Param<B::Tensor>] {
        &self.params
    }

    /// Mutable access to the parameters (for loading saved values and for tests).
    pub fn params_mut(&mut self) -> &mut [Param<B::Tensor>] {
        &mut self.params
    }

    /// Number of trainable scalars.
    pub fn parameter_count(&self, backend: &B) -> usize {
        self.params
            .iter()
            .map(|p| {
                let (r, c) = backend.shape(&p.value);
                r * c
            })
            .sum()
    }

    /// `relu(x·W_in + b_in)`.
    fn input_layer(&self, backend: &B, x: &B::Tensor) -> B::Tensor {
        let mut u0 = backend.matmul(x, false, self.p(0), false);
        backend.add_row(&mut u0, self.p(1));
        backend.relu(&u0)
    }

    /// Logits (`n × 1`) for every node of `x`; `train` enables dropout with `seed`.
    pub fn forward(
        &self,
        backend: &B,
        graphs: &[B::Graph],
        x: &B::Tensor,
        train: bool,
        seed: u64,
    ) -> (B::Tensor, ForwardCache<B::Tensor>) {
        assert_eq!(
            graphs.len(),
            self.config.relations,
            "one graph per relation"
        );
        let h0 = self.input_layer(backend, x);
        let mut h = h0.clone();
        let mut layers = Vec::with_capacity(self.config.layers);
        for l in 0..self.config.layers {
            let base = self.layer_base(l);
            let (z, norm) = backend.layer_norm(&h, self.p(base), self.p(base + 1));
            let mut u = backend.matmul(&z, false, self.p(base + 2), false);
            let mut aggregated = Vec::with_capacity(graphs.len());
            for (r, g) in graphs.iter().enumerate() {
                let a = backend.aggregate(g, &z, self.config.aggregation);
                backend.matmul_add(&mut u, &a, false, self.p(base + 3 + r), false);
                aggregated.push(a);
            }
            let activation = backend.bias_relu(u, self.p(base + 3 + self.config.relations));
            let mask = if train && self.config.dropout > 0.0 {
                Some(backend.dropout_residual(
                    &mut h,
                    &activation,
                    self.config.dropout,
                    mix64(seed ^ l as u64),
                ))
            } else {
                backend.add_assign(&mut h, &activation);
                None
            };
            layers.push(LayerCache {
                z,
                norm,
                aggregated,
                activation,
                mask,
            });
        }
        let hb = self.head_base();
        let (embedding, head_norm) = backend.layer_norm(&h, self.p(hb), self.p(hb + 1));
        let mut logits = backend.matmul(&embedding, false, self.p(hb + 2), false);
        backend.add_row(&mut logits, self.p(hb + 3));
        (
            logits,
            ForwardCache {
                input: x.clone(),
                h0,
                layers,
                head_norm,
                embedding,
            },
        )
    }

    /// Inference that computes layer `l` only for the first `active[l]` rows and skips relations
    /// without messages: in a sampled block ordered by hop, the last layer is needed for the
    /// targets alone, the one before for targets and first hop, and so on. Returns the logits
    /// and embeddings of the first `active[last]` rows, equal to those of [`Sage::forward`]
    /// without dropout.
    pub fn infer(
        &self,
        backend: &B,
        graphs: &[B::Graph],
        x: &B::Tensor,
        active: &[usize],
    ) -> (B::Tensor, B::Tensor) {
        assert_eq!(
            active.len(),
            self.config.layers,
            "one active count per layer"
        );
        assert_eq!(
            graphs.len(),
            self.config.relations,
            "one graph per relation"
        );
        let mut h = self.input_layer(backend, x);
        for (l, &rows) in active.iter().enumerate() {
            let base = self.layer_base(l);
            let z = backend.layer_norm_output(&h, self.p(base), self.p(base + 1));
            let mut u = if rows == backend.shape(&z).0 {
                backend.matmul(&z, false, self.p(base + 2), false)
            } else {
                backend.matmul(&backend.head_rows(&z, rows), false, self.p(base + 2), false)
            };
            for (r, g) in graphs.iter().enumerate() {
                if backend.message_count(g) == 0 {
                    continue;
                }
                let a = backend.aggregate_rows(g, &z, self.config.aggregation, rows);
                backend.matmul_add(&mut u, &a, false, self.p(base + 3 + r), false);
            }
            let update = backend.bias_relu(u, self.p(base + 3 + self.config.relations));
            backend.add_assign_head(&mut h, &update);
        }
        let rows = active
            .last()
            .copied()
            .unwrap_or_else(|| backend.shape(&h).0);
        let hb = self.head_base();
        let embedding = if rows == backend.shape(&h).0 {
            backend.layer_norm_output(&h, self.p(hb), self.p(hb + 1))
        } else {
            backend.layer_norm_output(&backend.head_rows(&h, rows), self.p(hb), self.p(hb + 1))
        };
        let mut logits = backend.matmul(&embedding, false, self.p(hb + 2), false);
        backend.add_row(&mut logits, self.p(hb + 3));
        (logits, embedding)
    }

    /// Fill every parameter's gradient from the gradient of the loss with respect to the logits.
    pub fn backward(
        &mut self,
        backend: &B,
        graphs: &[B::Graph],
        cache: &ForwardCache<B::Tensor>,
        dlogits: &B::Tensor,
    ) {
        let hb = self.head_base();
        let relations = self.config.relations;
        let how = self.config.aggregation;
        let mut grads: Vec<(usize, B::Tensor)> = Vec::new();
        grads.push((
            hb + 2,
            backend.matmul(&cache.embedding, true, dlogits, false),
        ));
        grads.push((hb + 3, backend.column_sums(dlogits)));
        let dembedding = backend.matmul(dlogits, false, self.p(hb + 2), true);
        let (mut dh, dg, db) =
            backend.layer_norm_backward(&dembedding, &cache.head_norm, self.p(hb));
        grads.push((hb, dg));
        grads.push((hb + 1, db));
        for l in (0..self.config.layers).rev() {
            let base = self.layer_base(l);
            let lc = &cache.layers[l];
            let dactivation = match &lc.mask {
                Some(m) => backend.mul(&dh, m),
                None => dh.clone(),
            };
            let du = backend.relu_backward(&dactivation, &lc.activation);
            grads.push((base + 3 + relations, backend.column_sums(&du)));
            grads.push((base + 2, backend.matmul(&lc.z, true, &du, false)));
            let mut dz = backend.matmul(&du, false, self.p(base + 2), true);
            for (r, g) in graphs.iter().enumerate() {
                grads.push((
                    base + 3 + r,
                    backend.matmul(&lc.aggregated[r], true, &du, false),
                ));
                let da = backend.matmul(&du, false, self.p(base + 3 + r), true);
                backend.add_assign(&mut dz, &backend.aggregate_backward(g, &da, how));
            }
            let (dh_norm, dg, db) = backend.layer_norm_backward(&dz, &lc.norm, self.p(base));
            grads.push((base, dg));
            grads.push((base + 1, db));
            backend.add_assign(&mut dh, &dh_norm);
        }
        let du0 = backend.relu_backward(&dh, &cache.h0);
        grads.push((0, backend.matmul(&cache.input, true, &du0, false)));
        grads.push((1, backend.column_sums(&du0)));
        for (i, g) in grads {
            self.params[i].grad = g;
        }
    }

    /// One AdamW step on every parameter (no weight decay on biases and normalisation).
    pub fn update(&mut self, backend: &B, hp: &AdamW) {
        self.step += 1;
        for p in &mut self.params {
            let hp = AdamW {
                weight_decay: if p.decay { hp.weight_decay } else { 0.0 },
                ..*hp
            };
            backend.adamw_step(&mut p.value, &p.grad, &mut p.m, &mut p.v, self.step, &hp);
        }
    }

    /// Copy of the parameter values on the host (to keep the best epoch, or to save).
    pub fn snapshot(&self, backend: &B) -> Vec<Matrix> {
        self.params
            .iter()
            .map(|p| backend.download(&p.value))
            .collect()
    }

    /// Restore values taken by [`Sage::snapshot`].
    pub fn restore(&mut self, backend: &B, values: &[Matrix]) {
        for (p, v) in self.params.iter_mut().zip(values) {
            p.value = backend.upload(v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ml::cpu::Cpu;
    use crate::ml::relation::Relation;

    #[test]
    fn layered_inference_equals_the_full_forward_on_its_rows() {
        // A block ordered by hop: target 0; first hop 1, 2; second hop 3..6. Relation 1 is
        // empty, as relations often are in a sampled block.
        let n = 7;
        let hop = Relation::from_edges(n, n, &[(1, 0), (2, 0), (3, 1), (4, 1), (5, 2), (6, 2)]);
        let graphs = vec![hop, Relation::from_edges(n, n, &[])];
        let x = Matrix::from_vec(
            n,
            3,
            (0..n * 3)
                .map(|i| ((i * 37 % 11) as f32 - 5.0) / 3.0)
                .collect(),
        );
        let sage = Sage::new(
            &Cpu,
            SageConfig {
                input: 3,
                hidden: 8,
                layers: 2,
                relations: 2,
                aggregation: crate::ml::backend::Aggregation::Mean,
                dropout: 0.3,
                seed: 5,
            },
        );
        let (full, cache) = sage.forward(&Cpu, &graphs, &x, false, 0);
        let (logits, embedding) = sage.infer(&Cpu, &graphs, &x, &[3, 1]);
        assert_eq!(logits.rows, 1);
        assert!((logits.data[0] - full.data[0]).abs() < 1e-5);
        for (a, b) in embedding.row(0).iter().zip(cache.embedding.row(0)) {
            assert!((a - b).abs() < 1e-5);
        }
    }
}
