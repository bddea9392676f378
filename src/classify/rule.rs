//! What a rule is, and how a table of them is matched fast.
//!
//! A rule is a conjunction of cheap conditions: reply codes, literal fragments of the lower-cased text,
//! the SMTP stage, and rarely a regex. Literals are checked first and a regex only runs when they all
//! hold, because regex-lite has no literal optimizations of its own.
//!
//! Rather than search the text once per literal (~400 of them), one pass over the text's byte pairs
//! finds every literal that occurs: each is compared in place only where its anchor (its least common
//! byte pair) occurs. Every literal condition of every rule is then a bit test in [`Found`]. The SMTP
//! stage markers are literals of the same pass, so naming the stage costs no search of its own.

use std::ops::Range;

use regex_lite::Regex;

use super::Category;
use crate::reply::Reply;

/// The SMTP command a reply answered, when the reporter says so.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stage {
    /// The greeting or the connection itself (`refused to talk to me`, `after initial connection`).
    Connect,
    /// `EHLO`/`HELO`.
    Helo,
    MailFrom,
    RcptTo,
    /// `DATA` or the end of the message data.
    Data,
}

/// How Postfix (`in reply to RCPT TO command`), Exim (`after RCPT TO:`), Sendmail and qmail (`did not
/// like our final DATA`) and others name the stage in their wrappers; the first marker in this order
/// that occurs decides.
const STAGE_MARKERS: [(&str, Stage); 12] = [
    ("rcpt to command", Stage::RcptTo),
    ("after rcpt to", Stage::RcptTo),
    ("our rcpt to", Stage::RcptTo),
    ("mail from command", Stage::MailFrom),
    ("after mail from", Stage::MailFrom),
    ("end of data", Stage::Data),
    ("data command", Stage::Data),
    ("final data", Stage::Data),
    ("refused to talk to me", Stage::Connect),
    ("after initial connection", Stage::Connect),
    ("after ehlo", Stage::Helo),
    ("after helo", Stage::Helo),
];

/// One row of a rule table. The first rule of the first table that matches decides.
#[derive(Debug)]
pub struct Rule {
    /// Stable id shown to users as `rule`; never reuse one for a different meaning.
    pub id: &'static str,
    pub category: Category,
    /// The reply also says something about the sender's reputation.
    pub reputation: bool,
    /// Any of these codes: `"550"`, `"55?"`, `"4??"` (basic) or `"x.1.1"`, `"5.7.6??"`, `"x.7.*"` (enhanced;
    /// `x` is any class, `?` any digit, `*` any detail). Empty: any code or none.
    pub codes: &'static [&'static str],
    /// At least one of these lower-case fragments occurs. Empty: no condition.
    pub any: &'static [&'static str],
    /// All of these lower-case fragments occur too.
    pub all: &'static [&'static str],
    /// None of these occurs.
    pub none: &'static [&'static str],
    pub stage: Option<Stage>,
    /// Only a reply with neither a basic nor an enhanced code: the sending MTA's own words about a
    /// connection, not a receiver's answer.
    pub codeless: bool,
    /// The whole text (lower-cased, whitespace collapsed) is one of these. Empty: no condition. Cheaper
    /// than an anchored regex, which regex-lite runs over the whole text anyway.
    pub exact: &'static [&'static str],
    /// A regex over the lower-cased text, run only when every other condition holds.
    pub regex: Option<&'static str>,
    /// A real reply this rule exists for; classifying it must yield this rule (tests prove it).
    pub example: &'static str,
}

/// The defaults rule literals start from: `Rule { id, category, any, example, ..RULE }`.
pub const RULE: Rule = Rule {
    id: "",
    category: Category::Unclassified,
    reputation: false,
    codes: &[],
    any: &[],
    all: &[],
    none: &[],
    stage: None,
    codeless: false,
    exact: &[],
    regex: None,
    example: "",
};

/// A code condition, parsed once from its pattern string.
#[derive(Debug, Clone, Copy)]
enum CodePattern {
    Basic { low: u16, high: u16 },
    Enhanced { class: Option<u8>, subject: u8, low: u16, high: u16 },
}

