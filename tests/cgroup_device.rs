//! Device rules as an eBPF cgroup device program, observed from inside real
//! containers: each rule set's verdicts (open for reading, writing, both; mknod)
//! on character and block devices are compared with the list's meaning computed
//! here, independently of the crate. Every cgroup is removed again, and with it
//! the program.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{NS, output, sh};
use linception::{
    Cgroup, Container, Device, DeviceAccess, DeviceKind, DeviceRule, ErrorKind, Mount, Namespaces,
    Resources, RootFs,
};
use linception_testkit::{Feature, Fork, require};

const ROOT: &str = "/sys/fs/cgroup/unified";

fn cg_path(test: &str, n: usize) -> String {
    format!("{ROOT}/linception-dev-{test}-{}-{n}", std::process::id())
}

/// The devices probed: the node inside, kind, major, minor.
const DEVICES: [(&str, DeviceKind, u32, u32); 5] = [
    ("/dev/null", DeviceKind::Char, 1, 3),
    ("/dev/zero", DeviceKind::Char, 1, 5),
    ("/dev/full", DeviceKind::Char, 1, 7),
    ("/dev/tty", DeviceKind::Char, 5, 0),
    ("/dev/loop0", DeviceKind::Block, 7, 0),
];

/// What the list means, read as the OCI spec reads it: for each access asked
/// for, the last rule naming the device and the access decides; none: allowed.
fn meaning(rules: &[Rule], kind: char, major: u32, minor: u32, access: &str) -> bool {
    access.chars().all(|a| {
        rules
            .iter()
            .rev()
            .find(|r| {
                (r.kind == 'a' || r.kind == kind)
                    && r.major.is_none_or(|m| m == major)
                    && r.minor.is_none_or(|m| m == minor)
                    && r.access.contains(a)
            })
            .is_none_or(|r| r.allow)
    })
}

/// A rule as the test writes it.
#[derive(Clone, Copy, Debug)]
struct Rule {
    allow: bool,
    kind: char,
    major: Option<u32>,
    minor: Option<u32>,
    access: &'static str,
}

const fn rule(
    allow: bool,
    kind: char,
    major: Option<u32>,
    minor: Option<u32>,
    access: &'static str,
) -> Rule {
    Rule {
        allow,
        kind,
        major,
        minor,
        access,
    }
}

fn to_crate(r: &Rule) -> DeviceRule {
    let access = DeviceAccess::parse(r.access).unwrap();
    let mut d = if r.allow {
        DeviceRule::allow(access)
    } else {
        DeviceRule::deny(access)
    };
    match r.kind {
        'c' => d = d.kind(DeviceKind::Char),
        'b' => d = d.kind(DeviceKind::Block),
        _ => {}
    }
    if let Some(m) = r.major {
        d = d.major(m);
    }
    if let Some(m) = r.minor {
        d = d.minor(m);
    }
    d
}

/// The rule sets tried: deny-all first or not, by kind, major, minor, access.
fn rule_sets() -> Vec<Vec<Rule>> {
    let deny_all = rule(false, 'a', None, None, "rwm");
    let allow_all = rule(true, 'a', None, None, "rwm");
    vec![
        vec![],
        vec![deny_all],
        vec![deny_all, rule(true, 'c', Some(1), Some(3), "rw")],
        vec![
            deny_all,
            rule(true, 'c', Some(1), None, "r"),
            rule(true, 'c', Some(1), Some(7), "w"),
        ],
        vec![
            deny_all,
            rule(true, 'c', None, None, "rwm"),
            rule(false, 'c', Some(5), Some(0), "rw"),
        ],
        vec![rule(false, 'c', Some(1), Some(5), "w")],
        vec![allow_all, rule(false, 'b', None, None, "r")],
        vec![deny_all, rule(true, 'b', Some(7), Some(0), "rw")],
        vec![
            deny_all,
            rule(true, 'c', Some(1), Some(3), "r"),
            rule(true, 'c', Some(1), Some(3), "w"),
            rule(true, 'c', Some(5), None, "rw"),
        ],
        vec![
            rule(false, 'c', Some(1), None, "rw"),
            rule(true, 'c', Some(1), Some(5), "r"),
        ],
    ]
}

/// For each device: `open r`, `open w`, `open rw` inside, as `ok` or the error.
const PROBE: &str = r#"mkdir -p /tmp; for d in /dev/null /dev/zero /dev/full /dev/tty /dev/loop0; do
  for m in r w rw; do
    case $m in
      r) (exec 3<$d) 2>/tmp/e ;;
      w) (exec 3>$d) 2>/tmp/e ;;
      rw) (exec 3<>$d) 2>/tmp/e ;;
    esac
    if [ $? = 0 ]; then echo "$d $m ok"; else echo "$d $m $(cat /tmp/e)"; fi
  done
done"#;

