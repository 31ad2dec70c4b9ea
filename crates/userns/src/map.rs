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

/// Keys compared at once inside a bucket; bigger buckets are binary-searched.
const WINDOW: usize = 4;

/// Buckets of the lookup table of a map of several extents.
const TABLE: usize = 1024;

/// Key slots: every extent, then padding so a window read never runs off the end.
const SLOTS: usize = MAX_EXTENTS + WINDOW;

/// An extent as stored in a lookup index: its first id on the searched side,
/// its count, and the first id on the other side.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct Entry {
    first: u32,
    count: u32,
    target: u32,
}

/// Padding: a key above every id but u32::MAX, matching nothing (count 0).
const PAD: Entry = Entry {
    first: u32::MAX,
    count: 0,
    target: 0,
};

/// The extents of a map sorted by their first id on one side.
///
/// One extent is checked directly; up to 5 are scanned in order. For more, a
/// bucket table narrows the search:
/// the range of keys is cut into [`TABLE`] equal buckets (a power of two apart),
/// and `buckets[b]` is the position of the first key in bucket `b`. A lookup
/// finds its bucket with a subtraction and a shift, then compares the (at most)
/// [`WINDOW`] keys there at once, branch-free. A bucket holding more keys (keys
/// clustered in a small part of the range) is binary-searched, so the worst case stays O(log n) while spread maps cost O(1), instead of the
/// nine dependent steps of a binary search over 340 keys. The arrays have fixed
/// sizes so that every index is provably in bounds (no checks in the hot path).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Index {
    One(Entry),
    /// Up to [`MAX_BASE_EXTENTS`] extents, inline and scanned in order (the
    /// kernel's layout for small maps; for so few, the scan beats any search).
    Few {
        len: usize,
        entries: [Entry; MAX_BASE_EXTENTS],
    },
    Many {
        /// The smallest key (kept next to the pointer: one load less per lookup).
        base: u32,
        /// A key's bucket is `(key - base) >> shift`, at most `TABLE - 1`.
        shift: u32,
        many: Box<Many>,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Many {
    len: usize,
    /// `buckets[b]`: position of the first key in bucket `b`; `buckets[TABLE]`
    /// is `len`.
    buckets: [u16; TABLE + 1],
    /// Sorted keys (`entries[i].first`, kept apart for the window compare),
    /// padded with u32::MAX.
    firsts: [u32; SLOTS],
    /// Sorted entries, padded with [`PAD`].
    entries: [Entry; SLOTS],
}

impl Index {
    fn build(extents: &[Extent], side: Side) -> Index {
        let other = match side {
            Side::Inside => Side::Outside,
            Side::Outside => Side::Inside,
        };
        let mut sorted: Vec<Entry> = extents
            .iter()
            .map(|e| Entry {
                first: e.first(side),
                count: e.count,
                target: e.first(other),
            })
            .collect();
        sorted.sort_unstable_by_key(|e| e.first);
        if let [one] = sorted[..] {
            return Index::One(one);
        }
        let len = sorted.len();
        if len <= MAX_BASE_EXTENTS {
            let mut entries = [PAD; MAX_BASE_EXTENTS];
            entries[..len].copy_from_slice(&sorted);
            return Index::Few { len, entries };
        }
        let base = sorted[0].first;
        let range = (sorted[len - 1].first - base) as u64;
        let mut shift = 0;
        while (range >> shift) >= TABLE as u64 {
            shift += 1;
        }
        let mut many = Box::new(Many {
            len,
            buckets: [0; TABLE + 1],
            firsts: [u32::MAX; SLOTS],
            entries: [PAD; SLOTS],
        });
        for (i, e) in sorted.iter().enumerate() {
            many.firsts[i] = e.first;
            many.entries[i] = *e;
        }
        let mut pos = 0;
        for (b, slot) in many.buckets.iter_mut().enumerate() {
            while pos < len && (((sorted[pos].first - base) as u64) >> shift) < b as u64 {
                pos += 1;
            }
            // len <= MAX_EXTENTS fits in u16.
            *slot = pos as u16;
        }
        Index::Many { base, shift, many }
    }

    /// The entry that may hold `id`: the last one whose first id is <= `id`, or
    /// one that does not match when there is none.
    #[inline]
    fn entry(&self, id: u32) -> Entry {
        match self {
            Index::One(entry) => *entry,
            Index::Few { len, entries } => {
                // Extents do not overlap: the first that holds `id` is the one.
                for e in entries.iter().take(*len) {
                    if id.wrapping_sub(e.first) < e.count {
                        return *e;
                    }
                }
                PAD
            }
            Index::Many { base, shift, many } => many.entries[many.position(*base, *shift, id)],
        }
    }

    /// Maps one id.
    #[inline]
    fn map_one(&self, id: u32) -> Option<u32> {
        let e = self.entry(id);
        // Wraps to a huge offset when `id` is below the extent's first id; an
        // extent ends at or below u32::MAX, so that offset is never < e.count.
        let offset = id.wrapping_sub(e.first);
        if offset < e.count {
            Some(e.target + offset)
        } else {
            None
        }
    }

    /// Maps `count` (>= 1) ids from `id` if one extent covers them all.
    #[inline]
    fn map(&self, id: u32, count: u32) -> Option<u32> {
        let e = self.entry(id);
        // Wraps to a huge offset when `id` is below the extent's first id; an
        // extent ends at or below u32::MAX, so that offset is never < e.count.
        let offset = id.wrapping_sub(e.first);
        if offset < e.count && count.wrapping_sub(1) < e.count - offset {
            Some(e.target + offset)
        } else {
            None
        }
    }

    /// The extents in key order.
    fn entries(&self) -> &[Entry] {
        match self {
            Index::One(entry) => std::slice::from_ref(entry),
            Index::Few { len, entries } => &entries[..*len],
            Index::Many { many, .. } => &many.entries[..many.len],
        }
    }

    /// The parts of `[first, first + count)` this index maps: `(offset from first,
    /// target, length)`, in increasing order.
    fn pieces(&self, first: u32, count: u32) -> impl Iterator<Item = (u32, u32, u32)> + '_ {
        let start = first as u64;
        let end = start + count as u64;
        let entries = self.entries();
        // Entries before the one that may hold `first` all end at or before it.
        let from = entries
            .partition_point(|e| e.first <= first)
            .saturating_sub(1);
        entries[from..]
            .iter()
            .take_while(move |e| (e.first as u64) < end)
            .filter_map(move |e| {
                let lo = start.max(e.first as u64);
                let hi = end.min(e.first as u64 + e.count as u64);
                (lo < hi).then(|| {
                    let offset = (lo - start) as u32;
                    let target = e.target + (lo - e.first as u64) as u32;
                    (offset, target, (hi - lo) as u32)
                })
            })
    }
}

