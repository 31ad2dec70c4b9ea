//! The container's seccomp filter and its notification handler.
#![forbid(unsafe_code)]

use std::fmt;

use linception_seccomp_notify::{Filter, FilterFlags, Listener, Notification, Response};

/// A notification handler run by the parent on its own thread.
pub type NotifyHandler = Box<dyn FnMut(&Listener, &Notification) -> Response + Send + 'static>;

/// An async notification handler (cargo feature `tokio`): called for each
/// notification on the runtime, its future answered when it resolves.
#[cfg(feature = "tokio")]
#[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
pub type AsyncNotifyHandler = Box<
    dyn FnMut(
            std::sync::Arc<linception_seccomp_notify::AsyncListener>,
            Notification,
        ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Response> + Send>>
        + Send
        + 'static,
>;

/// Who answers the notifications.
pub(crate) enum Handler {
    /// A thread of the parent runs `Listener::serve`.
    Thread(NotifyHandler),
    /// A task on this tokio runtime receives, and a task per notification answers.
    #[cfg(feature = "tokio")]
    Async(AsyncNotifyHandler),
}

/// A seccomp filter for the container (built with [`linception_seccomp_notify`]),
/// installed in the child as the very last step before `execve`.
///
/// If the filter has `Action::UserNotif` rules, the listener fd comes back to the
/// parent over a unix socket (`SCM_RIGHTS`), and either a handler you give runs on a
/// thread of the parent until the container's last process exits
/// ([`Seccomp::on_notify`]), or the [`Container`](crate::Container) hands you the
/// listener ([`Seccomp::keep_listener`], [`Container::take_listener`](crate::Container::take_listener)).
///
/// Do not notify on `execve`, `sendmsg` or `close` without a handler running:
/// the child makes those after the filter is in place.
///
/// For a created container ([`create`](crate::ContainerBuilder::create)) whose
/// listener is kept or served, the filter is installed before the init waits for
/// its start, so that the listener is the creator's when `create` returns (an OCI
/// runtime hands it to its agent then); the filter then also sees the init's last
/// steps: `sendmsg` (the listener), `write` (its report to the creator; notifying
/// on these two would hang the create), `close_range`, `accept4` on the start
/// socket and `execve` (and a `write` to the starter if a step fails).
///
/// ```
/// use linception::Seccomp;
/// use linception::seccomp_notify::{Action, Filter, Response};
///
/// let filter = Filter::new(Action::Allow).rule("uname", Action::UserNotif);
/// let seccomp = Seccomp::new(filter).on_notify(|_listener, notif| {
///     eprintln!("intercepted syscall {}", notif.nr);
///     Response::Continue
/// });
/// # let _ = seccomp;
/// ```
pub struct Seccomp {
    pub(crate) filter: Filter,
    pub(crate) handler: Option<Handler>,
    pub(crate) keep_listener: bool,
    pub(crate) flags: FilterFlags,
}

impl Seccomp {
    /// The filter, with no notification handling.
    pub fn new(filter: Filter) -> Self {
        Seccomp {
            filter,
            handler: None,
            keep_listener: false,
            flags: FilterFlags::empty(),
        }
    }

    /// Installs the filter with these `SECCOMP_FILTER_FLAG_*` (none by default):
    /// `TSYNC`, `LOG` (log every action but `ALLOW` to the audit log), `SPEC_ALLOW`
    /// (leave speculative store bypass mitigation as it is), `WAIT_KILLABLE_RECV`
    /// (with a listener: once the supervisor received a notification, only a fatal
    /// signal interrupts the call), `TSYNC_ESRCH`.
    ///
    /// `NEW_LISTENER` is the builder's own (set when [`on_notify`](Self::on_notify)
    /// or [`keep_listener`](Self::keep_listener) asks for the listener) and is
    /// refused here, as is `WAIT_KILLABLE_RECV` without a listener, a bit no
    /// `SECCOMP_FILTER_FLAG_*` has, or a flag the running kernel does not take
    /// (asked with [`filter_flags_available`](linception_seccomp_notify::filter_flags_available)):
    /// [`spawn`](crate::ContainerBuilder::spawn) fails naming them before anything is
    /// created.
    ///
    /// ```
    /// use linception::Seccomp;
    /// use linception::seccomp_notify::{Action, Filter, FilterFlags};
    ///
    /// let filter = Filter::new(Action::Allow).rule("ptrace", Action::Errno(libc::EPERM));
    /// let seccomp = Seccomp::new(filter).flags(FilterFlags::LOG | FilterFlags::SPEC_ALLOW);
    /// # let _ = seccomp;
    /// ```
    pub fn flags(mut self, flags: FilterFlags) -> Self {
        self.flags = flags;
        self
    }

    /// Runs `handler` for each notification, on a thread of the parent
    /// (`Listener::serve`), until the container's last process exits.
    pub fn on_notify<F>(mut self, handler: F) -> Self
    where
        F: FnMut(&Listener, &Notification) -> Response + Send + 'static,
    {
        self.handler = Some(Handler::Thread(Box::new(handler)));
        self.keep_listener = false;
        self
    }

    /// Answers each notification with an async `handler` on the tokio runtime that
    /// calls [`spawn`](crate::ContainerBuilder::spawn) (which must run inside one):
    /// one task receives until the container's last process exits, and each
    /// notification's future runs as a task of its own, so a slow answer does not
    /// hold up the others. The handler gets the listener (to read the caller's
    /// memory, add fds) and the notification; its [`Response`] is sent when the
    /// future resolves.
    ///
    /// ```no_run
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> linception::Result<()> {
    /// use linception::{Container, Seccomp};
    /// use linception::seccomp_notify::{Action, Filter, Response};
    ///
    /// let filter = Filter::new(Action::Allow).rule("getppid", Action::UserNotif);
    /// let seccomp = Seccomp::new(filter).on_notify_async(|_listener, _notif| async {
    ///     Response::Value(4242)
    /// });
    /// let mut c = Container::builder("/bin/true").seccomp(seccomp).spawn()?;
    /// c.wait_async().await?;
    /// # Ok(()) }
    /// ```
    #[cfg(feature = "tokio")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
    pub fn on_notify_async<F, Fut>(mut self, mut handler: F) -> Self
    where
        F: FnMut(std::sync::Arc<linception_seccomp_notify::AsyncListener>, Notification) -> Fut
            + Send
            + 'static,
        Fut: std::future::Future<Output = Response> + Send + 'static,
    {
        self.handler = Some(Handler::Async(Box::new(move |l, n| {
            Box::pin(handler(l, n))
        })));
        self.keep_listener = false;
        self
    }

    /// Hands the listener to the caller ([`Container::take_listener`](crate::Container::take_listener)).
    pub fn keep_listener(mut self) -> Self {
        self.keep_listener = true;
        self.handler = None;
        self
    }

    pub(crate) fn wants_listener(&self) -> bool {
        self.handler.is_some() || self.keep_listener
    }
}

impl fmt::Debug for Seccomp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Seccomp")
            .field("filter", &self.filter)
            .field(
                "handler",
                &match &self.handler {
                    None => "none",
                    Some(Handler::Thread(_)) => "thread",
                    #[cfg(feature = "tokio")]
                    Some(Handler::Async(_)) => "async",
                },
            )
            .field("keep_listener", &self.keep_listener)
            .field("flags", &self.flags)
            .finish()
    }
}

