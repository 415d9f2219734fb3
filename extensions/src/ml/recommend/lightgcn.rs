//! Graph collaborative filtering in the LightGCN family (He et al. 2020): one embedding per
//! user and item, propagated over the user–item graph with symmetric normalisation
//! `Ê = D^-½ A D^-½ E` for a few layers and averaged over layers; trained with the BPR loss on
//! (user, interacted item, sampled non-interacted item) triples. Written against
//! [`Backend`], so the propagation and the optimiser run on whichever device was chosen; the
//! loss over a batch is computed on the host from the propagated embeddings.

use serde::{Deserialize, Serialize};

use super::interactions::Interactions;
use crate::ml::backend::{AdamW, Aggregation, Backend};
use crate::ml::cpu::mix64;
use crate::ml::matrix::Matrix;
use crate::ml::relation::Relation;

/// Training settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LightGcnSettings {
    /// Embedding width.
    pub dim: usize,
    /// Propagation layers.
    pub layers: usize,
    /// Passes over the interactions.
    pub epochs: usize,
    /// Triples per optimiser step.
    pub batch: usize,
    /// AdamW learning rate.
    pub lr: f32,
    /// AdamW decoupled weight decay.
    pub weight_decay: f32,
    /// Seed of the initial embeddings and the sampling.
    pub seed: u64,
}

impl Default for LightGcnSettings {
    fn default() -> Self {
        LightGcnSettings {
            dim: 64,
            layers: 3,
            epochs: 60,
            batch: 2048,
            lr: 0.01,
            weight_decay: 1e-4,
            seed: 7,
        }
    }
}

/// Propagated embeddings: `users` (users × dim) and `items` (items × dim); a user's score
/// for an item is the dot product.
#[derive(Clone, Debug, PartialEq)]
pub struct LightGcn {
    /// One row per user.
    pub users: Matrix,
    /// One row per item.
    pub items: Matrix,
}

impl LightGcn {
    /// Scores of every item for the query vector `q` (length dim).
    pub fn item_scores(&self, q: &[f32]) -> Vec<f32> {
        (0..self.items.rows)
            .map(|i| self.items.row(i).iter().zip(q).map(|(a, b)| a * b).sum())
            .collect()
    }
}

/// A reproducible random stream.
struct Stream(u64);

