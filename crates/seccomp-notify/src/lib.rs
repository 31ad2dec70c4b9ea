//! Seccomp BPF filters compiled in Rust, and the user-notification listener with CONTINUE and ADDFD.