/// Serves `listener` on the current tokio runtime with an async handler: a task
/// receives until the filter has no task left, and each notification's answer runs
/// as a task of its own.
#[cfg(feature = "tokio")]
pub(crate) fn serve_async(
    listener: Listener,
    mut handler: AsyncNotifyHandler,
) -> crate::Result<()> {
    use std::sync::Arc;

    use linception_seccomp_notify::{AsyncListener, Error as SeccompError};

    let listener = Arc::new(AsyncListener::new(listener).map_err(crate::Error::from)?);
    tokio::spawn(async move {
        loop {
            let notif = match listener.recv().await {
                Ok(notif) => notif,
                // The caller vanished before the receive: the next one.
                Err(SeccompError::NotificationGone { .. }) => continue,
                // No task left in the filter (or a broken listener): done.
                Err(_) => return,
            };
            let answer = handler(Arc::clone(&listener), notif);
            let listener = Arc::clone(&listener);
            tokio::spawn(async move {
                let l = listener.get_ref();
                // A caller that died meanwhile makes the answer fail: nothing to do.
                let _ = match answer.await {
                    Response::Value(v) => l.respond_value(notif.id, v),
                    Response::Errno(e) => l.respond_errno(notif.id, e),
                    Response::Continue => l.respond_continue(notif.id),
                    Response::Answered => Ok(()),
                    // A kind of answer newer than this code: fail the call rather
                    // than leave it hanging.
                    _ => l.respond_errno(notif.id, libc::ENOSYS),
                };
            });
        }
    });
    Ok(())
}
