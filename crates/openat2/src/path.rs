//! Checks on paths before any system call, and splitting off the last component.
#![forbid(unsafe_code)]

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use crate::error::{Error, Result};

/// `PATH_MAX`: the longest path the kernel accepts, terminating NUL included.
pub const PATH_MAX: usize = libc::PATH_MAX as usize;
/// `NAME_MAX`: the longest single path component.
pub const NAME_MAX: usize = 255;

/// The path for an error message: quoted, escaped, cut to 80 bytes with its length.
pub(crate) fn show(path: &[u8]) -> String {
    if path.len() <= 80 {
        format!("{:?}", Path::new(OsStr::from_bytes(path)))
    } else {
        format!(
            "{:?}... ({} bytes)",
            Path::new(OsStr::from_bytes(&path[..80])),
            path.len()
        )
    }
}

/// Refuses a NUL byte (the kernel would read a shorter path).
#[inline]
pub(crate) fn check_nul(path: &Path) -> Result<()> {
    let bytes = path.as_os_str().as_bytes();
    if bytes.contains(&0) {
        return Err(Error::invalid(
            "path",
            show(bytes),
            "contains a NUL byte",
            libc::EINVAL,
        ));
    }
    Ok(())
}

/// The checks [`Root`](crate::Root) makes on every path, so that both resolvers
/// refuse the same inputs with the same error: empty, NUL byte, longer than
/// `PATH_MAX - 1`, or a component longer than `NAME_MAX`.
#[inline]
pub(crate) fn check(name: &'static str, path: &Path) -> Result<()> {
    let bytes = path.as_os_str().as_bytes();
    if bytes.is_empty() {
        return Err(Error::invalid(
            name,
            "\"\"".into(),
            "is empty",
            libc::ENOENT,
        ));
    }
    if bytes.len() >= PATH_MAX {
        return Err(Error::invalid(
            name,
            show(bytes),
            "is longer than PATH_MAX (4095 bytes and the NUL)",
            libc::ENAMETOOLONG,
        ));
    }
    if bytes.contains(&0) {
        return Err(Error::invalid(
            name,
            show(bytes),
            "contains a NUL byte",
            libc::EINVAL,
        ));
    }
    if bytes.len() > NAME_MAX && bytes.split(|&b| b == b'/').any(|c| c.len() > NAME_MAX) {
        return Err(Error::invalid(
            name,
            show(bytes),
            "has a component longer than NAME_MAX (255 bytes)",
            libc::ENAMETOOLONG,
        ));
    }
    Ok(())
}

/// Splits `path` into its parent (`"."` when there is none, `"/"` at the top) and
/// its last component, for operations that act on a directory entry (unlink,
/// rename, symlink, link, mkdir). Trailing slashes are ignored. Refuses a path
/// that ends in `.` or `..` or is only slashes: it names no entry.
pub(crate) fn split_parent<'p>(
    name: &'static str,
    path: &'p Path,
) -> Result<(&'p Path, &'p OsStr)> {
    let bytes = path.as_os_str().as_bytes();
    let mut end = bytes.len();
    while end > 0 && bytes[end - 1] == b'/' {
        end -= 1;
    }
    let trimmed = &bytes[..end];
    let (parent, last): (&[u8], &[u8]) = match trimmed.iter().rposition(|&b| b == b'/') {
        Some(i) => {
            let mut p = i;
            while p > 0 && trimmed[p - 1] == b'/' {
                p -= 1;
            }
            (if p == 0 { b"/" } else { &trimmed[..p] }, &trimmed[i + 1..])
        }
        None => (b".", trimmed),
    };
    if last.is_empty() || last == b"." || last == b".." {
        return Err(Error::invalid(
            name,
            show(bytes),
            "names no directory entry (it is the root or ends in . or ..)",
            libc::EINVAL,
        ));
    }
    Ok((
        Path::new(OsStr::from_bytes(parent)),
        OsStr::from_bytes(last),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    fn split(p: &str) -> Option<(String, String)> {
        split_parent("path", Path::new(p)).ok().map(|(a, b)| {
            (
                a.to_str().unwrap().to_owned(),
                b.to_str().unwrap().to_owned(),
            )
        })
    }

    #[test]
    fn split_parent_cases() {
        let s = |a: &str, b: &str| Some((a.to_owned(), b.to_owned()));
        assert_eq!(split("a"), s(".", "a"));
        assert_eq!(split("a/b"), s("a", "b"));
        assert_eq!(split("a//b//"), s("a", "b"));
        assert_eq!(split("/a"), s("/", "a"));
        assert_eq!(split("//a"), s("/", "a"));
        assert_eq!(split("x/../y"), s("x/..", "y"));
        for bad in ["/", "//", "a/..", "..", ".", "a/.", ""] {
            assert_eq!(split(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn check_names_input() {
        let e = check("path", Path::new("a\0b")).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument);
        assert!(e.to_string().contains("\"a\\0b\""), "{e}");
        let long = "x".repeat(256);
        let e = check("path", Path::new(&format!("a/{long}/b"))).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ENAMETOOLONG));
        assert!(e.to_string().contains("NAME_MAX"), "{e}");
        let e = check("path", Path::new(&"a/".repeat(2048))).unwrap_err();
        assert!(
            e.to_string().contains("PATH_MAX") && e.to_string().contains("4096 bytes"),
            "{e}"
        );
        assert!(check("path", Path::new(&"a/".repeat(2047))).is_ok());
        assert_eq!(
            check("path", Path::new("")).unwrap_err().raw_os_error(),
            Some(libc::ENOENT)
        );
    }
}
