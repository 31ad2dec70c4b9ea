//! `features`: the runtime-spec features document, true to this runtime, the
//! running kernel and the caller.
//!
//! Each list is what a config may ask of this runtime here: the namespace types
//! the kernel has, the capabilities it knows (`cap_last_cap`), the seccomp actions
//! and filter flags both the kernel accepts and the config mapping takes, the
//! architectures a filter applies its rules to, the cgroup versions that
//! are mounted, the security modules that are active, idmapped mounts only when
//! the kernel and the caller can make them. Everything comes from linception's
//! feature report ([`linception::features`](mod@linception::features)).
//!
//! # References
//! - [features.md](https://github.com/opencontainers/runtime-spec/blob/main/features.md),
//!   [features-linux.md](https://github.com/opencontainers/runtime-spec/blob/main/features-linux.md)

use linception::seccomp_notify::{Action, FilterFlags, filter_flags_available};
use linception::{CapSet, Namespaces, features};
use serde_json::{Value, json};

use crate::config;

/// The oldest config version this runtime reads.
pub const OCI_VERSION_MIN: &str = "1.0.0";

/// The hooks the config may hold (every one the spec defines).
pub const HOOKS: [&str; 6] = [
    "prestart",
    "createRuntime",
    "createContainer",
    "startContainer",
    "poststart",
    "poststop",
];

/// The mount option words the config mapping takes (a filesystem's own
/// `key=value` options go to the kernel as they are, and are not listed): the
/// mount attributes and their recursive `r` forms, bind and propagation words,
/// idmapped binds, the superblock flags of a new filesystem, and `tmpcopyup` (runc's
/// extension: a tmpfs that starts with a copy of the directory it covers).
pub const MOUNT_OPTIONS: [&str; 55] = [
    "async",
    "atime",
    "bind",
    "dev",
    "diratime",
    "dirsync",
    "exec",
    "idmap",
    "lazytime",
    "noatime",
    "nodev",
    "nodiratime",
    "noexec",
    "nolazytime",
    "nomand",
    "norelatime",
    "nostrictatime",
    "nosuid",
    "nosymfollow",
    "private",
    "ratime",
    "rbind",
    "rdev",
    "rdiratime",
    "relatime",
    "rexec",
    "ridmap",
    "rnoatime",
    "rnodev",
    "rnodiratime",
    "rnoexec",
    "rnorelatime",
    "rnostrictatime",
    "rnosuid",
    "rnosymfollow",
    "ro",
    "rprivate",
    "rrelatime",
    "rro",
    "rrw",
    "rshared",
    "rslave",
    "rstrictatime",
    "rsuid",
    "rsymfollow",
    "runbindable",
    "rw",
    "shared",
    "slave",
    "strictatime",
    "suid",
    "symfollow",
    "sync",
    "tmpcopyup",
    "unbindable",
];

/// The spec's name of a namespace flag.
fn namespace_name(ns: Namespaces) -> Option<&'static str> {
    Some(match ns {
        Namespaces::CGROUP => "cgroup",
        Namespaces::IPC => "ipc",
        Namespaces::MOUNT => "mount",
        Namespaces::NET => "network",
        Namespaces::PID => "pid",
        Namespaces::TIME => "time",
        Namespaces::USER => "user",
        Namespaces::UTS => "uts",
        _ => return None,
    })
}

/// The spec's name of a seccomp action, for the actions the config mapping takes
/// (`SCMP_ACT_KILL` is `KILL_THREAD`'s old name).
fn action_names(a: Action) -> &'static [&'static str] {
    match a {
        Action::Allow => &["SCMP_ACT_ALLOW"],
        Action::Errno(_) => &["SCMP_ACT_ERRNO"],
        Action::KillProcess => &["SCMP_ACT_KILL_PROCESS"],
        Action::KillThread => &["SCMP_ACT_KILL", "SCMP_ACT_KILL_THREAD"],
        Action::Trap(_) => &["SCMP_ACT_TRAP"],
        Action::Log => &["SCMP_ACT_LOG"],
        Action::Trace(_) => &["SCMP_ACT_TRACE"],
        // With linux.seccomp.listenerPath: the listener goes to the agent.
        Action::UserNotif => &["SCMP_ACT_NOTIFY"],
        // Refused by the config mapping, as is any action linception learns later.
        _ => &[],
    }
}

