//! Safe path resolution inside a directory tree with Linux openat2 RESOLVE_* flags, and a checked fallback resolver.
