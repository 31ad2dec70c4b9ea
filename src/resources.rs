//! cgroup v2 resource limits: typed values and the exact text written for each.
#![forbid(unsafe_code)]

use std::fmt::Write as _;

/// A limit that is either a number or the kernel's `max` (no limit).
///
/// `Limit::from(64 << 20)` is a number; [`Limit::Max`] lifts a limit again (on a
/// live [`Container::update`](crate::Container::update)).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Limit {
    /// `max`: no limit.
    Max,
    /// This many bytes (memory, hugetlb), processes (pids) or microseconds (cpu
    /// quota).
    Value(u64),
}

impl From<u64> for Limit {
    fn from(v: u64) -> Self {
        Limit::Value(v)
    }
}

impl Limit {
    /// The text the kernel parses: `max` or the decimal number.
    pub(crate) fn text(self) -> String {
        match self {
            Limit::Max => "max".to_owned(),
            Limit::Value(v) => v.to_string(),
        }
    }
}

/// A block device, by its `major:minor` numbers (as in `/sys/dev/block`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BlockDevice {
    /// The major number.
    pub major: u32,
    /// The minor number.
    pub minor: u32,
}

impl BlockDevice {
    /// The device `major:minor`.
    pub fn new(major: u32, minor: u32) -> Self {
        BlockDevice { major, minor }
    }
}

impl std::fmt::Display for BlockDevice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.major, self.minor)
    }
}

/// The `io.max` line of one device: bytes and operations per second, read and
/// write. Keys left out keep their current value (`max` in a new cgroup).
///
/// ```
/// use linception::{BlockDevice, IoMax, Limit};
/// let m = IoMax::new(BlockDevice::new(8, 0)).rbps(1 << 20).wiops(Limit::Max);
/// # let _ = m;
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct IoMax {
    pub(crate) device: BlockDevice,
    pub(crate) rbps: Option<Limit>,
    pub(crate) wbps: Option<Limit>,
    pub(crate) riops: Option<Limit>,
    pub(crate) wiops: Option<Limit>,
}

impl IoMax {
    /// No key yet for `device` (at least one must be given).
    pub fn new(device: BlockDevice) -> Self {
        IoMax {
            device,
            rbps: None,
            wbps: None,
            riops: None,
            wiops: None,
        }
    }

    /// `rbps=`: read bytes per second (at least 2, or [`Limit::Max`]).
    pub fn rbps(mut self, v: impl Into<Limit>) -> Self {
        self.rbps = Some(v.into());
        self
    }

    /// `wbps=`: written bytes per second (at least 2, or [`Limit::Max`]).
    pub fn wbps(mut self, v: impl Into<Limit>) -> Self {
        self.wbps = Some(v.into());
        self
    }

    /// `riops=`: read operations per second (at least 2, or [`Limit::Max`]).
    pub fn riops(mut self, v: impl Into<Limit>) -> Self {
        self.riops = Some(v.into());
        self
    }

    /// `wiops=`: write operations per second (at least 2, or [`Limit::Max`]).
    pub fn wiops(mut self, v: impl Into<Limit>) -> Self {
        self.wiops = Some(v.into());
        self
    }

    /// The keys given, in the kernel's order.
    pub(crate) fn keys(&self) -> impl Iterator<Item = (&'static str, Limit)> {
        [
            ("rbps", self.rbps),
            ("wbps", self.wbps),
            ("riops", self.riops),
            ("wiops", self.wiops),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| (k, v)))
    }

    /// The line written to `io.max`: `MAJ:MIN rbps=N wbps=max`.
    pub(crate) fn text(&self) -> String {
        let mut s = self.device.to_string();
        for (k, v) in self.keys() {
            let _ = write!(s, " {k}={}", v.text());
        }
        s
    }
}