/// The `linux.seccomp.flags` the config mapping takes (`knownFlags`), and those of
/// them the running kernel accepts (`supportedFlags`), asked as runc does, by
/// trying each flag without installing a filter (`WAIT_KILLABLE_RECV` with the
/// listener it needs).
fn seccomp_flags() -> (Vec<&'static str>, Vec<&'static str>) {
    let mut known: Vec<(&'static str, FilterFlags)> = config::SECCOMP_FLAGS.to_vec();
    known.sort_unstable_by_key(|(n, _)| *n);
    let supported = known
        .iter()
        .filter(|(_, f)| {
            let probe = if f.contains(FilterFlags::WAIT_KILLABLE_RECV) {
                *f | FilterFlags::NEW_LISTENER
            } else {
                *f
            };
            filter_flags_available(probe).unwrap_or(false)
        })
        .map(|(n, _)| *n)
        .collect();
    (known.into_iter().map(|(n, _)| n).collect(), supported)
}

/// The spec's `CAP_*` name of every capability in `set`.
fn capability_names(set: CapSet) -> Vec<String> {
    let mut bits: Vec<(u32, String)> = set
        .iter_names()
        .map(|(name, flag)| (flag.bits().trailing_zeros(), format!("CAP_{name}")))
        .collect();
    bits.sort();
    bits.into_iter().map(|(_, n)| n).collect()
}

/// The features document.
pub fn document() -> Value {
    let mut namespaces: Vec<&str> = features::namespaces()
        .iter()
        .filter_map(namespace_name)
        .collect();
    namespaces.sort_unstable();
    let seccomp = match features::seccomp_actions() {
        Ok(actions) => {
            let (known_flags, supported_flags) = seccomp_flags();
            let mut names: Vec<&str> = actions
                .into_iter()
                .flat_map(|a| action_names(a).iter().copied())
                .collect();
            names.sort_unstable();
            json!({
                "enabled": true,
                "actions": names,
                "operators": [
                    "SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_LE",
                    "SCMP_CMP_LT", "SCMP_CMP_MASKED_EQ", "SCMP_CMP_NE"
                ],
                "archs": config::filtered_arch_names(),
                "knownFlags": known_flags,
                "supportedFlags": supported_flags
            })
        }
        Err(_) => json!({"enabled": false}),
    };
    // Cgroup v1 is not used (linception targets cgroup v2), systemd is not driven.
    let v2 = features::cgroup2().is_ok();
    let lsms = features::active_lsms();
    let mut mount_options: Vec<&str> = MOUNT_OPTIONS.to_vec();
    mount_options.sort_unstable();
    json!({
        "ociVersionMin": OCI_VERSION_MIN,
        "ociVersionMax": crate::state::OCI_VERSION,
        "hooks": HOOKS,
        "mountOptions": mount_options,
        "linux": {
            "namespaces": namespaces,
            "capabilities": capability_names(features::capabilities()),
            "cgroup": {"v1": false, "v2": v2, "systemd": false, "systemdUser": false, "rdma": false},
            "seccomp": seccomp,
            "apparmor": {"enabled": lsms.apparmor},
            "selinux": {"enabled": lsms.selinux},
            "intelRdt": {"enabled": false},
            "mountExtensions": {"idmap": {"enabled": features::idmapped_mounts()}}
        },
        "annotations": {
            "org.opencontainers.runtime.linception.version": env!("CARGO_PKG_VERSION")
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every listed option is taken by the config mapping, on a bind or a tmpfs.
    #[test]
    fn the_listed_mount_options_are_the_mappings() {
        let dir = std::env::temp_dir().join(format!("lc-oci-features-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("rootfs")).unwrap();
        let takes = |typ: &str, opt: &str| {
            let mount = if typ == "bind" {
                json!({"destination": "/m", "type": "bind", "source": "/", "options": ["rbind", opt]})
            } else {
                json!({"destination": "/m", "type": "tmpfs", "source": "tmpfs", "options": [opt]})
            };
            let spec = json!({
                "ociVersion": "1.2.0", "root": {"path": "rootfs"},
                "process": {"args": ["/bin/true"], "cwd": "/", "user": {"uid": 0, "gid": 0}},
                "mounts": [mount],
                "linux": {"namespaces": [{"type": "mount"}]}
            });
            let spec = config::parse(&spec.to_string()).unwrap();
            let opts = config::Options {
                id: "f".into(),
                bundle: dir.clone(),
                console_socket: None,
                no_pivot: false,
            };
            match config::builder(&spec, &opts) {
                Ok(_) => true,
                Err(e) => !e.to_string().contains(&format!("option {opt:?}")),
            }
        };
        for opt in MOUNT_OPTIONS {
            // idmap and ridmap need mount uidMappings (the mount tests cover them).
            if opt.contains("idmap") {
                continue;
            }
            assert!(
                takes("bind", opt) || takes("tmpfs", opt),
                "{opt} is refused"
            );
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn capability_names_are_in_bit_order() {
        assert_eq!(
            capability_names(CapSet::CHOWN | CapSet::SYS_ADMIN | CapSet::DAC_OVERRIDE),
            ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_SYS_ADMIN"]
        );
    }
}
