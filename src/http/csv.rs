//! `text/csv` answers for the read API's lists, chosen with `?format=csv` or `Accept: text/csv`, so the
//! counts open in a spreadsheet or load with any CSV reader.
//!
//! A table is rendered from the very rows the JSON answer serializes (through their `Serialize`), picking
//! columns by their JSON names, so the two formats cannot say different things. Writing CSV is quoting and
//! one escape (RFC 4180 §2), which is why there is no CSV crate here; the tests read every table back with
//! one.
//!
//! Domain names come from ESP payloads and so from whoever sent the mail: a cell that a spreadsheet would
//! run as a formula (`=`, `+`, `-`, `@`, tab or carriage return first; OWASP's "CSV Injection") is written
//! with a `'` in front, which spreadsheets show and never evaluate.

use serde::Serialize;
use serde_json::Value;

use crate::classify::Category;
use crate::error::AppError;

use super::{HttpRequest, HttpResponse};

/// The media type of every CSV answer; `header=present` (RFC 4180 §3) says the first record names the
/// columns.
pub const CONTENT_TYPE: &str = "text/csv; charset=utf-8; header=present";

/// What a read route answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Csv,
}

impl Format {
    /// The values `?format=` takes, which the OpenAPI document lists (checked in `openapi/tests.rs`).
    #[cfg(test)]
    pub const NAMES: [&'static str; 2] = ["json", "csv"];

    /// `?format=json|csv` when given; otherwise CSV when `Accept` ranks `text/csv` above `application/json`
    /// (naming only the one, or giving it the higher `q`). Wildcards and ties get JSON, the API's own format.
    pub fn requested(req: &HttpRequest) -> Result<Format, AppError> {
        match req.query_param("format").as_deref() {
            Some("json") => Ok(Format::Json),
            Some("csv") => Ok(Format::Csv),
            Some(other) => {
                Err(AppError::BadRequest(format!("query parameter `format` must be json or csv, not {other:?}")))
            }
            None => {
                let accept = req.header("accept").unwrap_or_default();
                let csv = quality(accept, "text/csv");
                Ok(if csv > 0 && csv > quality(accept, "application/json") { Format::Csv } else { Format::Json })
            }
        }
    }
}

/// The weight an `Accept` header gives to exactly this media type, in thousandths (RFC 9110 §12.5.1); 0 when
/// it is not named.
fn quality(accept: &str, media_type: &str) -> u16 {
    accept
        .split(',')
        .filter_map(|range| {
            let mut parts = range.split(';');
            let name = parts.next()?.trim();
            name.eq_ignore_ascii_case(media_type).then(|| {
                let mut q = parts.filter_map(|p| p.trim().strip_prefix("q=").or_else(|| p.trim().strip_prefix("Q=")));
                q.next().map_or(1000, |q| qvalue(q.trim()).unwrap_or(0))
            })
        })
        .max()
        .unwrap_or(0)
}

/// `qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )` in thousandths; read as integers, since
/// that grammar is all there is and float parsing would add its tables to the wasm.
fn qvalue(text: &str) -> Option<u16> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    if fraction.len() > 3 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let thousandths =
        fraction.bytes().chain(std::iter::repeat(b'0')).take(3).fold(0, |n, b| n * 10 + u16::from(b - b'0'));
    match whole {
        "0" => Some(thousandths),
        "1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

/// One or more columns of a table, named as in the row's JSON.
#[derive(Debug, Clone, Copy)]
pub enum Column {
    /// A top-level field, one column of the same name.
    Field(&'static str),
    /// A map from category to count, spread over one column per category (every category, in the
    /// taxonomy's order, 0 where the map has none) so that every table of a kind has the same columns.
    Categories(&'static str),
    /// A field of an object field (`previous.attempts`), in a column named `previous_attempts`; empty
    /// when the object is null.
    Within(&'static str, &'static str, &'static str),
    /// The period before and the change ([`COMPARISON`]), as every summary row carries them.
    Comparison,
}

/// The columns of [`Column::Comparison`]: the fields of [`crate::period::Period`] and [`crate::period::Change`].
const COMPARISON: [Column; 11] = [
    Column::Within("previous", "attempts", "previous_attempts"),
    Column::Within("previous", "delivered", "previous_delivered"),
    Column::Within("previous", "deferred", "previous_deferred"),
    Column::Within("previous", "bounced", "previous_bounced"),
    Column::Within("previous", "smtp_451", "previous_smtp_451"),
    Column::Within("previous", "ratio_451", "previous_ratio_451"),
    Column::Within("previous", "ratio_bounced", "previous_ratio_bounced"),
    Column::Within("change", "attempts", "change_attempts"),
    Column::Within("change", "smtp_451", "change_smtp_451"),
    Column::Within("change", "ratio_451", "change_ratio_451"),
    Column::Within("change", "ratio_bounced", "change_ratio_bounced"),
];

/// The columns of `GET /api/domains?format=csv`: one row per domain.
pub const DOMAIN_COLUMNS: &[Column] = &[
    Column::Field("domain"),
    Column::Field("provider"),
    Column::Field("attempts"),
    Column::Field("delivered"),
    Column::Field("deferred"),
    Column::Field("bounced"),
    Column::Field("dropped"),
    Column::Field("smtp_451"),
    Column::Field("ratio_451"),
    Column::Field("deferrals_watched"),
    Column::Field("ratio_watched"),
    Column::Field("status"),
    Column::Categories("categories"),
    Column::Comparison,
];

/// The columns of `GET /api/providers?format=csv`: one row per mailbox provider.
pub const PROVIDER_COLUMNS: &[Column] = &[
    Column::Field("provider"),
    Column::Field("name"),
    Column::Field("domains"),
    Column::Field("attempts"),
    Column::Field("delivered"),
    Column::Field("deferred"),
    Column::Field("bounced"),
    Column::Field("smtp_451"),
    Column::Field("ratio_451"),
    Column::Field("deferrals_watched"),
    Column::Field("ratio_watched"),
    Column::Field("status"),
    Column::Categories("categories"),
    Column::Comparison,
];

/// The columns of `GET /api/domains/{domain}?format=csv` and `GET /api/providers/{provider}?format=csv`:
/// one row per bucket, oldest first (`start` in
/// unix seconds).
pub const BUCKET_COLUMNS: &[Column] = &[
    Column::Field("start"),
    Column::Field("delivered"),
    Column::Field("deferred"),
    Column::Field("bounced"),
    Column::Field("smtp_451"),
    Column::Categories("categories"),
];

/// A 200 `text/csv` answer: a header record, then one record per row, CRLF-terminated (RFC 4180 §2).
/// `filename` is offered for saving (`Content-Disposition`), reduced to characters that need no quoting.
pub fn table<T: Serialize>(columns: &[Column], rows: &[T], filename: &str) -> HttpResponse {
    let mut out = String::new();
    let header: Vec<&str> = columns.iter().flat_map(|column| header_names(*column)).collect();
    write_record(&mut out, header.iter().map(|name| Value::String((*name).to_owned())));
    for row in rows {
        // Our rows are plain structs of numbers, strings and maps: serializing them cannot fail, and a
        // row that somehow did would be written as empty cells rather than panic.
        let row = serde_json::to_value(row).unwrap_or(Value::Null);
        write_record(&mut out, columns.iter().flat_map(|column| cells(&row, *column)));
    }
    let filename: String =
        filename.chars().filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_')).collect();
    HttpResponse {
        status: 200,
        headers: vec![
            ("content-type".into(), CONTENT_TYPE.into()),
            ("content-disposition".into(), format!("attachment; filename=\"{filename}\"")),
        ],
        body: out.into_bytes(),
        log: None,
    }
}

fn header_names(column: Column) -> Vec<&'static str> {
    match column {
        Column::Field(name) | Column::Within(_, _, name) => vec![name],
        Column::Categories(_) => Category::ALL.iter().map(|c| c.as_str()).collect(),
        Column::Comparison => COMPARISON.iter().flat_map(|c| header_names(*c)).collect(),
    }
}

fn cells(row: &Value, column: Column) -> Vec<Value> {
    match column {
        Column::Field(name) => vec![row.get(name).cloned().unwrap_or(Value::Null)],
        Column::Within(parent, name, _) => {
            vec![row.get(parent).and_then(|p| p.get(name)).cloned().unwrap_or(Value::Null)]
        }
        Column::Categories(name) => {
            let counts = row.get(name);
            Category::ALL
                .iter()
                .map(|c| counts.and_then(|m| m.get(c.as_str())).cloned().unwrap_or(Value::from(0)))
                .collect()
        }
        Column::Comparison => COMPARISON.iter().flat_map(|c| cells(row, *c)).collect(),
    }
}

fn write_record(out: &mut String, cells: impl Iterator<Item = Value>) {
    for (i, cell) in cells.enumerate() {
        if i > 0 {
            out.push(',');
        }
        match cell {
            Value::String(text) => write_text(out, &text),
            Value::Null => {}
            Value::Number(n) => out.push_str(&n.to_string()),
            Value::Bool(b) => out.push_str(if b { "true" } else { "false" }),
            // Not in any table today; kept readable rather than dropped if a row ever grows one.
            nested => write_text(out, &nested.to_string()),
        }
    }
    out.push_str("\r\n");
}

/// One text cell: neutralised if a spreadsheet would read it as a formula, then quoted if it holds a
/// comma, a quote or a line break, with each quote doubled (RFC 4180 §2, rules 6 and 7).
fn write_text(out: &mut String, text: &str) {
    let neutralised = text.starts_with(['=', '+', '-', '@', '\t', '\r']);
    let quoted = text.contains([',', '"', '\r', '\n']);
    if quoted {
        out.push('"');
    }
    if neutralised {
        out.push('\'');
    }
    for c in text.chars() {
        if c == '"' {
            out.push('"');
        }
        out.push(c);
    }
    if quoted {
        out.push('"');
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::Method;

    fn rendered(text: &str) -> String {
        let mut out = String::new();
        write_text(&mut out, text);
        out
    }

    #[test]
    fn cells_are_quoted_only_when_rfc_4180_needs_it() {
        assert_eq!(rendered("gmail.com"), "gmail.com");
        assert_eq!(rendered("a,b"), "\"a,b\"");
        assert_eq!(rendered("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(rendered("two\nlines"), "\"two\nlines\"");
        assert_eq!(rendered(" padded "), " padded ");
    }

    #[test]
    fn a_cell_a_spreadsheet_would_evaluate_gets_a_leading_apostrophe() {
        for prefix in ["=", "+", "-", "@", "\t", "\r"] {
            let cell = format!("{prefix}HYPERLINK(\"http://x\")");
            assert!(rendered(&cell).trim_start_matches('"').starts_with('\''), "{cell:?}");
        }
        assert_eq!(rendered("x=1"), "x=1");
    }

    fn format_of(url: &str, accept: Option<&str>) -> Result<Format, AppError> {
        let mut req = HttpRequest::new(Method::Get, url);
        if let Some(accept) = accept {
            req = req.with_header("accept", accept);
        }
        Format::requested(&req)
    }

    #[test]
    fn format_comes_from_the_query_then_from_accept() {
        let table: &[(&str, Option<&str>, Format)] = &[
            ("http://h/api/domains", None, Format::Json),
            ("http://h/api/domains?format=csv", None, Format::Csv),
            ("http://h/api/domains?format=json", Some("text/csv"), Format::Json),
            ("http://h/api/domains", Some("text/csv"), Format::Csv),
            ("http://h/api/domains", Some("TEXT/CSV;q=0.9, */*;q=0.1"), Format::Csv),
            ("http://h/api/domains", Some("*/*"), Format::Json),
            ("http://h/api/domains", Some("text/*"), Format::Json),
            ("http://h/api/domains", Some("text/csv, application/json"), Format::Json),
            ("http://h/api/domains", Some("text/csv;q=1, application/json;q=0.5"), Format::Csv),
            ("http://h/api/domains", Some("text/csv;q=0"), Format::Json),
            ("http://h/api/domains", Some("text/csv;q=nonsense"), Format::Json),
            ("http://h/api/domains", Some("text/csv;q=0.001, application/json;q=0"), Format::Csv),
            ("http://h/api/domains", Some("text/csv;q=0.5, application/json;q=0.499"), Format::Csv),
            ("http://h/api/domains", Some("text/csv;q=1.5, application/json;q=0.1"), Format::Json),
        ];
        for (url, accept, expected) in table {
            assert_eq!(format_of(url, *accept), Ok(*expected), "{url} {accept:?}");
        }
    }

    #[test]
    fn an_unknown_format_is_a_400_naming_the_parameter() {
        let err = format_of("http://h/api/domains?format=xlsx", None).unwrap_err();
        assert_eq!(err.status(), 400);
        assert!(err.message().contains("`format`"), "{err:?}");
    }

    #[test]
    fn the_offered_filename_cannot_break_out_of_its_quotes() {
        let response = table::<Value>(DOMAIN_COLUMNS, &[], "a\"; b=\r\n.csv");
        assert_eq!(response.header("content-disposition"), Some("attachment; filename=\"ab.csv\""));
    }
}
