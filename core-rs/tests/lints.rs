//! The core must not panic: a panic traps the wasm instance and every connection in it. The lints in
//! Cargo.toml deny the constructs that panic (CI runs clippy with warnings as errors); this test makes
//! sure they stay denied and that no source file quietly allows them again.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::path::Path;

const DENIED: &[&str] = &["unwrap_used", "expect_used", "panic", "indexing_slicing", "unreachable", "todo", "unimplemented"];

#[test]
fn panicking_constructs_are_denied_in_cargo_toml() {
    let manifest = fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml")).unwrap();
    let clippy = manifest.split("[lints.clippy]").nth(1).expect("a [lints.clippy] table");
    for lint in DENIED {
        assert!(clippy.lines().any(|l| l.replace(' ', "") == format!("{lint}=\"deny\"")), "clippy::{lint} is not denied");
    }
    assert!(manifest.contains("unsafe_code = \"forbid\""), "unsafe code must stay forbidden");
}

#[test]
fn no_source_file_allows_them_back() {
    fn visit(dir: &Path, found: &mut Vec<String>) {
        for entry in fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                visit(&path, found);
                continue;
            }
            let text = fs::read_to_string(&path).unwrap();
            for (n, line) in text.lines().enumerate() {
                let allows = line.contains("allow(") && DENIED.iter().any(|l| line.contains(&format!("clippy::{l}")));
                // The one exception: unit tests (cfg(test)) may unwrap.
                if allows && !line.contains("cfg_attr(test, allow(") {
                    found.push(format!("{}:{}: {}", path.display(), n + 1, line.trim()));
                }
            }
        }
    }
    let mut found = Vec::new();
    visit(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"), &mut found);
    assert!(found.is_empty(), "panicking lints allowed in core sources:\n{}", found.join("\n"));
}
