//! The built `bouncewatch` binary, run as a user would.

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn bouncewatch(args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_bouncewatch"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    child.stdin.take().expect("stdin is piped").write_all(stdin.as_bytes()).expect("stdin accepts input");
    child.wait_with_output().expect("the binary finishes")
}

#[test]
fn classify_with_an_argument_prints_one_json_object() {
    let out = bouncewatch(&["classify", "451 4.3.0 greylisted, please retry in 60 seconds"], "");
    assert!(out.status.success());
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("stdout is JSON");
    assert_eq!(json["category"], "greylisted");
    assert_eq!(json["smtp_code"], 451);
    assert_eq!(json["enhanced_code"], "4.3.0");
    assert_eq!(json["rule"], "text.greylisting");
}

#[test]
fn classify_without_an_argument_answers_each_stdin_line_in_order() {
    let out = bouncewatch(&["classify"], "550 5.1.1 user unknown\n552 5.2.2 mailbox full\n\nConnection timed out\n");
    assert!(out.status.success());
    let categories: Vec<String> = String::from_utf8(out.stdout)
        .expect("stdout is UTF-8")
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("each line is JSON")["category"].to_string())
        .collect();
    assert_eq!(categories, ["\"mailbox_unknown\"", "\"mailbox_full\"", "\"unclassified\"", "\"expired\""]);
}

#[test]
fn unknown_subcommand_exits_2_with_usage() {
    let out = bouncewatch(&["frobnicate"], "");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("usage: bouncewatch classify"));
    assert_eq!(bouncewatch(&[], "").status.code(), Some(2));
}
