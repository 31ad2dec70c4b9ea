//! Race-free process handles for Linux: pidfd_open, pidfd_send_signal, waitid(P_PIDFD), pidfd_getfd, PIDFD_GET_INFO, and clone3 with set_tid.
