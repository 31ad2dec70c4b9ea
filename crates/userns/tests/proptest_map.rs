//! Property tests: lookups against a naive linear reference, text round trips,
//! composition and inversion laws.
// The crate's error keeps the failed call inline, so it is large by design.
#![allow(clippy::result_large_err)]

use linception_userns::{Error, Extent, IdMap, MAX_TEXT_LEN};
use proptest::prelude::*;

/// Linear reference: the first extent covering `id` on the inside.
fn naive_down(extents: &[Extent], id: u32) -> Option<u32> {
    extents.iter().find_map(|e| {
        (id as u64 >= e.inside as u64 && (id as u64) < e.inside as u64 + e.count as u64)
            .then(|| e.outside + (id - e.inside))
    })
}

fn naive_up(extents: &[Extent], id: u32) -> Option<u32> {
    let inverse: Vec<Extent> = extents.iter().map(Extent::inverse).collect();
    naive_down(&inverse, id)
}

/// Random valid maps: disjoint inside ranges, placed in random order at shuffled,
/// disjoint outside ranges, small or huge ids; when `clustered`, one extent sits
/// far above the rest on both sides, so the others crowd a few lookup buckets.
fn valid_map() -> impl Strategy<Value = IdMap> {
    (
        1usize..=340,
        any::<u64>(),
        prop_oneof![Just(16u32), Just(1_000), Just(12_000_000)],
        any::<bool>(),
    )
        .prop_map(|(n, seed, scale, clustered)| {
            let mut rng = seed | 1;
            let mut next = move || {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                rng
            };
            // Slots of `scale` ids; each extent uses a prefix of its slot.
            let slots = n as u64;
            let mut outside_slots: Vec<u64> = (0..slots).collect();
            for i in (1..outside_slots.len()).rev() {
                let j = (next() % (i as u64 + 1)) as usize;
                outside_slots.swap(i, j);
            }
            let mut extents: Vec<Extent> = (0..n)
                .map(|i| {
                    let count = 1 + (next() % scale as u64) as u32;
                    let inside = (i as u64 * scale as u64) as u32;
                    let outside = (outside_slots[i] * scale as u64 + 7) as u32;
                    Extent::new(inside, outside, count)
                })
                .collect();
            if clustered && n > 1 && scale < 12_000_000 {
                extents[n - 1] = Extent::new(4_000_000_000, 4_100_000_000, 1 + scale);
            }
            for i in (1..extents.len()).rev() {
                let j = (next() % (i as u64 + 1)) as usize;
                extents.swap(i, j);
            }
            // Keep the text within one write: drop extents from the end if needed.
            while extents
                .iter()
                .map(|e| e.to_string().len() + 1)
                .sum::<usize>()
                > 4095
            {
                extents.pop();
            }
            IdMap::new(extents).expect("generated map is valid")
        })
}

