//! The container's seccomp filter and its notification handler.
#![forbid(unsafe_code)]

use std::fmt;

use linception_seccomp_notify::{Filter, Listener, Notification, Response};

/// A notification handler run by the parent on its own thread.
pub type NotifyHandler = Box<dyn FnMut(&Listener, &Notification) -> Response + Send + 'static>;

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
    pub(crate) handler: Option<NotifyHandler>,
    pub(crate) keep_listener: bool,
}

impl Seccomp {
    /// The filter, with no notification handling.
    pub fn new(filter: Filter) -> Self {
        Seccomp {
            filter,
            handler: None,
            keep_listener: false,
        }
    }

    /// Runs `handler` for each notification, on a thread of the parent
    /// (`Listener::serve`), until the container's last process exits.
    pub fn on_notify<F>(mut self, handler: F) -> Self
    where
        F: FnMut(&Listener, &Notification) -> Response + Send + 'static,
    {
        self.handler = Some(Box::new(handler));
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
            .field("handler", &self.handler.is_some())
            .field("keep_listener", &self.keep_listener)
            .finish()
    }
}
