//! What a rule is, and how a table of them is matched fast.
//!
//! A rule is a conjunction of cheap conditions: reply codes, literal fragments of the lower-cased text,
//! the SMTP stage, and rarely a regex. Literals are checked first and a regex only runs when they all
//! hold, because regex-lite has no literal optimizations of its own.
//!
//! Rather than search the text once per literal (~400 of them), one pass over the text's byte pairs
//! finds every literal that occurs: each is compared in place only where its anchor (its least common
//! byte pair) occurs. Every literal condition of every rule is then a bit test in [`Found`].

use std::ops::Range;

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

/// One byte pair's literals: literal `id` starts `offset` bytes before the pair wherever it occurs.
#[derive(Debug, Clone, Copy)]
struct Anchor {
    id: u16,
    offset: u16,
}

/// How many literals the tables may hold; [`Found`] is a fixed bit set so that matching allocates
/// nothing.
const MAX_LITERALS: usize = 1024;

/// Byte pairs are hashed to 12 bits so the index stays in L1 cache; a collision only costs a compare.
const PAIR_SLOTS: usize = 1 << 12;

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

/// How rare a byte pair is in reply text, roughly: letters by English frequency, while spaces, digits
/// and the punctuation of addresses and IPs are everywhere.
fn rarity(pair: [u8; 2]) -> usize {
    const COMMON_FIRST: &[u8] = b" .0123456789etaoinsrhl[]:<>@-/()dcumfpgwybvkxjqz";
    let commonness = |b: u8| COMMON_FIRST.iter().position(|&c| c == b).unwrap_or(COMMON_FIRST.len());
    commonness(pair[0]) + commonness(pair[1])
}