impl Many {
    /// The position of the last key <= `id` (0 when there is none: entry 0 then
    /// fails the caller's range check, its first id being above `id`).
    #[inline]
    fn position(&self, base: u32, shift: u32, id: u32) -> usize {
        let Some(rel) = id.checked_sub(base) else {
            return 0;
        };
        // Every key of an earlier bucket is <= id, every key of a later one > id
        // (ids past the last key's bucket land in the last bucket, which holds it).
        let b = ((rel >> shift) as usize).min(TABLE - 1);
        let start = usize::from(self.buckets[b]).min(MAX_EXTENTS);
        let end = usize::from(self.buckets[b + 1]).min(MAX_EXTENTS);
        let within = if end.wrapping_sub(start) <= WINDOW {
            // Keys past `end` in the window are > id (a later bucket or padding),
            // except when id is u32::MAX: then a padding entry, which never
            // matches, is picked.
            let window: &[u32; WINDOW] = self.firsts[start..start + WINDOW]
                .try_into()
                .unwrap_or(&[u32::MAX; WINDOW]);
            count_le(window, id)
        } else {
            branchless_count_le(&self.firsts[start..end], id)
        };
        (start + within).saturating_sub(1).min(SLOTS - 1)
    }
}

/// How many of the sorted, non-empty `keys` are <= `id`: a binary search whose
/// loop runs ceil(log2(n)) times whatever the id.
#[inline]
fn branchless_count_le(keys: &[u32], id: u32) -> usize {
    let mut base = 0;
    let mut len = keys.len();
    while len > 1 {
        let half = len / 2;
        base += half * usize::from(keys[base + half] <= id);
        len -= half;
    }
    base + keys.first().map_or(0, |_| usize::from(keys[base] <= id))
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
/// scans up to 5 in order like the kernel, and beyond that goes through a bucket
/// table (a subtraction and a shift) to a few keys compared at once, falling back
/// to a binary search where keys cluster. A map of more than 5 extents keeps about
/// 15 KiB of such tables (the kernel keeps 8 KiB for 340 extents).
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
    /// side), [`Error::Overlap`] (on either side), [`Error::TextTooLong`] (the
    /// [`write_text`](Self::write_text), the text without its final newline, over
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

    /// Parses map text exactly as the kernel's `uid_map`/`gid_map` write parses it:
    /// the text is accepted if and only if writing it (as a privileged writer,
    /// whose every outside id is mapped) would be, and the map is the one the
    /// kernel would install.
    ///
    /// The kernel's rules, mirrored here:
    /// - at most [`MAX_TEXT_LEN`] bytes (one write of less than a page); a NUL byte
    ///   ends the text (the kernel stops reading there);
    /// - one extent per line, `inside outside count`; the lines are cut at `\n`
    ///   only, and the last may lack it; every line must hold an extent: a blank
    ///   or spaces-only line is refused, even at the end (`"0 0 1\n\n"`);
    /// - around and between the numbers, any run of the kernel's white space
    ///   (space, `\t`, `\v`, `\f`, `\r`), at least one between two numbers;
    /// - numbers are decimal digits only (no sign; leading zeros are fine) and
    ///   are read modulo 2^32, as the kernel stores them in 32 bits: `4294967296`
    ///   is 0 (the kernel accepts it as such, so this does too; see
    ///   [`extents`](Self::extents) for what was read);
    /// - then the checks of [`IdMap::new`]: 1 to [`MAX_EXTENTS`] lines, counts
    ///   not zero, ranges ending at or below 4294967295, no overlap.
    ///
    /// The kernel's own output (`/proc/PID/uid_map`, padded with spaces) is valid
    /// input, unless it is longer than one write can be.
    ///
    /// ```
    /// use linception_userns::{Error, Extent, IdMap};
    ///
    /// let map = IdMap::parse(" 0\t1000 1 \n1 100000 065536")?;
    /// assert_eq!(map.extents(), [Extent::new(0, 1000, 1), Extent::new(1, 100_000, 65_536)]);
    /// // The kernel refuses a blank line, and so does this.
    /// let err = IdMap::parse("0 1000 1\n\n1 100000 65536\n").unwrap_err();
    /// assert!(matches!(err, Error::Parse { line: 2, .. }), "{err}");
    /// # Ok::<(), linception_userns::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::TextTooLong`] for more than [`MAX_TEXT_LEN`] bytes, [`Error::Parse`]
    /// naming the first malformed line, then the errors of [`IdMap::new`].
    ///
    /// # References
    /// [user_namespaces(7)](https://man7.org/linux/man-pages/man7/user_namespaces.7.html)
    /// ("Defining user and group ID mappings: writing to uid_map and gid_map")
    pub fn parse(text: &str) -> Result<IdMap> {
        IdMap::new(parse_write_text(text, "id map")?)
    }

    /// The extents in the order they were given.
    #[inline]
    pub fn extents(&self) -> &[Extent] {
        &self.extents
    }

    /// The extents sorted by their inside ids.
    pub fn extents_by_inside(&self) -> impl ExactSizeIterator<Item = Extent> + '_ {
        self.down
            .entries()
            .iter()
            .map(|e| Extent::new(e.first, e.target, e.count))
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
        self.down.map_one(inside)
    }

    /// Maps an id of the parent namespace into the namespace (the kernel's
    /// `map_id_up`); `None` if it is not mapped.
    #[inline]
    pub fn map_up(&self, outside: u32) -> Option<u32> {
        self.up.map_one(outside)
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

    /// Length in bytes of the map's text ([`Display`](fmt::Display)), final newline
    /// included.
    pub fn text_len(&self) -> usize {
        self.extents.iter().map(Extent::text_len).sum()
    }

    /// The text of the single write made to `uid_map`/`gid_map`: the
    /// [`Display`](fmt::Display) text, without its final newline if the text is
    /// one byte over [`MAX_TEXT_LEN`] with it (the kernel takes a last line
    /// without a newline).
    pub fn write_text(&self) -> String {
        let mut text = self.to_string();
        if text.len() > MAX_TEXT_LEN {
            text.pop();
        }
        text
    }
}

