//! Extent-based Linux user-namespace id maps: validation, fast lookup, composition, /etc/subuid, and writing uid_map/gid_map.
