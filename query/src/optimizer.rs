//! Logical rewrites that use what Argus knows about its tables.
//!
//! [`EagerAggregation`]: an aggregate over an edge table joined to a node table on the node's
//! key (or `_id`) that groups only by node columns and sums/mins/maxes only edge columns —
//! "amount per merchant category" — is computed by first aggregating the edges per join key
//! and then joining those partial results (one row per node) to the nodes. A node key is
//! unique within its label, so every edge meets at most one node and the partial results
//! combine exactly. This turns a join of millions of edges into a join of one row per node.

use std::sync::Arc;

use datafusion::common::tree_node::Transformed;
use datafusion::common::{Column, Result};
use datafusion::datasource::source_as_provider;
use datafusion::functions_aggregate::expr_fn::{max, min, sum};
use datafusion::functions_aggregate::min_max::{Max, Min};
use datafusion::functions_aggregate::sum::Sum;
use datafusion::logical_expr::expr::AggregateFunction;
use datafusion::logical_expr::{
    Aggregate, Expr, Join, JoinType, LogicalPlan, LogicalPlanBuilder, Projection,
};
use datafusion::optimizer::{ApplyOrder, OptimizerConfig, OptimizerRule};

use crate::table::{GraphTable, TableKind};

/// See the module documentation.
#[derive(Debug, Default)]
pub struct EagerAggregation;

#[derive(Clone, Copy, PartialEq)]
enum Combine {
    Sum,
    Min,
    Max,
}

/// The graph table under a join side made only of aliases and filters over one table scan
/// (a filter keeps a subset of rows, so node keys stay unique).
fn graph_table(plan: &LogicalPlan) -> Option<(TableKind, String)> {
    match plan {
        LogicalPlan::SubqueryAlias(a) => graph_table(&a.input),
        LogicalPlan::Filter(f) => graph_table(&f.input),
        LogicalPlan::TableScan(scan) => {
            let provider = source_as_provider(&scan.source).ok()?;
            let table = provider.downcast_ref::<GraphTable>()?;
            Some((table.kind(), table.key_column().to_string()))
        }
        _ => None,
    }
}

/// The combinable aggregate (`SUM`, `MIN` or `MAX` of one expression, plain) behind `expr`.
fn combinable(expr: &Expr) -> Option<(Combine, &Expr)> {
    let Expr::AggregateFunction(AggregateFunction { func, params }) = expr else {
        return None;
    };
    if params.distinct
        || params.filter.is_some()
        || !params.order_by.is_empty()
        || params.args.len() != 1
    {
        return None;
    }
    // By implementation type, not name: a differently defined `sum` must not be rewritten.
    let inner = func.inner().as_ref();
    let how = if inner.downcast_ref::<Sum>().is_some() {
        Combine::Sum
    } else if inner.downcast_ref::<Min>().is_some() {
        Combine::Min
    } else if inner.downcast_ref::<Max>().is_some() {
        Combine::Max
    } else {
        return None;
    };
    Some((how, &params.args[0]))
}

fn all_columns_in(expr: &Expr, plan: &LogicalPlan) -> bool {
    expr.column_refs()
        .iter()
        .all(|c| plan.schema().has_column(c))
}

fn join_under(plan: &LogicalPlan) -> Option<&Join> {
    match plan {
        LogicalPlan::Join(j) => Some(j),
        // A projection that only forwards columns does not change what the join produces.
        LogicalPlan::Projection(Projection { expr, input, .. })
            if expr.iter().all(|e| matches!(e, Expr::Column(_))) =>
        {
            join_under(input)
        }
        _ => None,
    }
}

impl EagerAggregation {
    fn try_rewrite(&self, agg: &Aggregate) -> Result<Option<LogicalPlan>> {
        let Some(join) = join_under(&agg.input) else {
            return Ok(None);
        };
        if join.join_type != JoinType::Inner || join.filter.is_some() || join.on.len() != 1 {
            return Ok(None);
        }
        let (left_key, right_key) = &join.on[0];
        let (Expr::Column(left_col), Expr::Column(right_col)) = (left_key, right_key) else {
            return Ok(None);
        };
        // Which side is the edge table (fact) and which the node table (dimension)?
        let sides = [
            (join.left.as_ref(), left_col, join.right.as_ref(), right_col),
            (join.right.as_ref(), right_col, join.left.as_ref(), left_col),
        ];
        let Some((fact, fact_key, dim, dim_key)) = sides.into_iter().find(|(f, _, d, dk)| {
            matches!(graph_table(f), Some((TableKind::Edges(_), _)))
                && matches!(graph_table(d), Some((TableKind::Nodes(_), ref key))
                    if dk.name == *key || dk.name == "_id")
        }) else {
            return Ok(None);
        };
        if agg.group_expr.is_empty() || !agg.group_expr.iter().all(|g| all_columns_in(g, dim)) {
            return Ok(None);
        }
        let mut parts = Vec::new();
        for (i, a) in agg.aggr_expr.iter().enumerate() {
            let Some((how, arg)) = combinable(a) else {
                return Ok(None);
            };
            if !all_columns_in(arg, fact) {
                return Ok(None);
            }
            parts.push((
                how,
                arg.clone(),
                format!("__argus_partial_{i}"),
                a.schema_name().to_string(),
            ));
        }

        let partial = parts.iter().map(|(how, arg, name, _)| {
            match how {
                Combine::Sum => sum(arg.clone()),
                Combine::Min => min(arg.clone()),
                Combine::Max => max(arg.clone()),
            }
            .alias(name)
        });
        let per_key = LogicalPlanBuilder::from(fact.clone())
            .aggregate(vec![Expr::Column(fact_key.clone())], partial)?
            .build()?;
        let combined = parts.iter().map(|(how, _, name, original)| {
            let column = Expr::Column(Column::from_name(name.clone()));
            match how {
                Combine::Sum => sum(column),
                Combine::Min => min(column),
                Combine::Max => max(column),
            }
            .alias(original)
        });
        let rewritten = LogicalPlanBuilder::from(per_key)
            .join(
                dim.clone(),
                JoinType::Inner,
                (vec![fact_key.clone()], vec![dim_key.clone()]),
                None,
            )?
            .aggregate(agg.group_expr.clone(), combined)?
            .build()?;
        // Types must come out the same (a decimal sum of sums would widen): otherwise keep the
        // original plan.
        let same_types = rewritten.schema().fields().len() == agg.schema.fields().len()
            && rewritten
                .schema()
                .iter()
                .zip(agg.schema.iter())
                .all(|((q1, f1), (q2, f2))| {
                    q1 == q2 && f1.name() == f2.name() && f1.data_type() == f2.data_type()
                });
        Ok(same_types.then_some(rewritten))
    }
}

