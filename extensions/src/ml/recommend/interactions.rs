//! The interaction log: for each user, their interactions with items in time order, and the
//! temporal split that evaluation and model selection use.

use serde::{Deserialize, Serialize};

/// One interaction: `user` did something of `kind` (an index into the caller's list of
/// interaction types, e.g. view, cart, purchase) with `item` at `time` (microseconds).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Event {
    /// Dense user index.
    pub user: u32,
    /// Dense item index.
    pub item: u32,
    /// When (microseconds since the epoch; any monotone clock works).
    pub time: i64,
    /// Interaction type.
    pub kind: u8,
}

/// Interactions grouped by user, each user's sorted by (time, item, kind): a user's history
/// is a contiguous slice and "as of t" is a prefix of it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Interactions {
    /// Number of users (indexes `0..user_count`).
    pub user_count: usize,
    /// Number of items (indexes `0..item_count`).
    pub item_count: usize,
    offsets: Vec<usize>,
    items: Vec<u32>,
    times: Vec<i64>,
    kinds: Vec<u8>,
}

impl Interactions {
    /// Group `events` by user. Panics when an index is out of range (callers map keys to
    /// indexes they sized the log with).
    pub fn from_events(user_count: usize, item_count: usize, mut events: Vec<Event>) -> Self {
        events.sort_unstable_by_key(|e| (e.user, e.time, e.item, e.kind));
        let mut offsets = vec![0usize; user_count + 1];
        for e in &events {
            assert!(
                (e.user as usize) < user_count && (e.item as usize) < item_count,
                "interaction ({}, {}) outside {user_count} users × {item_count} items",
                e.user,
                e.item
            );
            offsets[e.user as usize + 1] += 1;
        }
        for u in 0..user_count {
            offsets[u + 1] += offsets[u];
        }
        Interactions {
            user_count,
            item_count,
            offsets,
            items: events.iter().map(|e| e.item).collect(),
            times: events.iter().map(|e| e.time).collect(),
            kinds: events.iter().map(|e| e.kind).collect(),
        }
    }

    /// Number of interactions.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    fn range(&self, user: usize) -> std::ops::Range<usize> {
        self.offsets[user]..self.offsets[user + 1]
    }

    /// `user`'s items, oldest first.
    pub fn items_of(&self, user: usize) -> &[u32] {
        &self.items[self.range(user)]
    }

    /// `user`'s interaction times, aligned with [`Interactions::items_of`].
    pub fn times_of(&self, user: usize) -> &[i64] {
        &self.times[self.range(user)]
    }

    /// `user`'s interaction kinds, aligned with [`Interactions::items_of`].
    pub fn kinds_of(&self, user: usize) -> &[u8] {
        &self.kinds[self.range(user)]
    }

    /// `user`'s distinct items, sorted by index.
    pub fn distinct_items_of(&self, user: usize) -> Vec<u32> {
        let mut items = self.items_of(user).to_vec();
        items.sort_unstable();
        items.dedup();
        items
    }

    /// Distinct (user, item) pairs, by user then item: the binary matrix the models fit.
    pub fn pairs(&self) -> Vec<(u32, u32)> {
        let mut out = Vec::with_capacity(self.len());
        for u in 0..self.user_count {
            out.extend(self.distinct_items_of(u).into_iter().map(|i| (u as u32, i)));
        }
        out
    }

    /// How many distinct users interacted with each item.
    pub fn item_user_counts(&self) -> Vec<u32> {
        let mut counts = vec![0u32; self.item_count];
        for (_, i) in self.pairs() {
            counts[i as usize] += 1;
        }
        counts
    }

    /// The temporal split of the evaluation protocol: per user, the earliest
    /// `floor(fraction × n)` interactions (at least one) in the first part, the rest in the
    /// second. Used both for train/test and, inside train, for train/validation.
    pub fn temporal_split(&self, fraction: f64) -> (Interactions, Interactions) {
        let mut early = Vec::new();
        let mut late = Vec::new();
        for u in 0..self.user_count {
            let r = self.range(u);
            let n = r.len();
            if n == 0 {
                continue;
            }
            let cut = ((fraction * n as f64).floor() as usize).max(1).min(n);
            for (k, j) in r.enumerate() {
                let e = Event {
                    user: u as u32,
                    item: self.items[j],
                    time: self.times[j],
                    kind: self.kinds[j],
                };
                if k < cut {
                    early.push(e);
                } else {
                    late.push(e);
                }
            }
        }
        (
            Interactions::from_events(self.user_count, self.item_count, early),
            Interactions::from_events(self.user_count, self.item_count, late),
        )
    }

    /// The interactions up to and including `as_of` (all when `None`).
    pub fn as_of(&self, as_of: Option<i64>) -> Interactions {
        let Some(t) = as_of else {
            return self.clone();
        };
        let mut events = Vec::new();
        for u in 0..self.user_count {
            for j in self.range(u) {
                if self.times[j] <= t {
                    events.push(Event {
                        user: u as u32,
                        item: self.items[j],
                        time: self.times[j],
                        kind: self.kinds[j],
                    });
                }
            }
        }
        Interactions::from_events(self.user_count, self.item_count, events)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(user: u32, item: u32, time: i64) -> Event {
        Event {
            user,
            item,
            time,
            kind: 0,
        }
    }

    #[test]
    fn histories_are_in_time_order_then_item_order() {
        let log = Interactions::from_events(
            2,
            5,
            vec![ev(0, 3, 20), ev(1, 4, 5), ev(0, 1, 10), ev(0, 0, 20)],
        );
        assert_eq!(log.items_of(0), &[1, 0, 3]);
        assert_eq!(log.times_of(0), &[10, 20, 20]);
        assert_eq!(log.items_of(1), &[4]);
    }

    #[test]
    fn temporal_split_keeps_the_earliest_eighty_percent_and_at_least_one() {
        let mut events: Vec<Event> = (0..10).map(|t| ev(0, t as u32, t)).collect();
        events.push(ev(1, 7, 3));
        events.extend([ev(2, 1, 1), ev(2, 2, 2), ev(2, 3, 3)]);
        let log = Interactions::from_events(3, 10, events);
        let (train, test) = log.temporal_split(0.8);
        assert_eq!(train.items_of(0), &[0, 1, 2, 3, 4, 5, 6, 7]);
        assert_eq!(test.items_of(0), &[8, 9]);
        // One interaction: it stays in train.
        assert_eq!(train.items_of(1), &[7]);
        assert!(test.items_of(1).is_empty());
        // floor(0.8 × 3) = 2.
        assert_eq!(train.items_of(2), &[1, 2]);
        assert_eq!(test.items_of(2), &[3]);
    }

    #[test]
    fn as_of_drops_later_interactions() {
        let log = Interactions::from_events(1, 3, vec![ev(0, 0, 1), ev(0, 1, 2), ev(0, 2, 3)]);
        assert_eq!(log.as_of(Some(2)).items_of(0), &[0, 1]);
        assert_eq!(log.as_of(None).items_of(0), &[0, 1, 2]);
    }
}
