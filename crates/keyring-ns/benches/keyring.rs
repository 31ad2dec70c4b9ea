//! add_key + read + unlink through linception vs raw `libc::syscall`, and search
//! in a keyring of 10 vs 1,000 keys.
//!
//! The bench process first joins a new anonymous session keyring of its own, so
//! everything it adds dies with it and the host's keyrings never change.
// Unsafe code here: the baselines are the raw add_key/keyctl system calls the crate wraps.
#![allow(unsafe_code)]

use std::ffi::c_long;
use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use linception_keyring_ns::{KeyType, SessionPlan, add_key, read_into, search, unlink};

fn raw_add_key(ring: i32, payload: &[u8]) -> i32 {
    // SAFETY: NUL-terminated literals and a payload valid for its length.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_add_key,
            c"user".as_ptr(),
            c"bench.cycle".as_ptr(),
            payload.as_ptr(),
            payload.len(),
            ring as c_long,
        )
    };
    assert!(ret > 0, "add_key: {}", std::io::Error::last_os_error());
    ret as i32
}

fn raw_read(key: i32, buf: &mut [u8]) -> usize {
    // SAFETY: buf is valid for writes of buf.len() bytes.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_keyctl,
            11 as c_long,
            key as c_long,
            buf.as_mut_ptr(),
            buf.len(),
        )
    };
    assert!(ret >= 0, "KEYCTL_READ: {}", std::io::Error::last_os_error());
    ret as usize
}

fn raw_unlink(key: i32, ring: i32) {
    // SAFETY: integer arguments only.
    let ret =
        unsafe { libc::syscall(libc::SYS_keyctl, 9 as c_long, key as c_long, ring as c_long) };
    assert!(
        ret == 0,
        "KEYCTL_UNLINK: {}",
        std::io::Error::last_os_error()
    );
}

fn raw_search(ring: i32, desc: &std::ffi::CStr) -> i32 {
    // SAFETY: NUL-terminated strings that outlive the call.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_keyctl,
            10 as c_long,
            ring as c_long,
            c"user".as_ptr(),
            desc.as_ptr(),
            0 as c_long,
        )
    };
    assert!(
        ret > 0,
        "KEYCTL_SEARCH: {}",
        std::io::Error::last_os_error()
    );
    ret as i32
}

fn cycle(c: &mut Criterion) {
    let session = SessionPlan::anonymous()
        .join()
        .expect("join a fresh session keyring");
    let ring = add_key(KeyType::KEYRING, "bench.cycle-ring", b"", session).unwrap();
    let payload = [0x42u8; 64];
    let mut buf = [0u8; 128];
    let mut group = c.benchmark_group("add_read_unlink");
    group.bench_function("raw_syscall", |b| {
        b.iter(|| {
            let key = raw_add_key(ring.as_raw(), black_box(&payload));
            let n = raw_read(key, &mut buf);
            raw_unlink(key, ring.as_raw());
            black_box(n)
        })
    });
    group.bench_function("linception", |b| {
        b.iter(|| {
            let key = add_key(KeyType::USER, "bench.cycle", black_box(&payload), ring).unwrap();
            let n = read_into(key, &mut buf).unwrap();
            unlink(key, ring).unwrap();
            black_box(n)
        })
    });
    group.bench_function("linception_cstr", |b| {
        b.iter(|| {
            let key = add_key(KeyType::USER, c"bench.cycle", black_box(&payload), ring).unwrap();
            let n = read_into(key, &mut buf).unwrap();
            unlink(key, ring).unwrap();
            black_box(n)
        })
    });
    group.finish();
}

fn searching(c: &mut Criterion) {
    let session = SessionPlan::anonymous()
        .join()
        .expect("join a fresh session keyring");
    let mut group = c.benchmark_group("search");
    for size in [10usize, 1000] {
        let ring = add_key(
            KeyType::KEYRING,
            format!("bench.search-{size}").as_str(),
            b"",
            session,
        )
        .unwrap();
        for i in 0..size {
            add_key(KeyType::USER, format!("bench.k{i}").as_str(), b"v", ring).unwrap();
        }
        let target = format!("bench.k{}", size / 2);
        let target_c = std::ffi::CString::new(target.clone()).unwrap();
        let expected = search(ring, KeyType::USER, target.as_str(), None).unwrap();
        group.bench_function(format!("raw_syscall/{size}"), |b| {
            b.iter(|| black_box(raw_search(ring.as_raw(), &target_c)))
        });
        group.bench_function(format!("linception/{size}"), |b| {
            b.iter(|| {
                let found = search(ring, KeyType::USER, target.as_str(), None).unwrap();
                debug_assert_eq!(found, expected);
                black_box(found)
            })
        });
    }
    group.finish();
}

criterion_group!(benches, cycle, searching);
criterion_main!(benches);
