//! The runtime's state: one directory per container under the state root, holding
//! `state.json` (written to a temporary file and renamed into place) and the
//! container's start socket, locked with `flock` against concurrent commands.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use linception::ContainerId;
use serde_json::{Value, json};

use crate::{Error, Result};

/// The OCI version this runtime reports in `state`.
pub const OCI_VERSION: &str = "1.2.1";

/// The state root: one directory per container.
#[derive(Clone, Debug)]
pub struct Store {
    root: PathBuf,
}

/// What is kept about one container.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// The container's id.
    pub id: String,
    /// Its bundle directory.
    pub bundle: PathBuf,
    /// How linception finds it again.
    pub container: ContainerId,
    /// The config's annotations.
    pub annotations: Vec<(String, String)>,
    /// The cgroup this runtime made for the container, removed at `delete` (kept
    /// here so that `delete` needs no bundle: it may be gone by then).
    pub cgroup: Option<PathBuf>,
    /// The root beneath which the container's mounts were made in the runtime's
    /// mount namespace (a config without one of its own), detached at `delete`.
    pub mounts_beneath: Option<PathBuf>,
}

/// A locked container directory; the lock goes with the value.
#[derive(Debug)]
pub struct Locked {
    dir: PathBuf,
    _lock: File,
}

/// Whether `id` is a container id this runtime takes (no path separators, no dot
/// names, at most 1024 bytes).
///
/// # Errors
/// [`Error::Usage`] naming the id.
pub fn check_id(id: &str) -> Result<()> {
    let ok = !id.is_empty()
        && id.len() <= 1024
        && id != "."
        && id != ".."
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-+".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(Error::Usage(format!(
            "container id {id:?}: only letters, digits and ._-+ are allowed"
        )))
    }
}

impl Store {
    /// The store at `root` (created on first use, mode 0700).
    pub fn new(root: impl Into<PathBuf>) -> Store {
        Store { root: root.into() }
    }

    /// The default root: `/run/linception-oci` for root, else
    /// `$XDG_RUNTIME_DIR/linception-oci`. As runc decides it, root outside the
    /// initial user namespace counts as rootless when `XDG_RUNTIME_DIR` is set and
    /// `USER` is not `root` (rootless podman runs the runtime as root of its own
    /// user namespace, with the user's environment).
    ///
    /// # Errors
    /// [`Error::Usage`] when not root and `XDG_RUNTIME_DIR` is unset.
    pub fn default_root() -> Result<PathBuf> {
        let xdg = std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty());
        let rootless = !rustix::process::geteuid().is_root()
            || (xdg.is_some()
                && !crate::host::in_initial_user_namespace()
                && std::env::var_os("USER").is_none_or(|u| u != "root"));
        if !rootless {
            return Ok("/run/linception-oci".into());
        }
        match xdg {
            Some(d) if !d.is_empty() => Ok(PathBuf::from(d).join("linception-oci")),
            _ => Err(Error::Usage(
                "--root: XDG_RUNTIME_DIR is unset, pass --root DIR".into(),
            )),
        }
    }

    /// The directory of `id`.
    pub fn dir(&self, id: &str) -> PathBuf {
        self.root.join(id)
    }

    /// The start socket of `id`.
    pub fn socket(&self, id: &str) -> PathBuf {
        self.dir(id).join("start.sock")
    }

    /// Makes the directory of a new container and locks it.
    ///
    /// # Errors
    /// [`Error::State`] when the id exists.
    pub fn create(&self, id: &str) -> Result<Locked> {
        check_id(id)?;
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.root)
            .map_err(|e| Error::io("create the state root", &self.root, e))?;
        let dir = self.dir(id);
        match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                return Err(Error::State(format!("container {id:?} already exists")));
            }
            Err(e) => return Err(Error::io("create", &dir, e)),
        }
        Self::lock(dir)
    }

    /// Locks the directory of an existing container (waits for another command).
    ///
    /// # Errors
    /// [`Error::State`] when it does not exist.
    pub fn open(&self, id: &str) -> Result<Locked> {
        check_id(id)?;
        let dir = self.dir(id);
        if !dir.is_dir() {
            return Err(Error::State(format!("container {id:?} does not exist")));
        }
        Self::lock(dir)
    }

    fn lock(dir: PathBuf) -> Result<Locked> {
        let f = File::open(&dir).map_err(|e| Error::io("open", &dir, e))?;
        rustix::fs::flock(&f, rustix::fs::FlockOperation::LockExclusive)
            .map_err(|e| Error::io("lock", &dir, e.into()))?;
        Ok(Locked { dir, _lock: f })
    }

    /// The ids of every container in the store, sorted.
    pub fn list(&self) -> Vec<String> {
        let mut ids: Vec<String> = std::fs::read_dir(&self.root)
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| e.path().join("state.json").exists())
            .filter_map(|e| e.file_name().into_string().ok())
            .collect();
        ids.sort();
        ids
    }
}

