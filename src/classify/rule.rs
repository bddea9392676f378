//! What a rule is, and how a table of them is matched fast.
//!
//! A rule is a conjunction of cheap conditions: reply codes, literal fragments of the lower-cased text,
//! the SMTP stage, and rarely a regex. Literals are checked first and a regex only runs when they all
//! hold, because regex-lite has no literal optimizations of its own.
//!
//! Rather than search the text once per literal (~500 of them), one pass over the text finds every
//! literal that occurs (see [`super::literals`]). Every literal condition of every rule is then a bit
//! test in [`Found`]. The SMTP stage markers and the entity markers are literals of the same pass, so
//! naming the stage or the filter costs no search of its own.

use std::ops::Range;

use regex_lite::Regex;

use super::literals::{Found, Literals};
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
    /// A function over the lower-cased text, run last like the regex: for a condition that a regex
    /// would make slow, since regex-lite tries every position of the text.
    pub check: Option<fn(&str) -> bool>,
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
    check: None,
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
    /// and the check last.
    fn matches(&self, reply: &Reply, found: &Found, stage: Option<Stage>) -> bool {
        (self.codes.is_empty() || self.codes.iter().any(|c| c.matches(reply)))
            && self.rule.stage.is_none_or(|s| stage == Some(s))
            && (!self.rule.codeless || (reply.basic.is_none() && reply.enhanced.is_none()))
            && (self.any.is_empty() || found.any_in(&self.any))
            && self.all.clone().all(|id| found.has(id))
            && !found.any_in(&self.none)
            && (self.rule.exact.is_empty() || self.rule.exact.contains(&reply.text.as_str()))
            && self.regex.as_ref().is_none_or(|r| r.is_match(&reply.text))
            && self.rule.check.is_none_or(|check| check(&reply.text))
    }
}

/// The rule tables compiled once: the rules in order, every literal of theirs numbered and found in one
/// pass (a poor man's Aho-Corasick, see [`Literals`]), and the rules each literal or code gates.
#[derive(Debug)]
pub struct Matcher {
    rules: Vec<Compiled>,
    /// The ids of [`STAGE_MARKERS`], in the same order.
    stage_markers: Range<usize>,
    /// The ids of the entity markers given to [`Matcher::new`], in the same order, and the entity each
    /// names: found in the same pass, so naming the filter or provider costs no search of its own.
    entity_markers: Range<usize>,
    entity_of_marker: Vec<u16>,
    /// Every literal of the rules and markers, numbered as the ranges above and in [`Compiled`] say.
    literals: Literals,
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
        let mut texts: Vec<&'static str> = Vec::new();
        let mut number = |list: &mut dyn Iterator<Item = &'static str>| -> Range<usize> {
            let start = texts.len();
            texts.extend(list);
            start..texts.len()
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
        let examples = tables.iter().flat_map(|t| t.iter()).map(|rule| rule.example);
        let literals = Literals::new(&texts, examples);
        assert!(rules.len() <= MAX_RULES, "raise MAX_RULES to {}", rules.len());
        let mut gated_by_literal = vec![None; texts.len()];
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
            literals,
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
        let found = self.literals.find(reply.text.as_bytes());
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
        // The pass visits every other position, three per eight-byte word, then the tail from a padded
        // word: a marker is found whichever position of the word, or of the tail, its anchors fall on.
        for padding in 0..20 {
            for tail in ["", "x", "xxxxxxx"] {
                let text = format!("{}after helo{tail}", "x".repeat(padding));
                assert_eq!(stage_rule(&text), Some("helo"), "{text}");
            }
        }
    }
}
