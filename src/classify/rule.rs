//! What a rule is, and how a table of them is matched fast.
//!
//! A rule is a conjunction of cheap conditions: reply codes, literal fragments of the lower-cased text,
//! the SMTP stage, and rarely a regex. Literals are checked first and a regex only runs when they all
//! hold, because regex-lite has no literal optimizations of its own.
//!
//! Most replies contain none of the ~400 literals, so a literal is searched for only when its anchor
//! (its least common byte pair) occurs in the text; one pass over the text's byte pairs marks those
//! [`Candidates`]. The common miss is then a bit test.

use regex_lite::Regex;

use super::Category;
use crate::reply::{Reply, Stage};

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
    regex: None,
    example: "",
};

/// A code condition, parsed once from its pattern string.
#[derive(Debug)]
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

/// A literal fragment, numbered for the [`Candidates`] set, with its rarest byte pairs.
#[derive(Debug)]
struct Literal {
    text: &'static str,
    id: usize,
    /// Up to four of its least common byte pairs (hashed), rarest first; all must occur in the text.
    rare_pairs: [u16; 4],
}

impl Literal {
    fn new(text: &'static str, id: usize) -> Literal {
        let mut pairs: Vec<[u8; 2]> = text.as_bytes().windows(2).map(|w| [w[0], w[1]]).collect();
        pairs.sort_by_key(|&p| std::cmp::Reverse(rarity(p)));
        let rarest = *pairs.first().unwrap_or_else(|| panic!("literal {text:?} is too short"));
        let mut rare_pairs = [pair_index(rarest); 4];
        for (slot, &p) in rare_pairs.iter_mut().zip(&pairs) {
            *slot = pair_index(p);
        }
        Literal { text, id, rare_pairs }
    }

    fn occurs_in(&self, text: &str, candidates: &Candidates) -> bool {
        candidates.has_literal(self.id)
            && self.rare_pairs.iter().all(|&p| candidates.has_pair(p))
            && text.contains(self.text)
    }
}

/// How many literals the tables may hold; [`Candidates`] is a fixed bit set so that matching allocates
/// nothing.
const MAX_LITERALS: usize = 1024;

/// Byte pairs are hashed to 12 bits so the index stays in L1 cache; a collision only costs a search.
const PAIR_SLOTS: usize = 1 << 12;

/// What one pass over a text's byte pairs tells: which literals *may* occur (their rarest pair does)
/// and which hashed pairs occur at all.
pub struct Candidates {
    literals: [u64; MAX_LITERALS / 64],
    pairs: [u64; PAIR_SLOTS / 64],
}

impl Candidates {
    fn has_literal(&self, id: usize) -> bool {
        self.literals[id / 64] & (1 << (id % 64)) != 0
    }

