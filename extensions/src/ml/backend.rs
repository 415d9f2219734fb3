//! The few dense and sparse operations the models need, as a trait a compute device implements.
//!
//! Models are written once against [`Backend`]; the CPU implementation ([`super::cpu::Cpu`])
//! and a CUDA one implement the same operations, each keeping tensors in its own memory
//! (`Backend::Tensor`). Every operation used in training has its backward counterpart here, so
//! no device needs a general autodiff engine: the model code chains forward and backward calls
//! explicitly, and tests check the chain against finite differences.

use super::matrix::Matrix;
use super::relation::Relation;

/// How a node combines its neighbours' vectors.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub enum Aggregation {
    /// The average over incoming messages (0 for a node with none).
    #[default]
    Mean,
    /// The sum: keeps how many neighbours there are, which mean discards.
    Sum,
}

impl Aggregation {
    /// Parse `mean` or `sum`.
    pub fn parse(s: &str) -> Option<Aggregation> {
        match s {
            "mean" => Some(Aggregation::Mean),
            "sum" => Some(Aggregation::Sum),
            _ => None,
        }
    }

    /// Its name, as parsed.
    pub fn name(self) -> &'static str {
        match self {
            Aggregation::Mean => "mean",
            Aggregation::Sum => "sum",
        }
    }
}

/// AdamW hyperparameters for one step.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AdamW {
    /// Learning rate.
    pub lr: f32,
    /// First-moment decay.
    pub beta1: f32,
    /// Second-moment decay.
    pub beta2: f32,
    /// Denominator guard.
    pub eps: f32,
    /// Decoupled weight decay.
    pub weight_decay: f32,
}

impl Default for AdamW {
    fn default() -> Self {
        AdamW {
            lr: 1e-3,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
        }
    }
}

/// What layer normalisation keeps for its backward pass.
pub struct LayerNormCache<T> {
    /// The normalised input (before scale and shift).
    pub normalized: T,
    /// `1 / sqrt(var + eps)` per row, as a column.
    pub inv_std: T,
}

