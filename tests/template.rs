//! Templates: a builder checked and compiled once, spawned many times; each
//! container is the same as one from the builder, nothing leaks across spawns, and
//! what one container would own alone is refused by name.

mod common;

use std::io::Read;

use common::{NS, modes, sh};
use linception::seccomp_notify::{Action, Filter};
use linception::{Container, Hook, HookPoint, Mount, NamespaceType, NsSource, Seccomp, Stdio};
use linception_testkit::leaks::assert_no_leaks;
use linception_testkit::{Feature, Fork, require};

const SCRIPT: &str = "hostname; id -u; cat /proc/self/uid_map; \
    grep -E '^(NoNewPrivs|Seccomp):' /proc/self/status; echo \"$GREETING\"; \
    unshare -U true 2>/dev/null && echo unshare-ok || echo unshare-denied";

fn builder() -> linception::ContainerBuilder {
    sh(SCRIPT)
        .hostname("tpl")
        .env("GREETING", "hello")
        .mount(Mount::tmpfs("/tmp"))
        .mount(Mount::dev("/dev"))
        .seccomp(Seccomp::new(
            Filter::new(Action::Allow).rule("unshare", Action::Errno(libc::EPERM)),
        ))
        .no_new_privs()
        .stdout(Stdio::Piped)
}

fn out_of(mut c: Container) -> String {
    let mut out = String::new();
    c.take_stdout()
        .expect("piped stdout")
        .read_to_string(&mut out)
        .expect("read");
    assert!(c.wait().expect("wait").success(), "{out}");
    out
}

#[test]
fn every_container_of_a_template_is_the_builders() {
    require!(Feature::UserNs, Feature::MountApi);
    for unprivileged in modes() {
        let fork = if unprivileged {
            Fork::new().unprivileged()
        } else {
            Fork::new()
        };
        let (one, all_same) = fork.run(|| {
            let one = out_of(builder().spawn().expect("spawn"));
            let same = assert_no_leaks(|| {
                let mut t = builder().template().expect("template");
                let outs: Vec<String> = (0..20)
                    .map(|_| out_of(t.spawn().expect("spawn from the template")))
                    .collect();
                outs.iter().all(|o| *o == one)
            });
            common::assert_no_children();
            (one, same)
        });
        assert!(
            all_same,
            "a template's container differs from the builder's: {one}"
        );
        assert!(one.starts_with("tpl\n0\n"), "{one}");
        assert!(
            one.contains("NoNewPrivs:\t1") && one.contains("Seccomp:\t2"),
            "{one}"
        );
        assert!(
            one.contains("hello") && one.contains("unshare-denied"),
            "{one}"
        );
    }
}

#[test]
fn a_template_is_checked_when_made() {
    require!(Feature::UserNs);
    let text = Fork::new().unprivileged().run(|| {
        assert_no_leaks(|| {
            Container::builder("/bin/true")
                .namespaces(NS)
                .hostname("")
                .template()
                .expect_err("an empty hostname is refused")
                .to_string()
        })
    });
    assert!(text.contains("hostname"), "{text}");
}

#[test]
fn what_one_container_owns_is_refused_by_name() {
    require!(Feature::UserNs);
    let texts = Fork::new().unprivileged().run(|| {
        let builders = vec![
            sh("true").hook(HookPoint::PostStart, Hook::command("/bin/true")),
            sh("true").join(
                NamespaceType::Uts,
                NsSource::Path("/proc/self/ns/uts".into()),
            ),
            sh("true").seccomp(
                Seccomp::new(Filter::new(Action::Allow).rule("getppid", Action::UserNotif))
                    .on_notify(|_, _| linception::seccomp_notify::Response::Continue),
            ),
            sh("true").cgroup(linception::Cgroup::new("/sys/fs/cgroup/unified/x")),
        ];
        builders
            .into_iter()
            .map(|b| {
                let e = assert_no_leaks(|| b.template().expect_err("refused"));
                (format!("{:?}", e.kind()), e.to_string())
            })
            .collect::<Vec<_>>()
    });
    let names = ["hooks", "join", "Seccomp::on_notify", "cgroup"];
    for ((kind, text), name) in texts.iter().zip(names) {
        assert_eq!(kind, "InvalidArgument", "{text}");
        assert!(text.contains(&format!("template: {name}")), "{text}");
    }
}

/// A passed fd stays the template's: every container gets it, and it closes with
/// the template (the reader then sees EOF).
#[test]
fn a_passed_fd_goes_to_every_container_and_closes_with_the_template() {
    require!(Feature::UserNs, Feature::MountApi);
    let text = Fork::new().unprivileged().run(|| {
        let (r, w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).expect("pipe");
        let mut t = sh("echo from-$(hostname) >&3")
            .hostname("c")
            .pass_fd(w, 3)
            .template()
            .expect("template");
        for _ in 0..3 {
            assert!(t.spawn().expect("spawn").wait().expect("wait").success());
        }
        drop(t);
        let mut all = String::new();
        std::fs::File::from(r)
            .read_to_string(&mut all)
            .expect("read to EOF");
        all
    });
    assert_eq!(text, "from-c\nfrom-c\nfrom-c\n");
}