impl CodePattern {
    /// Panics on a malformed pattern: patterns are static table data, and the reachability test runs
    /// every table, so a typo fails the test suite rather than a request.
    fn parse(pattern: &str) -> CodePattern {
        let digits_range = |s: &str| -> (u16, u16) {
            if s == "*" {
                return (0, 999);
            }
            let low = s.bytes().fold(0u16, |acc, c| acc * 10 + if c == b'?' { 0 } else { u16::from(c - b'0') });
            let high = s.bytes().fold(0u16, |acc, c| acc * 10 + if c == b'?' { 9 } else { u16::from(c - b'0') });
            (low, high)
        };
        let parts: Vec<&str> = pattern.split('.').collect();
        match parts.as_slice() {
            [basic] => {
                let (low, high) = digits_range(basic);
                CodePattern::Basic { low, high }
            }
            [class, subject, detail] => {
                let (low, high) = digits_range(detail);
                CodePattern::Enhanced {
                    class: class.parse().ok(),
                    subject: subject.parse().unwrap_or_else(|_| panic!("bad code pattern {pattern}")),
                    low,
                    high,
                }
            }
            _ => panic!("bad code pattern {pattern}"),
        }
    }

    fn matches(&self, reply: &Reply) -> bool {
        match *self {
            CodePattern::Basic { low, high } => reply.basic.is_some_and(|b| (low..=high).contains(&b)),
            CodePattern::Enhanced { class, subject, low, high } => reply.enhanced.is_some_and(|e| {
                class.is_none_or(|c| c == e.class) && e.subject == subject && (low..=high).contains(&e.detail)
            }),
        }
    }
}

/// Literal `id` starts `offset` bytes before its anchor `pair` wherever the literal occurs. The literal
/// is kept with its anchor: a reply of the shared corpus visits about forty anchors whose pair occurs
/// where the literal does not, and each then costs one masked compare, with no lookup of the literal.
#[derive(Debug)]
struct Anchor {
    literal: Literal,
    pair: u16,
    id: u16,
    offset: u16,
}

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

/// How many literals the tables may hold; [`Found`] is a fixed bit set so that matching allocates
/// nothing.
const MAX_LITERALS: usize = 576;

/// Anchor lists are found by a 12-bit hash of the pair so the index stays in L1 cache; a collision only
/// costs a pair compare.
const PAIR_SLOTS: usize = 1 << 12;

/// Every byte pair, for the exact "anchors something?" bit set (8 KiB) tested at each position.
const PAIRS: usize = 1 << 16;

/// The literals that occur in a text, by id: found in one pass, so that every rule's literal
/// conditions are bit tests.
pub struct Found {
    literals: [u64; MAX_LITERALS / 64],
}

impl Found {
    fn has(&self, id: usize) -> bool {
        self.literals[id / 64] & (1 << (id % 64)) != 0
    }

    fn set(&mut self, id: usize) {
        self.literals[id / 64] |= 1 << (id % 64);
    }

