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
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field};
use datafusion::common::{exec_err, Result};
use datafusion::execution::context::SessionContext;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, TypeSignature,
    Volatility,
};

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

fn strings(v: &ColumnarValue, rows: usize) -> Result<StringArray> {
    let utf8 = cast(&v.to_array(rows)?, &DataType::Utf8)?;
    Ok(utf8
        .as_any()
        .downcast_ref::<StringArray>()
        .expect("cast to Utf8")
        .clone())
}

impl ModelFunction {
    /// The scorer of `name`, or of the only registered model.
    fn scorer(&self, name: Option<&str>) -> Result<Arc<Scorer>> {
        let f = self.kind.name();
        let name = match name {
            Some(n) => n.to_string(),
            None => {
                let mut names: Vec<String> = self
                    .db
                    .list_models()
                    .map_err(to_df)?
                    .into_iter()
                    .map(|m| m.name)
                    .collect();
                names.dedup();
                match names.as_slice() {
                    [one] => one.clone(),
                    [] => return exec_err!("{f}: no model is registered (argus train fraud ...)"),
                    many => {
                        return exec_err!(
                        "{f}: several models are registered ({}): name one as the second argument",
                        many.join(", ")
                    )
                    }
                }
            }
        };
        self.db.scorer(&name, None).map_err(to_df)
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
        let keys = strings(&args.args[0], rows)?;
        let models = args.args.get(1).map(|m| strings(m, rows)).transpose()?;
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
                let mut values: Vec<Option<String>> = vec![None; rows];
                for (model, members) in &groups {
                    let scorer = self.scorer(model.as_deref())?;
                    for &i in members {
                        values[i] = match scorer.explain(&snapshot, keys.value(i), None) {
                            Ok(e) => Some(serde_json::to_string(&e).map_err(|e| {
                                datafusion::error::DataFusionError::External(Box::new(e))
                            })?),
                            Err(argus_engine::Error::NotFound(_)) => None,
                            Err(e) => return Err(to_df(e)),
                        };
                    }
                }
                let mut out = StringBuilder::new();
                values.into_iter().for_each(|v| out.append_option(v));
                Arc::new(out.finish())
            }
            Kind::Embedding => {
                let mut values: Vec<Option<Vec<f32>>> = vec![None; rows];
                for (model, members) in &groups {
                    let scorer = self.scorer(model.as_deref())?;
                    for &i in members {
                        values[i] = match scorer.embedding(&snapshot, keys.value(i), None) {
                            Ok(e) => Some(e),
                            Err(argus_engine::Error::NotFound(_)) => None,
                            Err(e) => return Err(to_df(e)),
                        };
                    }
                }
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
