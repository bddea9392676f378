//! The native CLI over the same core as the Worker.
//!
//! `bouncewatch parse --esp <name> [FILE]`: normalize a raw webhook body (file or stdin) and print one
//! JSON line per event, without checking any signature (a debugging tool for a pasted payload).

use std::io::{Read, Write};
use std::process::ExitCode;

use bouncewatch::esp::{self, Delivery};
use bouncewatch::event::Esp;

const USAGE: &str = "usage: bouncewatch parse --esp <name> [FILE]";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("parse") => parse(args.get(1..).unwrap_or_default()),
        _ => Err(USAGE.to_owned()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("bouncewatch: {message}");
            ExitCode::from(2)
        }
    }
}

/// `parse --esp <name> [FILE]`.
fn parse(args: &[String]) -> Result<(), String> {
    let (mut esp_name, mut file) = (None, None);
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        match arg.as_str() {
            "--esp" => esp_name = rest.next(),
            _ if file.is_none() && !arg.starts_with("--") => file = Some(arg),
            _ => return Err(format!("unexpected argument {arg:?}\n{USAGE}")),
        }
    }
    let esp_name = esp_name.ok_or_else(|| format!("--esp is required\n{USAGE}"))?;
    let known: Vec<&str> = Esp::ALL.iter().map(|e| e.as_str()).collect();
    let esp =
        Esp::from_name(esp_name).ok_or_else(|| format!("unknown ESP {esp_name:?}; one of: {}", known.join(", ")))?;
    let mut body = Vec::new();
    match file {
        Some(path) => body = std::fs::read(path).map_err(|e| format!("cannot read {path}: {e}"))?,
        None => {
            std::io::stdin().read_to_end(&mut body).map_err(|e| format!("cannot read stdin: {e}"))?;
        }
    }
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let events = esp::parse(esp, &Delivery { body: &body, headers: &[], now }).map_err(|e| e.to_string())?;
    let mut out = std::io::stdout().lock();
    for event in events {
        let line = serde_json::to_string(&event).map_err(|e| e.to_string())?;
        writeln!(out, "{line}").map_err(|e| e.to_string())?;
    }
    Ok(())
}