    /// Whether any literal numbered `range` occurs: a rule's `any` literals are numbered consecutively,
    /// so this costs a word or two of bit tests.
    fn any_in(&self, range: &Range<usize>) -> bool {
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

/// How rare a byte pair is in reply text by its letters, for pairs equally frequent in the examples:
/// letters by English frequency, while spaces, digits and the punctuation of addresses and IPs are
/// everywhere.
fn rarity(pair: [u8; 2]) -> usize {
    const COMMON_FIRST: &[u8] = b" .0123456789etaoinsrhl[]:<>@-/()dcumfpgwybvkxjqz";
    let commonness = |b: u8| COMMON_FIRST.iter().position(|&c| c == b).unwrap_or(COMMON_FIRST.len());
    commonness(pair[0]) + commonness(pair[1])
}

fn pair_slot(pair: u16) -> usize {
    (u32::from(pair).wrapping_mul(0x9E37_79B1) >> 20) as usize
}

/// A rule ready to match. Its literals are numbered consecutively per list, so each list is a range of
/// ids in [`Found`].
#[derive(Debug)]
struct Compiled {
    rule: &'static Rule,
    codes: Vec<CodePattern>,
    any: Range<usize>,
    all: Range<usize>,
    none: Range<usize>,
    regex: Option<Regex>,
}

impl Compiled {
    fn gate(&self) -> Gate {
        if !self.any.is_empty() {
            Gate::Literals(self.any.clone())
        } else if !self.all.is_empty() {
            Gate::Literals(self.all.start..self.all.start + 1)
        } else if !self.codes.is_empty() {
            Gate::Codes
        } else {
            Gate::None
        }
    }

    /// Cheapest conditions first: codes and stage are integer compares, literals bit tests, the regex
    /// last.
    fn matches(&self, reply: &Reply, found: &Found, stage: Option<Stage>) -> bool {
        (self.codes.is_empty() || self.codes.iter().any(|c| c.matches(reply)))
            && self.rule.stage.is_none_or(|s| stage == Some(s))
            && (!self.rule.codeless || (reply.basic.is_none() && reply.enhanced.is_none()))
            && (self.any.is_empty() || found.any_in(&self.any))
            && self.all.clone().all(|id| found.has(id))
            && !found.any_in(&self.none)
            && (self.rule.exact.is_empty() || self.rule.exact.contains(&reply.text.as_str()))
            && self.regex.as_ref().is_none_or(|r| r.is_match(&reply.text))
    }
}

/// The rule tables compiled once: the rules in order, and an index from each byte pair to the literals
/// anchored on it (a poor man's Aho-Corasick: one pass over the text finds every literal that occurs).
///
/// Each literal is anchored on its least common byte pair; where that pair occurs in a text, the
/// literal is compared in place. Most pairs of a text anchor nothing and cost a bit test.
#[derive(Debug)]
pub struct Matcher {
    rules: Vec<Compiled>,
    /// The ids of [`STAGE_MARKERS`], in the same order.
    stage_markers: Range<usize>,
    /// The ids of the entity markers given to [`Matcher::new`], in the same order, and the entity each
    /// names: found in the same pass, so naming the filter or provider costs no search of its own.
    entity_markers: Range<usize>,
    entity_of_marker: Vec<u16>,
    /// For pair slot `p`, its anchors are `anchors[starts[p]..starts[p + 1]]`.
    starts: Vec<u32>,
    anchors: Vec<Anchor>,
    /// The byte pairs that anchor some literal.
    anchored: Box<[u64; PAIRS / 64]>,
    /// For each literal id, the rule it gates, if any (see [`Gate`]).
    gated_by_literal: Vec<Option<u16>>,
    /// The rules gated by their codes (see [`CodeGates`]).
    gated_by_code: CodeGates,
    /// The rules with no gate: tried on every reply.
    always: RuleSet,
}

/// What one pass over a reply found.
pub struct Scan {
    /// The first rule that matched.
    pub rule: Option<&'static Rule>,
    /// The index of the entity whose marker occurs first in marker order.
    pub entity: Option<usize>,
}

/// The one condition of a rule checked before the rule is tried at all. A reply satisfies few gates, so a
/// few rules are tried instead of every rule; the tried rule then checks all its conditions.
enum Gate {
    /// One of the `any` literals, or else the first `all` literal, occurs.
    Literals(Range<usize>),
    /// One of its code patterns matches.
    Codes,
    None,
}

/// How many rules the tables may hold; the rules worth trying on a text are a fixed bit set.
const MAX_RULES: usize = 256;

/// A set of rules, by index.
type RuleSet = [u64; MAX_RULES / 64];

/// The rules gated by their codes, indexed by the code a reply has: about a hundred patterns would
/// otherwise be compared with every reply.
#[derive(Debug)]
struct CodeGates {
    /// For each basic code from [`FIRST_BASIC`], the rules one of whose basic patterns it matches.
    by_basic: Vec<RuleSet>,
    /// The enhanced patterns by their subject (`x.7.*` is under 7), with the rule each belongs to.
    by_subject: [Vec<(CodePattern, u16)>; 10],
}

/// Reply codes start with 2, 4 or 5 (see `reply::find_codes`).
const FIRST_BASIC: u16 = 200;
const LAST_BASIC: u16 = 599;

impl CodeGates {
    /// Panics on a pattern outside the codes replies have: patterns are static table data.
    fn new(patterns: impl Iterator<Item = (CodePattern, u16)>) -> CodeGates {
        let mut gates = CodeGates {
            by_basic: vec![[0; MAX_RULES / 64]; usize::from(LAST_BASIC - FIRST_BASIC) + 1],
            by_subject: Default::default(),
        };
        for (pattern, rule) in patterns {
            match pattern {
                CodePattern::Basic { low, high } => {
                    assert!(FIRST_BASIC <= low && high <= LAST_BASIC, "basic code pattern {low}-{high}");
                    for code in low..=high {
                        mark(&mut gates.by_basic[usize::from(code - FIRST_BASIC)], rule);
                    }
                }
                CodePattern::Enhanced { subject, .. } => gates.by_subject[usize::from(subject)].push((pattern, rule)),
            }
        }
        gates
    }

    /// Adds the rules whose code gate `reply` passes to `rules`.
    fn open(&self, reply: &Reply, rules: &mut RuleSet) {
        if let Some(set) = reply.basic.and_then(|code| self.by_basic.get(usize::from(code.checked_sub(FIRST_BASIC)?))) {
            for (word, bits) in rules.iter_mut().zip(set) {
                *word |= bits;
            }
        }
        if let Some(patterns) = reply.enhanced.and_then(|code| self.by_subject.get(usize::from(code.subject))) {
            for (pattern, rule) in patterns {
                if pattern.matches(reply) {
                    mark(rules, *rule);
                }
            }
        }
    }
}

fn mark(rules: &mut RuleSet, rule: u16) {
    rules[usize::from(rule) / 64] |= 1 << (rule % 64);
}

impl Matcher {
    /// `entity_markers` are lower-case fragments, each with the index of the entity it names; the first
    /// marker in this order that occurs in a reply names its entity (see [`Scan::entity`]).
    pub fn new(tables: &[&'static [Rule]], markers: &[(&'static str, u16)]) -> Matcher {
        let pair_counts = pair_counts(tables.iter().flat_map(|t| t.iter()).map(|rule| rule.example));
        let mut anchored_at: Vec<(usize, Anchor)> = Vec::new();
        let mut number = |list: &mut dyn Iterator<Item = &'static str>| -> Range<usize> {
            let start = anchored_at.len();
            for text in list {
                let id = anchored_at.len() as u16;
                let (offset, pair) = rarest_pair(text, &pair_counts);
                let pair = u16::from_le_bytes(pair);
                let anchor = Anchor { literal: Literal::new(text), pair, id, offset: offset as u16 };
                anchored_at.push((pair_slot(pair), anchor));
            }
            start..anchored_at.len()
        };
        let stage_markers = number(&mut STAGE_MARKERS.iter().map(|&(marker, _)| marker));
        let entity_markers = number(&mut markers.iter().map(|&(marker, _)| marker));
        let entity_of_marker = markers.iter().map(|&(_, entity)| entity).collect();
        let mut rules = Vec::new();
        for rule in tables.iter().flat_map(|t| t.iter()) {
            rules.push(Compiled {
                rule,
                codes: rule.codes.iter().map(|p| CodePattern::parse(p)).collect(),
                any: number(&mut rule.any.iter().copied()),
                all: number(&mut rule.all.iter().copied()),
                none: number(&mut rule.none.iter().copied()),
                regex: rule.regex.map(|r| Regex::new(r).unwrap_or_else(|e| panic!("rule {}: {e}", rule.id))),
            });
        }
        let literals = anchored_at.len();
        assert!(literals <= MAX_LITERALS, "raise MAX_LITERALS to {literals}");
        crate::sort::sort_by_key(&mut anchored_at, |(pair, anchor)| (*pair, anchor.id));
        let mut starts = vec![0u32; PAIR_SLOTS + 1];
        for &(pair, _) in &anchored_at {
            starts[pair + 1] += 1;
        }
        for p in 1..starts.len() {
            starts[p] += starts[p - 1];
        }
        let mut anchored = Box::new([0u64; PAIRS / 64]);
        for (_, anchor) in &anchored_at {
            anchored[usize::from(anchor.pair) / 64] |= 1 << (anchor.pair % 64);
        }
        let anchors = anchored_at.into_iter().map(|(_, anchor)| anchor).collect();
        assert!(rules.len() <= MAX_RULES, "raise MAX_RULES to {}", rules.len());
        let mut gated_by_literal = vec![None; literals];
        let mut code_patterns = Vec::new();
        let mut always = [0u64; MAX_RULES / 64];
        for (index, rule) in rules.iter().enumerate() {
            match rule.gate() {
                Gate::Literals(ids) => ids.for_each(|id| gated_by_literal[id] = Some(index as u16)),
                Gate::Codes => code_patterns.extend(rule.codes.iter().map(|&pattern| (pattern, index as u16))),
                Gate::None => mark(&mut always, index as u16),
            }
        }
        let gated_by_code = CodeGates::new(code_patterns.into_iter());
        Matcher {
            rules,
            stage_markers,
            entity_markers,
            entity_of_marker,
            starts,
            anchors,
            anchored,
            gated_by_literal,
            gated_by_code,
            always,
        }
    }

