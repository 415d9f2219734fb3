//! Lookbooks: a shopper's recommendations arranged into a few coherent collections, diverse
//! within and between them. Collections are themed by category where items have categories
//! (the themes carrying the most recommendation score win), otherwise seeded by the strongest
//! items with each remaining item joining the seed it is most similar to. Within a
//! collection items are picked by maximal marginal relevance, `λ·relevance − (1−λ)·max
//! similarity to the items already picked`, and an item appears in one collection only.

use serde::{Deserialize, Serialize};

use super::ranking::category_distance;

/// Shape of a lookbook.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LookbookSettings {
    /// Number of collections.
    pub collections: usize,
    /// Items per collection.
    pub per_collection: usize,
    /// MMR trade-off: 1 ranks by relevance alone, 0 by novelty alone.
    pub lambda: f32,
}

impl Default for LookbookSettings {
    fn default() -> Self {
        LookbookSettings {
            collections: 4,
            per_collection: 5,
            lambda: 0.7,
        }
    }
}

/// One collection: its theme (a category index) or its seed item, and its items with their
/// relevance, in display order.
#[derive(Clone, Debug, PartialEq)]
pub struct Collection {
    /// The category the collection is about, when items have categories.
    pub theme: Option<u32>,
    /// A second category most of its items share (for the title), if any.
    pub second_theme: Option<u32>,
    /// The item the collection grew from, when items have no categories.
    pub seed: Option<u32>,
    /// Items and their relevance (the recommendation score).
    pub items: Vec<(u32, f32)>,
}

/// Arrange `candidates` (item, score; best first) into collections. `categories[item]`
/// (sorted category indexes, possibly empty) themes them; `similarity(a, b)` in `[0, 1]`
/// seeds collections when no candidate has a category.
pub fn arrange(
    candidates: &[(u32, f32)],
    categories: &[Vec<u32>],
    similarity: &dyn Fn(u32, u32) -> f32,
    settings: &LookbookSettings,
) -> Vec<Collection> {
    if candidates.is_empty() || settings.collections == 0 || settings.per_collection == 0 {
        return Vec::new();
    }
    let top = candidates
        .iter()
        .map(|&(_, s)| s)
        .fold(f32::NEG_INFINITY, f32::max);
    let bottom = candidates
        .iter()
        .map(|&(_, s)| s)
        .fold(f32::INFINITY, f32::min);
    let span = (top - bottom).max(1e-12);
    // Relevance in [0, 1], so it trades against similarity on one scale.
    let relevance = |s: f32| (s - bottom) / span;
    let cats = |i: u32| categories.get(i as usize).map_or(&[][..], |c| &c[..]);
    let categorised = candidates.iter().any(|&(i, _)| !cats(i).is_empty());
    let pair_similarity = |a: u32, b: u32| -> f32 {
        if categorised {
            (1.0 - category_distance(cats(a), cats(b))) as f32
        } else {
            similarity(a, b).clamp(0.0, 1.0)
        }
    };
    // Candidate members of each collection: (theme, seed, members).
    type Group = (Option<u32>, Option<u32>, Vec<(u32, f32)>);
    let mut groups: Vec<Group> = Vec::new();
    if categorised {
        let mut weight: Vec<(u32, f32)> = Vec::new();
        for &(i, s) in candidates {
            for &c in cats(i) {
                match weight.iter_mut().find(|(k, _)| *k == c) {
                    Some((_, w)) => *w += relevance(s),
                    None => weight.push((c, relevance(s))),
                }
            }
        }
        weight.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        for &(theme, _) in weight.iter().take(settings.collections) {
            let members = candidates
                .iter()
                .copied()
                .filter(|&(i, _)| cats(i).binary_search(&theme).is_ok())
                .collect();
            groups.push((Some(theme), None, members));
        }
    } else {
        let seeds: Vec<u32> = candidates
            .iter()
            .take(settings.collections)
            .map(|&(i, _)| i)
            .collect();
        let mut members: Vec<Vec<(u32, f32)>> = vec![Vec::new(); seeds.len()];
        for &(i, s) in candidates {
            let nearest = seeds
                .iter()
                .enumerate()
                .map(|(k, &seed)| (k, if seed == i { 2.0 } else { similarity(seed, i) }))
                .max_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(&a.0)))
                .map(|(k, _)| k)
                .unwrap_or(0);
            members[nearest].push((i, s));
        }
        for (seed, m) in seeds.into_iter().zip(members) {
            groups.push((None, Some(seed), m));
        }
    }
    // Fill collections in turn, one item each per round, so no collection takes every strong
    // item before the others pick; an item joins one collection only.
    let mut used: Vec<u32> = Vec::new();
    let mut out: Vec<Collection> = groups
        .iter()
        .map(|(theme, seed, _)| Collection {
            theme: *theme,
            second_theme: None,
            seed: *seed,
            items: Vec::new(),
        })
        .collect();
    let lambda = settings.lambda.clamp(0.0, 1.0);
    for _ in 0..settings.per_collection {
        for (g, (_, _, members)) in groups.iter().enumerate() {
            let picked = &out[g].items;
            let best = members
                .iter()
                .filter(|(i, _)| !used.contains(i))
                .map(|&(i, s)| {
                    let redundancy = picked
                        .iter()
                        .map(|&(j, _)| pair_similarity(i, j))
                        .fold(0.0f32, f32::max);
                    (i, s, lambda * relevance(s) - (1.0 - lambda) * redundancy)
                })
                .max_by(|a, b| a.2.total_cmp(&b.2).then(b.0.cmp(&a.0)));
            if let Some((i, s, _)) = best {
                used.push(i);
                out[g].items.push((i, s));
            }
        }
    }
    out.retain(|c| !c.items.is_empty());
    for c in &mut out {
        if let Some(theme) = c.theme {
            // A second category that most of the collection shares goes into the title.
            let mut counts: Vec<(u32, usize)> = Vec::new();
            for &(i, _) in &c.items {
                for &k in cats(i).iter().filter(|&&k| k != theme) {
                    match counts.iter_mut().find(|(x, _)| *x == k) {
                        Some((_, n)) => *n += 1,
                        None => counts.push((k, 1)),
                    }
                }
            }
            counts.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
            c.second_theme = counts
                .first()
                .filter(|&&(_, n)| 2 * n > c.items.len())
                .map(|&(k, _)| k);
        }
    }
    out
}

