//! Which Linux security modules are active, for the exec labels of the container
//! (AppArmor profile, SELinux label).
#![forbid(unsafe_code)]

/// The Linux security modules the exec labels need, active or not
/// ([`features::active_lsms`](crate::features::active_lsms)).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ActiveLsms {
    /// AppArmor is active: a process can be given a profile.
    pub apparmor: bool,
    /// SELinux is active: a process can be given a label.
    pub selinux: bool,
}

impl ActiveLsms {
    /// From `/sys/kernel/security/lsm` (the kernel's comma-separated list); where
    /// securityfs is not mounted, from what each module shows: AppArmor's own
    /// `/proc/self/attr/apparmor/current` can be read, SELinux's selinuxfs is
    /// mounted.
    pub(crate) fn current() -> ActiveLsms {
        match std::fs::read_to_string("/sys/kernel/security/lsm") {
            Ok(list) => ActiveLsms::from_list(&list),
            Err(_) => ActiveLsms {
                apparmor: std::fs::read("/proc/self/attr/apparmor/current").is_ok(),
                selinux: std::path::Path::new("/sys/fs/selinux/enforce").exists(),
            },
        }
    }

    /// From the text of `/sys/kernel/security/lsm` (`lockdown,capability,landlock,...`).
    pub(crate) fn from_list(list: &str) -> ActiveLsms {
        let has = |name: &str| list.trim().split(',').any(|l| l == name);
        ActiveLsms {
            apparmor: has("apparmor"),
            selinux: has("selinux"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kernels_list_is_read_by_name() {
        let l = ActiveLsms::from_list("lockdown,capability,landlock,yama,apparmor,bpf\n");
        assert_eq!(
            l,
            ActiveLsms {
                apparmor: true,
                selinux: false
            }
        );
        let l = ActiveLsms::from_list("capability,selinux");
        assert!(l.selinux && !l.apparmor);
        // A name is matched whole.
        assert_eq!(
            ActiveLsms::from_list("apparmorx,xselinux"),
            ActiveLsms::default()
        );
    }
}
