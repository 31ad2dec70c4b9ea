//! Linux kernel keyrings (keyctl) for containers: per-container session keyrings, keys, permissions, restrictions.
