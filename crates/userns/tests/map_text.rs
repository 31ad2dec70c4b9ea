//! `IdMap::parse` side by side with the kernel: every text is written to the
//! `uid_map` of a fresh user namespace, and the kernel's verdict (and, when it
//! accepts, the map it installed) must be what `IdMap::parse` says.

mod common;

use std::io::Write;

use common::spawn_ns_child;
use linception_testkit::{Feature, Fork, require};
use linception_userns::{Error, IdMap, MAX_TEXT_LEN, MapWriter, WriteMode, read_uid_map};
use proptest::prelude::*;

/// Extents as `(inside, outside, count)`, sorted by inside id.
type Triples = Vec<(u32, u32, u32)>;

/// What the kernel did with one text.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Verdict {
    /// Written: the map the kernel shows, sorted by inside id.
    Accepted(Triples),
    /// Parsed and validated, then refused for lack of privilege (`EPERM`).
    ValidButNotPermitted,
    /// Refused as malformed (`EINVAL`).
    Malformed,
}

/// Writes each text, in one `write`, to the `uid_map` of a new namespace of its
/// own, in a forked child (unprivileged: as 65534). Panics on an errno other than
/// `EPERM` and `EINVAL`.
fn kernel_verdicts(texts: &[String], unprivileged: bool) -> Vec<Verdict> {
    let owned = texts.to_vec();
    let fork = if unprivileged {
        Fork::new().unprivileged()
    } else {
        Fork::new()
    };
    let raw: Vec<(i32, Triples)> = fork.run(move || {
        owned
            .iter()
            .map(|text| {
                let child = spawn_ns_child(|| 0);
                let path = format!("/proc/{}/uid_map", child.pid.as_raw_nonzero());
                let mut file = std::fs::OpenOptions::new()
                    .write(true)
                    .open(&path)
                    .expect("open uid_map");
                let answer = match file.write(text.as_bytes()) {
                    Ok(n) if n == text.len() => 0,
                    Ok(n) => panic!("short write of {n} bytes for {text:?}"),
                    Err(e) => e.raw_os_error().unwrap_or(-1),
                };
                let shown = read_uid_map(Some(child.pid))
                    .expect("read uid_map")
                    .map(|m| {
                        m.extents_by_inside()
                            .map(|e| (e.inside, e.outside, e.count))
                            .collect()
                    })
                    .unwrap_or_default();
                drop(child);
                (answer, shown)
            })
            .collect()
    });
    raw.into_iter()
        .zip(texts)
        .map(|((errno, shown), text)| match errno {
            // A write of nothing writes no map.
            0 if shown.is_empty() => Verdict::Malformed,
            0 => Verdict::Accepted(shown),
            libc::EPERM => Verdict::ValidButNotPermitted,
            libc::EINVAL => Verdict::Malformed,
            other => panic!("the kernel answered errno {other} to {text:?}"),
        })
        .collect()
}

/// Compares one text's kernel verdict with `IdMap::parse`.
fn agrees(text: &str, verdict: &Verdict) -> Result<(), String> {
    let ours = IdMap::parse(text);
    match (verdict, &ours) {
        (Verdict::Accepted(shown), Ok(map)) => {
            let parsed: Vec<_> = map
                .extents_by_inside()
                .map(|e| (e.inside, e.outside, e.count))
                .collect();
            if &parsed == shown {
                Ok(())
            } else {
                Err(format!(
                    "{text:?}: the kernel installed {shown:?}, parse read {parsed:?}"
                ))
            }
        }
        (Verdict::ValidButNotPermitted, Ok(_)) | (Verdict::Malformed, Err(_)) => Ok(()),
        (_, Ok(map)) => Err(format!(
            "{text:?}: the kernel refused it ({verdict:?}), parse accepted {map:?}"
        )),
        (_, Err(err)) => Err(format!(
            "{text:?}: the kernel took it ({verdict:?}), parse refused: {err}"
        )),
    }
}

fn check_all(texts: &[String], unprivileged: bool) {
    let verdicts = kernel_verdicts(texts, unprivileged);
    assert_eq!(verdicts.len(), texts.len());
    let disagreements: Vec<String> = texts
        .iter()
        .zip(&verdicts)
        .filter_map(|(text, verdict)| agrees(text, verdict).err())
        .collect();
    assert!(
        disagreements.is_empty(),
        "{} of {} texts judged differently:\n{}",
        disagreements.len(),
        texts.len(),
        disagreements.join("\n")
    );
    // The table is worth something only if it holds both kinds.
    let accepted = verdicts
        .iter()
        .filter(|v| !matches!(v, Verdict::Malformed))
        .count();
    assert!(accepted > 10, "only {accepted} texts accepted");
    assert!(texts.len() - accepted > 10, "only {accepted} texts refused");
}

