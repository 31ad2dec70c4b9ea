//! Validated id maps: lookup, composition, inversion, text form.
#![forbid(unsafe_code)]

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, Result};
use crate::extent::{Extent, Side};

/// The most extents a map may have (since Linux 4.15; 5 before).
pub const MAX_EXTENTS: usize = 340;

/// The most extents a map could have before Linux 4.15.
pub const MAX_BASE_EXTENTS: usize = 5;

/// The longest map text the kernel takes: one write of less than a page (4096 bytes).
pub const MAX_TEXT_LEN: usize = 4095;

/// Up to this many extents a lookup scans linearly, like the kernel (which keeps
/// up to 5 extents inline and binary-searches sorted copies beyond that).
const LINEAR_MAX: usize = MAX_BASE_EXTENTS;

/// Beyond [`LINEAR_MAX`], the sorted keys are cut into blocks of this many.
const BLOCK: usize = 16;

/// Room for the first key of every block but the first (`MAX_EXTENTS / BLOCK`
/// rounded up, minus one, fits).
const FENCES: usize = 32;

const _: () = assert!(MAX_EXTENTS.div_ceil(BLOCK) <= FENCES);

/// An extent's target as stored next to its key in a sorted lookup index.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct Span {
    count: u32,
    target: u32,
}

/// Extents sorted by their first id on one side, as dense arrays: the keys
/// searched (`firsts`), and what an id maps to (`spans`).
///
/// Above [`LINEAR_MAX`] extents the search is a two-level static search tree
/// rather than a binary search: count the block fences <= id (a fixed 32-key
/// array), then the keys <= id in that block of 16. Both counts are branch-free
/// and vectorize, so a lookup in 340 extents costs a few compares of whole
/// registers instead of nine dependent, mispredicted steps (the kernel's
/// `bsearch`). Same answer, O(log n) levels of constant width.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Index {
    len: usize,
    /// Sorted; padded to a multiple of BLOCK with u32::MAX beyond LINEAR_MAX.
    firsts: Box<[u32]>,
    /// Same order; padding spans have count 0 (never match).
    spans: Box<[Span]>,
    /// fences[k] = firsts[BLOCK * (k + 1)]; u32::MAX past the last block.
    fences: [u32; FENCES],
}

impl Index {
    fn build(extents: &[Extent], side: Side) -> Index {
        let mut sorted: Vec<Extent> = extents.to_vec();
        sorted.sort_unstable_by_key(|e| e.first(side));
        let other = match side {
            Side::Inside => Side::Outside,
            Side::Outside => Side::Inside,
        };
        let len = sorted.len();
        let padded = if len > LINEAR_MAX {
            len.next_multiple_of(BLOCK)
        } else {
            len
        };
        let mut firsts: Vec<u32> = sorted.iter().map(|e| e.first(side)).collect();
        let mut spans: Vec<Span> = sorted
            .iter()
            .map(|e| Span {
                count: e.count,
                target: e.first(other),
            })
            .collect();
        firsts.resize(padded, u32::MAX);
        spans.resize(
            padded,
            Span {
                count: 0,
                target: 0,
            },
        );
        let mut fences = [u32::MAX; FENCES];
        for (k, fence) in fences.iter_mut().enumerate() {
            if let Some(&first) = firsts.get(BLOCK * (k + 1)) {
                *fence = first;
            }
        }
        Index {
            len,
            firsts: firsts.into_boxed_slice(),
            spans: spans.into_boxed_slice(),
            fences,
        }
    }

    /// The position of the last extent whose first id is <= `id` (or one whose
    /// range check fails, see `map`, when there is none).
    #[inline]
    fn position(&self, id: u32) -> usize {
        let firsts = &*self.firsts;
        if self.len <= LINEAR_MAX {
            let mut found = 0;
            for (i, &first) in firsts.iter().enumerate() {
                if first <= id {
                    found = i;
                }
            }
            return found;
        }
        let blocks = firsts.len() / BLOCK;
        let block = count_le(&self.fences, id).min(blocks - 1);
        let start = block * BLOCK;
        let Some(chunk) = firsts
            .get(start..start + BLOCK)
            .and_then(|c| <&[u32; BLOCK]>::try_from(c).ok())
        else {
            return 0;
        };
        (start + count_le(chunk, id)).saturating_sub(1)
    }

