//! The native `bouncewatch` CLI over the same core as the Worker.
//!
//! ```text
//! bouncewatch classify [--kind K] "<reply>"   one JSON object (K: deferred, bounced, dropped, delivered)
//! bouncewatch classify [--kind K] < replies   one JSON object per input line, in order
//! bouncewatch parse --esp <name> [FILE]   one JSON line per normalized event (no signature check)
//! ```

use std::io::{self, BufRead, BufWriter, Read, Write};
use std::process::ExitCode;

use bouncewatch::classify::{classify_as, kind_from_name};
use bouncewatch::esp::{self, Delivery};
use bouncewatch::event::Esp;

const USAGE: &str = "usage: bouncewatch classify [--kind deferred|bounced|dropped|delivered] [\"<smtp reply>\"]   (no reply: one reply per stdin line)
       bouncewatch parse --esp <name> [FILE]   (no FILE: the body from stdin)";

/// A command's failure: a bad invocation or input (exit 2), or an I/O error (exit 1).
enum Failure {
    Usage(String),
    Io(io::Error),
}

impl From<io::Error> for Failure {
    fn from(err: io::Error) -> Self {
        Failure::Io(err)
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let rest = args.get(1..).unwrap_or_default();
    let result = match args.first().map(String::as_str) {
        Some("classify") => classify_command(rest),
        Some("parse") => parse_command(rest),
        _ => Err(Failure::Usage(USAGE.to_owned())),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // A closed pipe (`| head`) is the reader's choice, not our failure.
        Err(Failure::Io(e)) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(Failure::Io(e)) => {
            eprintln!("bouncewatch: {e}");
            ExitCode::FAILURE
        }
        Err(Failure::Usage(message)) => {
            eprintln!("bouncewatch: {message}");
            ExitCode::from(2)
        }
    }
}

fn classify_command(args: &[String]) -> Result<(), Failure> {
    let (kind, args) = match args {
        [flag, name, rest @ ..] if flag == "--kind" => {
            let kind = kind_from_name(name).ok_or_else(|| {
                Failure::Usage(format!("unknown kind {name:?}; one of: deferred, bounced, dropped, delivered"))
            })?;
            (Some(kind), rest)
        }
        [flag] if flag == "--kind" => return Err(Failure::Usage(format!("--kind needs a value\n{USAGE}"))),
        _ => (None, args),
    };
    let mut out = BufWriter::new(io::stdout().lock());
    if args.is_empty() {
        for line in io::stdin().lock().lines() {
            write_json_line(&mut out, &classify_as(&line?, kind))?;
        }
    } else {
        write_json_line(&mut out, &classify_as(&args.join(" "), kind))?;
    }
    Ok(out.flush()?)
}

fn parse_command(args: &[String]) -> Result<(), Failure> {
    let usage = |message: String| Failure::Usage(format!("{message}\n{USAGE}"));
    let (mut esp_name, mut file) = (None, None);
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        match arg.as_str() {
            "--esp" => esp_name = rest.next(),
            _ if file.is_none() && !arg.starts_with("--") => file = Some(arg),
            _ => return Err(usage(format!("unexpected argument {arg:?}"))),
        }
    }
    let esp_name = esp_name.ok_or_else(|| usage("--esp is required".into()))?;
    let known: Vec<&str> = Esp::ALL.iter().map(|e| e.as_str()).collect();
    let esp = Esp::from_name(esp_name)
        .ok_or_else(|| Failure::Usage(format!("unknown ESP {esp_name:?}; one of: {}", known.join(", "))))?;
    let body = match file {
        Some(path) => std::fs::read(path).map_err(|e| Failure::Usage(format!("cannot read {path}: {e}")))?,
        None => {
            let mut body = Vec::new();
            io::stdin().read_to_end(&mut body)?;
            body
        }
    };
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let events =
        esp::parse(esp, &Delivery { body: &body, headers: &[], now }).map_err(|e| Failure::Usage(e.to_string()))?;
    let mut out = BufWriter::new(io::stdout().lock());
    for event in &events {
        write_json_line(&mut out, event)?;
    }
    Ok(out.flush()?)
}

fn write_json_line(out: &mut impl Write, value: &impl serde::Serialize) -> io::Result<()> {
    serde_json::to_writer(&mut *out, value)?;
    writeln!(out)
}
