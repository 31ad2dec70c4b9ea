//! One line of an id map.
#![forbid(unsafe_code)]

use std::fmt;

/// One extent of an id map: `count` consecutive ids starting at `inside` in the
/// namespace map to ids starting at `outside` in the parent namespace.
///
/// It is one line of `/proc/PID/uid_map`: `inside outside count`
/// (the kernel's `struct uid_gid_extent { first, lower_first, count }`).
///
/// ```
/// use linception_userns::Extent;
///
/// let e = Extent::new(0, 100_000, 65_536);
/// assert_eq!(e.to_string(), "0 100000 65536");
/// assert_eq!(e.map_down(10), Some(100_010));
/// assert_eq!(e.map_up(100_010), Some(10));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Extent {
    /// First id inside the namespace (the kernel's `first`).
    pub inside: u32,
    /// First id in the parent namespace (the kernel's `lower_first`).
    pub outside: u32,
    /// Number of ids.
    pub count: u32,
}

/// A side of an id map.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Side {
    /// Ids inside the namespace (the first column).
    Inside,
    /// Ids in the parent namespace (the second column).
    Outside,
}

impl fmt::Display for Side {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Side::Inside => "inside",
            Side::Outside => "outside",
        })
    }
}

impl Extent {
    /// An extent mapping `count` ids from `inside` to `outside`. Not validated:
    /// [`IdMap::new`](crate::IdMap::new) checks it.
    #[inline]
    pub const fn new(inside: u32, outside: u32, count: u32) -> Self {
        Extent {
            inside,
            outside,
            count,
        }
    }

    /// The first id on `side`.
    #[inline]
    pub const fn first(&self, side: Side) -> u32 {
        match side {
            Side::Inside => self.inside,
            Side::Outside => self.outside,
        }
    }

    /// One past the last id on `side`, widened so that it cannot overflow.
    #[inline]
    pub const fn end(&self, side: Side) -> u64 {
        self.first(side) as u64 + self.count as u64
    }

    /// The same ids with the sides swapped.
    #[inline]
    pub const fn inverse(&self) -> Extent {
        Extent::new(self.outside, self.inside, self.count)
    }

    /// Maps an inside id to the outside, if this extent covers it.
    #[inline]
    pub const fn map_down(&self, id: u32) -> Option<u32> {
        let offset = id.wrapping_sub(self.inside);
        if offset < self.count {
            Some(self.outside.wrapping_add(offset))
        } else {
            None
        }
    }

    /// Maps an outside id to the inside, if this extent covers it.
    #[inline]
    pub const fn map_up(&self, id: u32) -> Option<u32> {
        self.inverse().map_down(id)
    }

    /// Length of this extent's line in the map text, newline included.
    pub(crate) fn text_len(&self) -> usize {
        digits(self.inside) + digits(self.outside) + digits(self.count) + 3
    }
}

fn digits(n: u32) -> usize {
    n.checked_ilog10().map_or(1, |l| l as usize + 1)
}

impl fmt::Display for Extent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.inside, self.outside, self.count)
    }
}

impl From<(u32, u32, u32)> for Extent {
    fn from((inside, outside, count): (u32, u32, u32)) -> Self {
        Extent::new(inside, outside, count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_len_matches_display() {
        for e in [
            Extent::new(0, 0, 1),
            Extent::new(9, 10, 99),
            Extent::new(u32::MAX, 1_000_000, 4_294_967_295),
        ] {
            assert_eq!(e.text_len(), e.to_string().len() + 1, "{e}");
        }
    }

    #[test]
    fn map_down_edges() {
        let e = Extent::new(10, 1000, 5);
        assert_eq!(e.map_down(9), None);
        assert_eq!(e.map_down(10), Some(1000));
        assert_eq!(e.map_down(14), Some(1004));
        assert_eq!(e.map_down(15), None);
        assert_eq!(e.map_up(1004), Some(14));
        assert_eq!(e.map_up(999), None);
    }
}