    /// Maps `count` (>= 1) ids from `id` if one extent covers them all.
    #[inline]
    fn map(&self, id: u32, count: u32) -> Option<u32> {
        let i = self.position(id);
        let span = self.spans[i];
        // Wraps to a huge offset when `id` is below the extent's first id; an
        // extent ends at or below u32::MAX, so that offset is never < span.count.
        let offset = id.wrapping_sub(self.firsts[i]);
        if offset < span.count && count.wrapping_sub(1) < span.count - offset {
            Some(span.target + offset)
        } else {
            None
        }
    }

    /// The extents in key order: (first, span).
    fn iter(&self) -> impl ExactSizeIterator<Item = (u32, Span)> + '_ {
        self.firsts[..self.len]
            .iter()
            .copied()
            .zip(self.spans[..self.len].iter().copied())
    }

    /// The parts of `[first, first + count)` this index maps: `(offset from first,
    /// target, length)`, in increasing order.
    fn pieces(&self, first: u32, count: u32) -> impl Iterator<Item = (u32, u32, u32)> + '_ {
        let start = first as u64;
        let end = start + count as u64;
        let from = self.position(first).min(self.len);
        self.iter()
            .skip(from)
            .take_while(move |(f, _)| (*f as u64) < end)
            .filter_map(move |(f, span)| {
                let lo = start.max(f as u64);
                let hi = end.min(f as u64 + span.count as u64);
                (lo < hi).then(|| {
                    let offset = (lo - start) as u32;
                    let target = span.target + (lo - f as u64) as u32;
                    (offset, target, (hi - lo) as u32)
                })
            })
    }
}

/// How many of `keys` are <= `id`: a branch-free count the compiler vectorizes.
#[inline]
fn count_le<const N: usize>(keys: &[u32; N], id: u32) -> usize {
    keys.iter().map(|&k| usize::from(k <= id)).sum()
}

/// A validated uid or gid map: 1 to 340 non-overlapping extents, each a range the
/// kernel accepts, whose text fits the single write the kernel takes.
///
/// Lookups both ways ([`map_down`](Self::map_down), [`map_up`](Self::map_up)) cost
/// O(log n) and allocate nothing: the map keeps the extents sorted by each side,
/// scanning linearly up to 5 extents like the kernel, and beyond that searching
/// a two-level static search tree (blocks of 16 sorted keys under 32 fences) with
/// branch-free, vectorized compares.
///
/// Equality compares the mapping, not the order the extents were given in (the
/// kernel shows maps of more than 5 extents sorted).
///
/// ```
/// use linception_userns::{Extent, IdMap};
///
/// let map: IdMap = "0 1000 1\n1 100000 65536\n".parse()?;
/// assert_eq!(map.map_down(0), Some(1000));
/// assert_eq!(map.map_down(2), Some(100_001));
/// assert_eq!(map.map_up(100_001), Some(2));
/// assert_eq!(map.map_down(70_000), None);
/// assert_eq!(map.to_string(), "0 1000 1\n1 100000 65536\n");
///
/// let bad = IdMap::new([Extent::new(0, 1000, 10), Extent::new(5, 2000, 10)]);
/// assert_eq!(
///     bad.unwrap_err().to_string(),
///     "extents #0 (0 1000 10) and #1 (5 2000 10) overlap on the inside side"
/// );
/// # Ok::<(), linception_userns::Error>(())
/// ```
#[derive(Clone)]
pub struct IdMap {
    extents: Box<[Extent]>,
    down: Index,
    up: Index,
}

impl IdMap {
    /// Validates `extents` into a map.
    ///
    /// # Errors
    /// [`Error::EmptyMap`], [`Error::TooManyExtents`] (more than [`MAX_EXTENTS`]),
    /// [`Error::ZeroCount`], [`Error::Overflow`] (a range past id 4294967294 on either
    /// side), [`Error::Overlap`] (on either side), [`Error::TextTooLong`] (text over
    /// [`MAX_TEXT_LEN`] bytes). Each names the offending extent(s) by position.
    pub fn new(extents: impl Into<Vec<Extent>>) -> Result<IdMap> {
        let extents: Vec<Extent> = extents.into();
        validate(&extents)?;
        Ok(IdMap::new_unchecked(extents.into_boxed_slice()))
    }

    fn new_unchecked(extents: Box<[Extent]>) -> IdMap {
        let down = Index::build(&extents, Side::Inside);
        let up = Index::build(&extents, Side::Outside);
        IdMap { extents, down, up }
    }