/// The resource limits of a cgroup v2 directory, each written to its interface
/// file: before the container starts (through [`Cgroup::resources`]), or on a
/// running container ([`Container::update`]).
///
/// Setters only record; every value is checked against the range the kernel
/// accepts, and its controller against the cgroup's enabled controllers, before
/// anything is created or written. Each needs its controller (`memory`, `pids`,
/// `cpu`, `cpuset`, `io`, `hugetlb`) enabled for the cgroup: listed in the parent's
/// `cgroup.subtree_control`. All files exist since Linux 4.5 (cgroup v2), `cpu`
/// since 4.15, `cpuset` since 5.0, `hugetlb` on cgroup v2 since 5.6.
///
/// ```
/// use linception::{BlockDevice, IoMax, Limit, Resources};
/// let r = Resources::new()
///     .memory_max(256 << 20)
///     .memory_swap_max(0)
///     .pids_max(64)
///     .cpu_weight(200)
///     .cpu_max(Limit::Value(50_000), 100_000) // half a CPU
///     .cpuset_cpus([0, 1])
///     .io_max(IoMax::new(BlockDevice::new(8, 0)).wbps(10 << 20))
///     .hugetlb_max(2 << 20, 0);
/// # let _ = r;
/// ```
///
/// [`Cgroup::resources`]: crate::Cgroup::resources
/// [`Container::update`]: crate::Container::update
///
/// # References
/// - [Control Group v2](https://docs.kernel.org/admin-guide/cgroup-v2.html)
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Resources {
    pub(crate) memory_max: Option<Limit>,
    pub(crate) memory_high: Option<Limit>,
    pub(crate) memory_low: Option<Limit>,
    pub(crate) memory_min: Option<Limit>,
    pub(crate) memory_swap_max: Option<Limit>,
    pub(crate) pids_max: Option<Limit>,
    pub(crate) cpu_weight: Option<u64>,
    pub(crate) cpu_max: Option<(Limit, u64)>,
    pub(crate) cpuset_cpus: Option<Vec<u32>>,
    pub(crate) cpuset_mems: Option<Vec<u32>>,
    pub(crate) io_weight: Option<u64>,
    pub(crate) io_max: Vec<IoMax>,
    pub(crate) hugetlb_max: Vec<(u64, Limit)>,
    pub(crate) devices: Option<Vec<crate::cgroup_device::DeviceRule>>,
}

/// One write of a limit: the controller it needs, the file, the text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Write {
    pub controller: &'static str,
    pub file: String,
    pub value: String,
}

/// `PID_MAX_LIMIT` on 64-bit kernels: `pids.max` takes 0 to this.
pub(crate) const PIDS_MAX: u64 = 4 * 1024 * 1024;
/// `CGROUP_WEIGHT_MIN`/`CGROUP_WEIGHT_MAX`: `cpu.weight` and `io.weight`.
pub(crate) const WEIGHT: std::ops::RangeInclusive<u64> = 1..=10_000;
/// The `cpu.max` period range (µs): `min_cfs_quota_period` to `max_cfs_quota_period`.
pub(crate) const CPU_PERIOD: std::ops::RangeInclusive<u64> = 1_000..=1_000_000;
/// The `cpu.max` quota range (µs): 1 ms to `MAX_BW` (2^44 - 1 µs, over 203 days).
pub(crate) const CPU_QUOTA: std::ops::RangeInclusive<u64> = 1_000..=(1 << 44) - 1;

impl Resources {
    /// No limit yet.
    pub fn new() -> Self {
        Resources::default()
    }

    /// Whether no limit and no device list is given.
    pub fn is_empty(&self) -> bool {
        self.writes().is_empty() && self.devices.is_none()
    }

    /// `memory.max` (bytes, rounded down to pages by the kernel): the hard limit;
    /// over it the cgroup's processes are reclaimed, then OOM-killed. Needs the
    /// `memory` controller. Since Linux 4.5.
    pub fn memory_max(mut self, v: impl Into<Limit>) -> Self {
        self.memory_max = Some(v.into());
        self
    }

    /// `memory.high` (bytes): the throttling limit, above which the cgroup is
    /// reclaimed hard. Needs the `memory` controller. Since Linux 4.5.
    pub fn memory_high(mut self, v: impl Into<Limit>) -> Self {
        self.memory_high = Some(v.into());
        self
    }

    /// `memory.low` (bytes): best-effort protection from reclaim. Needs the
    /// `memory` controller. Since Linux 4.5.
    pub fn memory_low(mut self, v: impl Into<Limit>) -> Self {
        self.memory_low = Some(v.into());
        self
    }

