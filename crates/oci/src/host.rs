//! What this runtime's process is, asked of the kernel once a command: its user
//! namespace and what it may grant do not change while it runs one.

use std::sync::OnceLock;

/// [`linception::features::in_initial_user_namespace`], once.
pub(crate) fn in_initial_user_namespace() -> bool {
    static ANSWER: OnceLock<bool> = OnceLock::new();
    *ANSWER.get_or_init(linception::features::in_initial_user_namespace)
}

/// [`linception::features::devices_confined`], once.
pub(crate) fn devices_confined() -> bool {
    static ANSWER: OnceLock<bool> = OnceLock::new();
    *ANSWER.get_or_init(linception::features::devices_confined)
}

/// [`linception::features::setgroups_allowed`], once; always so in the initial
/// user namespace (nothing to read there).
pub(crate) fn setgroups_allowed() -> bool {
    static ANSWER: OnceLock<bool> = OnceLock::new();
    *ANSWER.get_or_init(|| in_initial_user_namespace() || linception::features::setgroups_allowed())
}

/// [`linception::features::grantable_capabilities`], once for each answer.
pub(crate) fn grantable_capabilities(user_namespace: bool) -> linception::CapSet {
    static ANSWERS: [OnceLock<linception::CapSet>; 2] = [OnceLock::new(), OnceLock::new()];
    *ANSWERS[usize::from(user_namespace)]
        .get_or_init(|| linception::features::grantable_capabilities(user_namespace))
}
