//! Model functions callable from SQL, registered by [`register`]:
//!
//! - `fraud_score(key [, model])` — scalar, vectorised: the deployed version of `model` (the
//!   only registered model when omitted) scores every key of the batch in one pass; NULL for a
//!   key that does not exist.
//! - `explain_score(key [, model])` — the score with the features and neighbours that drove
//!   it, as JSON text.
//! - `embedding(key [, model])` — the GNN embedding of the node, as a list of floats.
//!
//! Keys are keys of the model's label. Scoring uses every stored edge; `argus score --as-of`
//! (and the Rust API) score as of a time.

use std::sync::Arc;

use argus_db::serving::Scorer;
use argus_db::Database;
use datafusion::arrow::array::{
    Array, ArrayRef, Float32Builder, Float64Builder, ListBuilder, StringArray, StringBuilder,
};
use datafusion::arrow::datatypes::{DataType, Field};
use datafusion::common::Result;
use datafusion::execution::context::SessionContext;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, TypeSignature,
    Volatility,
};

use crate::functions::string_column;
use crate::table::SnapshotSlot;
use crate::to_df;

/// Register the model functions on `ctx`.
pub fn register(ctx: &SessionContext, db: Database, slot: SnapshotSlot) {
    for kind in [Kind::Score, Kind::Explain, Kind::Embedding] {
        ctx.register_udf(ScalarUDF::new_from_impl(ModelFunction {
            kind,
            db: db.clone(),
            slot: slot.clone(),
            signature: Signature::one_of(
                vec![TypeSignature::String(1), TypeSignature::String(2)],
                Volatility::Stable,
            ),
        }));
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
enum Kind {
    Score,
    Explain,
    Embedding,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Score => "fraud_score",
            Kind::Explain => "explain_score",
            Kind::Embedding => "embedding",
        }
    }
}

struct ModelFunction {
    kind: Kind,
    db: Database,
    slot: SnapshotSlot,
    signature: Signature,
}

impl std::fmt::Debug for ModelFunction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.kind.name())
    }
}

impl PartialEq for ModelFunction {
    fn eq(&self, other: &Self) -> bool {
        self.kind == other.kind
    }
}
impl Eq for ModelFunction {}
impl std::hash::Hash for ModelFunction {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.kind.hash(state);
    }
}

impl ModelFunction {
    /// The scorer of `name`, or of the only registered model.
    fn scorer(&self, name: Option<&str>) -> Result<Arc<Scorer>> {
        let name = match name {
            Some(n) => n.to_string(),
            None => self.db.default_model(None).map_err(|e| {
                datafusion::error::DataFusionError::Execution(format!(
                    "{}: {e} (as the second argument)",
                    self.kind.name()
                ))
            })?,
        };
        self.db.scorer(&name, None).map_err(to_df)
    }

    /// `per_key(key)` for every non-null key, grouped by model; missing keys give `None`.
    fn per_key<T>(
        &self,
        groups: &[(Option<String>, Vec<usize>)],
        keys: &StringArray,
        rows: usize,
        per_key: impl Fn(&Scorer, &str) -> argus_engine::Result<T>,
    ) -> Result<Vec<Option<T>>> {
        let mut values: Vec<Option<T>> = (0..rows).map(|_| None).collect();
        for (model, members) in groups {
            let scorer = self.scorer(model.as_deref())?;
            for &i in members {
                values[i] = match per_key(&scorer, keys.value(i)) {
                    Ok(v) => Some(v),
                    Err(argus_engine::Error::NotFound(_)) => None,
                    Err(e) => return Err(to_df(e)),
                };
            }
        }
        Ok(values)
    }
}

impl ScalarUDFImpl for ModelFunction {
    fn name(&self) -> &str {
        self.kind.name()
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        Ok(match self.kind {
            Kind::Score => DataType::Float64,
            Kind::Explain => DataType::Utf8,
            Kind::Embedding => {
                DataType::List(Arc::new(Field::new("item", DataType::Float32, true)))
            }
        })
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let rows = args.number_rows;
        let keys = string_column(&args.args[0], rows)?;
        let models = args
            .args
            .get(1)
            .map(|m| string_column(m, rows))
            .transpose()?;
        let snapshot = self.slot.read().clone();
        // Rows are grouped by model so each model scores its keys as one batch.
        let mut groups: Vec<(Option<String>, Vec<usize>)> = Vec::new();
        for i in 0..rows {
            if keys.is_null(i) {
                continue;
            }
            let model = models
                .as_ref()
                .filter(|m| !m.is_null(i))
                .map(|m| m.value(i).to_string());
            match groups.iter_mut().find(|(m, _)| *m == model) {
                Some((_, rows)) => rows.push(i),
                None => groups.push((model, vec![i])),
            }
        }
        let array: ArrayRef = match self.kind {
            Kind::Score => {
                let mut values: Vec<Option<f64>> = vec![None; rows];
                for (model, members) in &groups {
                    let scorer = self.scorer(model.as_deref())?;
                    let batch: Vec<&str> = members.iter().map(|&i| keys.value(i)).collect();
                    let scores = scorer.score_keys(&snapshot, &batch, None).map_err(to_df)?;
                    for (&i, s) in members.iter().zip(scores) {
                        values[i] = s.map(f64::from);
                    }
                }
                let mut out = Float64Builder::with_capacity(rows);
                values.into_iter().for_each(|v| out.append_option(v));
                Arc::new(out.finish())
            }
            Kind::Explain => {
                let explained = self.per_key(&groups, &keys, rows, |scorer, key| {
                    scorer.explain(&snapshot, key, None)
                })?;
                let mut out = StringBuilder::new();
                for e in explained {
                    let json = e
                        .map(|e| serde_json::to_string(&e))
                        .transpose()
                        .map_err(|e| datafusion::error::DataFusionError::External(Box::new(e)))?;
                    out.append_option(json);
                }
                Arc::new(out.finish())
            }
            Kind::Embedding => {
                let values = self.per_key(&groups, &keys, rows, |scorer, key| {
                    scorer.embedding(&snapshot, key, None)
                })?;
                let mut out = ListBuilder::new(Float32Builder::new());
                for v in values {
                    match v {
                        Some(e) => {
                            e.into_iter().for_each(|x| out.values().append_value(x));
                            out.append(true);
                        }
                        None => out.append(false),
                    }
                }
                Arc::new(out.finish())
            }
        };
        Ok(ColumnarValue::Array(array))
    }
}
