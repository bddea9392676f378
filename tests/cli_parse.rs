//! `bouncewatch parse --esp <name> [FILE]`: JSON lines on success, exit 2 with a message otherwise.

use std::io::Write;
use std::process::{Command, Output, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_bouncewatch");
const SAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/webhooks/samples");

fn run(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(BIN)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // A command refused before it reads stdin closes the pipe: that write failing is expected.
    if let Err(err) = child.stdin.take().unwrap().write_all(stdin) {
        assert_eq!(err.kind(), std::io::ErrorKind::BrokenPipe, "{err}");
    }
    child.wait_with_output().unwrap()
}

#[test]
fn parses_a_file_into_json_lines() {
    let output = run(&["parse", "--esp", "mailjet", &format!("{SAMPLES}/mailjet_sent_batch_docs.json")], b"");
    assert!(output.status.success());
    let lines: Vec<serde_json::Value> =
        String::from_utf8(output.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["kind"], "delivered");
    assert_eq!(lines[0]["recipient_domain"], "mailjet.com");
}

#[test]
fn parses_stdin() {
    let body = std::fs::read(format!("{SAMPLES}/sendgrid_bounce_anymail.json")).unwrap();
    let output = run(&["parse", "--esp", "sendgrid"], &body);
    assert!(output.status.success());
    assert!(String::from_utf8(output.stdout).unwrap().contains(r#""smtp_code":550"#));
}

#[test]
fn malformed_body_unknown_esp_and_bad_usage_exit_2_with_a_message() {
    for (args, stdin, needle) in [
        (&["parse", "--esp", "sendgrid"][..], &b"{oops"[..], "SendGrid body must be a JSON array"),
        (&["parse", "--esp", "mailpro"][..], &b"[]"[..], "unknown ESP"),
        (&["parse"][..], &b""[..], "--esp is required"),
        (&[][..], &b""[..], "usage"),
    ] {
        let output = run(args, stdin);
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        assert!(String::from_utf8_lossy(&output.stderr).contains(needle), "{args:?}");
    }
}