impl OptimizerRule for EagerAggregation {
    fn name(&self) -> &str {
        "argus_eager_aggregation"
    }

    fn apply_order(&self) -> Option<ApplyOrder> {
        Some(ApplyOrder::TopDown)
    }

    fn rewrite(
        &self,
        plan: LogicalPlan,
        _config: &dyn OptimizerConfig,
    ) -> Result<Transformed<LogicalPlan>> {
        let LogicalPlan::Aggregate(agg) = &plan else {
            return Ok(Transformed::no(plan));
        };
        match self.try_rewrite(agg)? {
            Some(new) => Ok(Transformed::yes(new)),
            None => Ok(Transformed::no(plan)),
        }
    }
}

/// The rules Argus adds to DataFusion's optimizer.
pub fn rules() -> Vec<Arc<dyn OptimizerRule + Send + Sync>> {
    vec![Arc::new(EagerAggregation)]
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use argus_engine::graph::prop_def;
    use argus_engine::{GraphStore, PropType, Value};
    use datafusion::arrow::util::pretty::pretty_format_batches;

    use crate::ArgusSession;

    fn session() -> (tempfile::TempDir, ArgusSession) {
        let dir = tempfile::tempdir().unwrap();
        let store = GraphStore::open(dir.path()).unwrap();
        store
            .write(|t| {
                t.create_label("card", "card_id", vec![])?;
                t.create_label("shop", "shop_id", vec![prop_def("kind", PropType::String)])?;
                t.create_edge_type(
                    "paid",
                    "card",
                    "shop",
                    false,
                    vec![prop_def("amount", PropType::Float)],
                )?;
                for c in ["c1", "c2"] {
                    t.upsert_node("card", c, &[])?;
                }
                for (s, kind) in [("s1", "food"), ("s2", "fuel"), ("s3", "food")] {
                    t.upsert_node("shop", s, &[("kind", Value::String(kind.into()))])?;
                }
                for (c, s, amount) in [("c1", "s1", 1.0), ("c2", "s3", 2.0), ("c1", "s2", 4.0)] {
                    t.insert_edge("paid", c, s, None, &[("amount", Value::Float(amount))])?;
                }
                Ok(())
            })
            .unwrap();
        (dir, ArgusSession::new(Arc::new(store)).unwrap())
    }

    async fn text(session: &ArgusSession, sql: &str) -> String {
        let batches = session.sql(sql).await.unwrap().collect().await.unwrap();
        pretty_format_batches(&batches).unwrap().to_string()
    }

    #[tokio::test]
    async fn edges_are_aggregated_per_key_before_the_join() {
        let (_dir, session) = session();
        let sql = "SELECT s.kind, sum(p.amount) AS total FROM paid p JOIN shop s \
                   ON p.dst = s.shop_id GROUP BY s.kind ORDER BY s.kind";
        let plan = text(&session, &format!("EXPLAIN {sql}")).await;
        let join = plan.find("Inner Join").expect("a join");
        let partial = plan
            .find("aggr=[[sum(p.amount) AS __argus_partial_0]]")
            .expect("the per-key aggregate");
        assert!(
            partial > join,
            "the per-key aggregate sits under the join:\n{plan}"
        );
        assert!(text(&session, sql).await.contains("| food | 3.0   |"));
    }

    #[tokio::test]
    async fn averages_and_non_key_joins_are_left_alone() {
        let (_dir, session) = session();
        for sql in [
            "SELECT s.kind, avg(p.amount) FROM paid p JOIN shop s ON p.dst = s.shop_id GROUP BY s.kind",
            "SELECT s.kind, sum(p.amount) FROM paid p JOIN shop s ON p.dst = s.kind GROUP BY s.kind",
        ] {
            let plan = text(&session, &format!("EXPLAIN {sql}")).await;
            assert!(!plan.contains("__argus_partial"), "{sql}:\n{plan}");
        }
    }
}
