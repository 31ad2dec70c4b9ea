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

#[cfg(test)]
mod tests {
    use super::*;

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
