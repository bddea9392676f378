//! A request body read in chunks with a cap, whatever its framing: `Content-Length` may be absent
//! (chunked transfer) or lie, so the shell stops reading once the body passes the limit, holding at most
//! the limit plus one chunk, and answers 413.

use crate::error::AppError;

/// The body read so far, refused as soon as it passes `limit` bytes.
#[derive(Debug)]
pub struct BoundedBody {
    limit: usize,
    bytes: Vec<u8>,
}

impl BoundedBody {
    pub fn new(limit: usize) -> Self {
        BoundedBody { limit, bytes: Vec::new() }
    }

    /// Appends one chunk; a 413 once the body is over the limit, and nothing more should be read.
    pub fn push(&mut self, chunk: &[u8]) -> Result<(), AppError> {
        if chunk.len() > self.limit - self.bytes.len() {
            return Err(too_large(self.limit));
        }
        self.bytes.extend_from_slice(chunk);
        Ok(())
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }
}

/// The 413 for a body over `limit` bytes, declared or read.
pub fn too_large(limit: usize) -> AppError {
    AppError::PayloadTooLarge(format!("body over {limit} bytes"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_body_of_exactly_the_limit_is_read_whole() {
        let mut body = BoundedBody::new(10);
        for chunk in [&b"abcd"[..], b"", b"efghij"] {
            body.push(chunk).expect("within the limit");
        }
        assert_eq!(body.into_bytes(), b"abcdefghij");
    }

    #[test]
    fn one_byte_over_the_limit_is_413_whatever_the_chunking() {
        for chunks in [vec![11], vec![10, 1], vec![1; 11], vec![5, 0, 6]] {
            let mut body = BoundedBody::new(10);
            let refused = chunks.iter().map(|&n| body.push(&vec![b'x'; n])).find_map(Result::err);
            assert_eq!(refused.map(|e| e.status()), Some(413), "{chunks:?}");
        }
    }
}
