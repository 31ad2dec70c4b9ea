//! `/etc/subuid` and `/etc/subgid`: the subordinate ids a user may map.
#![forbid(unsafe_code)]

use std::io::{self, BufRead};
use std::path::Path;

use crate::error::{Call, Error, Result};
use crate::extent::Extent;
use crate::map::IdMap;

/// The system's subordinate uid file.
pub const SUBUID_PATH: &str = "/etc/subuid";
/// The system's subordinate gid file.
pub const SUBGID_PATH: &str = "/etc/subgid";

/// Who an entry of a subordinate id file belongs to: a user (or group) name, or a
/// numeric id.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum SubIdOwner {
    /// A login name.
    Name(String),
    /// A numeric uid or gid.
    Id(u32),
}

/// A range of subordinate ids: `count` ids from `start`, in the parent namespace.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SubIdRange {
    /// The first id.
    pub start: u32,
    /// The number of ids.
    pub count: u32,
}

/// One line of `/etc/subuid` or `/etc/subgid`: `owner:start:count`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SubIdEntry {
    /// Whose range it is.
    pub owner: SubIdOwner,
    /// The range.
    pub range: SubIdRange,
}

/// The parsed contents of a subordinate id file.
///
/// ```
/// use linception_userns::{SubIdRange, SubIds};
///
/// let subuid = SubIds::parse("alice:100000:65536\n1001:200000:65536\n")?;
/// assert_eq!(
///     subuid.ranges_for("alice", 1000),
///     [SubIdRange { start: 100000, count: 65536 }]
/// );
/// // Entries match by name or by numeric id.
/// assert_eq!(subuid.ranges_for("bob", 1001).len(), 1);
/// # Ok::<(), linception_userns::Error>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SubIds {
    entries: Vec<SubIdEntry>,
}

impl SubIds {
    /// Parses the text of a subordinate id file. Blank lines and lines starting
    /// with `#` are skipped.
    ///
    /// # Errors
    /// [`Error::Parse`] naming the line (reported as coming from "subid").
    pub fn parse(text: &str) -> Result<SubIds> {
        SubIds::parse_named(text, "subid")
    }

    /// Like [`SubIds::parse`], naming `source_name` (a path) in errors.
    ///
    /// # Errors
    /// [`Error::Parse`] naming the source and the line.
    pub fn parse_named(text: &str, source_name: &str) -> Result<SubIds> {
        let mut entries = Vec::new();
        for (n, line) in text.lines().enumerate() {
            if let Some(entry) = parse_line(line, n + 1, source_name)? {
                entries.push(entry);
            }
        }
        Ok(SubIds { entries })
    }

    /// Reads and parses a subordinate id file from a reader.
    ///
    /// # Errors
    /// [`Error::Parse`], or [`Error::Syscall`] if reading fails.
    pub fn from_reader(reader: impl BufRead, source_name: &str) -> Result<SubIds> {
        let mut entries = Vec::new();
        for (n, line) in reader.lines().enumerate() {
            let line = line.map_err(|e| {
                Error::syscall(Call::new("read", format_args!("{source_name:?}")), e)
            })?;
            if let Some(entry) = parse_line(&line, n + 1, source_name)? {
                entries.push(entry);
            }
        }
        Ok(SubIds { entries })
    }

    /// Reads a subordinate id file. A missing file holds no ranges (as for the
    /// system's helpers).
    ///
    /// # Errors
    /// [`Error::Syscall`] if the file exists but cannot be read, [`Error::Parse`].
    pub fn read(path: impl AsRef<Path>) -> Result<SubIds> {
        let path = path.as_ref();
        let name = path.display().to_string();
        match std::fs::File::open(path) {
            Ok(file) => SubIds::from_reader(io::BufReader::new(file), &name),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(SubIds::default()),
            Err(e) => Err(Error::syscall(
                Call::new("open", format_args!("{name:?}, O_RDONLY")),
                e,
            )),
        }
    }

    /// Reads `/etc/subuid`.
    ///
    /// # Errors
    /// As [`SubIds::read`].
    pub fn system_uids() -> Result<SubIds> {
        SubIds::read(SUBUID_PATH)
    }

    /// Reads `/etc/subgid`.
    ///
    /// # Errors
    /// As [`SubIds::read`].
    pub fn system_gids() -> Result<SubIds> {
        SubIds::read(SUBGID_PATH)
    }

    /// Every entry, in file order.
    pub fn entries(&self) -> &[SubIdEntry] {
        &self.entries
    }

    /// The ranges that the user (or group) `name` with numeric id `id` may map:
    /// entries naming either, in file order.
    pub fn ranges_for(&self, name: &str, id: u32) -> Vec<SubIdRange> {
        self.entries
            .iter()
            .filter(|e| match &e.owner {
                SubIdOwner::Name(n) => n == name,
                SubIdOwner::Id(i) => *i == id,
            })
            .map(|e| e.range)
            .collect()
    }
}

