//! Every literal of the rule tables found in one pass over a reply's text.
//!
//! Rather than search the text once per literal (~500 of them), one pass visits every other position of
//! the text and asks whether a literal could be anchored there; only where one could are the literals
//! compared in place. A literal is anchored at two consecutive offsets, so wherever it occurs one of
//! them falls on a position the pass visits: half the positions, at the price of twice the anchors.
//!
//! A position passes (see [`Prefilter`]) if its four bytes are those of some literal of at least
//! [`LONG`] bytes from one of its anchors on (a hashed bit test), or if its byte pair anchors one of the
//! shorter literals, which have no four bytes after both anchors (a bit test). Where a position passes,
//! its anchors are listed by those bytes and each costs one compare of a word. The literals of two
//! bytes, which the positions visited may straddle, are found by a search of their own.
//!
//! Measured on the corpus (1,134 replies, 139 bytes on average, 2026-12): of about 70 positions a reply
//! visits, 8 pass and 10 anchors are compared, of which 2.6 are occurrences. The pass before this one
//! visited every position, anchored on the rarest byte pair alone: 17 positions passed, 42 anchors were
//! compared.

use std::collections::HashMap;
use std::ops::Range;

/// How many literals the tables may hold; [`Found`] is a fixed bit set so that matching allocates
/// nothing.
pub const MAX_LITERALS: usize = 640;

/// The literals that occur in a text, by id: found in one pass, so that every rule's literal
/// conditions are bit tests.
pub struct Found {
    pub(super) literals: [u64; MAX_LITERALS / 64],
}

impl Found {
    pub fn has(&self, id: usize) -> bool {
        self.literals[id / 64] & (1 << (id % 64)) != 0
    }

    fn set(&mut self, id: usize) {
        self.literals[id / 64] |= 1 << (id % 64);
    }

    /// Whether any literal numbered `range` occurs: a rule's `any` literals are numbered consecutively,
    /// so this costs a word or two of bit tests.
    pub fn any_in(&self, range: &Range<usize>) -> bool {
        if range.is_empty() {
            return false;
        }
        let (first, last) = (range.start / 64, (range.end - 1) / 64);
        (first..=last).any(|word| {
            let low = if word == first { range.start % 64 } else { 0 };
            let high = if word == last { (range.end - 1) % 64 } else { 63 };
            let mask = (u64::MAX >> (63 - high)) & (u64::MAX << low);
            self.literals[word] & mask != 0
        })
    }
}

/// The literals of the rule tables, numbered by their position in the list given to [`Literals::new`].
#[derive(Debug)]
pub struct Literals {
    prefilter: Prefilter,
    /// The anchors of the literals of at least [`LONG`] bytes, by the hash of their four bytes.
    by_quad: Index,
    /// The anchors of the shorter literals, by the hash of their pair.
    by_pair: Index,
    /// The literals of two bytes, each searched for on its own.
    pairs_alone: Vec<([u8; 2], u16)>,
}

/// Literal `id` starts `offset` bytes before an anchor whose first bytes are `key` (four for a literal
/// of at least [`LONG`] bytes, else two) wherever the literal occurs. The literal is kept with its
/// anchor, so a position that passes the prefilter costs one compare per anchor listed under its hash.
#[derive(Debug)]
struct Anchor {
    literal: Literal,
    key: u32,
    id: u16,
    offset: u16,
}

/// Literals this long have four bytes after both anchors.
const LONG: usize = 5;

/// A literal, with its first (up to) eight bytes as a word: most anchor hits that are not occurrences
/// differ there, and one masked compare is far cheaper than a `memcmp` call.
#[derive(Debug)]
struct Literal {
    bytes: &'static [u8],
    head: u64,
    head_mask: u64,
}

impl Literal {
    fn new(text: &'static str) -> Literal {
        let bytes = text.as_bytes();
        let mut head = [0u8; 8];
        let head_len = bytes.len().min(8);
        head[..head_len].copy_from_slice(&bytes[..head_len]);
        let head_mask = if head_len == 8 { u64::MAX } else { (1u64 << (8 * head_len)) - 1 };
        Literal { bytes, head: u64::from_le_bytes(head), head_mask }
    }

