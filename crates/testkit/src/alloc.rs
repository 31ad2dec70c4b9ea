//! Counting allocations, to show that code meant to run between clone and execve
//! allocates nothing.
//!
//! A test binary installs the counter as its global allocator, then measures a
//! closure (inside a [`Fork`](crate::Fork) child, where no other thread allocates):
//!
//! ```
//! use linception_testkit::Fork;
//! use linception_testkit::alloc::{CountingAllocator, allocations_in};
//!
//! #[global_allocator]
//! static GLOBAL: CountingAllocator = CountingAllocator;
//!
//! fn main() {
//!     let counts = Fork::new().run(|| {
//!         let (_, none) = allocations_in(|| unsafe { libc::getppid() });
//!         let (_, some) = allocations_in(|| std::hint::black_box(vec![1u8; 64]).len());
//!         (none, some)
//!     });
//!     assert_eq!(counts.0, 0);
//!     assert!(counts.1 >= 1);
//! }
//! ```

use std::sync::atomic::{AtomicUsize, Ordering};

pub(crate) static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

/// The system allocator, counting every allocation and reallocation (its
/// `GlobalAlloc` implementation forwards each call to `std::alloc::System`).
pub struct CountingAllocator;

/// Runs `f` and returns its result with the number of allocations made meanwhile
/// (by any thread: call it in a single-threaded forked child). Meaningful only in
/// a binary whose global allocator is [`CountingAllocator`].
pub fn allocations_in<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let before = ALLOCATIONS.load(Ordering::SeqCst);
    let out = f();
    (out, ALLOCATIONS.load(Ordering::SeqCst) - before)
}