    /// The first rule that matches, if any.
    #[cfg(test)]
    pub fn first_match(&self, reply: &Reply) -> Option<&'static Rule> {
        self.scan(reply, |_| true).rule
    }

    /// The first rule that matches and that `allowed` admits (what the event's kind rules out, such as
    /// `expired` for a deferral, is skipped so the next rule that fits decides), and the entity named.
    pub fn scan(&self, reply: &Reply, allowed: impl Fn(&Rule) -> bool) -> Scan {
        let found = self.find_literals(reply.text.as_bytes());
        // Only the rules whose gate holds are tried, in table order: a handful instead of every rule.
        let mut worth_trying = self.always;
        for (word, &bits) in found.literals.iter().enumerate() {
            for id in set_bits(bits).map(|bit| word * 64 + bit) {
                if let Some(rule) = self.gated_by_literal.get(id).copied().flatten() {
                    mark(&mut worth_trying, rule);
                }
            }
        }
        self.gated_by_code.open(reply, &mut worth_trying);
        let stage = if found.any_in(&self.stage_markers) {
            self.stage_markers.clone().position(|id| found.has(id)).map(|marker| STAGE_MARKERS[marker].1)
        } else {
            None
        };
        let mut tried =
            worth_trying.iter().enumerate().flat_map(|(word, &bits)| set_bits(bits).map(move |bit| word * 64 + bit));
        let rule = tried
            .find(|&index| allowed(self.rules[index].rule) && self.rules[index].matches(reply, &found, stage))
            .map(|index| self.rules[index].rule);
        let entity = if found.any_in(&self.entity_markers) {
            let marker = self.entity_markers.clone().position(|id| found.has(id));
            marker.map(|marker| usize::from(self.entity_of_marker[marker]))
        } else {
            None
        };
        Scan { rule, entity }
    }

    fn find_literals(&self, text: &[u8]) -> Found {
        let mut found = Found { literals: [0; MAX_LITERALS / 64] };
        let mut from = 0;
        while let Some(at) = next_anchored(&self.anchored, text, from) {
            let pair = u16::from_le_bytes([text[at], text[at + 1]]);
            let slot = pair_slot(pair);
            for anchor in &self.anchors[self.starts[slot] as usize..self.starts[slot + 1] as usize] {
                // A literal found once is compared again where it recurs: rarer than the test it saves.
                let occurs = anchor.pair == pair
                    && at
                        .checked_sub(usize::from(anchor.offset))
                        .is_some_and(|start| anchor.literal.occurs_at(text, start));
                if occurs {
                    found.set(usize::from(anchor.id));
                }
            }
            from = at + 1;
        }
        found
    }
}