impl Stream {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(1);
        mix64(self.0)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn normal(&mut self) -> f32 {
        let u1 = ((self.next() >> 11) as f64 + 1.0) / (1u64 << 53) as f64;
        let u2 = (self.next() >> 11) as f64 / (1u64 << 53) as f64;
        ((-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()) as f32
    }
}

struct Graph<B: Backend> {
    relation: B::Graph,
    /// `deg^-½` of each node, repeated across the row (so scaling is an elementwise product).
    scale: B::Tensor,
}

fn propagate<B: Backend>(backend: &B, g: &Graph<B>, e0: &B::Tensor, layers: usize) -> B::Tensor {
    let mut total = e0.clone();
    let mut e = e0.clone();
    for _ in 0..layers {
        let scaled = backend.mul(&e, &g.scale);
        let summed = backend.aggregate(&g.relation, &scaled, Aggregation::Sum);
        e = backend.mul(&summed, &g.scale);
        backend.add_assign(&mut total, &e);
    }
    total
}

/// Gradient with respect to the layer-0 embeddings of `layer_mean = Σₗ Eₗ / (L + 1)`, given
/// `d_sum`, the gradient with respect to `Σₗ Eₗ` (the caller folds in the `1 / (L + 1)`).
fn propagate_backward<B: Backend>(
    backend: &B,
    g: &Graph<B>,
    d_sum: &B::Tensor,
    layers: usize,
) -> B::Tensor {
    // Eₗ = S A S Eₗ₋₁ with A symmetric; walk from the last layer down.
    let mut grad = d_sum.clone();
    for _ in 0..layers {
        let scaled = backend.mul(&grad, &g.scale);
        let back = backend.aggregate_backward(&g.relation, &scaled, Aggregation::Sum);
        let mut next = backend.mul(&back, &g.scale);
        backend.add_assign(&mut next, d_sum);
        grad = next;
    }
    grad
}

/// Train on `train`'s distinct (user, item) pairs. `after_epoch(epoch, mean loss, model)`
/// runs every `report_every` epochs (and after the last) with the current propagated
/// embeddings; returning `false` stops training.
pub fn train<B: Backend>(
    backend: &B,
    train: &Interactions,
    settings: &LightGcnSettings,
    report_every: usize,
    mut after_epoch: impl FnMut(usize, f32, &LightGcn) -> bool,
) -> LightGcn {
    let (users, items, dim) = (train.user_count, train.item_count, settings.dim);
    let n = users + items;
    let pairs = train.pairs();
    let edges: Vec<(u32, u32)> = pairs.iter().map(|&(u, i)| (u, users as u32 + i)).collect();
    let relation = Relation::undirected(n, &edges);
    let mut scale = Matrix::zeros(n, dim);
    for v in 0..n {
        let d = relation.in_degree(v);
        let s = if d == 0 { 0.0 } else { 1.0 / (d as f32).sqrt() };
        scale.row_mut(v).fill(s);
    }
    let graph = Graph::<B> {
        relation: backend.upload_relation(&relation),
        scale: backend.upload(&scale),
    };
    let mut rng = Stream(settings.seed);
    let init = Matrix::from_vec(n, dim, (0..n * dim).map(|_| 0.1 * rng.normal()).collect());
    let mut e0 = backend.upload(&init);
    let mut m = backend.zeros(n, dim);
    let mut v = backend.zeros(n, dim);
    let hp = AdamW {
        lr: settings.lr,
        weight_decay: settings.weight_decay,
        ..AdamW::default()
    };
    let positives: Vec<Vec<u32>> = (0..users).map(|u| train.distinct_items_of(u)).collect();
    let mean_factor = 1.0 / (settings.layers as f32 + 1.0);
    let split = |full: Matrix| LightGcn {
        users: Matrix::from_vec(users, dim, full.data[..users * dim].to_vec()),
        items: Matrix::from_vec(items, dim, full.data[users * dim..].to_vec()),
    };
    let mut order: Vec<usize> = (0..pairs.len()).collect();
    let mut step = 0u32;
    let mut last = None;
    for epoch in 1..=settings.epochs.max(1) {
        for k in (1..order.len()).rev() {
            order.swap(k, rng.below(k + 1));
        }
        let mut loss_sum = 0f64;
        for batch in order.chunks(settings.batch.max(1)) {
            let mean = backend.download(&propagate(backend, &graph, &e0, settings.layers));
            let mut d_mean = Matrix::zeros(n, dim);
            let scale_grad = 1.0 / batch.len() as f32;
            for &p in batch {
                let (u, i) = pairs[p];
                let seen = &positives[u as usize];
                if seen.len() >= items {
                    continue;
                }
                let j = loop {
                    let j = rng.below(items) as u32;
                    if seen.binary_search(&j).is_err() {
                        break j;
                    }
                };
                let (ru, ri, rj) = (u as usize, users + i as usize, users + j as usize);
                let x: f32 = (0..dim)
                    .map(|c| mean.get(ru, c) * (mean.get(ri, c) - mean.get(rj, c)))
                    .sum();
                // -ln σ(x) and its slope -(1 - σ(x)).
                let sig = 1.0 / (1.0 + (-x).exp());
                loss_sum += f64::from(-(sig.max(1e-12)).ln());
                let g = -(1.0 - sig) * scale_grad;
                for c in 0..dim {
                    let (eu, ei, ej) = (mean.get(ru, c), mean.get(ri, c), mean.get(rj, c));
                    d_mean.row_mut(ru)[c] += g * (ei - ej);
                    d_mean.row_mut(ri)[c] += g * eu;
                    d_mean.row_mut(rj)[c] -= g * eu;
                }
            }
            for value in &mut d_mean.data {
                *value *= mean_factor;
            }
            let d_sum = backend.upload(&d_mean);
            let grad = propagate_backward(backend, &graph, &d_sum, settings.layers);
            step += 1;
            backend.adamw_step(&mut e0, &grad, &mut m, &mut v, step, &hp);
        }
        let loss = (loss_sum / pairs.len().max(1) as f64) as f32;
        if epoch % report_every.max(1) == 0 || epoch == settings.epochs {
            let mut full = backend.download(&propagate(backend, &graph, &e0, settings.layers));
            for value in &mut full.data {
                *value *= mean_factor;
            }
            let model = split(full);
            let go_on = after_epoch(epoch, loss, &model);
            last = Some(model);
            if !go_on {
                break;
            }
        }
    }
    last.expect("at least one report")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ml::cpu::Cpu;
    use crate::ml::recommend::Event;

    #[test]
    fn propagation_backward_matches_finite_differences() {
        let backend = Cpu;
        let relation = Relation::undirected(4, &[(0, 2), (0, 3), (1, 3)]);
        let mut scale = Matrix::zeros(4, 2);
        for v in 0..4 {
            let d = relation.in_degree(v) as f32;
            scale.row_mut(v).fill(1.0 / d.sqrt());
        }
        let g = Graph::<Cpu> {
            relation: backend.upload_relation(&relation),
            scale: backend.upload(&scale),
        };
        let e0 = Matrix::from_vec(4, 2, vec![0.3, -0.2, 0.5, 0.1, -0.4, 0.7, 0.2, 0.9]);
        let weights = Matrix::from_vec(4, 2, vec![1.0, -2.0, 0.5, 0.3, -0.7, 1.1, 0.9, -0.4]);
        // f(E0) = Σ weights ⊙ propagate(E0): its gradient is propagate_backward(weights).
        let f = |e: &Matrix| -> f32 {
            let p = propagate(&backend, &g, e, 2);
            p.data.iter().zip(&weights.data).map(|(a, b)| a * b).sum()
        };
        let grad = propagate_backward(&backend, &g, &weights, 2);
        for k in 0..8 {
            let (mut plus, mut minus) = (e0.clone(), e0.clone());
            plus.data[k] += 1e-3;
            minus.data[k] -= 1e-3;
            let numeric = (f(&plus) - f(&minus)) / 2e-3;
            assert!(
                (numeric - grad.data[k]).abs() < 1e-3,
                "{k}: {numeric} vs {}",
                grad.data[k]
            );
        }
    }

    #[test]
    fn learns_two_planted_tastes() {
        // Users 0..20 take items 0..10, users 20..40 items 10..20, each a random half.
        let mut events = Vec::new();
        let mut rng = Stream(3);
        for u in 0..40u32 {
            let base = if u < 20 { 0 } else { 10 };
            for i in 0..10u32 {
                if rng.below(2) == 0 {
                    events.push(Event {
                        user: u,
                        item: base + i,
                        time: i64::from(i),
                        kind: 0,
                    });
                }
            }
        }
        let log = Interactions::from_events(40, 20, events);
        let settings = LightGcnSettings {
            dim: 8,
            epochs: 40,
            batch: 64,
            ..LightGcnSettings::default()
        };
        let mut losses = Vec::new();
        let model = train(&Cpu, &log, &settings, 10, |_, loss, _| {
            losses.push(loss);
            true
        });
        assert!(losses.last() < losses.first(), "{losses:?}");
        for u in [0usize, 25] {
            let scores = model.item_scores(model.users.row(u));
            let (own, other) = if u < 20 {
                (0..10, 10..20)
            } else {
                (10..20, 0..10)
            };
            let own_mean: f32 = scores[own].iter().sum::<f32>() / 10.0;
            let other_mean: f32 = scores[other].iter().sum::<f32>() / 10.0;
            assert!(own_mean > other_mean, "user {u}: {scores:?}");
        }
    }
}