fn parse_line(line: &str, number: usize, source_name: &str) -> Result<Option<SubIdEntry>> {
    let trimmed = line.trim();
    if trimmed.is_empty() || trimmed.starts_with('#') {
        return Ok(None);
    }
    let err = |reason| Error::Parse {
        source_name: source_name.to_string(),
        line: number,
        text: line.to_string(),
        reason,
    };
    let mut fields = trimmed.split(':');
    let (Some(owner), Some(start), Some(count), None) =
        (fields.next(), fields.next(), fields.next(), fields.next())
    else {
        return Err(err("expected owner:start:count"));
    };
    if owner.is_empty() {
        return Err(err("empty owner"));
    }
    let num = |s: &str| {
        if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
            s.parse::<u32>().ok()
        } else {
            None
        }
    };
    let (Some(start), Some(count)) = (num(start), num(count)) else {
        return Err(err(
            "start and count must be decimal numbers in 0..=4294967295",
        ));
    };
    if count == 0 {
        return Err(err("count is zero"));
    }
    if start as u64 + count as u64 > u32::MAX as u64 {
        return Err(err("range runs past id 4294967294"));
    }
    let owner = match num(owner) {
        Some(id) => SubIdOwner::Id(id),
        None => SubIdOwner::Name(owner.to_string()),
    };
    Ok(Some(SubIdEntry {
        owner,
        range: SubIdRange { start, count },
    }))
}

/// The usual rootless map: id 0 inside is `own` (the caller's id outside), and ids
/// from 1 take the subordinate `ranges` one after the other.
///
/// ```
/// use linception_userns::{rootless_map, SubIdRange};
///
/// let map = rootless_map(1000, &[SubIdRange { start: 100000, count: 65536 }])?;
/// assert_eq!(map.to_string(), "0 1000 1\n1 100000 65536\n");
/// # Ok::<(), linception_userns::Error>(())
/// ```
///
/// # Errors
/// As [`IdMap::new`] (too many ranges, overlaps between `own` and a range, ...).
pub fn rootless_map(own: u32, ranges: &[SubIdRange]) -> Result<IdMap> {
    let mut extents = Vec::with_capacity(ranges.len() + 1);
    extents.push(Extent::new(0, own, 1));
    let mut next: u64 = 1;
    for r in ranges {
        // An inside start past u32::MAX is reported as an overflow by IdMap::new.
        let inside = u32::try_from(next).unwrap_or(u32::MAX);
        extents.push(Extent::new(inside, r.start, r.count));
        next += r.count as u64;
    }
    IdMap::new(extents)
}

/// The first extent of `map` that the setuid helpers (`newuidmap`, `newgidmap`)
/// refuse for a caller whose own id is `own` and whose subordinate ranges are
/// `ranges`, or `None` when they allow every extent.
///
/// The helpers' rule: an extent is either the caller's own id alone (count 1), or
/// lies within the subordinate ranges, where ranges that follow one another
/// without a gap count as one.
///
/// ```
/// use linception_userns::{helper_refusal, IdMap, SubIdRange};
///
/// let ranges = [
///     SubIdRange { start: 100000, count: 1000 },
///     SubIdRange { start: 101000, count: 1000 },
/// ];
/// let map = IdMap::parse("0 1000 1\n1 100000 2000\n")?;
/// assert_eq!(helper_refusal(&map, 1000, &ranges), None);
/// let wide = IdMap::parse("0 1000 1\n1 100000 2001\n")?;
/// assert_eq!(helper_refusal(&wide, 1000, &ranges).map(|e| e.inside), Some(1));
/// # Ok::<(), linception_userns::Error>(())
/// ```
pub fn helper_refusal(map: &IdMap, own: u32, ranges: &[SubIdRange]) -> Option<Extent> {
    let covered = |extent: &Extent| {
        let mut start = u64::from(extent.outside);
        let end = start + u64::from(extent.count);
        // Walk from range to range as the helpers do, each one starting where
        // the last ended, until the extent's end is reached.
        while let Some(r) = ranges.iter().find(|r| {
            let (rs, re) = (u64::from(r.start), u64::from(r.start) + u64::from(r.count));
            rs <= start && start < re
        }) {
            let re = u64::from(r.start) + u64::from(r.count);
            if re >= end {
                return true;
            }
            start = re;
        }
        false
    };
    map.extents()
        .iter()
        .copied()
        .find(|e| !((e.count == 1 && e.outside == own) || covered(e)))
}