/// A compute device for the models.
/// `'static` so that device-resident state (a loaded model's networks) can be cached by type.
pub trait Backend: Sync + 'static {
    /// A dense row-major `f32` matrix in the device's memory.
    type Tensor: Clone + Send + Sync;
    /// A [`Relation`] in the device's memory.
    type Graph: Send + Sync;

    /// Copy a host matrix to the device.
    fn upload(&self, m: &Matrix) -> Self::Tensor;
    /// Copy a device tensor to the host.
    fn download(&self, t: &Self::Tensor) -> Matrix;
    /// Copy a relation to the device.
    fn upload_relation(&self, r: &Relation) -> Self::Graph;
    /// Run `f` with `relations` in the device's memory: uploaded once for the whole of `f`
    /// (the CPU uses them in place).
    fn with_graphs<R>(&self, relations: &[Relation], f: impl FnOnce(&[Self::Graph]) -> R) -> R
    where
        Self: Sized,
    {
        let graphs: Vec<Self::Graph> = relations.iter().map(|r| self.upload_relation(r)).collect();
        f(&graphs)
    }
    /// `(rows, cols)` of a tensor.
    fn shape(&self, t: &Self::Tensor) -> (usize, usize);
    /// A zero tensor.
    fn zeros(&self, rows: usize, cols: usize) -> Self::Tensor;

    /// `op(a) · op(b)` where `op` transposes when the flag is set.
    fn matmul(
        &self,
        a: &Self::Tensor,
        transpose_a: bool,
        b: &Self::Tensor,
        transpose_b: bool,
    ) -> Self::Tensor;
    /// `c += op(a) · op(b)`: a device can accumulate into `c` within the GEMM.
    fn matmul_add(
        &self,
        c: &mut Self::Tensor,
        a: &Self::Tensor,
        transpose_a: bool,
        b: &Self::Tensor,
        transpose_b: bool,
    ) {
        let product = self.matmul(a, transpose_a, b, transpose_b);
        self.add_assign(c, &product);
    }
    /// `x[i, :] += bias[0, :]` for every row.
    fn add_row(&self, x: &mut Self::Tensor, bias: &Self::Tensor);
    /// `max(x + bias, 0)`, reusing `x`: a device can add the bias and apply ReLU in one pass.
    fn bias_relu(&self, mut x: Self::Tensor, bias: &Self::Tensor) -> Self::Tensor {
        self.add_row(&mut x, bias);
        self.relu(&x)
    }
    /// Column sums as a `1 × cols` tensor (the gradient of [`Backend::add_row`]'s bias).
    fn column_sums(&self, x: &Self::Tensor) -> Self::Tensor;
    /// `a += b`.
    fn add_assign(&self, a: &mut Self::Tensor, b: &Self::Tensor);
    /// The first `rows` rows of `x`.
    fn head_rows(&self, x: &Self::Tensor, rows: usize) -> Self::Tensor;
    /// `a[..b.rows] += b`: add `b` into the first rows of `a`.
    fn add_assign_head(&self, a: &mut Self::Tensor, b: &Self::Tensor);
    /// [`Backend::aggregate`] for the first `rows` targets only.
    fn aggregate_rows(
        &self,
        graph: &Self::Graph,
        x: &Self::Tensor,
        how: Aggregation,
        rows: usize,
    ) -> Self::Tensor;
    /// Number of messages of a graph (empty relations are skipped at inference).
    fn message_count(&self, g: &Self::Graph) -> usize;
    /// `max(x, 0)`.
    fn relu(&self, x: &Self::Tensor) -> Self::Tensor;
    /// Gradient of ReLU given its output `y`.
    fn relu_backward(&self, dy: &Self::Tensor, y: &Self::Tensor) -> Self::Tensor;
    /// Elementwise product.
    fn mul(&self, a: &Self::Tensor, b: &Self::Tensor) -> Self::Tensor;
    /// Inverted-dropout mask: each entry `0` with probability `p`, else `1 / (1 - p)`;
    /// deterministic in `seed`.
    fn dropout_mask(&self, rows: usize, cols: usize, p: f32, seed: u64) -> Self::Tensor;

    /// `h += activation ⊙ mask` with a fresh [`Backend::dropout_mask`]`(p, seed)`, returning the
    /// mask for the backward pass: a device can draw the mask and add the residual in one pass.
    fn dropout_residual(
        &self,
        h: &mut Self::Tensor,
        activation: &Self::Tensor,
        p: f32,
        seed: u64,
    ) -> Self::Tensor {
        let (rows, cols) = self.shape(activation);
        let mask = self.dropout_mask(rows, cols, p, seed);
        let update = self.mul(activation, &mask);
        self.add_assign(h, &update);
        mask
    }

    /// Row-wise layer normalisation with scale `gamma` and shift `beta` (`1 × cols` each).
    fn layer_norm(
        &self,
        x: &Self::Tensor,
        gamma: &Self::Tensor,
        beta: &Self::Tensor,
    ) -> (Self::Tensor, LayerNormCache<Self::Tensor>);
    /// The output of [`Backend::layer_norm`] alone, for inference (no cache for a backward
    /// pass to allocate).
    fn layer_norm_output(
        &self,
        x: &Self::Tensor,
        gamma: &Self::Tensor,
        beta: &Self::Tensor,
    ) -> Self::Tensor {
        self.layer_norm(x, gamma, beta).0
    }
    /// Gradients of [`Backend::layer_norm`]: `(dx, dgamma, dbeta)`.
    fn layer_norm_backward(
        &self,
        dy: &Self::Tensor,
        cache: &LayerNormCache<Self::Tensor>,
        gamma: &Self::Tensor,
    ) -> (Self::Tensor, Self::Tensor, Self::Tensor);

    /// For each target node of `graph`, the aggregation of its sources' rows of `x`.
    fn aggregate(&self, graph: &Self::Graph, x: &Self::Tensor, how: Aggregation) -> Self::Tensor;
    /// Gradient of [`Backend::aggregate`] with respect to `x`.
    fn aggregate_backward(
        &self,
        graph: &Self::Graph,
        dy: &Self::Tensor,
        how: Aggregation,
    ) -> Self::Tensor;

    /// Weighted binary cross-entropy on logits (`n × 1`): returns the loss
    /// `Σ wᵢ·bce(zᵢ, yᵢ) / Σ wᵢ` and its gradient with respect to the logits.
    fn bce_with_logits(
        &self,
        logits: &Self::Tensor,
        targets: &Self::Tensor,
        weights: &Self::Tensor,
    ) -> (f32, Self::Tensor);

    /// One AdamW update of `param` from `grad`, with moment buffers `m`, `v`; `step` counts
    /// from 1.
    fn adamw_step(
        &self,
        param: &mut Self::Tensor,
        grad: &Self::Tensor,
        m: &mut Self::Tensor,
        v: &mut Self::Tensor,
        step: u32,
        hp: &AdamW,
    );
}
