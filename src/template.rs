//! Many identical containers from one builder: the work that does not depend on
//! the container done once.
#![forbid(unsafe_code)]

use crate::builder::ContainerBuilder;
use crate::container::Container;
use crate::error::{Error, Result};

/// A builder checked and compiled once, for spawning identical containers
/// ([`ContainerBuilder::template`]).
///
/// Made once: every value validated and the id maps resolved, the seccomp filter
/// compiled, the caller's environment and the host's facts gathered, the Landlock
/// ruleset built. Each [`spawn`](Self::spawn) then does only what is per container:
/// its pipes, its plan of steps, the clone, the id maps, the wait for `execve`; a
/// child that shares the caller's memory reuses the stack and thread-local block of
/// the one before.
///
/// ```no_run
/// use linception::{Container, RootFs};
/// let mut t = Container::builder("/bin/true").root(RootFs::Tmpfs).template()?;
/// for _ in 0..100 {
///     assert!(t.spawn()?.wait()?.success());
/// }
/// # Ok::<(), linception::Error>(())
/// ```
pub struct Template {
    prepared: crate::spawn::Prepared,
}

impl std::fmt::Debug for Template {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Template")
            .field("program", &self.prepared.builder().program)
            .finish_non_exhaustive()
    }
}

impl Template {
    pub(crate) fn new(b: ContainerBuilder) -> Result<Template> {
        // What one container would own alone, refused by name rather than shared.
        let refused = [
            (
                !b.hooks.is_empty(),
                "hooks",
                "a template spawns with spawn() only, and hooks make a create and a start",
            ),
            (
                !b.joins.is_empty(),
                "join",
                "a template's containers cannot share the namespace fds they join",
            ),
            (
                b.seccomp.as_ref().is_some_and(|s| s.handler.is_some()),
                "Seccomp::on_notify",
                "one notification handler cannot serve every container of a template \
                 (use keep_listener() and serve each container's listener)",
            ),
            (
                b.cgroup.is_some(),
                "cgroup",
                "a template's containers would all be born in one cgroup, which the \
                 first one reaped removes",
            ),
        ];
        if let Some((_, what, why)) = refused.into_iter().find(|r| r.0) {
            return Err(Error::invalid(format!("template: {what}"), why));
        }
        Ok(Template {
            prepared: crate::spawn::prepare_template(b)?,
        })
    }

    /// Spawns one container; like [`ContainerBuilder::spawn`] of the builder the
    /// template was made from.
    ///
    /// # Errors
    /// As [`ContainerBuilder::spawn`], less what was checked when the template was
    /// made.
    pub fn spawn(&mut self) -> Result<Container> {
        crate::spawn::spawn_prepared(&mut self.prepared)
    }
}