/// Where the first anchored pair at or after `from` starts. Kept out of line on purpose: this loop runs
/// on every byte of every reply, and inlined into the matcher it lost its registers to the code around
/// it and cost twice the instructions per byte.
#[inline(never)]
fn next_anchored(anchored: &[u64; PAIRS / 64], text: &[u8], from: usize) -> Option<usize> {
    let is_anchored = |pair: u16| anchored[usize::from(pair >> 6)] & (1 << (pair & 63)) != 0;
    // Eight bytes are read at once and their seven pairs shifted out of the word (which is why pairs are
    // little-endian): one load and one loop test for seven positions, about half the instructions of a
    // pair at a time.
    let mut at = from;
    while let Some(&bytes) = text.get(at..).and_then(<[u8]>::first_chunk::<8>) {
        let word = u64::from_le_bytes(bytes);
        for k in 0..7 {
            if is_anchored((word >> (8 * k)) as u16) {
                return Some(at + k);
            }
        }
        at += 7;
    }
    let rest = text.get(at..)?;
    rest.windows(2).position(|w| is_anchored(u16::from_le_bytes([w[0], w[1]]))).map(|offset| at + offset)
}

/// The positions of the set bits of `bits`, lowest first.
fn set_bits(mut bits: u64) -> impl Iterator<Item = usize> {
    std::iter::from_fn(move || {
        let bit = bits.trailing_zeros() as usize;
        (bits != 0).then(|| {
            bits &= bits - 1;
            bit
        })
    })
}

