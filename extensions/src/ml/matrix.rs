//! A dense row-major `f32` matrix: the host-side form of features, parameters and activations.

/// Dense row-major matrix.
#[derive(Clone, Debug, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct Matrix {
    /// Number of rows.
    pub rows: usize,
    /// Number of columns.
    pub cols: usize,
    /// `rows * cols` values, row after row.
    pub data: Vec<f32>,
}

impl Matrix {
    /// All zeros.
    pub fn zeros(rows: usize, cols: usize) -> Matrix {
        Matrix {
            rows,
            cols,
            data: vec![0.0; rows * cols],
        }
    }

    /// Every entry `value`.
    pub fn filled(rows: usize, cols: usize, value: f32) -> Matrix {
        Matrix {
            rows,
            cols,
            data: vec![value; rows * cols],
        }
    }

    /// From row-major values; panics if the length is not `rows * cols` (a programming error).
    pub fn from_vec(rows: usize, cols: usize, data: Vec<f32>) -> Matrix {
        assert_eq!(data.len(), rows * cols, "matrix data length");
        Matrix { rows, cols, data }
    }

    /// Row `i`.
    pub fn row(&self, i: usize) -> &[f32] {
        &self.data[i * self.cols..(i + 1) * self.cols]
    }

    /// Row `i`, mutable.
    pub fn row_mut(&mut self, i: usize) -> &mut [f32] {
        &mut self.data[i * self.cols..(i + 1) * self.cols]
    }

    /// Entry `(i, j)`.
    pub fn get(&self, i: usize, j: usize) -> f32 {
        self.data[i * self.cols + j]
    }

    /// The rows `indexes`, in that order.
    pub fn select_rows(&self, indexes: &[u32]) -> Matrix {
        let mut out = Matrix::zeros(indexes.len(), self.cols);
        for (o, &i) in indexes.iter().enumerate() {
            out.row_mut(o).copy_from_slice(self.row(i as usize));
        }
        out
    }

    /// Columns of `self` followed by columns of `other` (same row count).
    pub fn hconcat(&self, other: &Matrix) -> Matrix {
        assert_eq!(self.rows, other.rows, "hconcat row counts");
        let cols = self.cols + other.cols;
        let mut data = Vec::with_capacity(self.rows * cols);
        for i in 0..self.rows {
            data.extend_from_slice(self.row(i));
            data.extend_from_slice(other.row(i));
        }
        Matrix::from_vec(self.rows, cols, data)
    }

    /// Standardise every column to mean 0, standard deviation 1 using the statistics of the
    /// rows `fit_rows` (all rows when empty); constant columns become 0. Returns the
    /// (mean, std) per column so the same transform applies to new rows.
    pub fn standardize(&mut self, fit_rows: &[u32]) -> Vec<(f32, f32)> {
        let all: Vec<u32>;
        let rows: &[u32] = if fit_rows.is_empty() {
            all = (0..self.rows as u32).collect();
            &all
        } else {
            fit_rows
        };
        let n = rows.len().max(1) as f64;
        let mut stats = Vec::with_capacity(self.cols);
        for j in 0..self.cols {
            let mean = rows
                .iter()
                .map(|&i| self.get(i as usize, j) as f64)
                .sum::<f64>()
                / n;
            let var = rows
                .iter()
                .map(|&i| (self.get(i as usize, j) as f64 - mean).powi(2))
                .sum::<f64>()
                / n;
            let std = var.sqrt();
            stats.push((mean as f32, std as f32));
        }
        for i in 0..self.rows {
            for (j, v) in self.row_mut(i).iter_mut().enumerate() {
                let (mean, std) = stats[j];
                *v = if std > 1e-12 { (*v - mean) / std } else { 0.0 };
                if !v.is_finite() {
                    *v = 0.0;
                }
            }
        }
        stats
    }
}