/// The login name `/etc/passwd` gives `uid`, the name the setuid helpers look the
/// subordinate ranges up by (for `/etc/subgid` too). `None` when no line has that
/// uid (a user known only to another name service).
///
/// # Errors
/// [`Error::Syscall`] when `/etc/passwd` cannot be read.
pub fn login_name(uid: u32) -> Result<Option<String>> {
    let text = std::fs::read_to_string("/etc/passwd")
        .map_err(|e| Error::syscall(Call::new("read", format_args!("\"/etc/passwd\"")), e))?;
    Ok(passwd_name(&text, uid))
}

fn passwd_name(text: &str, uid: u32) -> Option<String> {
    text.lines().find_map(|line| {
        let mut f = line.split(':');
        let name = f.next()?;
        let id = f.nth(1)?;
        (id.parse::<u32>().ok()? == uid && !name.is_empty()).then(|| name.to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helper_refusal_follows_the_helpers_rule() {
        let r = |start, count| SubIdRange { start, count };
        let map = |t: &str| IdMap::parse(t).unwrap();
        let ranges = [r(100_000, 10), r(100_010, 10), r(200_000, 5)];
        // The caller's own id alone, and extents inside one range or across
        // adjacent ones.
        assert_eq!(helper_refusal(&map("0 1000 1\n"), 1000, &ranges), None);
        assert_eq!(helper_refusal(&map("0 100000 20\n"), 1000, &ranges), None);
        assert_eq!(
            helper_refusal(&map("0 100005 15\n20 200001 4\n"), 7, &ranges),
            None
        );
        // Past the end of adjacent ranges, across a gap, the own id counted twice,
        // another id, an empty range list.
        let refused = |t: &str, own, ranges: &[SubIdRange]| {
            helper_refusal(&map(t), own, ranges).map(|e| (e.inside, e.outside, e.count))
        };
        assert_eq!(refused("0 100000 21\n", 1, &ranges), Some((0, 100_000, 21)));
        assert_eq!(refused("0 100015 10\n", 1, &ranges), Some((0, 100_015, 10)));
        assert_eq!(refused("0 1000 2\n", 1000, &ranges), Some((0, 1000, 2)));
        assert_eq!(
            refused("0 1000 1\n1 1001 1\n", 1000, &ranges),
            Some((1, 1001, 1))
        );
        assert_eq!(refused("0 100000 1\n", 1000, &[]), Some((0, 100_000, 1)));
    }

    #[test]
    fn passwd_names() {
        let text =
            "root:x:0:0:root:/root:/bin/sh\nalice:x:1000:1000::/home/a:/bin/sh\nbad\n:x:5:5::/:/\n";
        assert_eq!(passwd_name(text, 0).as_deref(), Some("root"));
        assert_eq!(passwd_name(text, 1000).as_deref(), Some("alice"));
        assert_eq!(passwd_name(text, 5), None);
        assert_eq!(passwd_name(text, 42), None);
    }

    #[test]
    fn parse_names_and_ids() {
        let text = "# comment\nalice:100000:65536\n\n1000:300000:10\nalice:400000:5\n";
        let s = SubIds::parse(text).unwrap();
        assert_eq!(s.entries().len(), 3);
        assert_eq!(s.entries()[1].owner, SubIdOwner::Id(1000));
        assert_eq!(
            s.ranges_for("alice", 1000),
            [
                SubIdRange {
                    start: 100000,
                    count: 65536
                },
                SubIdRange {
                    start: 300000,
                    count: 10
                },
                SubIdRange {
                    start: 400000,
                    count: 5
                },
            ]
        );
        assert!(s.ranges_for("bob", 1001).is_empty());
    }

    #[test]
    fn parse_errors_name_the_line() {
        for (text, reason) in [
            ("a:1", "expected owner:start:count"),
            ("a:1:2:3", "expected owner:start:count"),
            (":1:2", "empty owner"),
            (
                "a:x:2",
                "start and count must be decimal numbers in 0..=4294967295",
            ),
            ("a:1:0", "count is zero"),
            ("a:4294967295:1", "range runs past id 4294967294"),
        ] {
            let err = SubIds::parse_named(&format!("ok:1:1\n{text}\n"), "/etc/subuid").unwrap_err();
            assert_eq!(
                err.to_string(),
                format!("/etc/subuid: line 2 ({text:?}): {reason}")
            );
        }
    }

    #[test]
    fn from_reader_matches_parse() {
        let text = "root:100000:65536\n";
        let a = SubIds::from_reader(text.as_bytes(), "x").unwrap();
        assert_eq!(a, SubIds::parse(text).unwrap());
    }

    #[test]
    fn missing_file_is_empty() {
        let s = SubIds::read("/nonexistent/linception/subuid").unwrap();
        assert!(s.entries().is_empty());
    }
}