    fn occurs_at(&self, text: &[u8], start: usize) -> bool {
        let Some(rest) = text.get(start..) else { return false };
        match rest.first_chunk::<8>() {
            Some(&word) => {
                u64::from_le_bytes(word) & self.head_mask == self.head
                    && rest[8..].starts_with(self.bytes.get(8..).unwrap_or_default())
            }
            None => rest.starts_with(self.bytes),
        }
    }
}

/// Anchors listed by a 12-bit hash of their key, so the index stays in L1 cache; a collision only
/// costs a compare.
#[derive(Debug)]
struct Index {
    /// For slot `s`, its anchors are `anchors[starts[s]..starts[s + 1]]`.
    starts: Vec<u32>,
    anchors: Vec<Anchor>,
}

const INDEX_SLOTS: usize = 1 << 12;

impl Index {
    fn new(mut anchors: Vec<Anchor>) -> Index {
        crate::sort::sort_by_key(&mut anchors, |anchor| (index_slot(anchor.key), anchor.id));
        let mut starts = vec![0u32; INDEX_SLOTS + 1];
        for anchor in &anchors {
            starts[index_slot(anchor.key) + 1] += 1;
        }
        for slot in 1..starts.len() {
            starts[slot] += starts[slot - 1];
        }
        Index { starts, anchors }
    }

    /// Marks in `found` each literal anchored on `key` that occurs with its anchor at `at`.
    fn find(&self, key: u32, text: &[u8], at: usize, found: &mut Found) {
        let slot = index_slot(key);
        for anchor in &self.anchors[self.starts[slot] as usize..self.starts[slot + 1] as usize] {
            let occurs = anchor.key == key
                && at
                    .checked_sub(usize::from(anchor.offset))
                    .is_some_and(|start| anchor.literal.occurs_at(text, start));
            if occurs {
                found.set(usize::from(anchor.id));
            }
        }
    }
}

fn hash(key: u32) -> u32 {
    key.wrapping_mul(0x9E37_79B1)
}

fn index_slot(key: u32) -> usize {
    (hash(key) >> 20) as usize
}

impl Literals {
    /// `samples` are real replies: each literal is anchored where its bytes are rare in them.
    /// Panics on a literal shorter than a pair, or on more than [`MAX_LITERALS`]: literals are static
    /// table data, checked by the test suite.
    pub fn new<'a>(literals: &[&'static str], samples: impl Iterator<Item = &'a str>) -> Literals {
        assert!(literals.len() <= MAX_LITERALS, "raise MAX_LITERALS to {}", literals.len());
        let counts = Counts::new(samples);
        let (mut long, mut short, mut pairs_alone) = (Vec::new(), Vec::new(), Vec::new());
        for (id, &text) in literals.iter().enumerate() {
            let (bytes, id) = (text.as_bytes(), id as u16);
            assert!(bytes.len() >= 2, "literal {text:?} is too short");
            if let &[first, second] = bytes {
                pairs_alone.push(([first, second], id));
                continue;
            }
            let key_len = if bytes.len() >= LONG { 4 } else { 2 };
            let offset = rarest_anchors(bytes, key_len, &counts);
            for offset in [offset, offset + 1] {
                let mut key = [0u8; 4];
                key[..key_len].copy_from_slice(&bytes[offset..offset + key_len]);
                let anchor =
                    Anchor { literal: Literal::new(text), key: u32::from_le_bytes(key), id, offset: offset as u16 };
                if key_len == 4 {
                    long.push(anchor)
                } else {
                    short.push(anchor)
                }
            }
        }
        Literals {
            prefilter: Prefilter::new(&long, &short),
            by_quad: Index::new(long),
            by_pair: Index::new(short),
            pairs_alone,
        }
    }

    /// Which literals occur in `text`.
    pub fn find(&self, text: &[u8]) -> Found {
        let mut found = Found { literals: [0; MAX_LITERALS / 64] };
        let mut from = 0;
        while let Some(at) = self.prefilter.next(text, from) {
            let window = window_at(text, at);
            let (quad, pair) = (window as u32, window as u16);
            if has(&self.prefilter.quads[..], quad_bit(quad)) {
                self.by_quad.find(quad, text, at, &mut found);
            }
            if has(&self.prefilter.short[..], usize::from(pair)) {
                self.by_pair.find(u32::from(pair), text, at, &mut found);
            }
            // The pass visits every other position: see the module docs.
            from = at + 2;
        }
        for &([first, second], id) in &self.pairs_alone {
            if memchr::memchr_iter(first, text).any(|at| text.get(at + 1) == Some(&second)) {
                found.set(usize::from(id));
            }
        }
        found
    }
}