/// Ids worth probing: every extent's edges and neighbours, plus random ids.
fn probes(map: &IdMap, random: &[u32]) -> Vec<u32> {
    let mut ids: Vec<u32> = random.to_vec();
    for e in map.extents() {
        for base in [e.inside, e.outside] {
            let end = base.saturating_add(e.count);
            ids.extend([base.saturating_sub(1), base, end - 1, end]);
        }
    }
    ids.extend([0, u32::MAX, u32::MAX - 1]);
    ids
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn lookups_agree_with_linear_scan(map in valid_map(), random in prop::collection::vec(any::<u32>(), 32)) {
        let extents = map.extents();
        for id in probes(&map, &random) {
            prop_assert_eq!(map.map_down(id), naive_down(extents, id), "down {}", id);
            prop_assert_eq!(map.map_up(id), naive_up(extents, id), "up {}", id);
        }
    }

    #[test]
    fn range_lookups_agree_with_linear_scan(map in valid_map(), random in prop::collection::vec((any::<u32>(), 1u32..2000), 32)) {
        let extents = map.extents();
        let mut cases = random.clone();
        for e in extents {
            cases.extend([(e.inside, e.count), (e.inside, e.count + 1), (e.inside + e.count - 1, 1)]);
        }
        for (id, count) in cases {
            // Reference: one extent covers all of [id, id + count).
            let expect = extents.iter().find_map(|e| {
                let (lo, hi) = (e.inside as u64, e.inside as u64 + e.count as u64);
                (id as u64 >= lo && id as u64 + count as u64 <= hi).then(|| e.outside + (id - e.inside))
            });
            prop_assert_eq!(map.map_range_down(id, count), expect);
            let inv = map.inverse();
            prop_assert_eq!(inv.map_range_up(id, count), expect);
        }
    }

    #[test]
    fn parse_format_round_trip(map in valid_map()) {
        let text = map.to_string();
        prop_assert_eq!(text.len(), map.text_len());
        // The text written to the kernel fits one write, and parses back.
        let written = map.write_text();
        prop_assert!(written.len() <= MAX_TEXT_LEN);
        let parsed = IdMap::parse(&written).unwrap();
        prop_assert_eq!(parsed.extents(), map.extents());
        prop_assert_eq!(&parsed, &map);
        // The Display text too, unless its final newline makes it one byte long.
        prop_assert_eq!(IdMap::parse(&text).is_ok(), text.len() <= MAX_TEXT_LEN);
        // The kernel's padded "%10u %10u %10u" form parses to the same map, if it
        // fits one write as the kernel's own parser requires.
        let padded: String = map.extents_by_inside().map(|e| format!("{:>10} {:>10} {:>10}\n", e.inside, e.outside, e.count)).collect();
        match IdMap::parse(&padded) {
            Ok(parsed) => prop_assert_eq!(parsed, map),
            Err(Error::TextTooLong { bytes, .. }) => prop_assert!(bytes > MAX_TEXT_LEN),
            Err(err) => prop_assert!(false, "{}", err),
        }
    }

    #[test]
    fn inversion_laws(map in valid_map(), random in prop::collection::vec(any::<u32>(), 32)) {
        let inv = map.inverse();
        prop_assert_eq!(&inv.inverse(), &map);
        for id in probes(&map, &random) {
            prop_assert_eq!(inv.map_down(id), map.map_up(id));
            prop_assert_eq!(inv.map_up(id), map.map_down(id));
            if let Some(out) = map.map_down(id) {
                prop_assert_eq!(map.map_up(out), Some(id));
            }
        }
    }

    #[test]
    fn composition_laws(child in valid_map(), parent in valid_map(), grand in valid_map(), random in prop::collection::vec(any::<u32>(), 32)) {
        let ids = probes(&child, &random);
        match child.compose(&parent) {
            Ok(c) => {
                for &id in &ids {
                    prop_assert_eq!(c.map_down(id), child.map_down(id).and_then(|y| parent.map_down(y)), "id {}", id);
                }
                // Associativity, where both sides fit in a map.
                if let (Ok(left), Ok(right)) = (c.compose(&grand), parent.compose(&grand).and_then(|pg| child.compose(&pg))) {
                    for &id in &ids {
                        prop_assert_eq!(left.map_down(id), right.map_down(id));
                    }
                }
            }
            Err(e) => {
                // Only legitimate failures: nothing maps through, or the split map
                // does not fit the kernel's limits.
                let through = ids.iter().any(|&id| child.map_down(id).and_then(|y| parent.map_down(y)).is_some());
                match e {
                    linception_userns::Error::EmptyMap => prop_assert!(!through),
                    linception_userns::Error::TooManyExtents { .. } | linception_userns::Error::TextTooLong { .. } => {}
                    other => prop_assert!(false, "unexpected {}", other),
                }
            }
        }
        // A map composed with its inverse is the identity on its domain.
        // (Its text can outgrow one write: the outside column changes.)
        match child.compose(&child.inverse()) {
            Ok(round) => {
                for &id in &ids {
                    prop_assert_eq!(round.map_down(id), child.map_down(id).map(|_| id));
                }
            }
            Err(e) => prop_assert!(matches!(e, linception_userns::Error::TextTooLong { .. }), "{}", e),
        }
        // The identity map is neutral on both sides.
        prop_assert_eq!(child.compose(&IdMap::identity()).unwrap(), child.clone());
        prop_assert_eq!(IdMap::identity().compose(&child).unwrap(), child);
    }
}

#[test]
fn compose_splits_across_parent_extents() {
    let parent = IdMap::parse("0 1000 10\n10 5000 10\n30 9000 5\n").unwrap();
    let child = IdMap::parse("100 5 30\n").unwrap();
    let c = child.compose(&parent).unwrap();
    assert_eq!(c.to_string(), "100 1005 5\n105 5000 10\n125 9000 5\n");
}
