//! Quota exhaustion as uid 65534. The key quota is per kernel uid, so this file
//! holds the only test that fills it; the keys die with the child's session
//! keyring, and the test waits for the garbage collector to give the quota back.

mod common;

use std::time::Duration;

use common::{fresh_session, key_user_usage, wait_until};
use linception_keyring_ns::{Error, KeyType, add_key};
use linception_testkit::{Feature, Fork, NOBODY, require};

#[test]
fn quota_exhaustion_as_nobody() {
    require!(Feature::Root, Feature::Keyrings);
    let maxbytes: usize = std::fs::read_to_string("/proc/sys/kernel/keys/maxbytes")
        .expect("read maxbytes")
        .trim()
        .parse()
        .unwrap();
    let before = key_user_usage(NOBODY).map_or(0, |(_, bytes)| bytes);
    let (added, serial_ok) = Fork::new().unprivileged().run(move || {
        let session = fresh_session();
        // Big payloads reach the byte quota in a few keys.
        let payload = vec![0x5a_u8; 4000];
        let mut added = 0usize;
        let limit = maxbytes / payload.len() + 2;
        for i in 0..limit {
            match add_key(
                KeyType::USER,
                format!("lnc-test.quota.{i}").as_str(),
                &payload,
                session,
            ) {
                Ok(_) => added += 1,
                Err(err) => {
                    assert!(
                        matches!(err, Error::QuotaExceeded { key, .. } if key == session),
                        "{err}"
                    );
                    assert_eq!(err.raw_os_error(), Some(libc::EDQUOT));
                    let text = err.to_string();
                    assert!(
                        text.starts_with(&format!(
                            "add_key(\"user\", \"lnc-test.quota.{i}\", <4000 bytes>, {session})"
                        )) && text.ends_with("(EDQUOT)"),
                        "{text}"
                    );
                    let io: std::io::Error = err.into();
                    assert_eq!(io.raw_os_error(), Some(libc::EDQUOT));
                    return (added, true);
                }
            }
        }
        (added, false)
    });
    assert!(
        serial_ok,
        "no EDQUOT after {added} keys of 4000 bytes (maxbytes {maxbytes})"
    );
    assert!(added >= 1 && added <= maxbytes / 4000, "added {added} keys");
    // The child's session keyring died with it: the quota comes back.
    let restored = wait_until(Duration::from_secs(2), || {
        key_user_usage(NOBODY).map_or(0, |(_, bytes)| bytes) <= before
    });
    assert!(
        restored,
        "uid 65534 still charged {:?} (before: {before})",
        key_user_usage(NOBODY)
    );
}
