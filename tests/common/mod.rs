//! Fixture loading shared by the table tests. The fixtures are copies (see
//! `tests/fixtures/replies/SOURCES.md`), so the tests run without `/work/shared`.

#![allow(dead_code)] // each test binary uses a different part of this module

use std::path::PathBuf;

/// The rows of a TSV fixture, header skipped, split on tabs.
pub fn tsv(name: &str) -> Vec<Vec<String>> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/replies")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .skip(1)
        .filter(|l| !l.is_empty())
        .map(|l| l.split('\t').map(str::to_owned).collect())
        .collect()
}

/// Turns one of KumoMTA's reply regexes into a concrete reply it matches, deterministically: anchors
/// and look-aheads dropped, `.+`/`.*` become a short filler, `\d+` a digit, escapes their character,
/// `(a|b)` its first alternative, and `x?`/`x*` keep `x`.
pub fn deregex(pattern: &str) -> String {
    let mut out = String::new();
    let chars: Vec<char> = pattern.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '^' | '$' | '?' | '*' | '+' => i += 1,
            '.' if matches!(chars.get(i + 1), Some('+' | '*')) => {
                out.push_str(" x ");
                i += 2;
            }
            '\\' => {
                match chars.get(i + 1) {
                    Some('d') => out.push('1'),
                    Some(&c) => out.push(c),
                    None => {}
                }
                i += 2;
            }
            '(' if chars.get(i + 1) == Some(&'?') => {
                // A look-around: skip to its closing parenthesis.
                while i < chars.len() && chars[i] != ')' {
                    i += 1;
                }
                i += 1;
            }
            '(' => {
                // Keep the first alternative, drop the rest of the group.
                let close = (i..chars.len())
                    .find(|&j| chars[j] == ')')
                    .unwrap_or(chars.len());
                let group: String = chars[i + 1..close].iter().collect();
                out.push_str(&deregex(group.split('|').next().unwrap_or("")));
                i = close + 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    out
}