    /// A map of one extent.
    ///
    /// # Errors
    /// As [`IdMap::new`].
    pub fn single(inside: u32, outside: u32, count: u32) -> Result<IdMap> {
        IdMap::new([Extent::new(inside, outside, count)])
    }

    /// The initial namespace's map, `0 0 4294967295`: every mappable id to itself.
    pub fn identity() -> IdMap {
        IdMap::new_unchecked(Box::new([Extent::new(0, 0, u32::MAX)]))
    }

    /// Parses the text of `/proc/PID/uid_map` or `gid_map`: one extent per line,
    /// `inside outside count`, separated by any whitespace (the kernel pads its
    /// output with spaces); blank lines are skipped.
    ///
    /// # Errors
    /// [`Error::Parse`] naming the line, then the errors of [`IdMap::new`].
    pub fn parse(text: &str) -> Result<IdMap> {
        IdMap::new(parse_extents(text, "id map")?)
    }

    /// The extents in the order they were given.
    #[inline]
    pub fn extents(&self) -> &[Extent] {
        &self.extents
    }

    /// The extents sorted by their inside ids.
    pub fn extents_by_inside(&self) -> impl ExactSizeIterator<Item = Extent> + '_ {
        self.down
            .iter()
            .map(|(inside, span)| Extent::new(inside, span.target, span.count))
    }

    /// The number of extents (1 to [`MAX_EXTENTS`]).
    #[inline]
    #[allow(clippy::len_without_is_empty)] // a map is never empty
    pub fn len(&self) -> usize {
        self.extents.len()
    }

    /// The number of ids mapped.
    pub fn id_count(&self) -> u64 {
        self.extents.iter().map(|e| e.count as u64).sum()
    }

    /// Maps an id inside the namespace to the parent namespace (the kernel's
    /// `map_id_down`); `None` if it is not mapped.
    #[inline]
    pub fn map_down(&self, inside: u32) -> Option<u32> {
        self.down.map(inside, 1)
    }

    /// Maps an id of the parent namespace into the namespace (the kernel's
    /// `map_id_up`); `None` if it is not mapped.
    #[inline]
    pub fn map_up(&self, outside: u32) -> Option<u32> {
        self.up.map(outside, 1)
    }

    /// Maps the `count` inside ids from `inside` to the parent namespace if one
    /// extent covers them all, returning the first (the kernel's
    /// `map_id_range_down`); `None` otherwise or if `count` is 0.
    #[inline]
    pub fn map_range_down(&self, inside: u32, count: u32) -> Option<u32> {
        if count == 0 {
            return None;
        }
        self.down.map(inside, count)
    }

    /// Maps the `count` outside ids from `outside` into the namespace if one extent
    /// covers them all, returning the first; `None` otherwise or if `count` is 0.
    #[inline]
    pub fn map_range_up(&self, outside: u32, count: u32) -> Option<u32> {
        if count == 0 {
            return None;
        }
        self.up.map(outside, count)
    }

    /// The inverse map: outside ids become inside ids.
    /// `m.inverse().map_down(x) == m.map_up(x)` for every `x`.
    pub fn inverse(&self) -> IdMap {
        IdMap {
            extents: self.extents.iter().map(Extent::inverse).collect(),
            down: self.up.clone(),
            up: self.down.clone(),
        }
    }

    /// Composes two maps: `self` maps this namespace's ids to its parent's, `parent`
    /// maps the parent's ids to the grandparent's (say, the host's). The result maps
    /// this namespace's ids straight to the grandparent's:
    /// `c.map_down(x) == self.map_down(x).and_then(|y| parent.map_down(y))`.
    ///
    /// Ids that `parent` does not map are left out; an extent that spans several of
    /// `parent`'s extents is split.
    ///
    /// ```
    /// use linception_userns::IdMap;
    ///
    /// let host = IdMap::parse("0 100000 65536")?; // the container, in host ids
    /// let nested = IdMap::parse("0 1000 10")?;    // a namespace inside it
    /// assert_eq!(nested.compose(&host)?.to_string(), "0 101000 10\n");
    /// # Ok::<(), linception_userns::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::EmptyMap`] if no id maps through both; [`Error::TooManyExtents`] or
    /// [`Error::TextTooLong`] if the split result would not fit a kernel map.
    pub fn compose(&self, parent: &IdMap) -> Result<IdMap> {
        let mut out = Vec::with_capacity(self.len());
        for e in self.extents.iter() {
            for (offset, target, count) in parent.down.pieces(e.outside, e.count) {
                out.push(Extent::new(e.inside + offset, target, count));
            }
        }
        IdMap::new(out)
    }

    /// Length in bytes of the map's text ([`Display`](fmt::Display)), the single
    /// write made to `uid_map`/`gid_map`.
    pub fn text_len(&self) -> usize {
        self.extents.iter().map(Extent::text_len).sum()
    }
}