/// The items of a lookbook in page order (collection after collection).
pub fn flatten(collections: &[Collection]) -> Vec<u32> {
    collections
        .iter()
        .flat_map(|c| c.items.iter().map(|&(i, _)| i))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collections_follow_the_strongest_categories_and_never_repeat_an_item() {
        // Items 0..6 are category 0, 6..12 category 1, 12..14 category 2 (weak).
        let categories: Vec<Vec<u32>> = (0..14)
            .map(|i| {
                vec![if i < 6 {
                    0
                } else if i < 12 {
                    1
                } else {
                    2
                }]
            })
            .collect();
        let candidates: Vec<(u32, f32)> = (0..14).map(|i| (i, 14.0 - i as f32)).collect();
        let settings = LookbookSettings {
            collections: 2,
            per_collection: 3,
            lambda: 0.7,
        };
        let book = arrange(&candidates, &categories, &|_, _| 0.0, &settings);
        assert_eq!(book.len(), 2);
        assert_eq!(book[0].theme, Some(0));
        assert_eq!(book[1].theme, Some(1));
        let items = flatten(&book);
        assert_eq!(items.len(), 6);
        let mut distinct = items.clone();
        distinct.sort_unstable();
        distinct.dedup();
        assert_eq!(distinct.len(), 6);
        assert_eq!(
            book[0].items[0].0, 0,
            "the strongest item opens its collection"
        );
    }

    #[test]
    fn mmr_prefers_a_different_sub_style_over_a_near_duplicate() {
        // All share category 0; items 0 and 1 also share 5, item 2 has 6 instead.
        let categories = vec![vec![0, 5], vec![0, 5], vec![0, 6]];
        let candidates = vec![(0, 1.0), (1, 0.95), (2, 0.9)];
        let settings = LookbookSettings {
            collections: 1,
            per_collection: 2,
            lambda: 0.5,
        };
        let book = arrange(&candidates, &categories, &|_, _| 0.0, &settings);
        assert_eq!(flatten(&book), vec![0, 2]);
        let plain = LookbookSettings {
            lambda: 1.0,
            ..settings
        };
        assert_eq!(
            flatten(&arrange(&candidates, &categories, &|_, _| 0.0, &plain)),
            vec![0, 1]
        );
    }

    #[test]
    fn uncategorised_items_group_around_seeds_by_similarity() {
        // Two clusters by similarity: even and odd items.
        let candidates: Vec<(u32, f32)> = (0..8).map(|i| (i, 8.0 - i as f32)).collect();
        let sim = |a: u32, b: u32| if a % 2 == b % 2 { 0.9 } else { 0.1 };
        let settings = LookbookSettings {
            collections: 2,
            per_collection: 3,
            lambda: 1.0,
        };
        let book = arrange(&candidates, &[], &sim, &settings);
        assert_eq!(book[0].seed, Some(0));
        assert!(book[0].items.iter().all(|(i, _)| i % 2 == 0), "{book:?}");
        assert!(book[1].items.iter().all(|(i, _)| i % 2 == 1), "{book:?}");
    }
}
