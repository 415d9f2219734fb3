//! What recommenders read from the store: the interaction log (edges of the chosen types from
//! shoppers to items, with their times) and the item catalogue (categories, price) that
//! filters, diversity and lookbooks use. Users and items are indexed by their dense node ids.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use arrow_array::{Array, StringArray};

use argus_engine::catalog::PropType;
use argus_engine::graph::{Direction, NeighborQuery};
use argus_engine::keys::CatalogId;
use argus_engine::{Error, NodeId, Result, Snapshot};
use argus_extensions::ml::recommend::vector_index::VectorIndex;
use argus_extensions::ml::recommend::{Event, Interactions};

use crate::features::numeric_at;
use crate::projection::{id_space, scan_mapped_edges, u64_column, LabelRange};

/// Interaction types resolved against the catalog: all go from one user label to one item
/// label.
#[derive(Clone, Debug)]
pub struct InteractionTypes {
    /// Edge type names, in kind order.
    pub names: Vec<String>,
    /// Their catalog ids.
    pub ids: Vec<CatalogId>,
    /// The shopper label.
    pub user_label: CatalogId,
    /// The item label.
    pub item_label: CatalogId,
}

impl InteractionTypes {
    /// Resolve `names`: each must exist and connect the same two labels.
    pub fn resolve(snapshot: &Snapshot, names: &[String]) -> Result<InteractionTypes> {
        if names.is_empty() {
            return Err(Error::InvalidArgument(
                "name at least one interaction edge type (--interactions TYPE[,TYPE])".into(),
            ));
        }
        if names.len() > usize::from(u8::MAX) {
            return Err(Error::InvalidArgument(format!(
                "{} interaction types: at most {}",
                names.len(),
                u8::MAX
            )));
        }
        let catalog = snapshot.catalog();
        let defs = names
            .iter()
            .map(|n| catalog.edge_type(n))
            .collect::<Result<Vec<_>>>()?;
        let first = defs[0];
        for d in &defs[1..] {
            if d.src_label != first.src_label || d.dst_label != first.dst_label {
                return Err(Error::InvalidArgument(format!(
                    "interaction types must connect the same labels: {} is {} → {}, {} is {} → {}",
                    first.name,
                    catalog.label_by_id(first.src_label)?.name,
                    catalog.label_by_id(first.dst_label)?.name,
                    d.name,
                    catalog.label_by_id(d.src_label)?.name,
                    catalog.label_by_id(d.dst_label)?.name
                )));
            }
        }
        Ok(InteractionTypes {
            names: names.to_vec(),
            ids: defs.iter().map(|d| d.id).collect(),
            user_label: first.src_label,
            item_label: first.dst_label,
        })
    }

    /// Name of the user label.
    pub fn user_label_name(&self, snapshot: &Snapshot) -> Result<String> {
        Ok(snapshot
            .catalog()
            .label_by_id(self.user_label)?
            .name
            .clone())
    }

    /// Name of the item label.
    pub fn item_label_name(&self, snapshot: &Snapshot) -> Result<String> {
        Ok(snapshot
            .catalog()
            .label_by_id(self.item_label)?
            .name
            .clone())
    }

    /// The whole interaction log, users and items by node id. Untimed edges count as the
    /// oldest.
    pub fn log(&self, snapshot: &Snapshot) -> Result<Interactions> {
        let users = id_space(snapshot, self.user_label)?;
        let items = id_space(snapshot, self.item_label)?;
        if users.max(items) >= u32::MAX as usize {
            return Err(Error::InvalidArgument(format!(
                "{users} shoppers or {items} items: more than a recommender indexes"
            )));
        }
        // Shoppers and items each by their own node ids (both ranges start at 0).
        let range = |label, len| LabelRange {
            label,
            name: String::new(),
            offset: 0,
            len,
        };
        let labels = [range(self.user_label, users), range(self.item_label, items)];
        let mut events = Vec::new();
        for (kind, &id) in self.ids.iter().enumerate() {
            let def = snapshot.catalog().edge_type_by_id(id)?;
            scan_mapped_edges(snapshot, &labels, def, &[], |_, ends, times| {
                events.extend(ends.iter().zip(times).map(|(&(user, item), &time)| Event {
                    user,
                    item,
                    time,
                    kind: kind as u8,
                }));
                Ok(())
            })?;
        }
        Ok(Interactions::from_events(users, items, events))
    }

