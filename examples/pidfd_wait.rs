//! Spawn a child with clone3 (its pidfd comes with it), look at it through
//! PIDFD_GET_INFO, wait for it with a timeout by polling the pidfd, then stop it and
//! print how it ended.
//!
//! Run with `cargo run --example pidfd_wait`.

use std::time::Duration;

use linception::pidfd::{CloneArgs, Error, Exec, Signal};

// The pidfd crate's error records its failed call inline (a failure allocates
// nothing), so it is larger than clippy's default threshold.
#[allow(clippy::result_large_err)]
fn main() -> Result<(), Error> {
    let mut child = CloneArgs::new().spawn(&Exec::new("/bin/sleep").arg("5"))?;
    println!(
        "spawned /bin/sleep 5: pid {} ({:?})",
        child.pid(),
        child.pidfd()
    );

    match child.pidfd().info() {
        Ok(info) => {
            println!("PIDFD_GET_INFO: pid {:?}, ppid {:?}", info.pid, info.ppid);
            if let Some(c) = info.creds {
                println!(
                    "  uid {} gid {} (effective {} {})",
                    c.ruid, c.rgid, c.euid, c.egid
                );
            }
            if let Some(id) = info.cgroup_id {
                println!("  cgroup id {id}");
            }
        }
        Err(e) => println!("PIDFD_GET_INFO unavailable: {e}"),
    }

    // Poll the pidfd for 300 ms: the child is still sleeping.
    match child.wait_timeout(Duration::from_millis(300))? {
        Some(status) => println!("exited early: {status}"),
        None => println!("still running after 300 ms; sending SIGTERM through the pidfd"),
    }
    child.send_signal(Signal::TERM)?;
    let status = child.wait()?;
    println!(
        "exit status: {status} (code {:?}, signal {:?})",
        status.code(),
        status.signal()
    );

    // Reaped: the pidfd can no longer reach anything, whoever gets the pid next.
    if let Err(e) = child.send_signal(Signal::TERM) {
        println!("signalling again: {e}");
    }
    match child.pidfd().info() {
        Ok(info) => println!(
            "PIDFD_GET_INFO after reaping: exit status {:?}",
            info.exit_status
        ),
        Err(e) => println!("PIDFD_GET_INFO after reaping: {e}"),
    }
    Ok(())
}
