//! The report as a whole, and the typed cgroup v2 answer, checked against what the
//! files and the kernel say.
// Unsafe code here: geteuid, the test's own view of root, independent of the probe.
#![allow(unsafe_code)]

use linception_probe::{Feature, cgroup2, features};

#[test]
fn the_report_lists_every_feature_once_in_order() {
    let report = features();
    assert_eq!(report.len(), Feature::ALL.len());
    for (status, feature) in report.iter().zip(Feature::ALL) {
        assert_eq!(status.feature, feature);
        assert_eq!(status.available(), feature.available().is_ok());
        // Only an available cgroup v2 has details.
        assert_eq!(
            status.detail.is_some(),
            feature == Feature::Cgroup2 && status.available(),
            "{feature:?}"
        );
        let line = match &status.result {
            Ok(()) => "yes".to_string(),
            Err(missing) => format!("no ({missing})"),
        };
        eprintln!("{:<28} {:>7}  {line}", feature.name(), feature.min_kernel());
    }
    let mut names: Vec<_> = Feature::ALL.iter().map(|f| f.name()).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), Feature::ALL.len(), "names are unique");
}

#[test]
fn refinements_imply_their_base_feature() {
    // A flag or field of a call cannot work where the call itself does not.
    for (refined, base) in [
        (Feature::PidfdInfoExit, Feature::PidfdInfo),
        (Feature::PidfdInfoCoredump, Feature::PidfdInfo),
        (Feature::PidfsFileHandles, Feature::PidfdOpen),
        (Feature::StatmountOptArray, Feature::Statmount),
        (Feature::StatmountSupportedMask, Feature::Statmount),
        (Feature::StatmountIdmap, Feature::Statmount),
        (Feature::ListmountNsId, Feature::Listmount),
        (Feature::ListmountNsFd, Feature::Listmount),
        (Feature::Openat2ExtendedHow, Feature::Openat2),
    ] {
        if refined.available().is_ok() {
            assert!(base.available().is_ok(), "{refined:?} without {base:?}");
        }
    }
}

#[test]
fn cgroup2_answer_matches_the_files() {
    let Ok(cg) = cgroup2() else {
        assert!(Feature::Cgroup2.available().is_err());
        eprintln!("SKIP: needs cgroup v2 (Linux 4.5): no cgroup2 mount");
        return;
    };
    eprintln!("cgroup v2 {cg}");
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(
        info.lines().any(|l| {
            let (left, right) = l.split_once(" - ").unwrap();
            right.starts_with("cgroup2 ") && left.split(' ').nth(4) == cg.mount_point.to_str()
        }),
        "{} is a cgroup2 mount",
        cg.mount_point.display()
    );
    let own = std::fs::read_to_string("/proc/self/cgroup").unwrap();
    assert!(
        own.lines()
            .any(|l| l == format!("0::{}", cg.cgroup.display()))
    );
    let read = |leaf: &str| -> Vec<String> {
        std::fs::read_to_string(cg.dir().join(leaf))
            .unwrap()
            .split_whitespace()
            .map(str::to_string)
            .collect()
    };
    assert_eq!(cg.controllers, read("cgroup.controllers"));
    assert_eq!(cg.subtree_control, read("cgroup.subtree_control"));
    // What is enabled for the children is available here first.
    for c in &cg.subtree_control {
        assert!(cg.controllers.contains(c), "{c}");
    }
    // SAFETY: geteuid cannot fail.
    if unsafe { libc::geteuid() } == 0 {
        assert!(cg.writable, "root may create child cgroups");
    }
    let detail = features()
        .into_iter()
        .find(|s| s.feature == Feature::Cgroup2)
        .and_then(|s| s.detail)
        .unwrap();
    assert_eq!(detail, cg.to_string());
    assert!(detail.contains(&cg.mount_point.display().to_string()));
}
