//! JSON text parsed through the byte reader. serde_json compiles every `Deserialize` impl once per reader,
//! so a type parsed both with `from_str` and with `from_slice` (a stored detector state and the same
//! state in a request body, say) had two copies of its whole deserializer in the Worker, whose gzip size
//! is limited to 500 KB. Request and answer bodies are bytes; text goes through the same reader.

/// As `serde_json::from_str(text)`: the same value or error, through `from_slice`.
pub fn parse<'a, T: serde::Deserialize<'a>>(text: &'a str) -> serde_json::Result<T> {
    serde_json::from_slice(text.as_bytes())
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    #[test]
    fn parses_and_fails_as_from_str_does() {
        for text in ["{\"a\":[1,2.5,\"é\\u00e9\"]}", "", "{", "[1,]", "\"unterminated", "{\"a\":1}x", "nul"] {
            let ours = super::parse::<Value>(text).map_err(|e| e.to_string());
            assert_eq!(ours, serde_json::from_str::<Value>(text).map_err(|e| e.to_string()), "{text:?}");
        }
    }
}
