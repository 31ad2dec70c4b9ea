//! `SCMP_ACT_NOTIFY` with `linux.seccomp.listenerPath`: a created container's
//! seccomp listener goes to the agent listening on that unix socket, with the
//! container process state, as the runtime spec says.
//!
//! Before anything is created, the runtime checks that `listenerPath` is a unix
//! socket it may connect to (a missing path is named and nothing is made). It
//! creates the container (its filter is installed before the init waits for its
//! start, so the listener is the runtime's when the create returns), connects to
//! the agent, and sends one message: the state JSON as data and the listener as
//! `SCM_RIGHTS`, then closes the connection. An agent that refuses the connection
//! fails the create by name; the container is then killed and removed. The
//! state's `status` is `creating` (the create has not finished), as runc sends it.
//!
//! `exec` into such a container does the same for the exec'd process, which
//! installs the same filter and so has a listener of its own: it goes to the
//! agent once the process is started, with `status` `running`, the document's
//! `pid` the exec'd process's and the state's `pid` the container's init's (as
//! runc sends it); an agent that cannot be reached kills the process and fails
//! the exec by name.
//!
//! ```json
//! {"ociVersion": "1.2.1", "fds": ["seccompFd"], "pid": 4242, "metadata": "...",
//!  "state": {"ociVersion": "1.2.1", "id": "box", "status": "creating", "pid": 4242,
//!            "bundle": "/srv/box", "annotations": {}}}
//! ```
//!
//! # References
//! - [config-linux.md, Seccomp](https://github.com/opencontainers/runtime-spec/blob/main/config-linux.md#seccomp)
//! - [runtime.md, Container Process State](https://github.com/opencontainers/runtime-spec/blob/main/runtime.md#containerprocessstate)
//! - [unix(7)](https://man7.org/linux/man-pages/man7/unix.7.html) (`SCM_RIGHTS`)

use std::io::{IoSlice, Write};
use std::mem::MaybeUninit;
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;

use linception::seccomp_notify::Listener;
use oci_spec::runtime::Spec;
use rustix::net::{SendAncillaryBuffer, SendAncillaryMessage, SendFlags};
use serde_json::{Value, json};

use crate::{Error, Result};

/// The config field the agent's errors are named by.
const FIELD: &str = "linux.seccomp.listenerPath";

/// The name of the listener in the state's `fds` (the runtime spec's `seccompFd`).
pub const SECCOMP_FD_NAME: &str = "seccompFd";

/// Where a notifying filter's listener goes: `linux.seccomp.listenerPath`, and the
/// `listenerMetadata` sent with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Agent {
    /// The agent's unix socket (`listenerPath`).
    pub path: PathBuf,
    /// The opaque string passed to the agent (`listenerMetadata`).
    pub metadata: Option<String>,
}

impl Agent {
    /// The agent of a config: `Some` when its seccomp filter notifies (a rule with
    /// `SCMP_ACT_NOTIFY` on a syscall this architecture has). A `listenerPath`
    /// without a notifying rule is ignored, as the spec says.
    ///
    /// # Errors
    /// [`Error::Config`] for a seccomp section the mapping refuses (as
    /// [`config::builder`](crate::config::builder) names it).
    pub fn of(spec: &Spec) -> Result<Option<Agent>> {
        match spec.linux().as_ref().and_then(|l| l.seccomp().as_ref()) {
            // WAIT_KILLABLE_RECV only adds a check that needs an agent: not asked here.
            Some(s) => Ok(crate::config::seccomp(s, false)?.agent),
            None => Ok(None),
        }
    }

    /// Checks, before the container is created, that `listenerPath` is a unix
    /// socket the caller may write (connect to), without connecting: the agent
    /// gets one connection, with the message.
    ///
    /// # Errors
    /// [`Error::Config`] naming `linux.seccomp.listenerPath`: a missing path, not
    /// a socket, no write permission.
    pub fn check(&self) -> Result<()> {
        let named = |why: String| Error::config(FIELD, format!("{:?}: {why}", self.path));
        let meta = std::fs::metadata(&self.path).map_err(|e| named(e.to_string()))?;
        if !std::os::unix::fs::FileTypeExt::is_socket(&meta.file_type()) {
            return Err(named("not a unix socket (the seccomp agent's)".into()));
        }
        rustix::fs::access(&self.path, rustix::fs::Access::WRITE_OK)
            .map_err(|e| named(std::io::Error::from(e).to_string()))
    }

    /// Connects to the agent (`SOCK_STREAM`), sends the container process state
    /// of `c` with `listener` attached (`SCM_RIGHTS`, one `sendmsg` carrying the
    /// JSON), then closes the connection.
    ///
    /// # Errors
    /// [`Error::Config`] naming `linux.seccomp.listenerPath` and the failed
    /// `connect` or send.
    pub fn send(&self, listener: &Listener, c: &ContainerInfo<'_>) -> Result<()> {
        let stream = UnixStream::connect(&self.path).map_err(|e| {
            Error::config(
                FIELD,
                format!("connect({:?}) to the seccomp agent: {e}", self.path),
            )
        })?;
        let doc = process_state(self, c).to_string();
        let bytes = doc.as_bytes();
        let failed = |e: std::io::Error| {
            Error::config(
                FIELD,
                format!("sendmsg to the seccomp agent at {:?}: {e}", self.path),
            )
        };
        let mut space = [MaybeUninit::<u8>::uninit(); rustix::cmsg_space!(ScmRights(1))];
        let mut control = SendAncillaryBuffer::new(&mut space);
        let fds = [listener.as_fd()];
        if !control.push(SendAncillaryMessage::ScmRights(&fds)) {
            return Err(failed(std::io::Error::from(rustix::io::Errno::NOBUFS)));
        }
        let sent = loop {
            match rustix::net::sendmsg(
                &stream,
                &[IoSlice::new(bytes)],
                &mut control,
                SendFlags::NOSIGNAL,
            ) {
                Err(rustix::io::Errno::INTR) => continue,
                r => break r.map_err(|e| failed(e.into()))?,
            }
        };
        // A stream may take a long document in parts: the fd went with the first.
        (&stream).write_all(&bytes[sent..]).map_err(failed)?;
        // One message per connection: dropping the stream closes it.
        Ok(())
    }
}

/// What the container process state says of the container (its `state`) and of
/// the process whose listener it is.
#[derive(Clone, Debug)]
pub struct ContainerInfo<'a> {
    /// The container's id.
    pub id: &'a str,
    /// The init's pid, in the runtime's pid namespace.
    pub pid: i32,
    /// The bundle directory.
    pub bundle: &'a std::path::Path,
    /// The config's annotations.
    pub annotations: &'a [(String, String)],
    /// The state's `status`: `creating` during a create, `running` at an exec.
    pub status: &'a str,
    /// The pid of the process whose filter the listener is (the document's own
    /// `pid`): the init's at a create, the exec'd process's at an exec.
    pub process_pid: i32,
}

/// The container process state document the agent receives.
pub fn process_state(agent: &Agent, c: &ContainerInfo<'_>) -> Value {
    let annotations: serde_json::Map<String, Value> = c
        .annotations
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    let mut doc = json!({
        "ociVersion": crate::state::OCI_VERSION,
        "fds": [SECCOMP_FD_NAME],
        "pid": c.process_pid,
        "state": {
            "ociVersion": crate::state::OCI_VERSION,
            "id": c.id,
            "status": c.status,
            "pid": c.pid,
            "bundle": c.bundle,
            "annotations": annotations,
        },
    });
    if let Some(m) = &agent.metadata {
        doc["metadata"] = json!(m);
    }
    doc
}