/// Parses lines of three numbers into extents, without validating them as a map.
pub(crate) fn parse_extents(text: &str, source_name: &str) -> Result<Vec<Extent>> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let mut fields = line.split_ascii_whitespace();
        let Some(first) = fields.next() else {
            continue;
        };
        let err = |reason| Error::Parse {
            source_name: source_name.to_string(),
            line: n + 1,
            text: line.to_string(),
            reason,
        };
        let (Some(second), Some(third), None) = (fields.next(), fields.next(), fields.next())
        else {
            return Err(err("expected three numbers: inside outside count"));
        };
        let num = |s: &str| {
            // u32::from_str takes a leading '+', the kernel does not.
            if s.bytes().all(|b| b.is_ascii_digit()) {
                s.parse::<u32>().ok()
            } else {
                None
            }
        };
        let (Some(inside), Some(outside), Some(count)) = (num(first), num(second), num(third))
        else {
            return Err(err("expected decimal numbers in 0..=4294967295"));
        };
        out.push(Extent::new(inside, outside, count));
    }
    Ok(out)
}

fn validate(extents: &[Extent]) -> Result<()> {
    if extents.is_empty() {
        return Err(Error::EmptyMap);
    }
    if extents.len() > MAX_EXTENTS {
        return Err(Error::TooManyExtents {
            count: extents.len(),
        });
    }
    for (index, &extent) in extents.iter().enumerate() {
        if extent.count == 0 {
            return Err(Error::ZeroCount { index, extent });
        }
        for side in [Side::Inside, Side::Outside] {
            if extent.end(side) > u32::MAX as u64 {
                return Err(Error::Overflow {
                    index,
                    extent,
                    side,
                });
            }
        }
    }
    let mut order: Vec<usize> = (0..extents.len()).collect();
    for side in [Side::Inside, Side::Outside] {
        order.sort_unstable_by_key(|&i| (extents[i].first(side), i));
        for pair in order.windows(2) {
            let (a, b) = (extents[pair[0]], extents[pair[1]]);
            if a.end(side) > b.first(side) as u64 {
                let (i, j) = (pair[0].min(pair[1]), pair[0].max(pair[1]));
                return Err(Error::Overlap {
                    side,
                    first: (i, extents[i]),
                    second: (j, extents[j]),
                });
            }
        }
    }
    let mut bytes = 0;
    let mut first_over = None;
    for (index, extent) in extents.iter().enumerate() {
        bytes += extent.text_len();
        if bytes > MAX_TEXT_LEN && first_over.is_none() {
            first_over = Some(index);
        }
    }
    if let Some(first_over) = first_over {
        return Err(Error::TextTooLong {
            bytes,
            limit: MAX_TEXT_LEN,
            first_over,
        });
    }
    Ok(())
}

impl PartialEq for IdMap {
    fn eq(&self, other: &IdMap) -> bool {
        self.down == other.down
    }
}

impl Eq for IdMap {}

impl std::hash::Hash for IdMap {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.down.hash(state);
    }
}

impl fmt::Debug for IdMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("IdMap ")?;
        f.debug_list()
            .entries(self.extents.iter().map(|e| e.to_string()))
            .finish()
    }
}

/// The map's text, as written to `uid_map`: one `inside outside count` line per
/// extent, in the order given, each ending in a newline.
impl fmt::Display for IdMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for e in self.extents.iter() {
            writeln!(f, "{e}")?;
        }
        Ok(())
    }
}

impl FromStr for IdMap {
    type Err = Error;
    fn from_str(s: &str) -> Result<IdMap> {
        IdMap::parse(s)
    }
}

impl TryFrom<Vec<Extent>> for IdMap {
    type Error = Error;
    fn try_from(extents: Vec<Extent>) -> Result<IdMap> {
        IdMap::new(extents)
    }
}