/// The bytes the kernel's `isspace()` accepts that valid UTF-8 can put next to
/// an ASCII digit or space (`\n` never reaches a line: lines are cut at it).
fn is_kernel_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// Parses map text with the kernel's `map_write()` grammar, into extents not yet
/// validated as a map.
fn parse_write_text(text: &str, source_name: &str) -> Result<Vec<Extent>> {
    if text.len() > MAX_TEXT_LEN {
        // The line holding the first byte past the limit.
        let first_over = text.as_bytes()[..MAX_TEXT_LEN]
            .iter()
            .filter(|&&b| b == b'\n')
            .count();
        return Err(Error::TextTooLong {
            bytes: text.len(),
            limit: MAX_TEXT_LEN,
            first_over,
        });
    }
    // The kernel copies the write into a NUL-terminated buffer and reads it as a
    // C string: a NUL ends the text.
    let text = text.split('\0').next().unwrap_or("");
    // One final newline ends the last line; anything after a newline is a line.
    let body = text.strip_suffix('\n').unwrap_or(text);
    let mut out = Vec::new();
    for (n, line) in body.split('\n').enumerate() {
        let extent = parse_write_line(line.as_bytes()).map_err(|reason| Error::Parse {
            source_name: source_name.to_string(),
            line: n + 1,
            text: line.to_string(),
            reason,
        })?;
        out.push(extent);
    }
    Ok(out)
}

