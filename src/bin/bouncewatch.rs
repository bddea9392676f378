//! The native `bouncewatch` CLI over the same core as the Worker.
//!
//! ```text
//! bouncewatch classify "<reply>"   one JSON object
//! bouncewatch classify < replies   one JSON object per input line, in order
//! ```

use std::io::{self, BufRead, BufWriter, Write};
use std::process::ExitCode;

use bouncewatch::classify::classify;

const USAGE: &str =
    "usage: bouncewatch classify [\"<smtp reply>\"]   (no reply: one reply per stdin line)";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("classify") => report(classify_command(&args[1..])),
        _ => usage(),
    }
}

fn classify_command(args: &[String]) -> io::Result<()> {
    let mut out = BufWriter::new(io::stdout().lock());
    if args.is_empty() {
        for line in io::stdin().lock().lines() {
            write_json_line(&mut out, &line?)?;
        }
    } else {
        write_json_line(&mut out, &args.join(" "))?;
    }
    out.flush()
}

fn write_json_line(out: &mut impl Write, reply: &str) -> io::Result<()> {
    serde_json::to_writer(&mut *out, &classify(reply))?;
    writeln!(out)
}

fn report(result: io::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // A closed pipe (`| head`) is the reader's choice, not our failure.
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bouncewatch: {e}");
            ExitCode::FAILURE
        }
    }
}

fn usage() -> ExitCode {
    eprintln!("{USAGE}");
    ExitCode::from(2)
}
