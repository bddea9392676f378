//! What a rule is, and how a table of them is matched fast.
//!
//! A rule is a conjunction of cheap conditions: reply codes, literal fragments of the lower-cased text,
//! the SMTP stage, and rarely a regex. Literals are checked first and a regex only runs when they all
//! hold, because regex-lite has no literal optimizations of its own.
//!
//! Most replies match none of the ~200 literals, so before any `str::contains` we consult a 4096-bit
//! set of the text's byte pairs ([`PairSet`]): a literal one of whose byte pairs is absent cannot occur.
//! That turns the common miss into a few bit tests.

use std::sync::OnceLock;

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
    Basic {
        low: u16,
        high: u16,
    },
    Enhanced {
        class: Option<u8>,
        subject: u8,
        low: u16,
        high: u16,
    },
}

impl CodePattern {
    /// Panics on a malformed pattern: patterns are static table data, and the reachability test runs
    /// every table, so a typo fails the test suite rather than a request.
    fn parse(pattern: &str) -> CodePattern {
        let digits_range = |s: &str| -> (u16, u16) {
            if s == "*" {
                return (0, 999);
            }
            let low = s.bytes().fold(0u16, |acc, c| {
                acc * 10 + if c == b'?' { 0 } else { u16::from(c - b'0') }
            });
            let high = s.bytes().fold(0u16, |acc, c| {
                acc * 10 + if c == b'?' { 9 } else { u16::from(c - b'0') }
            });
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
                    subject: subject
                        .parse()
                        .unwrap_or_else(|_| panic!("bad code pattern {pattern}")),
                    low,
                    high,
                }
            }
            _ => panic!("bad code pattern {pattern}"),
        }
    }

    fn matches(&self, reply: &Reply) -> bool {
        match *self {
            CodePattern::Basic { low, high } => {
                reply.basic.is_some_and(|b| (low..=high).contains(&b))
            }
            CodePattern::Enhanced {
                class,
                subject,
                low,
                high,
            } => reply.enhanced.is_some_and(|e| {
                class.is_none_or(|c| c == e.class)
                    && e.subject == subject
                    && (low..=high).contains(&e.detail)
            }),
        }
    }
}

/// A literal with its byte pairs' positions in a [`PairSet`], precomputed.
#[derive(Debug)]
struct Literal {
    text: &'static str,
    pairs: Vec<u16>,
}

impl Literal {
    fn new(text: &'static str) -> Literal {
        let pairs = text
            .as_bytes()
            .windows(2)
            .map(|w| PairSet::slot(w[0], w[1]))
            .collect();
        Literal { text, pairs }
    }

    fn occurs_in(&self, text: &str, pairs: &PairSet) -> bool {
        self.pairs.iter().all(|&slot| pairs.has(slot)) && text.contains(self.text)
    }
}

/// A Bloom-style set of the byte pairs occurring in a text.
pub struct PairSet([u64; 64]);

impl PairSet {
    pub fn of(text: &str) -> PairSet {
        let mut set = PairSet([0; 64]);
        for w in text.as_bytes().windows(2) {
            let slot = PairSet::slot(w[0], w[1]);
            set.0[usize::from(slot >> 6)] |= 1 << (slot & 63);
        }
        set
    }

    fn slot(a: u8, b: u8) -> u16 {
        // Multiplicative hashing into 12 bits; the top bits of the product mix both bytes.
        ((u32::from(a) << 8 | u32::from(b)).wrapping_mul(0x9E37_79B1) >> 20) as u16
    }

    fn has(&self, slot: u16) -> bool {
        self.0[usize::from(slot >> 6)] & (1 << (slot & 63)) != 0
    }
}

/// A rule ready to match.
#[derive(Debug)]
pub struct Compiled {
    pub rule: &'static Rule,
    codes: Vec<CodePattern>,
    any: Vec<Literal>,
    all: Vec<Literal>,
    none: Vec<Literal>,
    regex: Option<Regex>,
}

impl Compiled {
    fn new(rule: &'static Rule) -> Compiled {
        let literals =
            |list: &'static [&'static str]| list.iter().map(|&l| Literal::new(l)).collect();
        Compiled {
            rule,
            codes: rule.codes.iter().map(|p| CodePattern::parse(p)).collect(),
            any: literals(rule.any),
            all: literals(rule.all),
            none: literals(rule.none),
            regex: rule.regex.map(|r| {
                Regex::new(r).unwrap_or_else(|e| panic!("rule {}: bad regex: {e}", rule.id))
            }),
        }
    }

    /// Cheapest conditions first: codes and stage are integer compares.
    pub fn matches(&self, reply: &Reply, pairs: &PairSet) -> bool {
        let text = reply.text.as_str();
        (self.codes.is_empty() || self.codes.iter().any(|c| c.matches(reply)))
            && self.rule.stage.is_none_or(|s| reply.stage == Some(s))
            && (self.any.is_empty() || self.any.iter().any(|l| l.occurs_in(text, pairs)))
            && self.all.iter().all(|l| l.occurs_in(text, pairs))
            && !self.none.iter().any(|l| l.occurs_in(text, pairs))
            && self.regex.as_ref().is_none_or(|r| r.is_match(text))
    }
}

/// Compiles the tables once per process (or Worker isolate).
pub fn compiled(tables: &[&'static [Rule]]) -> Vec<Compiled> {
    tables
        .iter()
        .flat_map(|t| t.iter())
        .map(Compiled::new)
        .collect()
}

/// Holder for the compiled rule list; see [`super::rules`].
pub type Cache = OnceLock<Vec<Compiled>>;