    /// One shopper's interactions up to `as_of`, oldest first, as `(item, kind)`: read live
    /// from the adjacency, so an interaction committed a moment ago counts.
    pub fn history(
        &self,
        snapshot: &Snapshot,
        user: NodeId,
        as_of: Option<i64>,
    ) -> Result<Vec<(u32, u8)>> {
        let mut seen: Vec<(i64, u32, u8)> = Vec::new();
        for (kind, name) in self.names.iter().enumerate() {
            let q = NeighborQuery {
                edge_type: Some(name.clone()),
                direction: Direction::Out,
                since: None,
                until: as_of,
                limit: None,
                oldest_first: true,
            };
            for n in snapshot.neighbors_by_id(self.user_label, user, &q)? {
                let time = n.time.unwrap_or(i64::MIN);
                seen.push((time, n.node as u32, kind as u8));
            }
        }
        seen.sort_unstable();
        Ok(seen
            .into_iter()
            .map(|(_, item, kind)| (item, kind))
            .collect())
    }
}

/// Item metadata by node id: category sets (indexes into `category_names`) and prices.
#[derive(Clone, Debug, Default)]
pub struct Catalogue {
    /// Category names.
    pub category_names: Vec<String>,
    /// Each item's categories, sorted.
    pub categories: Vec<Vec<u32>>,
    /// Each item's price (NaN when unknown); empty without a price property.
    pub prices: Vec<f32>,
}

impl Catalogue {
    /// Read `item_label`'s `category_properties` and `price_property`. One string property
    /// gives each item the categories listed in it (separated by `|`); numeric or boolean
    /// properties are flags, each naming a category the item is in when non-zero (how
    /// MovieLens marks genres).
    pub fn read(
        snapshot: &Snapshot,
        item_label: CatalogId,
        category_properties: &[String],
        price_property: Option<&str>,
    ) -> Result<Catalogue> {
        let catalog = snapshot.catalog();
        let def = catalog.label_by_id(item_label)?;
        let items = id_space(snapshot, item_label)?;
        let column_of = |name: &str| -> Result<(usize, PropType)> {
            def.properties
                .iter()
                .position(|p| p.name == name)
                .map(|i| (2 + i, def.properties[i].ty))
                .ok_or_else(|| {
                    Error::NotFound(format!("label {} has no property {name}", def.name))
                })
        };
        let mut wanted = vec![1usize];
        let mut category_columns = Vec::new();
        for p in category_properties {
            let (column, ty) = column_of(p)?;
            let is_text = ty == PropType::String;
            if is_text && category_properties.len() > 1 {
                return Err(Error::InvalidArgument(format!(
                    "categories come from one string property or from flag properties, not both: {p} is a string"
                )));
            }
            if !is_text && !matches!(ty, PropType::Int | PropType::Float | PropType::Bool) {
                return Err(Error::InvalidArgument(format!(
                    "category property {}.{p} is {ty}: expected a string or numeric flags",
                    def.name
                )));
            }
            wanted.push(column);
            category_columns.push((p.clone(), is_text));
        }
        let price_column = match price_property {
            Some(p) => {
                let (column, ty) = column_of(p)?;
                if !matches!(ty, PropType::Int | PropType::Float) {
                    return Err(Error::InvalidArgument(format!(
                        "price property {}.{p} is {ty}: expected int or float",
                        def.name
                    )));
                }
                wanted.push(column);
                true
            }
            None => false,
        };
        let mut out = Catalogue {
            category_names: category_columns
                .iter()
                .filter(|(_, text)| !text)
                .map(|(name, _)| name.clone())
                .collect(),
            categories: vec![Vec::new(); items],
            prices: if price_column {
                vec![f32::NAN; items]
            } else {
                Vec::new()
            },
        };
        let label_name = def.name.clone();
        for batch in snapshot.scan_nodes(&label_name, 65_536, Some(wanted))? {
            let batch = batch?;
            let ids = u64_column(batch.column(0).as_ref(), "node id")?;
            for r in 0..batch.num_rows() {
                let item = ids.value(r) as usize;
                if item >= items {
                    continue;
                }
                let mut flag = 0u32;
                for (c, (_, is_text)) in category_columns.iter().enumerate() {
                    let array = batch.column(1 + c);
                    if array.is_null(r) {
                        if !is_text {
                            flag += 1;
                        }
                        continue;
                    }
                    if *is_text {
                        let text = array
                            .as_any()
                            .downcast_ref::<StringArray>()
                            .ok_or_else(|| Error::Corrupt("string column".into()))?
                            .value(r);
                        for name in text.split('|').map(str::trim).filter(|s| !s.is_empty()) {
                            let index = match out.category_names.iter().position(|c| c == name) {
                                Some(i) => i,
                                None => {
                                    out.category_names.push(name.to_string());
                                    out.category_names.len() - 1
                                }
                            };
                            out.categories[item].push(index as u32);
                        }
                    } else {
                        if numeric_at(array.as_ref(), r).is_some_and(|v| v != 0.0) {
                            out.categories[item].push(flag);
                        }
                        flag += 1;
                    }
                }
                out.categories[item].sort_unstable();
                out.categories[item].dedup();
                if price_column {
                    let array = batch.column(batch.num_columns() - 1);
                    if !array.is_null(r) {
                        out.prices[item] =
                            numeric_at(array.as_ref(), r).map_or(f32::NAN, |v| v as f32);
                    }
                }
            }
        }
        Ok(out)
    }