/// How often each byte pair occurs in `samples`, as the classifier sees them (normalized). The rules' own
/// examples are real replies: a literal anchored on a pair that is rare in them is compared rarely, while
/// a pair such as "e " or "in" would make the one pass stop at nearly every byte.
fn pair_counts<'a>(samples: impl Iterator<Item = &'a str>) -> Vec<u32> {
    let mut counts = vec![0u32; PAIRS];
    for sample in samples {
        for w in crate::reply::parse(sample).text.as_bytes().windows(2) {
            counts[usize::from(u16::from_le_bytes([w[0], w[1]]))] += 1;
        }
    }
    counts
}

/// A literal's least common byte pair and where it starts in the literal: fewest occurrences in
/// `pair_counts`, then the rarest letters. Panics on a literal shorter than a pair: literals are static
/// table data, checked by the test suite.
fn rarest_pair(text: &str, pair_counts: &[u32]) -> (usize, [u8; 2]) {
    text.as_bytes()
        .windows(2)
        .enumerate()
        .map(|(offset, w)| (offset, [w[0], w[1]]))
        .min_by_key(|&(offset, pair)| {
            (pair_counts[usize::from(u16::from_le_bytes(pair))], std::cmp::Reverse(rarity(pair)), offset)
        })
        .unwrap_or_else(|| panic!("literal {text:?} is too short"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reply::parse;

    /// One rule per stage, so the rule that matches names the stage the matcher read.
    const BY_STAGE: &[Rule] = &[
        Rule { id: "connect", stage: Some(Stage::Connect), ..RULE },
        Rule { id: "helo", stage: Some(Stage::Helo), ..RULE },
        Rule { id: "mail_from", stage: Some(Stage::MailFrom), ..RULE },
        Rule { id: "rcpt_to", stage: Some(Stage::RcptTo), ..RULE },
        Rule { id: "data", stage: Some(Stage::Data), ..RULE },
    ];

    fn stage_rule(reply: &str) -> Option<&'static str> {
        Matcher::new(&[BY_STAGE], &[]).first_match(&parse(reply)).map(|rule| rule.id)
    }

    #[test]
    fn relay_wrappers_name_the_stage() {
        let cases = [
            ("host mx.example[192.0.2.1] said: 550 5.1.1 no such user (in reply to RCPT TO command)", Some("rcpt_to")),
            ("SMTP error from remote mail server after RCPT TO:<…@example.org>: 550 unknown", Some("rcpt_to")),
            ("host mx.example said: 553 sender rejected (in reply to MAIL FROM command)", Some("mail_from")),
            ("----- Transcript -----\n>>> DATA\n<<< 554 5.7.9 policy; did not like our final DATA", Some("data")),
            ("host mx.example refused to talk to me: 554 5.7.1 blocked", Some("connect")),
            ("SMTP error from remote mail server after EHLO example.net: 550 bad helo", Some("helo")),
            ("550 5.1.1 user unknown", None),
        ];
        for (reply, expected) in cases {
            assert_eq!(stage_rule(reply), expected, "{reply}");
        }
    }

    #[test]
    fn the_first_marker_in_order_decides() {
        // An Exim transcript names both; the RCPT TO marker comes first in STAGE_MARKERS.
        let reply = "after end of data: 550 rejected after RCPT TO:<…@example.org>";
        assert_eq!(stage_rule(reply), Some("rcpt_to"));
    }

    #[test]
    fn a_literal_is_found_at_the_very_end_and_across_its_head() {
        for text in ["refused to talk to me", "x refused to talk to me", "after helo"] {
            assert!(stage_rule(text).is_some(), "{text}");
        }
    }

    #[test]
    fn a_literal_is_found_at_every_offset_across_the_passes_eight_byte_words() {
        // The pass reads seven pairs per eight-byte word, then the tail a pair at a time: a marker is
        // found whichever pair of the word, or of the tail, its anchor falls on.
        for padding in 0..20 {
            for tail in ["", "x", "xxxxxxx"] {
                let text = format!("{}after helo{tail}", "x".repeat(padding));
                assert_eq!(stage_rule(&text), Some("helo"), "{text}");
            }
        }
    }
}
