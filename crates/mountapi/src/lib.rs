//! The Linux new mount API: fsopen, fsconfig, fsmount, move_mount, open_tree, mount_setattr with idmapped mounts, statmount and listmount.