    /// Whether any literal numbered `range` may occur: a rule's `any` literals are numbered
    /// consecutively, so a rule none of whose literals occur costs a word or two of bit tests.
    fn any_literal_in(&self, range: &std::ops::Range<usize>) -> bool {
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

    fn has_pair(&self, slot: u16) -> bool {
        self.pairs[usize::from(slot / 64)] & (1 << (slot % 64)) != 0
    }
}

/// How rare a byte pair is in reply text, roughly: letters by English frequency, while spaces, digits
/// and the punctuation of addresses and IPs are everywhere.
fn rarity(pair: [u8; 2]) -> usize {
    const COMMON_FIRST: &[u8] = b" .0123456789etaoinsrhl[]:<>@-/()dcumfpgwybvkxjqz";
    let commonness = |b: u8| COMMON_FIRST.iter().position(|&c| c == b).unwrap_or(COMMON_FIRST.len());
    commonness(pair[0]) + commonness(pair[1])
}

fn pair_index(pair: [u8; 2]) -> u16 {
    ((u32::from(pair[0]) << 8 | u32::from(pair[1])).wrapping_mul(0x9E37_79B1) >> 20) as u16
}

/// A rule ready to match.
#[derive(Debug)]
struct Compiled {
    rule: &'static Rule,
    codes: Vec<CodePattern>,
    any: Vec<Literal>,
    /// The ids of `any`, consecutive.
    any_ids: std::ops::Range<usize>,
    all: Vec<Literal>,
    none: Vec<Literal>,
    regex: Option<Regex>,
}

impl Compiled {
    /// Cheapest conditions first: codes and stage are integer compares, literals a bit test before any
    /// substring search, the regex last.
    fn matches(&self, reply: &Reply, candidates: &Candidates) -> bool {
        let text = reply.text.as_str();
        (self.codes.is_empty() || self.codes.iter().any(|c| c.matches(reply)))
            && self.rule.stage.is_none_or(|s| reply.stage == Some(s))
            && (self.any.is_empty()
                || (candidates.any_literal_in(&self.any_ids) && self.any.iter().any(|l| l.occurs_in(text, candidates))))
            && self.all.iter().all(|l| l.occurs_in(text, candidates))
            && !self.none.iter().any(|l| l.occurs_in(text, candidates))
            && self.regex.as_ref().is_none_or(|r| r.is_match(text))
    }
}

/// The rule tables compiled once: the rules in order, and an index from each byte pair to the literals
/// anchored on it (a poor man's Aho-Corasick: one pass over the text finds every literal worth a
/// `str::contains`).
#[derive(Debug)]
pub struct Matcher {
    rules: Vec<Compiled>,
    /// For byte pair `p`, the anchored literal ids are `ids[starts[p]..starts[p + 1]]`.
    starts: Vec<u32>,
    ids: Vec<u16>,
    /// The byte pairs some literal is anchored on; most pairs of a text are not, and skip the index.
    anchored: [u64; PAIR_SLOTS / 64],
}

impl Matcher {
    pub fn new(tables: &[&'static [Rule]]) -> Matcher {
        let mut anchors: Vec<(usize, usize)> = Vec::new();
        let mut literals = |list: &'static [&'static str]| -> Vec<Literal> {
            list.iter()
                .map(|&text| {
                    let literal = Literal::new(text, anchors.len());
                    anchors.push((usize::from(literal.rare_pairs[0]), literal.id));
                    literal
                })
                .collect()
        };
        let mut rules = Vec::new();
        for rule in tables.iter().flat_map(|t| t.iter()) {
            let any = literals(rule.any);
            rules.push(Compiled {
                rule,
                codes: rule.codes.iter().map(|p| CodePattern::parse(p)).collect(),
                any_ids: any.first().map_or(0, |l| l.id)..any.last().map_or(0, |l| l.id + 1),
                any,
                all: literals(rule.all),
                none: literals(rule.none),
                regex: rule.regex.map(|r| Regex::new(r).unwrap_or_else(|e| panic!("rule {}: {e}", rule.id))),
            });
        }
        assert!(anchors.len() <= MAX_LITERALS, "raise MAX_LITERALS to {}", anchors.len());
        anchors.sort_unstable();
        let mut starts = vec![0u32; PAIR_SLOTS + 1];
        for &(pair, _) in &anchors {
            starts[pair + 1] += 1;
        }
        for p in 1..starts.len() {
            starts[p] += starts[p - 1];
        }
        let ids = anchors.iter().map(|&(_, id)| id as u16).collect();
        let mut anchored = [0u64; PAIR_SLOTS / 64];
        for &(pair, _) in &anchors {
            anchored[pair / 64] |= 1 << (pair % 64);
        }
        Matcher { rules, starts, ids, anchored }
    }

    /// The first rule that matches, if any.
    pub fn first_match(&self, reply: &Reply) -> Option<&'static Rule> {
        let candidates = self.candidates(&reply.text);
        self.rules.iter().find(|r| r.matches(reply, &candidates)).map(|r| r.rule)
    }

    fn candidates(&self, text: &str) -> Candidates {
        let mut set = Candidates { literals: [0; MAX_LITERALS / 64], pairs: [0; PAIR_SLOTS / 64] };
        for w in text.as_bytes().windows(2) {
            let p = pair_index([w[0], w[1]]);
            set.pairs[usize::from(p / 64)] |= 1 << (p % 64);
            let p = usize::from(p);
            if self.anchored[p / 64] & (1 << (p % 64)) == 0 {
                continue;
            }
            for &id in &self.ids[self.starts[p] as usize..self.starts[p + 1] as usize] {
                set.literals[usize::from(id) / 64] |= 1 << (id % 64);
            }
        }
        set
    }
}