    /// Index of the category named `name`.
    pub fn category(&self, name: &str) -> Result<u32> {
        self.category_names
            .iter()
            .position(|c| c == name)
            .map(|i| i as u32)
            .ok_or_else(|| {
                Error::NotFound(format!(
                    "no category {name:?}{}",
                    if self.category_names.is_empty() {
                        " (the recommender was trained without --categories)".to_string()
                    } else {
                        format!(" (known: {})", self.category_names.join(", "))
                    }
                ))
            })
    }
}

/// Seed of the vector index's graph: the same answers from one build to the next.
const INDEX_SEED: u64 = 0x5eed;

/// Items' vectors of one `vector(N)` property (a style or image embedding), unit length, by
/// node id; `None` for an item without one.
#[derive(Clone, Debug, Default)]
pub struct ItemVectors {
    /// The property's width.
    pub dim: usize,
    /// Each item's normalised vector.
    pub rows: Vec<Option<Vec<f32>>>,
    /// The approximate index of a large catalogue, once built.
    index: Arc<OnceLock<VectorIndex>>,
    /// Whether the background build has started.
    building: Arc<AtomicBool>,
}

impl ItemVectors {
    /// Read `property` of `item_label`.
    pub fn read(snapshot: &Snapshot, item_label: CatalogId, property: &str) -> Result<ItemVectors> {
        let def = snapshot.catalog().label_by_id(item_label)?;
        let (column, dim) = match def.properties.iter().position(|p| p.name == property) {
            Some(i) => match def.properties[i].ty {
                PropType::Vector(n) => (2 + i, n as usize),
                other => {
                    return Err(Error::InvalidArgument(format!(
                        "{}.{property} is {other}, not a vector(N) property",
                        def.name
                    )))
                }
            },
            None => {
                return Err(Error::NotFound(format!(
                    "label {} has no property {property}",
                    def.name
                )))
            }
        };
        let mut rows = vec![None; id_space(snapshot, item_label)?];
        let label_name = def.name.clone();
        for batch in snapshot.scan_nodes(&label_name, 65_536, Some(vec![1, column]))? {
            let batch = batch?;
            let ids = u64_column(batch.column(0).as_ref(), "node id")?;
            let lists = batch
                .column(1)
                .as_any()
                .downcast_ref::<arrow_array::FixedSizeListArray>()
                .ok_or_else(|| Error::Corrupt("vector column is not a fixed-size list".into()))?;
            for r in 0..batch.num_rows() {
                let item = ids.value(r) as usize;
                if item >= rows.len() || lists.is_null(r) {
                    continue;
                }
                let values = lists.value(r);
                let floats = values
                    .as_any()
                    .downcast_ref::<arrow_array::Float32Array>()
                    .ok_or_else(|| Error::Corrupt("vector values are not Float32".into()))?;
                let v: Vec<f32> = floats.values().to_vec();
                let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
                if norm > 0.0 && norm.is_finite() {
                    rows[item] = Some(v.iter().map(|x| x / norm).collect());
                }
            }
        }
        Ok(ItemVectors {
            dim,
            rows,
            index: Arc::default(),
            building: Arc::default(),
        })
    }

    /// Cosine of two items' vectors (`None` when either has none).
    pub fn cosine(&self, a: u32, b: u32) -> Option<f32> {
        let (x, y) = (
            self.rows.get(a as usize)?.as_ref()?,
            self.rows.get(b as usize)?.as_ref()?,
        );
        Some(x.iter().zip(y).map(|(p, q)| p * q).sum())
    }