impl Locked {
    /// The container's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Writes the record atomically (a temporary file renamed over `state.json`).
    ///
    /// Not flushed to disk (no `fsync`): the state describes processes, which do not
    /// survive a crash of the machine, and lives on tmpfs by default (`/run`); the
    /// rename alone keeps it whole for every reader and across a crashed command. A
    /// flush would cost a disk write per command where `--root` is on a disk (3 ms on
    /// this machine's ext4).
    ///
    /// # Errors
    /// [`Error::Io`] for a failed write.
    pub fn save(&self, r: &Record) -> Result<()> {
        let annotations: serde_json::Map<String, Value> = r
            .annotations
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect();
        let doc = json!({
            "id": r.id,
            "bundle": r.bundle,
            "container": r.container.to_string(),
            "annotations": annotations,
            "cgroup": r.cgroup,
            "mountsBeneath": r.mounts_beneath,
        });
        let tmp = self.dir.join("state.json.tmp");
        let path = self.dir.join("state.json");
        let mut f = File::create(&tmp).map_err(|e| Error::io("create", &tmp, e))?;
        f.write_all(doc.to_string().as_bytes())
            .map_err(|e| Error::io("write", &tmp, e))?;
        std::fs::rename(&tmp, &path).map_err(|e| Error::io("rename into", &path, e))
    }

    /// Reads the record.
    ///
    /// # Errors
    /// [`Error::State`] for a missing or damaged `state.json`.
    pub fn load(&self) -> Result<Record> {
        let path = self.dir.join("state.json");
        let text = std::fs::read_to_string(&path).map_err(|e| Error::io("read", &path, e))?;
        let bad = |what: &str| Error::State(format!("{}: {what}", path.display()));
        let v: Value = serde_json::from_str(&text).map_err(|e| bad(&e.to_string()))?;
        let s = |k: &str| v[k].as_str().map(str::to_owned).ok_or_else(|| bad(k));
        let container = s("container")?
            .parse::<ContainerId>()
            .map_err(|e| bad(&e.to_string()))?;
        let mut annotations: Vec<(String, String)> = v["annotations"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
            .collect();
        annotations.sort();
        Ok(Record {
            id: s("id")?,
            bundle: s("bundle")?.into(),
            container,
            annotations,
            cgroup: v["cgroup"].as_str().map(PathBuf::from),
            mounts_beneath: v["mountsBeneath"].as_str().map(PathBuf::from),
        })
    }

    /// Removes the directory (and so the lock's file; the lock itself goes with the
    /// value).
    ///
    /// # Errors
    /// [`Error::Io`] for a failed removal.
    pub fn remove(self) -> Result<()> {
        // What it usually holds is named (two calls, where walking the directory
        // takes ten); anything else there is found by the walk.
        let _ = std::fs::remove_file(self.dir.join("state.json"));
        match std::fs::remove_dir(&self.dir) {
            Ok(()) => Ok(()),
            Err(_) => std::fs::remove_dir_all(&self.dir),
        }
        .map_err(|e| Error::io("remove", &self.dir, e))
    }
}

/// The container's status now, from linception: `stopped` for a dead init or a
/// reused pid (the start time differs), else what the handle says.
pub fn status(r: &Record) -> (linception::State, Option<linception::Container>) {
    match r.container.open() {
        Ok(mut c) => (c.state(), Some(c)),
        Err(_) => (linception::State::Stopped, None),
    }
}

/// The spec's state document of a record (`paused` for a running container whose
/// cgroup is frozen, as runc says).
pub fn document(r: &Record) -> Value {
    let (st, c) = status(r);
    let paused =
        st == linception::State::Running && c.as_ref().is_some_and(crate::cgroups::is_paused);
    let annotations: serde_json::Map<String, Value> = r
        .annotations
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    let mut doc = json!({
        "ociVersion": OCI_VERSION,
        "id": r.id,
        "status": if paused { "paused" } else { st.as_str() },
        "bundle": r.bundle,
        "annotations": annotations,
    });
    if st != linception::State::Stopped {
        doc["pid"] = json!(r.container.pid.as_raw());
    } else {
        doc["pid"] = json!(0);
    }
    doc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_ids_are_checked() {
        let tmp = std::env::temp_dir().join(format!("lc-oci-state-{}", std::process::id()));
        let store = Store::new(&tmp);
        let l = store.create("box-1").unwrap();
        let r = Record {
            id: "box-1".into(),
            bundle: "/b".into(),
            container: "7:99:/s/start.sock".parse().unwrap(),
            annotations: vec![("k".into(), "v".into())],
            cgroup: Some("/sys/fs/cgroup/box-1".into()),
            mounts_beneath: Some("/b/rootfs".into()),
        };
        l.save(&r).unwrap();
        assert_eq!(l.load().unwrap(), r);
        assert_eq!(store.list(), ["box-1"]);
        assert!(matches!(store.create("box-1"), Err(Error::State(_))));
        // A live pid (this process) with another start time is a reused pid: stopped.
        let me = std::process::id();
        let reused = Record {
            container: format!("{me}:1:/s/start.sock").parse().unwrap(),
            ..r.clone()
        };
        assert!(std::path::Path::new(&format!("/proc/{me}")).exists());
        assert_eq!(status(&reused).0, linception::State::Stopped);
        assert_eq!(document(&reused)["status"], "stopped");
        assert_eq!(document(&reused)["pid"], 0);
        l.remove().unwrap();
        assert!(matches!(store.open("box-1"), Err(Error::State(_))));
        for bad in ["", "..", "a/b", "x y"] {
            assert!(matches!(store.create(bad), Err(Error::Usage(_))), "{bad}");
        }
        let _ = std::fs::remove_dir_all(&tmp);
    }
}