/// The eight bytes of `text` from `at` on, little-endian, padded with zeros past its end: a key that
/// runs past the end may pass a test by a collision, which only costs a compare, but one that a literal
/// starts is whole.
fn window_at(text: &[u8], at: usize) -> u64 {
    let rest = text.get(at..).unwrap_or_default();
    if let Some(&bytes) = rest.first_chunk::<8>() {
        return u64::from_le_bytes(bytes);
    }
    let mut bytes = [0u8; 8];
    let len = rest.len().min(8);
    bytes[..len].copy_from_slice(&rest[..len]);
    u64::from_le_bytes(bytes)
}

/// The tests of the one pass, made at every other position of the text: could a literal be anchored
/// here? Its four bytes are tested against a hashed set of the long literals' own four bytes at their
/// anchors, and its pair against the pairs anchoring the short ones. Both tests are made at every
/// position, without a branch between them: a pair that anchors some long literal occurs at more than
/// half the positions of the corpus's replies, so testing it first saved nothing.
#[derive(Debug)]
struct Prefilter {
    /// The pairs that anchor a literal shorter than [`LONG`]: where one occurs, its anchors are looked
    /// up by the pair alone.
    short: Box<[u64; PAIRS / 64]>,
    /// The hashed keys of the long literals' anchors (see [`quad_bit`]).
    quads: Box<[u64; QUAD_BITS / 64]>,
}

/// Every byte pair, for the exact set of the short literals' anchors (8 KiB).
const PAIRS: usize = 1 << 16;

/// The quads' hashed set has ~1,000 members in 32 K bits (4 KiB, with the pairs' 8 KiB in L1 cache): a
/// position that anchors nothing passes by a collision about once in thirty; in the corpus, about one
/// position in eleven passes.
const QUAD_BITS: usize = 1 << 15;

fn quad_bit(quad: u32) -> usize {
    (hash(quad) >> 17) as usize
}

fn has(set: &[u64], bit: usize) -> bool {
    set[bit / 64] & (1 << (bit % 64)) != 0
}

fn insert(set: &mut [u64], bit: usize) {
    set[bit / 64] |= 1 << (bit % 64);
}

impl Prefilter {
    fn new(long: &[Anchor], short: &[Anchor]) -> Prefilter {
        let mut filter = Prefilter { short: Box::new([0; PAIRS / 64]), quads: Box::new([0; QUAD_BITS / 64]) };
        for anchor in long {
            insert(&mut filter.quads[..], quad_bit(anchor.key));
        }
        for anchor in short {
            insert(&mut filter.short[..], usize::from(anchor.key as u16));
        }
        filter
    }

    /// The first position of `from`, `from + 2`, … that may anchor a literal. Kept out of line on
    /// purpose: this loop runs on every reply, and inlined into the matcher it lost its registers to the
    /// code around it and cost twice the instructions per byte.
    #[inline(never)]
    fn next(&self, text: &[u8], from: usize) -> Option<usize> {
        // Eight bytes are read at once and the pairs and quads of three positions shifted out of the
        // word (which is why they are little-endian): one load and one loop test for six bytes.
        let mut at = from;
        while let Some(&bytes) = text.get(at..).and_then(<[u8]>::first_chunk::<8>) {
            let word = u64::from_le_bytes(bytes);
            if let Some(k) = [0, 2, 4].into_iter().find(|&k| self.may_anchor(word >> (8 * k))) {
                return Some(at + k);
            }
            at += 6;
        }
        let rest = text.get(at..)?;
        let word = window_at(text, at);
        (0..rest.len().saturating_sub(1)).step_by(2).find(|&k| self.may_anchor(word >> (8 * k))).map(|k| at + k)
    }

    /// Whether the position whose bytes start `window` passes either test.
    fn may_anchor(&self, window: u64) -> bool {
        has(&self.quads[..], quad_bit(window as u32)) | has(&self.short[..], usize::from(window as u16))
    }
}