fn pair_index(pair: [u8; 2]) -> usize {
    ((u32::from(pair[0]) << 8 | u32::from(pair[1])).wrapping_mul(0x9E37_79B1) >> 20) as usize
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
    /// Cheapest conditions first: codes and stage are integer compares, literals bit tests, the regex
    /// last.
    fn matches(&self, reply: &Reply, found: &Found) -> bool {
        (self.codes.is_empty() || self.codes.iter().any(|c| c.matches(reply)))
            && self.rule.stage.is_none_or(|s| reply.stage == Some(s))
            && (self.any.is_empty() || found.any_in(&self.any))
            && self.all.clone().all(|id| found.has(id))
            && !found.any_in(&self.none)
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
    /// Literal texts by id.
    literals: Vec<&'static [u8]>,
    /// For hashed byte pair `p`, its anchors are `anchors[starts[p]..starts[p + 1]]`.
    starts: Vec<u32>,
    anchors: Vec<Anchor>,
    /// The hashed pairs that anchor some literal.
    anchored: [u64; PAIR_SLOTS / 64],
    /// For each literal id, the rule whose `any` list it is in, if any.
    any_owner: Vec<Option<u16>>,
    /// The rules with no `any` list: the only ones that may match a text in which no literal occurs.
    always: [u64; MAX_RULES / 64],
}

/// How many rules the tables may hold; the rules worth trying on a text are a fixed bit set.
const MAX_RULES: usize = 512;

impl Matcher {
    pub fn new(tables: &[&'static [Rule]]) -> Matcher {
        let mut literals: Vec<&'static [u8]> = Vec::new();
        let mut anchored_at: Vec<(usize, Anchor)> = Vec::new();
        let mut number = |list: &'static [&'static str]| -> Range<usize> {
            let start = literals.len();
            for &text in list {
                let id = literals.len();
                let (offset, pair) = rarest_pair(text);
                let anchor = Anchor { id: id as u16, offset: offset as u16 };
                anchored_at.push((pair_index(pair), anchor));
                literals.push(text.as_bytes());
            }
            start..literals.len()
        };
        let mut rules = Vec::new();
        for rule in tables.iter().flat_map(|t| t.iter()) {
            rules.push(Compiled {
                rule,
                codes: rule.codes.iter().map(|p| CodePattern::parse(p)).collect(),
                any: number(rule.any),
                all: number(rule.all),
                none: number(rule.none),
                regex: rule.regex.map(|r| Regex::new(r).unwrap_or_else(|e| panic!("rule {}: {e}", rule.id))),
            });
        }
        assert!(literals.len() <= MAX_LITERALS, "raise MAX_LITERALS to {}", literals.len());
        anchored_at.sort_by_key(|&(pair, anchor)| (pair, anchor.id));
        let mut starts = vec![0u32; PAIR_SLOTS + 1];
        for &(pair, _) in &anchored_at {
            starts[pair + 1] += 1;
        }
        for p in 1..starts.len() {
            starts[p] += starts[p - 1];
        }
        let mut anchored = [0u64; PAIR_SLOTS / 64];
        for &(pair, _) in &anchored_at {
            anchored[pair / 64] |= 1 << (pair % 64);
        }
        let anchors = anchored_at.into_iter().map(|(_, anchor)| anchor).collect();
        assert!(rules.len() <= MAX_RULES, "raise MAX_RULES to {}", rules.len());
        let mut any_owner = vec![None; literals.len()];
        let mut always = [0u64; MAX_RULES / 64];
        for (index, rule) in rules.iter().enumerate() {
            for id in rule.any.clone() {
                any_owner[id] = Some(index as u16);
            }
            if rule.any.is_empty() {
                always[index / 64] |= 1 << (index % 64);
            }
        }
        Matcher { rules, literals, starts, anchors, anchored, any_owner, always }
    }

    /// The first rule that matches, if any.
    pub fn first_match(&self, reply: &Reply) -> Option<&'static Rule> {
        let found = self.find_literals(reply.text.as_bytes());
        // A rule with an `any` list needs one of its literals, so only those rules and the ones
        // without such a list are tried, in table order: a few dozen instead of every rule.
        let mut worth_trying = self.always;
        for (word, &bits) in found.literals.iter().enumerate() {
            for id in set_bits(bits).map(|bit| word * 64 + bit) {
                if let Some(rule) = self.any_owner.get(id).copied().flatten() {
                    worth_trying[usize::from(rule) / 64] |= 1 << (rule % 64);
                }
            }
        }
        let mut tried =
            worth_trying.iter().enumerate().flat_map(|(word, &bits)| set_bits(bits).map(move |bit| word * 64 + bit));
        tried.find(|&index| self.rules[index].matches(reply, &found)).map(|index| self.rules[index].rule)
    }

    fn find_literals(&self, text: &[u8]) -> Found {
        let mut found = Found { literals: [0; MAX_LITERALS / 64] };
        for (at, w) in text.windows(2).enumerate() {
            let p = pair_index([w[0], w[1]]);
            if self.anchored[p / 64] & (1 << (p % 64)) == 0 {
                continue;
            }
            for anchor in &self.anchors[self.starts[p] as usize..self.starts[p + 1] as usize] {
                let id = usize::from(anchor.id);
                if found.has(id) {
                    continue;
                }
                let occurs = at
                    .checked_sub(usize::from(anchor.offset))
                    .is_some_and(|start| text[start..].starts_with(self.literals[id]));
                if occurs {
                    found.set(id);
                }
            }
        }
        found
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

/// A literal's least common byte pair and where it starts in the literal. Panics on a literal shorter
/// than a pair: literals are static table data, checked by the test suite.
fn rarest_pair(text: &str) -> (usize, [u8; 2]) {
    text.as_bytes()
        .windows(2)
        .enumerate()
        .map(|(offset, w)| (offset, [w[0], w[1]]))
        .max_by_key(|&(offset, pair)| (rarity(pair), std::cmp::Reverse(offset)))
        .unwrap_or_else(|| panic!("literal {text:?} is too short"))
}