/// One line of map text as the kernel reads it: optional white space, three
/// decimal numbers (each read modulo 2^32, as the kernel stores the 64-bit result
/// of `simple_strtoul` in a `u32`) separated by white space, optional white space.
fn parse_write_line(line: &[u8]) -> std::result::Result<Extent, &'static str> {
    let mut pos = 0;
    let skip_spaces = |pos: &mut usize| {
        while line.get(*pos).is_some_and(|&b| is_kernel_space(b)) {
            *pos += 1;
        }
    };
    let mut fields = [0u32; 3];
    for (i, field) in fields.iter_mut().enumerate() {
        skip_spaces(&mut pos);
        let start = pos;
        while let Some(&b) = line.get(pos).filter(|b| b.is_ascii_digit()) {
            *field = field.wrapping_mul(10).wrapping_add(u32::from(b - b'0'));
            pos += 1;
        }
        if pos == start {
            return Err(match line.get(pos) {
                None if i == 0 => {
                    "blank line: the kernel takes none (only the last line may end the text \
                     with a newline)"
                }
                None => "expected three numbers: inside outside count",
                Some(b'+' | b'-') => "a number has a sign: decimal digits only",
                Some(_) => "expected decimal digits",
            });
        }
        match line.get(pos) {
            None if i == 2 => {}
            None => return Err("expected three numbers: inside outside count"),
            Some(&b) if is_kernel_space(b) => {}
            Some(_) => return Err("expected white space after a number"),
        }
    }
    skip_spaces(&mut pos);
    if pos != line.len() {
        return Err("junk after the count: a line holds three numbers");
    }
    let [inside, outside, count] = fields;
    Ok(Extent::new(inside, outside, count))
}