/// How rare a byte pair is in reply text by its letters, for pairs equally frequent in the examples:
/// letters by English frequency, while spaces, digits and the punctuation of addresses and IPs are
/// everywhere.
fn rarity(pair: [u8; 2]) -> usize {
    const COMMON_FIRST: &[u8] = b" .0123456789etaoinsrhl[]:<>@-/()dcumfpgwybvkxjqz";
    let commonness = |b: u8| COMMON_FIRST.iter().position(|&c| c == b).unwrap_or(COMMON_FIRST.len());
    commonness(pair[0]) + commonness(pair[1])
}

/// How often each byte pair and each four bytes occur in `samples`, as the classifier sees them
/// (normalized). The rules' own examples are real replies: a literal anchored where its bytes are rare in
/// them is compared rarely, while an anchor on "e " or on "cipi" (of every "recipient") would make the
/// pass stop at nearly every word.
struct Counts {
    pairs: Vec<u32>,
    quads: HashMap<u32, u32>,
}

impl Counts {
    fn new<'a>(samples: impl Iterator<Item = &'a str>) -> Counts {
        let mut counts = Counts { pairs: vec![0; PAIRS], quads: HashMap::new() };
        for sample in samples {
            let text = crate::reply::parse(sample).text;
            for w in text.as_bytes().windows(2) {
                counts.pairs[usize::from(u16::from_le_bytes([w[0], w[1]]))] += 1;
            }
            for w in text.as_bytes().windows(4) {
                *counts.quads.entry(u32::from_le_bytes([w[0], w[1], w[2], w[3]])).or_default() += 1;
            }
        }
        counts
    }

    fn pair(&self, bytes: &[u8]) -> u32 {
        self.pairs[usize::from(u16::from_le_bytes([bytes[0], bytes[1]]))]
    }

    fn quad(&self, bytes: &[u8]) -> u32 {
        bytes.first_chunk::<4>().map_or(0, |&quad| self.quads.get(&u32::from_le_bytes(quad)).copied().unwrap_or(0))
    }
}

/// Where a literal's two anchors start (this offset and the next, each followed by the rest of its
/// `key_len` bytes in the literal): where the commoner of their keys is least common in the samples, then
/// where their letters are rarest.
fn rarest_anchors(literal: &[u8], key_len: usize, counts: &Counts) -> usize {
    let key =
        |offset: usize| if key_len == 4 { counts.quad(&literal[offset..]) } else { counts.pair(&literal[offset..]) };
    let letters = |offset: usize| rarity([literal[offset], literal[offset + 1]]);
    (0..literal.len() - key_len)
        .min_by_key(|&offset| {
            (key(offset).max(key(offset + 1)), std::cmp::Reverse(letters(offset) + letters(offset + 1)), offset)
        })
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What [`Literals::find`] computes, written the obvious way.
    fn found_by_definition(literals: &[&str], text: &str) -> Vec<usize> {
        (0..literals.len()).filter(|&id| text.contains(literals[id])).collect()
    }

    fn found(literals: &Literals, count: usize, text: &str) -> Vec<usize> {
        let found = literals.find(text.as_bytes());
        (0..count).filter(|&id| found.has(id)).collect()
    }

    #[test]
    fn every_length_is_found_at_every_offset_and_at_the_very_end() {
        // Two, three and four bytes (found by their pair alone), five and more (by their four bytes):
        // each wherever it starts relative to the positions the pass visits and the words it reads.
        let list: [&'static str; 6] = ["vs", "rbl", "junk", "spam!", "refused to talk to me", "abcdefghijklmnopq"];
        let literals = Literals::new(&list, std::iter::empty());
        for literal in list {
            for padding in 0..20 {
                for tail in ["", "x", "xxxxxxx"] {
                    let text = format!("{}{literal}{tail}", "x".repeat(padding));
                    assert_eq!(found(&literals, list.len(), &text), found_by_definition(&list, &text), "{text}");
                }
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn the_one_pass_finds_what_a_search_per_literal_finds(text in "[abc ]{0,40}") {
            // A small alphabet, so the literals overlap and recur, and their pairs and quads collide.
            let list: [&'static str; 9] = ["ab", "ba", "abc", "cab", "a b", "abca", "bcab ", "cc ab", "abcabcab"];
            let literals = Literals::new(&list, ["abc abc", "cab"].into_iter());
            proptest::prop_assert_eq!(found(&literals, list.len(), &text), found_by_definition(&list, &text));
        }
    }
}