    /// `memory.min` (bytes): hard protection from reclaim. Needs the `memory`
    /// controller. Since Linux 4.18.
    pub fn memory_min(mut self, v: impl Into<Limit>) -> Self {
        self.memory_min = Some(v.into());
        self
    }

    /// `memory.swap.max` (bytes; 0 forbids swap). Needs the `memory` controller
    /// and swap accounting. Since Linux 4.5.
    pub fn memory_swap_max(mut self, v: impl Into<Limit>) -> Self {
        self.memory_swap_max = Some(v.into());
        self
    }

    /// `pids.max`: the most processes and threads (0 to 4194304, or
    /// [`Limit::Max`]). Needs the `pids` controller. Since Linux 4.5.
    pub fn pids_max(mut self, v: impl Into<Limit>) -> Self {
        self.pids_max = Some(v.into());
        self
    }

    /// `cpu.weight`: the proportional CPU share, 1 to 10000 (default 100). Needs
    /// the `cpu` controller (Linux 4.15).
    pub fn cpu_weight(mut self, weight: u64) -> Self {
        self.cpu_weight = Some(weight);
        self
    }

    /// `cpu.max` "quota period": at most `quota` µs of CPU time every `period` µs.
    /// `period` is 1000 to 1000000 µs (1 ms to 1 s), `quota` 1000 µs to
    /// 2^44 - 1 µs or [`Limit::Max`]. Needs the `cpu` controller (Linux 4.15).
    pub fn cpu_max(mut self, quota: impl Into<Limit>, period: u64) -> Self {
        self.cpu_max = Some((quota.into(), period));
        self
    }

    /// `cpuset.cpus`: the CPUs the cgroup may run on (each below the host's
    /// count of possible CPUs; an empty set uses the parent's). Written as a list
    /// (`0-3,6`). Needs the `cpuset` controller (Linux 5.0).
    pub fn cpuset_cpus(mut self, cpus: impl IntoIterator<Item = u32>) -> Self {
        self.cpuset_cpus = Some(cpus.into_iter().collect());
        self
    }

    /// `cpuset.mems`: the memory nodes the cgroup may allocate from (each below
    /// the host's count of possible nodes; an empty set uses the parent's). Needs
    /// the `cpuset` controller (Linux 5.0).
    pub fn cpuset_mems(mut self, mems: impl IntoIterator<Item = u32>) -> Self {
        self.cpuset_mems = Some(mems.into_iter().collect());
        self
    }

    /// `io.weight` "default N": the proportional I/O share, 1 to 10000. Needs the
    /// `io` controller (and a scheduler that honours it, such as BFQ). Since
    /// Linux 4.5.
    pub fn io_weight(mut self, weight: u64) -> Self {
        self.io_weight = Some(weight);
        self
    }

    /// Adds an `io.max` line for one block device (one line per device; the
    /// device must be a whole disk of this host, not a partition). Needs the `io`
    /// controller. Since Linux 4.5.
    pub fn io_max(mut self, max: IoMax) -> Self {
        self.io_max.push(max);
        self
    }

    /// `hugetlb.<size>.max`: the most bytes of huge pages of `page_size` bytes
    /// (one of the host's sizes, `/sys/kernel/mm/hugepages`). Needs the `hugetlb`
    /// controller (on cgroup v2 since Linux 5.6).
    pub fn hugetlb_max(mut self, page_size: u64, v: impl Into<Limit>) -> Self {
        self.hugetlb_max.push((page_size, v.into()));
        self
    }