impl TryFrom<&[Extent]> for IdMap {
    type Error = Error;
    fn try_from(extents: &[Extent]) -> Result<IdMap> {
        IdMap::new(extents)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(i: u32, o: u32, c: u32) -> Extent {
        Extent::new(i, o, c)
    }

    #[test]
    fn validation_names_the_extent() {
        assert!(matches!(IdMap::new([]), Err(Error::EmptyMap)));
        let err = IdMap::new([e(0, 0, 1), e(5, 5, 0)]).unwrap_err();
        assert!(matches!(err, Error::ZeroCount { index: 1, .. }), "{err}");
        assert_eq!(err.to_string(), "extent #1 (5 5 0): count is zero");
        let err = IdMap::new([e(u32::MAX - 1, 0, 2)]).unwrap_err();
        assert!(
            matches!(
                err,
                Error::Overflow {
                    index: 0,
                    side: Side::Inside,
                    ..
                }
            ),
            "{err}"
        );
        // The largest valid range ends exactly at u32::MAX.
        IdMap::new([e(u32::MAX - 1, 0, 1)]).unwrap();
        let err = IdMap::new([e(0, u32::MAX, 1)]).unwrap_err();
        assert!(
            matches!(
                err,
                Error::Overflow {
                    side: Side::Outside,
                    ..
                }
            ),
            "{err}"
        );
        let err = IdMap::new([e(0, 100, 10), e(10, 105, 1)]).unwrap_err();
        assert!(
            matches!(
                err,
                Error::Overlap {
                    side: Side::Outside,
                    first: (0, _),
                    second: (1, _)
                }
            ),
            "{err}"
        );
        let err = IdMap::new(vec![e(0, 0, 1); 341]).unwrap_err();
        assert!(matches!(err, Error::TooManyExtents { count: 341 }), "{err}");
        let big: Vec<Extent> = (0..200)
            .map(|i| e(i * 10_000_000, 4_000_000_000 + i, 1))
            .collect();
        let err = IdMap::new(big).unwrap_err();
        let Error::TextTooLong {
            bytes, first_over, ..
        } = err
        else {
            panic!("{err}");
        };
        assert!(bytes > MAX_TEXT_LEN);
        assert!(first_over > 100 && first_over < 200, "{first_over}");
    }

    #[test]
    fn overlap_not_adjacent_in_given_order() {
        let err = IdMap::new([e(0, 0, 100), e(200, 200, 1), e(50, 1000, 1)]).unwrap_err();
        assert!(
            matches!(
                err,
                Error::Overlap {
                    side: Side::Inside,
                    first: (0, _),
                    second: (2, _)
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn lookups_linear_and_binary() {
        for n in [1u32, 5, 6, 50, 340] {
            let map = IdMap::new(
                (0..n)
                    .rev()
                    .map(|i| e(i * 10, 1000 + i * 7, 5))
                    .collect::<Vec<_>>(),
            )
            .unwrap();
            for i in 0..n {
                assert_eq!(map.map_down(i * 10), Some(1000 + i * 7));
                assert_eq!(map.map_down(i * 10 + 4), Some(1000 + i * 7 + 4));
                assert_eq!(map.map_down(i * 10 + 5), None);
                assert_eq!(map.map_up(1000 + i * 7 + 4), Some(i * 10 + 4));
                assert_eq!(map.map_up(1000 + i * 7 + 5), None);
                assert_eq!(map.map_range_down(i * 10 + 1, 4), Some(1000 + i * 7 + 1));
                assert_eq!(map.map_range_down(i * 10 + 1, 5), None);
            }
            assert_eq!(map.map_up(999), None);
            assert_eq!(map.map_down(u32::MAX), None);
        }
    }

    #[test]
    fn parse_errors_name_the_line() {
        let err = IdMap::parse("0 0 1\n1 2\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "id map: line 2 (\"1 2\"): expected three numbers: inside outside count"
        );
        let err = IdMap::parse("0 -1 1").unwrap_err();
        assert!(matches!(err, Error::Parse { line: 1, .. }), "{err}");
        let err = IdMap::parse("0 +1 1").unwrap_err();
        assert!(matches!(err, Error::Parse { line: 1, .. }), "{err}");
        let err = IdMap::parse("0 4294967296 1").unwrap_err();
        assert!(matches!(err, Error::Parse { line: 1, .. }), "{err}");
        assert!(matches!(IdMap::parse("\n \n"), Err(Error::EmptyMap)));
        // The kernel's own padded output.
        let map = IdMap::parse("         0          0 4294967295\n").unwrap();
        assert_eq!(map, IdMap::identity());
    }
}
