//! Pure logic: the describe text, capability bytes, serial and mask formatting.

use linception_keyring_ns::{Capabilities, KeyDescription, KeySerial, Permission};
use proptest::prelude::*;

proptest! {
    /// Formatting a description the way the kernel does and parsing it back gives
    /// the same attributes, including descriptions that contain ';'.
    #[test]
    fn describe_text_round_trips(
        key_type in "[a-z_]{1,12}",
        uid in any::<u32>(),
        gid in any::<u32>(),
        perm in any::<u32>(),
        description in "[ -~]{0,64}",
    ) {
        let text = format!("{key_type};{uid};{gid};{perm:08x};{description}");
        let parsed = KeyDescription::parse(&text).unwrap();
        prop_assert_eq!(&parsed.key_type, &key_type);
        prop_assert_eq!((parsed.uid, parsed.gid), (uid, gid));
        prop_assert_eq!(parsed.perm.bits(), perm);
        prop_assert_eq!(&parsed.description, &description);
        prop_assert_eq!(parsed.to_string(), text);
    }

    /// Each capability bit maps to exactly one boolean, at the kernel's position.
    #[test]
    fn capability_bits(b0 in any::<u8>(), b1 in any::<u8>()) {
        let c = Capabilities::from_bytes(&[b0, b1, 0xff]);
        let flags0 = [c.capabilities, c.persistent_keyrings, c.diffie_hellman, c.public_key,
                      c.big_key, c.invalidate, c.restrict_keyring, c.move_key];
        for (bit, flag) in flags0.iter().enumerate() {
            prop_assert_eq!(*flag, b0 & (1 << bit) != 0);
        }
        prop_assert_eq!(c.ns_keyring_name, b1 & 1 != 0);
        prop_assert_eq!(c.ns_key_tag, b1 & 2 != 0);
    }

    #[test]
    fn serial_formats(raw in 1..i32::MAX) {
        let s = KeySerial::from_raw(raw);
        prop_assert_eq!(s.to_string(), raw.to_string());
        prop_assert_eq!(format!("{s:08x}"), format!("{raw:08x}"));
        prop_assert!(!s.is_special());
    }
}

#[test]
fn describe_parse_rejects_garbage() {
    for bad in [
        "",
        "user",
        "user;0;0",
        "user;x;0;3f010000;d",
        "user;0;0;zz;d",
    ] {
        assert_eq!(KeyDescription::parse(bad), None, "{bad:?}");
    }
    // The kernel prints ids with %d: -1 reads as u32::MAX.
    assert_eq!(
        KeyDescription::parse("user;-1;-1;0;d").unwrap().uid,
        u32::MAX
    );
    assert_eq!(Capabilities::from_bytes(&[]), Capabilities::default());
}

#[test]
fn permission_classes_are_the_kernels() {
    let classes = [
        (Permission::POSSESSOR_ALL, 0x3f00_0000),
        (Permission::USER_ALL, 0x003f_0000),
        (Permission::GROUP_ALL, 0x0000_3f00),
        (Permission::OTHER_ALL, 0x0000_003f),
    ];
    for (perm, bits) in classes {
        assert_eq!(perm.bits(), bits);
    }
    let each = [
        Permission::POSSESSOR_VIEW | Permission::POSSESSOR_READ | Permission::POSSESSOR_WRITE,
        Permission::POSSESSOR_SEARCH | Permission::POSSESSOR_LINK | Permission::POSSESSOR_SETATTR,
    ];
    assert_eq!(each[0] | each[1], Permission::POSSESSOR_ALL);
    assert_eq!(
        (Permission::OTHER_VIEW | Permission::GROUP_LINK).to_string(),
        "00001001"
    );
    let specials = [
        (KeySerial::THREAD_KEYRING, -1, "KEY_SPEC_THREAD_KEYRING"),
        (KeySerial::PROCESS_KEYRING, -2, "KEY_SPEC_PROCESS_KEYRING"),
        (KeySerial::SESSION_KEYRING, -3, "KEY_SPEC_SESSION_KEYRING"),
        (KeySerial::USER_KEYRING, -4, "KEY_SPEC_USER_KEYRING"),
        (
            KeySerial::USER_SESSION_KEYRING,
            -5,
            "KEY_SPEC_USER_SESSION_KEYRING",
        ),
        (KeySerial::GROUP_KEYRING, -6, "KEY_SPEC_GROUP_KEYRING"),
        (KeySerial::REQKEY_AUTH_KEY, -7, "KEY_SPEC_REQKEY_AUTH_KEY"),
        (
            KeySerial::REQUESTOR_KEYRING,
            -8,
            "KEY_SPEC_REQUESTOR_KEYRING",
        ),
    ];
    for (serial, raw, name) in specials {
        assert_eq!((serial.as_raw(), serial.to_string().as_str()), (raw, name));
        assert!(serial.is_special());
    }
}
