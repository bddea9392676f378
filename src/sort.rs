//! Stable sorting through one shared copy of the standard library's sort.
//!
//! Each `sort_by`, `sort_by_key` or `sort` instantiates the standard library's stable sort (driftsort) for
//! its own element type and comparison: about 4 KB of wasm each, and the Worker, whose gzip size is limited
//! to 500 KB, had seventeen of them (2026-12). These functions sort positions instead, with the comparison
//! behind a `dyn`, so there is one copy, and then move the elements to their places. The order is the
//! standard library's: equal elements keep their order. Collecting into a `BTreeMap` or `BTreeSet` sorts
//! its input too, with a copy per key and value type; [`map`] and [`set`] insert instead.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

/// As `items.sort_by(compare)`.
pub fn sort_by<T>(items: &mut [T], mut compare: impl FnMut(&T, &T) -> Ordering) {
    let mut order: Vec<usize> = (0..items.len()).collect();
    sort_positions(&mut order, &mut |a, b| compare(&items[a], &items[b]));
    permute(items, &mut order);
}

/// As `items.sort_by_key(key)`.
pub fn sort_by_key<T, K: Ord>(items: &mut [T], mut key: impl FnMut(&T) -> K) {
    sort_by(items, |a, b| key(a).cmp(&key(b)));
}

/// As `items.sort()`.
pub fn sort<T: Ord>(items: &mut [T]) {
    sort_by(items, T::cmp);
}

/// As `items.into_iter().collect::<BTreeMap<_, _>>()`: the same map, a later value for a key replacing
/// an earlier one.
pub fn map<K: Ord, V>(items: impl IntoIterator<Item = (K, V)>) -> BTreeMap<K, V> {
    let mut map = BTreeMap::new();
    map.extend(items);
    map
}

/// As `items.into_iter().collect::<BTreeSet<_>>()`.
pub fn set<T: Ord>(items: impl IntoIterator<Item = T>) -> BTreeSet<T> {
    let mut set = BTreeSet::new();
    set.extend(items);
    set
}

/// Kept out of line so that every caller shares it.
#[inline(never)]
fn sort_positions(order: &mut [usize], compare: &mut dyn FnMut(usize, usize) -> Ordering) {
    order.sort_by(|&a, &b| compare(a, b));
}

/// Puts `items[order[i]]` at `i`, going round each cycle of the permutation once; `order` is spent.
fn permute<T>(items: &mut [T], order: &mut [usize]) {
    for start in 0..order.len() {
        let mut at = start;
        // A position whose element has arrived points at itself.
        while order[at] != at {
            let from = order[at];
            order[at] = at;
            if from == start {
                break;
            }
            items.swap(at, from);
            at = from;
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn orders_as_the_standard_stable_sort_does(items in proptest::collection::vec((0u8..8, any::<u16>()), 0..200)) {
            // Keys repeat, so stability shows: equal keys must keep their input order.
            let mut expected = items.clone();
            expected.sort_by_key(|&(key, _)| key);
            let mut sorted = items.clone();
            super::sort_by_key(&mut sorted, |&(key, _)| key);
            prop_assert_eq!(&sorted, &expected);
            let mut reversed = items.clone();
            super::sort_by(&mut reversed, |a, b| b.0.cmp(&a.0));
            expected = items.clone();
            expected.sort_by_key(|b| std::cmp::Reverse(b.0));
            prop_assert_eq!(&reversed, &expected);
            let mut whole = items.clone();
            super::sort(&mut whole);
            expected = items;
            expected.sort();
            prop_assert_eq!(whole, expected);
        }

        #[test]
        fn maps_and_sets_are_what_collect_builds(items in proptest::collection::vec((0u8..8, any::<u16>()), 0..200)) {
            prop_assert_eq!(super::map(items.iter().copied()), items.iter().copied().collect());
            prop_assert_eq!(super::set(items.iter().copied()), items.iter().copied().collect());
        }
    }
}