/// The container: the host's system directories, /dev with the probed nodes bound
/// from the host (a user namespace: no mknod), born in `path` with `rules`.
fn probe(path: &str, rules: &[Rule], ns: Namespaces) -> linception::ContainerBuilder {
    let r = Resources::new().devices(rules.iter().map(to_crate));
    sh(PROBE)
        .namespaces(ns)
        .mount(Mount::dev("/dev"))
        .device(Device::block("/dev/loop0", 7, 0))
        .cgroup(Cgroup::new(path).resources(r))
}

/// Parses the probe's lines into `(device, mode) -> permitted`; any error other
/// than EPERM or the driver's ENXIO fails the test (it would not be the device
/// program's verdict).
fn verdicts(out: &str) -> Vec<(String, String, bool)> {
    out.lines()
        .map(|l| {
            let mut it = l.splitn(3, ' ');
            let (d, m, rest) = (
                it.next().unwrap(),
                it.next().unwrap(),
                it.next().unwrap_or(""),
            );
            // ENXIO (a terminal without a controlling one) comes from the driver,
            // after the device program let the open through.
            let ok = if rest == "ok" || rest.contains("No such device or address") {
                true
            } else if rest.contains("Operation not permitted") {
                false
            } else {
                panic!("{d} {m}: not a device program verdict: {rest:?}")
            };
            (d.to_owned(), m.to_owned(), ok)
        })
        .collect()
}