/// `n` lines `i i 1`, each with its newline.
fn lines(n: u32) -> String {
    (0..n).map(|i| format!("{i} {i} 1\n")).collect()
}

/// A valid text of exactly `MAX_TEXT_LEN` bytes with no final newline, whose
/// canonical text (with the newline) is one byte longer: 226 lines of 18 bytes
/// and a last line of 27.
fn full_text_without_final_newline() -> String {
    let mut text: String = (0..226u32)
        .map(|i| format!("{} {} 1\n", 1_000_000 + i, 2_000_000 + i))
        .collect();
    text.push_str("4000000000 4000000000 12345");
    assert_eq!(text.len(), MAX_TEXT_LEN);
    text
}

/// The table: fixed cases for each kernel rule, then every slot of a two-line
/// text varied in turn.
fn table() -> Vec<String> {
    let mut texts: Vec<String> = [
        // Line structure.
        "0 0 1",
        "0 0 1\n",
        "0 0 1\n\n",
        "\n0 0 1",
        "0 0 1\n\n5 5 1\n",
        "0 0 1\n \n5 5 1\n",
        "0 0 1\n\t",
        "",
        "\n",
        " ",
        "\n\n",
        "0 0 1\r\n5 5 1\r\n",
        // White space.
        " 0 0 1",
        "0 0 1 ",
        "\t0\t0\t1\t\n",
        "0\x0b0\x0c1\r\n",
        "\x0b0 0 1\x0c",
        "0  0   1",
        "0\x1c0 1",
        "0\u{a0}0 1",
        "0\u{3000}0 1",
        "0 0 1\u{a0}",
        // Numbers.
        "00 000 01",
        "0000000000000000000000000007 0 1",
        "+0 0 1",
        "0 +0 1",
        "0 0 +1",
        "-0 0 1",
        "0 0 -1",
        "0x10 0 1",
        "0 0 1x",
        "0 0 1#",
        "0,0,1",
        "0 0 1 2",
        "0 0",
        "0",
        "0 0 ",
        "0 0 0",
        "4294967295 0 1",
        "0 4294967295 1",
        "4294967294 4294967294 1",
        "0 0 4294967295",
        "0 1 4294967295",
        "1 0 4294967295",
        "4294967296 0 1",
        "0 4294967296 1",
        "0 0 4294967297",
        "0 0 4294967296",
        "8589934593 0 1",
        "18446744073709551616 0 1",
        "18446744073709551617 0 1",
        "99999999999999999999999 0 1",
        "12345678901234567890123456789 0 1",
        // NUL: the kernel reads the text as a C string.
        "0 0 1\0",
        "0 0 1\0junk",
        "0 0 1\0\n\n\n",
        "\x000 0 1",
        "0 0 1\n\0\n",
        "0 0 1\n5 5 1\0\n\n",
        "0 0\x001",
        // Map rules.
        "0 0 1\n0 5 1",
        "0 0 1\n5 0 1",
        "0 0 10\n9 100 1",
        "0 0 10\n10 10 10",
        "0 0 10\n100 5 10",
        "5 5 5\n0 0 5\n10 10 5\n",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    // Extent counts and the length limit.
    texts.push(lines(5));
    texts.push(lines(6));
    texts.push(lines(340));
    texts.push(lines(340).trim_end().to_string());
    texts.push(lines(341));
    texts.push(format!("{}\n", lines(340)));
    texts.push(format!("{}0 0 1", " ".repeat(MAX_TEXT_LEN - 5)));
    texts.push(format!("{}0 0 1", " ".repeat(MAX_TEXT_LEN - 4)));
    texts.push(format!("0 0 1\0{}", "x".repeat(MAX_TEXT_LEN - 6)));
    texts.push(format!("0 0 1\0{}", "x".repeat(MAX_TEXT_LEN - 5)));
    texts.push(format!("0 0 1{}", " ".repeat(MAX_TEXT_LEN - 5)));
    texts.push(full_text_without_final_newline());
    texts.push(format!("{}\n", full_text_without_final_newline()));
    // Each slot of "A B C\nD E F\n" varied in turn.
    let leads = ["", " ", "\t", "\r", "\x0b", "\x0c", "  \t ", "\n", "x"];
    let numbers = [
        "7",
        "0",
        "007",
        "+7",
        "-7",
        "",
        "7x",
        "4294967295",
        "4294967296",
        "07a",
    ];
    let seps = ["", " ", "\t", "\x0b", "\x0c", "\r", " \t\r ", ",", "\n"];
    let ends = ["", "\n", "\n\n", "\n \n", " ", "\r", "\0", "\t\n"];
    let base = |slots: [&str; 13]| slots.concat();
    let default = [
        "", "1", " ", "100", " ", "2", "", "\n", "", "10", " ", "200", " ",
    ];
    let mut vary = |slot: usize, choices: &[&str]| {
        for choice in choices {
            let mut slots = default;
            slots[slot] = choice;
            texts.push(format!("{}3{}", base(slots), ends[1]));
        }
    };
    vary(0, &leads);
    vary(1, &numbers);
    vary(2, &seps);
    vary(3, &numbers);
    vary(4, &seps);
    vary(5, &numbers);
    vary(6, &leads);
    vary(7, &ends);
    vary(8, &leads);
    vary(9, &numbers);
    vary(10, &seps);
    vary(11, &numbers);
    vary(12, &seps);
    for end in ends {
        texts.push(format!("{}3{end}", base(default)));
    }
    texts
}

#[test]
fn table_is_judged_like_the_kernel_as_root() {
    require!(Feature::Root, Feature::UserNs);
    check_all(&table(), false);
}

#[test]
fn table_is_judged_like_the_kernel_unprivileged() {
    // As 65534 the kernel validates every text, then refuses all but the own-id
    // map with EPERM: the comparison is of validation, not permission. Started
    // as root, the child drops to 65534; started as 65534, it already is.
    require!(Feature::UnprivilegedUserNs);
    let as_root = linception_testkit::available(Feature::Root).is_ok();
    check_all(&table(), as_root);
}

#[test]
fn blank_line_between_extents_is_refused_and_named() {
    let err = IdMap::parse("0 1000 1\n\n1 100000 65536\n").unwrap_err();
    assert!(matches!(err, Error::Parse { line: 2, .. }), "{err}");
    assert_eq!(
        err.to_string(),
        "id map: line 2 (\"\"): blank line: the kernel takes none (only the last line may \
         end the text with a newline)"
    );
    assert_eq!(err.kind(), linception_userns::ErrorKind::InvalidArgument);
    let err = IdMap::parse("0 0 1\n\n").unwrap_err();
    assert!(matches!(err, Error::Parse { line: 2, .. }), "{err}");
    let err = IdMap::parse("0 +1 1").unwrap_err();
    assert!(err.to_string().contains("sign"), "{err}");
}

#[test]
fn numbers_are_read_modulo_2_pow_32_like_the_kernel() {
    let map = IdMap::parse("4294967296 4294968296 1").unwrap();
    assert_eq!(map.to_string(), "0 1000 1\n");
    let map = IdMap::parse("18446744073709551617 0 1").unwrap();
    assert_eq!(map.to_string(), "1 0 1\n");
}

#[test]
fn long_text_is_refused_before_parsing() {
    let text = format!("{}0 0 1", " ".repeat(MAX_TEXT_LEN - 4));
    let err = IdMap::parse(&text).unwrap_err();
    assert!(
        matches!(
            err,
            Error::TextTooLong {
                bytes: 4096,
                limit: 4095,
                first_over: 0
            }
        ),
        "{err}"
    );
}

#[test]
fn a_full_write_without_final_newline_round_trips_through_the_writer() {
    require!(Feature::Root, Feature::UserNs);
    let text = full_text_without_final_newline();
    let map = IdMap::parse(&text).unwrap();
    // Its canonical text is one byte over the limit with the newline...
    assert_eq!(map.text_len(), MAX_TEXT_LEN + 1);
    assert_eq!(map.write_text(), text);
    // ...and the writer leaves the newline out, so the kernel takes it.
    let shown = Fork::new().run(move || {
        let child = spawn_ns_child(|| 0);
        MapWriter::new()
            .uid_map(map.clone())
            .mode(WriteMode::Privileged)
            .write(child.pid)
            .expect("write the map");
        let shown = read_uid_map(Some(child.pid)).unwrap().unwrap();
        shown == map
    });
    assert!(shown, "the kernel shows another map");
}

/// Texts from the small alphabet of digits, spaces, tabs and newlines, either
/// character by character or as runs (so that many are valid).
fn text_strategy() -> impl Strategy<Value = String> {
    let runs = prop::collection::vec(
        prop_oneof![
            3 => "[0-9]{1,11}",
            3 => "[ \t]{1,3}",
            1 => Just("\n".to_string()),
        ],
        0..16,
    )
    .prop_map(|parts| parts.concat());
    prop_oneof!["[0-9 \t\n]{0,24}", runs]
}

#[test]
fn random_texts_are_judged_like_the_kernel() {
    // Root writes as root; an unprivileged run compares validation (EPERM).
    if linception_testkit::available(Feature::Root).is_err() {
        require!(Feature::UnprivilegedUserNs);
    } else {
        require!(Feature::UserNs);
    }
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases: 192,
        ..ProptestConfig::default()
    });
    let result = runner.run(&text_strategy(), |text| {
        let verdict = kernel_verdicts(std::slice::from_ref(&text), false).remove(0);
        agrees(&text, &verdict).map_err(TestCaseError::fail)
    });
    if let Err(failure) = result {
        panic!("{failure}");
    }
}