    /// The device list of the cgroup, enforced by an eBPF cgroup device program
    /// (`BPF_PROG_TYPE_CGROUP_DEVICE`, Linux 4.15) the spawn loads and attaches to
    /// the cgroup before the container is born in it; see [`DeviceRule`] for how
    /// the list reads. Needs no controller, but `CAP_BPF` or `CAP_SYS_ADMIN` to
    /// load the program (refused up front otherwise). An empty list allows every
    /// device (no program). On [`Container::update`] the list replaces the
    /// cgroup's device programs (atomically, `BPF_F_REPLACE`, where one is
    /// attached); an empty list removes them.
    ///
    /// ```
    /// use linception::{DeviceAccess, DeviceKind, DeviceRule, Resources};
    /// let r = Resources::new().devices([
    ///     DeviceRule::deny_all(),
    ///     DeviceRule::allow(DeviceAccess::READ | DeviceAccess::WRITE)
    ///         .kind(DeviceKind::Char)
    ///         .major(1)
    ///         .minor(3),
    /// ]);
    /// # let _ = r;
    /// ```
    ///
    /// [`DeviceRule`]: crate::DeviceRule
    /// [`Container::update`]: crate::Container::update
    pub fn devices(
        mut self,
        rules: impl IntoIterator<Item = crate::cgroup_device::DeviceRule>,
    ) -> Self {
        self.devices = Some(rules.into_iter().collect());
        self
    }

    /// Every write these limits make, in order (protections before limits, so a
    /// live update never passes through an inverted state the kernel refuses).
    pub(crate) fn writes(&self) -> Vec<Write> {
        let mut w = Vec::new();
        let mut put = |controller: &'static str, file: String, value: String| {
            w.push(Write {
                controller,
                file,
                value,
            })
        };
        let limits = [
            ("memory", "memory.min", self.memory_min),
            ("memory", "memory.low", self.memory_low),
            ("memory", "memory.high", self.memory_high),
            ("memory", "memory.max", self.memory_max),
            ("memory", "memory.swap.max", self.memory_swap_max),
            ("pids", "pids.max", self.pids_max),
        ];
        for (c, f, v) in limits {
            if let Some(v) = v {
                put(c, f.to_owned(), v.text());
            }
        }
        if let Some(weight) = self.cpu_weight {
            put("cpu", "cpu.weight".to_owned(), weight.to_string());
        }
        if let Some((quota, period)) = self.cpu_max {
            put(
                "cpu",
                "cpu.max".to_owned(),
                format!("{} {period}", quota.text()),
            );
        }
        if let Some(mems) = &self.cpuset_mems {
            put("cpuset", "cpuset.mems".to_owned(), id_list(mems));
        }
        if let Some(cpus) = &self.cpuset_cpus {
            put("cpuset", "cpuset.cpus".to_owned(), id_list(cpus));
        }
        if let Some(weight) = self.io_weight {
            put("io", "io.weight".to_owned(), format!("default {weight}"));
        }
        for m in &self.io_max {
            put("io", "io.max".to_owned(), m.text());
        }
        for &(size, v) in &self.hugetlb_max {
            put(
                "hugetlb",
                format!("hugetlb.{}.max", page_size_name(size)),
                v.text(),
            );
        }
        w
    }
}

/// The interface file's name as a feature, and the first kernel that has it on
/// cgroup v2 (a missing file of an enabled controller is an older kernel).
pub(crate) fn file_since(file: &str) -> (&'static str, &'static str) {
    match file {
        "memory.min" => ("memory.min", "4.18"),
        "memory.max" => ("memory.max", "4.5"),
        "memory.high" => ("memory.high", "4.5"),
        "memory.low" => ("memory.low", "4.5"),
        "memory.swap.max" => ("memory.swap.max (with swap accounting)", "4.5"),
        "pids.max" => ("pids.max", "4.5"),
        "cpu.weight" => ("cpu.weight", "4.15"),
        "cpu.max" => ("cpu.max", "4.15"),
        "cpuset.cpus" => ("cpuset.cpus", "5.0"),
        "cpuset.mems" => ("cpuset.mems", "5.0"),
        "io.weight" => ("io.weight", "4.5"),
        "io.max" => ("io.max", "4.5"),
        "cgroup.freeze" => ("cgroup.freeze", "5.2"),
        _ => ("hugetlb.<size>.max on cgroup v2", "5.6"),
    }
}

/// A set of ids as the kernel's list format: sorted, runs joined (`0-3,6`).
pub(crate) fn id_list(ids: &[u32]) -> String {
    let mut ids = ids.to_vec();
    ids.sort_unstable();
    ids.dedup();
    let mut s = String::new();
    let mut i = 0;
    while i < ids.len() {
        let start = ids[i];
        while i + 1 < ids.len() && ids[i + 1] == ids[i] + 1 {
            i += 1;
        }
        if !s.is_empty() {
            s.push(',');
        }
        if ids[i] == start {
            let _ = write!(s, "{start}");
        } else {
            let _ = write!(s, "{start}-{}", ids[i]);
        }
        i += 1;
    }
    s
}

