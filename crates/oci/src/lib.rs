//! linception-oci: an OCI runtime built on linception's public API alone.
//!
//! The library turns an OCI runtime-spec bundle (`config.json`, parsed with the
//! `oci-spec` crate) into a [`linception::ContainerBuilder`] ([`config::builder`]),
//! keeps the state of created containers in a directory per container
//! ([`state::Store`]), and the binary of the same name offers runc's command line on
//! top of both.
//!
//! Every config field is either honoured or refused with an [`Error::Config`] naming
//! it (`linux.resources.memory.limit: no memory controller in this cgroup (cgroup2 offers: hugetlb)`); nothing is
//! silently dropped. Annotations are accepted whatever their keys.
//!
//! # References
//! - [OCI runtime spec](https://github.com/opencontainers/runtime-spec/blob/main/config.md)
#![deny(missing_docs)]

pub mod cgroups;
pub mod config;
pub mod exec;
pub mod fds;
pub mod features;
mod host;
pub mod notify;
pub mod ps;
pub mod state;

use std::path::PathBuf;

/// What can go wrong in the runtime.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A config field this runtime cannot honour, or a bad value in it.
    #[error("{field}: {reason}")]
    Config {
        /// The field, as the spec spells its path (`process.rlimits[0].type`).
        field: String,
        /// Why it is refused.
        reason: String,
    },
    /// A bad command line.
    #[error("{0}")]
    Usage(String),
    /// A container's state does not allow the command (or it does not exist).
    #[error("{0}")]
    State(String),
    /// A file of the bundle or of the state directory.
    #[error("{what} {path:?}: {source}")]
    Io {
        /// What was done.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// linception refused or failed.
    #[error(transparent)]
    Linception(#[from] linception::Error),
}

impl Error {
    /// A refused config field.
    pub fn config(field: impl Into<String>, reason: impl Into<String>) -> Error {
        Error::Config {
            field: field.into(),
            reason: reason.into(),
        }
    }

    pub(crate) fn io(
        what: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Error {
        Error::Io {
            what,
            path: path.into(),
            source,
        }
    }
}

/// The result of this crate's calls.
pub type Result<T, E = Error> = std::result::Result<T, E>;