/// Parses the kernel's own output (`/proc/PID/uid_map`: lines of three padded
/// numbers) into extents, without validating them as a map.
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
    // The last line's newline may be left out of the write (the kernel takes a
    // last line without one): the text fits if it does without it.
    let mut bytes = 0;
    let mut first_over = None;
    for (index, extent) in extents.iter().enumerate() {
        bytes += extent.text_len();
        if bytes - 1 > MAX_TEXT_LEN && first_over.is_none() {
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
        /// Shows an extent as its line of text, unquoted.
        struct Line(Extent);
        impl fmt::Debug for Line {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }
        f.write_str("IdMap ")?;
        f.debug_list()
            .entries(self.extents.iter().copied().map(Line))
            .finish()
    }
}

/// The map's text: one `inside outside count` line per extent, in the order
/// given, each ending in a newline. At most [`MAX_TEXT_LEN`] + 1 bytes: the text
/// written to `uid_map` is [`IdMap::write_text`], which leaves the final newline
/// out when it would not fit.
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
    fn clustered_keys_fall_back_to_binary_search() {
        // 339 extents crowd the first bucket; one sits at the top of the range.
        let mut extents: Vec<Extent> = (0..339).map(|i| e(2 * i, 1000 + 3 * i, 1)).collect();
        extents.push(e(4_000_000_000, 4_100_000_000, 10));
        let map = IdMap::new(extents).unwrap();
        for i in 0..339 {
            assert_eq!(map.map_down(2 * i), Some(1000 + 3 * i));
            assert_eq!(map.map_down(2 * i + 1), None);
            assert_eq!(map.map_up(1000 + 3 * i), Some(2 * i));
            assert_eq!(map.map_up(1000 + 3 * i + 1), None);
        }
        assert_eq!(map.map_down(4_000_000_009), Some(4_100_000_009));
        assert_eq!(map.map_down(4_000_000_010), None);
        assert_eq!(map.map_down(3_999_999_999), None);
        assert_eq!(map.map_up(4_100_000_000), Some(4_000_000_000));
        assert_eq!(map.map_down(u32::MAX), None);
        assert_eq!(map.map_up(u32::MAX), None);
    }

    #[test]
    fn debug_shows_lines() {
        let map = IdMap::parse("0 1000 1\n1 100000 65536").unwrap();
        assert_eq!(format!("{map:?}"), "IdMap [0 1000 1, 1 100000 65536]");
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
        // The kernel keeps the low 32 bits of a number.
        let map = IdMap::parse("0 4294967296 1").unwrap();
        assert_eq!(map.extents(), [e(0, 0, 1)]);
        let err = IdMap::parse("\n \n").unwrap_err();
        assert!(matches!(err, Error::Parse { line: 1, .. }), "{err}");
        let err = IdMap::parse("").unwrap_err();
        assert!(matches!(err, Error::Parse { line: 1, .. }), "{err}");
        let err = IdMap::parse("0 0 1\x0b\x0c\r\n1 1 1 x").unwrap_err();
        assert!(matches!(err, Error::Parse { line: 2, .. }), "{err}");
        assert!(err.to_string().contains("junk after the count"), "{err}");
        // The kernel's own padded output.
        let map = IdMap::parse("         0          0 4294967295\n").unwrap();
        assert_eq!(map, IdMap::identity());
    }
}