/// The kernel's name of a huge page size in hugetlb file names (`2MB`, `1GB`,
/// `64KB`).
pub(crate) fn page_size_name(size: u64) -> String {
    const K: u64 = 1 << 10;
    const M: u64 = 1 << 20;
    const G: u64 = 1 << 30;
    if size >= G {
        format!("{}GB", size / G)
    } else if size >= M {
        format!("{}MB", size / M)
    } else {
        format!("{}KB", size / K)
    }
}

/// What the kernel reports for a cgroup ([`Container::cgroup_stats`]).
///
/// [`Container::cgroup_stats`]: crate::Container::cgroup_stats
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct CgroupStats {
    /// `memory.current` (bytes), if the `memory` controller is enabled.
    pub memory_current: Option<u64>,
    /// `pids.current`, if the `pids` controller is enabled.
    pub pids_current: Option<u64>,
    /// `cpu.stat` (always present on cgroup v2).
    pub cpu: CpuStat,
}

/// `cpu.stat` of a cgroup: CPU time used, and throttling under `cpu.max`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CpuStat {
    /// `usage_usec`: CPU time used (µs).
    pub usage_usec: u64,
    /// `user_usec`: of which in user mode.
    pub user_usec: u64,
    /// `system_usec`: of which in the kernel.
    pub system_usec: u64,
    /// `nr_periods`, with the `cpu` controller: `cpu.max` periods elapsed.
    pub nr_periods: Option<u64>,
    /// `nr_throttled`, with the `cpu` controller: periods the cgroup was throttled.
    pub nr_throttled: Option<u64>,
    /// `throttled_usec`, with the `cpu` controller: time spent throttled (µs).
    pub throttled_usec: Option<u64>,
}

/// Parses `cpu.stat` text ("key value" lines); the error names a line that is not
/// "key number", or a missing `usage_usec`/`user_usec`/`system_usec`.
pub(crate) fn parse_cpu_stat(text: &str) -> Result<CpuStat, String> {
    let mut st = CpuStat::default();
    let (mut usage, mut user, mut system) = (None, None, None);
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let mut it = line.split_whitespace();
        let (Some(key), Some(v), None) = (it.next(), it.next(), it.next()) else {
            return Err(format!("line {line:?} is not \"key value\""));
        };
        let v: u64 = v
            .parse()
            .map_err(|_| format!("line {line:?}: the value is not a number"))?;
        match key {
            "usage_usec" => usage = Some(v),
            "user_usec" => user = Some(v),
            "system_usec" => system = Some(v),
            "nr_periods" => st.nr_periods = Some(v),
            "nr_throttled" => st.nr_throttled = Some(v),
            "throttled_usec" => st.throttled_usec = Some(v),
            _ => {}
        }
    }
    match (usage, user, system) {
        (Some(u), Some(us), Some(sy)) => {
            st.usage_usec = u;
            st.user_usec = us;
            st.system_usec = sy;
            Ok(st)
        }
        _ => Err("usage_usec, user_usec or system_usec is missing".to_owned()),
    }
}