    /// The `k` items most similar to `item` by cosine among those `allowed` accepts, best
    /// first: from the approximate index when the catalogue has at least
    /// [`ItemVectors::INDEX_MIN_ITEMS`] vectors, the index is built, and it finds `k` allowed
    /// items among its candidates; else by an exact scan.
    pub fn nearest(&self, item: u32, k: usize, allowed: impl Fn(u32) -> bool) -> Vec<(u32, f32)> {
        let query = self.rows.get(item as usize).and_then(Option::as_ref);
        if let (Some(index), Some(query), true) = (self.index(), query, k < VectorIndex::EF_SEARCH)
        {
            // Every candidate the search kept (it costs the same): the item itself and items
            // `allowed` refuses are dropped from them.
            if let Some(found) = index.nearest(query, VectorIndex::EF_SEARCH) {
                let kept: Vec<(u32, f32)> = found
                    .into_iter()
                    .filter(|&(j, _)| j != item && allowed(j))
                    .take(k)
                    .collect();
                if kept.len() == k {
                    return kept;
                }
            }
        }
        self.nearest_exact(item, k, allowed)
    }

    /// Catalogues with at least this many vectors are searched through the approximate index:
    /// below it a scan costs well under a millisecond.
    pub const INDEX_MIN_ITEMS: usize = 20_000;

    fn large(&self) -> bool {
        self.rows.iter().filter(|r| r.is_some()).count() >= Self::INDEX_MIN_ITEMS
    }

    /// The approximate index when it is built. The first call on a large catalogue starts
    /// building it on a thread of its own (tens of seconds at 100,000 items on two cores):
    /// until it is done, searches scan, so no query waits for it.
    pub fn index(&self) -> Option<&VectorIndex> {
        if let Some(index) = self.index.get() {
            return Some(index);
        }
        if !self.building.swap(true, Ordering::AcqRel) && self.large() {
            let (rows, cell) = (self.rows.clone(), self.index.clone());
            std::thread::spawn(move || {
                cell.get_or_init(|| VectorIndex::build(&rows, INDEX_SEED));
            });
        }
        None
    }

    /// The approximate index, built now on this thread when it is not built yet (waiting for
    /// a build under way); `None` for a small catalogue.
    pub fn build_index(&self) -> Option<&VectorIndex> {
        if !self.large() {
            return None;
        }
        Some(
            self.index
                .get_or_init(|| VectorIndex::build(&self.rows, INDEX_SEED)),
        )
    }

    /// [`ItemVectors::nearest`] by an exact scan of every item.
    pub fn nearest_exact(
        &self,
        item: u32,
        k: usize,
        allowed: impl Fn(u32) -> bool,
    ) -> Vec<(u32, f32)> {
        let scores: Vec<f32> = (0..self.rows.len() as u32)
            .map(|j| {
                if j == item {
                    f32::NAN
                } else {
                    self.cosine(item, j).unwrap_or(f32::NAN)
                }
            })
            .collect();
        argus_extensions::ml::recommend::top_k(&scores, k, allowed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_large_catalogue_scans_until_its_index_is_built_then_answers_from_it() {
        // Points on the unit circle: item i at angle i (in steps of 2π / n).
        let n = ItemVectors::INDEX_MIN_ITEMS;
        let step = std::f32::consts::TAU / n as f32;
        let vectors = ItemVectors {
            dim: 2,
            rows: (0..n)
                .map(|i| Some(vec![(i as f32 * step).cos(), (i as f32 * step).sin()]))
                .collect(),
            ..ItemVectors::default()
        };
        let exact = vectors.nearest_exact(100, 4, |_| true);
        let ids: Vec<u32> = exact.iter().map(|e| e.0).collect();
        assert_eq!(&ids[..2].iter().copied().min(), &Some(99));
        // Before the index exists the search scans (and starts the build in the background).
        assert_eq!(vectors.nearest(100, 4, |_| true), exact);
        assert!(vectors.build_index().is_some());
        assert!(vectors.index().is_some());
        let found = vectors.nearest(100, 4, |_| true);
        let found_ids: Vec<u32> = found.iter().map(|e| e.0).collect();
        let mut want = ids.clone();
        want.sort_unstable();
        let mut got = found_ids.clone();
        got.sort_unstable();
        assert_eq!(got, want, "the four nearest angles");
        // A filter that leaves too few of the index's candidates falls back to the scan.
        let far = vectors.nearest(100, 2, |j| j > 15_000);
        assert_eq!(far, vectors.nearest_exact(100, 2, |j| j > 15_000));
        let small = ItemVectors {
            dim: 2,
            rows: vectors.rows[..100].to_vec(),
            ..ItemVectors::default()
        };
        assert!(small.build_index().is_none() && small.index().is_none());
    }
}