/// Waits until the program ids are gone (the kernel frees a cgroup's programs
/// shortly after the cgroup is removed).
fn assert_programs_freed(ids: &[u32]) {
    let deadline = Instant::now() + Duration::from_secs(5);
    for id in ids {
        while linception::device_program_loaded(*id).unwrap() {
            assert!(Instant::now() < deadline, "program {id} still loaded");
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

#[test]
fn opens_are_decided_as_the_rules_read() {
    require!(Feature::Root, Feature::CloneIntoCgroup);
    for (n, rules) in rule_sets().into_iter().enumerate() {
        let path = cg_path("open", n);
        let mut c = probe(&path, &rules, NS)
            .stdout(linception::Stdio::Piped)
            .spawn()
            .unwrap_or_else(|e| panic!("{rules:?}: {e}"));
        let ids = linception::device_programs(Path::new(&path)).unwrap();
        assert_eq!(ids.len(), usize::from(!rules.is_empty()), "{rules:?}");
        let mut out = String::new();
        std::io::Read::read_to_string(&mut c.take_stdout().unwrap(), &mut out).unwrap();
        let st = c.wait().unwrap();
        assert!(st.success(), "{st:?} {out}");
        let got = verdicts(&out);
        assert_eq!(got.len(), DEVICES.len() * 3, "{out}");
        for (dev, mode, ok) in got {
            let &(_, kind, major, minor) = DEVICES.iter().find(|d| d.0 == dev).unwrap();
            let k = if kind == DeviceKind::Char { 'c' } else { 'b' };
            let want = meaning(&rules, k, major, minor, &mode);
            assert_eq!(ok, want, "{dev} {mode} under {rules:?}");
        }
        assert!(!Path::new(&path).exists(), "cgroup left");
        assert_programs_freed(&ids);
    }
}

#[test]
fn mknod_is_decided_by_the_m_rules() {
    require!(Feature::Root, Feature::CloneIntoCgroup);
    let deny_all = rule(false, 'a', None, None, "rwm");
    let sets = [
        vec![deny_all, rule(true, 'c', None, None, "m")],
        vec![deny_all, rule(true, 'c', Some(1), Some(3), "m")],
        vec![rule(false, 'c', Some(1), None, "m")],
        vec![rule(false, 'b', None, None, "m")],
    ];
    let ns = Namespaces::MOUNT | Namespaces::PID;
    for (n, rules) in sets.iter().enumerate() {
        let path = cg_path("mknod", n);
        let script = "mkdir -p /tmp; for n in 'c 1 3' 'c 1 5' 'b 7 0'; do \
            if mknod /tmp/x $n 2>/tmp/e; then echo ok; else cat /tmp/e; fi; rm -f /tmp/x; done";
        let b = Container::builder("/bin/sh")
            .args(["-c", script])
            .namespaces(ns)
            .root(RootFs::Tmpfs)
            .mounts(Mount::host_system())
            .cgroup(
                Cgroup::new(&path).resources(Resources::new().devices(rules.iter().map(to_crate))),
            );
        let (st, out) = output(b);
        assert!(st.success(), "{st:?} {out}");
        let got: Vec<bool> = out
            .lines()
            .map(|l| match l {
                "ok" => true,
                l if l.contains("Operation not permitted") => false,
                l => panic!("not a verdict: {l:?}"),
            })
            .collect();
        let want: Vec<bool> = [('c', 1, 3), ('c', 1, 5), ('b', 7, 0)]
            .iter()
            .map(|&(k, a, b)| meaning(rules, k, a, b, "m"))
            .collect();
        assert_eq!(got, want, "{rules:?}");
        assert!(!Path::new(&path).exists(), "cgroup left");
    }
}

#[test]
fn an_update_replaces_the_program() {
    require!(Feature::Root, Feature::CloneIntoCgroup);
    let path = cg_path("update", 0);
    let deny_all = rule(false, 'a', None, None, "rwm");
    let mut c = sh(
        "while read x; do if (exec 3<>/dev/null) 2>/dev/zero; then echo ok; else echo no; fi; done",
    )
    .mount(Mount::dev("/dev"))
    .stdout(linception::Stdio::Piped)
    .stdin(linception::Stdio::Piped)
    .cgroup(Cgroup::new(&path).resources(Resources::new().devices([
        to_crate(&deny_all),
        to_crate(&rule(true, 'c', Some(1), None, "rw")),
    ])))
    .spawn()
    .unwrap();
    use std::io::{BufRead, Write};
    let mut out = std::io::BufReader::new(c.take_stdout().unwrap());
    let mut stdin = c.take_stdin().unwrap();
    let mut line = String::new();
    let mut next = |stdin: &mut std::process::ChildStdin| {
        writeln!(stdin).unwrap();
        line.clear();
        out.read_line(&mut line).unwrap();
        line.trim().to_owned()
    };
    assert_eq!(next(&mut stdin), "ok");
    let first = linception::device_programs(Path::new(&path)).unwrap();
    assert_eq!(first.len(), 1);
    // /dev/null denied now: one program still, another one (BPF_F_REPLACE).
    c.update(&Resources::new().devices([
        to_crate(&deny_all),
        to_crate(&rule(true, 'c', Some(1), Some(5), "rw")),
    ]))
    .unwrap();
    let second = linception::device_programs(Path::new(&path)).unwrap();
    assert_eq!(second.len(), 1);
    assert_ne!(first, second);
    assert_programs_freed(&first);
    // The shell's stderr is /dev/zero, allowed: the open is refused quietly.
    assert_eq!(next(&mut stdin), "no");
    // An empty list removes the program: everything is allowed.
    c.update(&Resources::new().devices([])).unwrap();
    assert!(
        linception::device_programs(Path::new(&path))
            .unwrap()
            .is_empty()
    );
    assert_eq!(next(&mut stdin), "ok");
    c.kill().unwrap();
    c.wait().unwrap();
    assert!(!Path::new(&path).exists(), "cgroup left");
    assert_programs_freed(&second);
}

#[test]
fn bad_rules_are_refused_before_anything_is_created() {
    require!(Feature::CloneIntoCgroup);
    let path = cg_path("bad", 0);
    let bad = [
        (
            DeviceRule::allow(DeviceAccess::READ).major(1),
            "takes no major or minor",
        ),
        (
            DeviceRule::allow(DeviceAccess::empty()).kind(DeviceKind::Char),
            "no access",
        ),
        (
            DeviceRule::deny(DeviceAccess::READ)
                .kind(DeviceKind::Char)
                .major(5000),
            "over 4095",
        ),
    ];
    for (r, want) in bad {
        let e = Fork::new().run(|| {
            sh("true")
                .cgroup(Cgroup::new(&path).resources(Resources::new().devices([r])))
                .spawn()
                .unwrap_err()
                .to_string()
        });
        assert!(e.contains(want) && e.contains("device rule 0"), "{e}");
        assert!(!Path::new(&path).exists(), "cgroup created: {e}");
    }
}

#[test]
fn device_rules_need_the_privilege_to_load_a_program() {
    require!(Feature::Root, Feature::CloneIntoCgroup);
    // A cgroup delegated to uid 65534 (owner of the directory and its
    // cgroup.procs): the unprivileged caller may create a child cgroup there, but
    // not load the device program, which is refused before anything is created.
    let deleg = cg_path("deleg", 0);
    std::fs::create_dir(&deleg).unwrap();
    struct Rm(String);
    impl Drop for Rm {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir(format!("{}/box", self.0));
            let _ = std::fs::remove_dir(&self.0);
        }
    }
    let _rm = Rm(deleg.clone());
    for f in ["", "/cgroup.procs"] {
        std::os::unix::fs::chown(format!("{deleg}{f}"), Some(65534), Some(65534)).unwrap();
    }
    let inner = format!("{deleg}/box");
    let (kind, text) = Fork::new().unprivileged().run(|| {
        let e = sh("true")
            .cgroup(
                Cgroup::new(&inner).resources(Resources::new().devices([DeviceRule::deny_all()])),
            )
            .spawn()
            .unwrap_err();
        (format!("{:?}", e.kind()), e.to_string())
    });
    assert_eq!(kind, format!("{:?}", ErrorKind::PermissionDenied), "{text}");
    assert!(text.contains("CAP_BPF"), "{text}");
    assert!(!Path::new(&inner).exists(), "cgroup created: {text}");
}