/// The `frozen` value of `cgroup.events` text.
pub(crate) fn events_frozen(text: &str) -> Option<bool> {
    text.lines()
        .find_map(|l| match l.strip_prefix("frozen ")?.trim() {
            "1" => Some(true),
            "0" => Some(false),
            _ => None,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn written(r: &Resources) -> Vec<(String, String)> {
        r.writes().into_iter().map(|w| (w.file, w.value)).collect()
    }

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn every_value_has_its_file_and_text() {
        let r = Resources::new()
            .memory_max(64u64 << 20)
            .memory_high(Limit::Max)
            .memory_low(1u64 << 20)
            .memory_min(0u64)
            .memory_swap_max(0u64)
            .pids_max(32u64)
            .cpu_weight(250)
            .cpu_max(Limit::Value(50_000), 100_000)
            .cpuset_cpus([3, 0, 1, 2, 6])
            .cpuset_mems([0])
            .io_weight(500)
            .io_max(
                IoMax::new(BlockDevice::new(8, 16))
                    .rbps(1u64 << 20)
                    .wiops(Limit::Max),
            )
            .io_max(IoMax::new(BlockDevice::new(253, 0)).wbps(2u64))
            .hugetlb_max(2 << 20, 4u64 << 20)
            .hugetlb_max(1 << 30, Limit::Max);
        assert_eq!(
            written(&r),
            pairs(&[
                ("memory.min", "0"),
                ("memory.low", "1048576"),
                ("memory.high", "max"),
                ("memory.max", "67108864"),
                ("memory.swap.max", "0"),
                ("pids.max", "32"),
                ("cpu.weight", "250"),
                ("cpu.max", "50000 100000"),
                ("cpuset.mems", "0"),
                ("cpuset.cpus", "0-3,6"),
                ("io.weight", "default 500"),
                ("io.max", "8:16 rbps=1048576 wiops=max"),
                ("io.max", "253:0 wbps=2"),
                ("hugetlb.2MB.max", "4194304"),
                ("hugetlb.1GB.max", "max"),
            ])
        );
        let controllers: Vec<_> = r.writes().iter().map(|w| w.controller).collect();
        assert_eq!(
            controllers,
            [
                "memory", "memory", "memory", "memory", "memory", "pids", "cpu", "cpu", "cpuset",
                "cpuset", "io", "io", "io", "hugetlb", "hugetlb"
            ]
        );
        assert!(Resources::new().is_empty());
        assert!(!r.is_empty());
        assert_eq!(
            written(&Resources::new().cpu_max(Limit::Max, 100_000)),
            pairs(&[("cpu.max", "max 100000")])
        );
    }

    #[test]
    fn id_lists_and_page_size_names() {
        assert_eq!(id_list(&[]), "");
        assert_eq!(id_list(&[5]), "5");
        assert_eq!(id_list(&[1, 1, 0]), "0-1");
        assert_eq!(id_list(&[0, 2, 4, 5, 6, 9]), "0,2,4-6,9");
        assert_eq!(page_size_name(64 << 10), "64KB");
        assert_eq!(page_size_name(2 << 20), "2MB");
        assert_eq!(page_size_name(32 << 20), "32MB");
        assert_eq!(page_size_name(1 << 30), "1GB");
        assert_eq!(page_size_name(16 << 30), "16GB");
        assert_eq!(file_since("memory.min"), ("memory.min", "4.18"));
        assert_eq!(file_since("hugetlb.2MB.max").1, "5.6");
        for w in Resources::new().cpu_weight(1).cpuset_cpus([0]).writes() {
            assert_eq!(file_since(&w.file).0, w.file);
        }
    }

    #[test]
    fn cpu_stat_and_events_parse() {
        let st = parse_cpu_stat(
            "usage_usec 1200\nuser_usec 1000\nsystem_usec 200\nnr_periods 7\n\
             nr_throttled 3\nthrottled_usec 4500\nnr_bursts 0\nburst_usec 0\n",
        )
        .unwrap();
        assert_eq!(
            (st.usage_usec, st.user_usec, st.system_usec),
            (1200, 1000, 200)
        );
        assert_eq!(
            (st.nr_periods, st.nr_throttled, st.throttled_usec),
            (Some(7), Some(3), Some(4500))
        );
        let core = parse_cpu_stat("usage_usec 5\nuser_usec 3\nsystem_usec 2\n").unwrap();
        assert_eq!(core.nr_periods, None);
        assert!(parse_cpu_stat("usage_usec 5\n").is_err());
        assert!(
            parse_cpu_stat("usage_usec x\nuser_usec 3\nsystem_usec 2\n")
                .unwrap_err()
                .contains("not a number")
        );
        assert_eq!(events_frozen("populated 1\nfrozen 1\n"), Some(true));
        assert_eq!(events_frozen("populated 0\nfrozen 0\n"), Some(false));
        assert_eq!(events_frozen("populated 1\n"), None);
    }
}
