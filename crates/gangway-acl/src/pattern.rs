//! Matching methods and their compiled pattern sets.
//!
//! A set holding a handful of patterns is a plain list (fastest for the common ACL with one
//! or two values); larger sets switch to a structure whose cost does not grow with the
//! pattern count: a sorted table for exact strings, a byte trie for prefixes, suffixes and
//! delimited words, Aho-Corasick for substrings, a `RegexSet`, and merged sorted ranges for
//! integers and addresses.

use std::cmp::Ordering;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use aho_corasick::AhoCorasick;

/// How a fetched sample is compared with an ACL's patterns (HAProxy's `-m` methods).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MatchMethod {
    /// `-m found`: true when the fetch returns any sample; takes no pattern.
    Found,
    /// `-m bool`: true when the sample is a true boolean or a non-zero integer.
    Bool,
    /// `-m int`: integer equality, ranges `a:b` and `eq`/`ge`/`gt`/`le`/`lt` operators.
    Int,
    /// `-m ip`: IPv4 or IPv6 address, optionally with a `/mask`.
    Ip,
    /// `-m len`: the sample's length in bytes compared like `-m int`.
    Len,
    /// `-m str`: exact string equality.
    Str,
    /// `-m sub`: the pattern appears anywhere in the sample.
    Sub,
    /// `-m reg`: the regular expression matches somewhere in the sample.
    Reg,
    /// `-m beg`: the sample begins with the pattern.
    Beg,
    /// `-m end`: the sample ends with the pattern.
    End,
    /// `-m dir`: the pattern appears as `/`-delimited path components.
    Dir,
    /// `-m dom`: the pattern appears as `.`-delimited domain labels (also delimited by
    /// `/`, `?` and `:`).
    Dom,
}

impl MatchMethod {
    /// The method named after `-m` (`str`, `beg`, ...).
    pub fn from_name(name: &str) -> Option<MatchMethod> {
        Some(match name {
            "found" => MatchMethod::Found,
            "bool" => MatchMethod::Bool,
            "int" => MatchMethod::Int,
            "ip" => MatchMethod::Ip,
            "len" => MatchMethod::Len,
            "str" => MatchMethod::Str,
            "sub" => MatchMethod::Sub,
            "reg" => MatchMethod::Reg,
            "beg" => MatchMethod::Beg,
            "end" => MatchMethod::End,
            "dir" => MatchMethod::Dir,
            "dom" => MatchMethod::Dom,
            _ => return None,
        })
    }

    /// The name used after `-m`.
    pub fn name(self) -> &'static str {
        match self {
            MatchMethod::Found => "found",
            MatchMethod::Bool => "bool",
            MatchMethod::Int => "int",
            MatchMethod::Ip => "ip",
            MatchMethod::Len => "len",
            MatchMethod::Str => "str",
            MatchMethod::Sub => "sub",
            MatchMethod::Reg => "reg",
            MatchMethod::Beg => "beg",
            MatchMethod::End => "end",
            MatchMethod::Dir => "dir",
            MatchMethod::Dom => "dom",
        }
    }
}

impl fmt::Display for MatchMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One sample produced by a fetch.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Sample<'a> {
    Str(&'a [u8]),
    Int(i64),
    Ip(IpAddr),
    Bool(bool),
}

/// Up to this many patterns are compared one by one.
const FEW: usize = 4;

/// Characters delimiting `-m dir` words.
const DIR_DELIMITERS: &[u8] = b"/?";
/// Characters delimiting `-m dom` words.
const DOM_DELIMITERS: &[u8] = b"/?.:";

/// A compiled pattern set for one matching method.
pub(crate) enum Matcher {
    Found,
    Bool,
    Int(IntRanges),
    Len(IntRanges),
    Ip(IpSet),
    Str(StrSet),
    Beg(Affixes),
    End(Affixes),
    Sub(Substrings),
    Dir(Words),
    Dom(Words),
    Reg(Regexes),
    /// Host patterns of one method, some naming a port: those without one compare
    /// with the sample's port stripped, the others with the whole sample.
    HostPorts {
        without_port: Box<Matcher>,
        with_port: Box<Matcher>,
    },
}

impl fmt::Debug for Matcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            Matcher::Found => "found",
            Matcher::Bool => "bool",
            Matcher::Int(_) => "int",
            Matcher::Len(_) => "len",
            Matcher::Ip(_) => "ip",
            Matcher::Str(_) => "str",
            Matcher::Beg(_) => "beg",
            Matcher::End(_) => "end",
            Matcher::Sub(_) => "sub",
            Matcher::Dir(_) => "dir",
            Matcher::Dom(_) => "dom",
            Matcher::Reg(_) => "reg",
            Matcher::HostPorts { .. } => "host ports",
        };
        write!(f, "Matcher({name})")
    }
}

/// Patterns as collected by the parser or a builder, before compiling.
#[derive(Debug, Clone, Default)]
pub(crate) struct PatternList {
    /// Textual patterns (every method but `int`/`len`), with where each came from.
    pub(crate) texts: Vec<String>,
    /// Integer ranges (for `int` and `len`), inclusive.
    pub(crate) ranges: Vec<(i64, i64)>,
    /// Parsed addresses (for `ip`): network, prefix length.
    pub(crate) nets: Vec<(IpAddr, u8)>,
}

impl Matcher {
    /// Compiles `patterns` for `method`. Patterns are already validated by the parser.
    pub(crate) fn compile(
        method: MatchMethod,
        ignore_case: bool,
        patterns: &PatternList,
    ) -> Result<Matcher, String> {
        let texts = || patterns.texts.iter().map(|s| s.as_bytes());
        Ok(match method {
            MatchMethod::Found => Matcher::Found,
            MatchMethod::Bool => Matcher::Bool,
            MatchMethod::Int => Matcher::Int(IntRanges::new(&patterns.ranges)),
            MatchMethod::Len => Matcher::Len(IntRanges::new(&patterns.ranges)),
            MatchMethod::Ip => Matcher::Ip(IpSet::new(&patterns.nets)),
            MatchMethod::Str => Matcher::Str(StrSet::new(texts(), ignore_case)),
            MatchMethod::Beg => Matcher::Beg(Affixes::new(texts(), ignore_case, false)),
            MatchMethod::End => Matcher::End(Affixes::new(texts(), ignore_case, true)),
            MatchMethod::Sub => Matcher::Sub(Substrings::new(texts(), ignore_case)?),
            MatchMethod::Dir => Matcher::Dir(Words::new(texts(), ignore_case, DIR_DELIMITERS)),
            MatchMethod::Dom => Matcher::Dom(Words::new(texts(), ignore_case, DOM_DELIMITERS)),
            MatchMethod::Reg => Matcher::Reg(Regexes::new(&patterns.texts, ignore_case)?),
        })
    }

    /// Whether `sample` matches any pattern.
    #[inline]
    pub(crate) fn matches(&self, sample: Sample<'_>) -> bool {
        match (self, sample) {
            (Matcher::Found, _) => true,
            (Matcher::Bool, Sample::Bool(b)) => b,
            (Matcher::Bool, Sample::Int(n)) => n != 0,
            (Matcher::Int(r), Sample::Int(n)) => r.contains(n),
            (Matcher::Int(r), Sample::Str(s)) => cast_int(s).is_some_and(|n| r.contains(n)),
            (Matcher::Len(r), Sample::Str(s)) => {
                r.contains(i64::try_from(s.len()).unwrap_or(i64::MAX))
            }
            (Matcher::Ip(set), Sample::Ip(ip)) => set.contains(ip),
            (Matcher::Ip(set), Sample::Str(s)) => cast_ip(s).is_some_and(|ip| set.contains(ip)),
            (Matcher::Str(set), Sample::Str(s)) => set.contains(s),
            (Matcher::Beg(a), Sample::Str(s)) => a.matches(s),
            (Matcher::End(a), Sample::Str(s)) => a.matches(s),
            (Matcher::Sub(sub), Sample::Str(s)) => sub.matches(s),
            (Matcher::Dir(w), Sample::Str(s)) => w.matches(s),
            (Matcher::Dom(w), Sample::Str(s)) => w.matches(s),
            (Matcher::Reg(r), Sample::Str(s)) => r.matches(s),
            (
                Matcher::HostPorts {
                    without_port,
                    with_port,
                },
                Sample::Str(s),
            ) => {
                without_port.matches(Sample::Str(crate::view::strip_port(s)))
                    || with_port.matches(Sample::Str(s))
            }
            _ => false,
        }
    }
}

/// HAProxy's string-to-integer cast (`c_str2int`, `read_int64`), used when `-m int`
/// compares a string fetch: an optional sign, then the leading digits (none reads 0),
/// saturating; an empty string gives no sample.
pub(crate) fn cast_int(s: &[u8]) -> Option<i64> {
    if s.is_empty() {
        return None;
    }
    let (negative, digits) = match s {
        [b'-', rest @ ..] => (true, rest),
        [b'+', rest @ ..] => (false, rest),
        _ => (false, s),
    };
    let mut n: i64 = 0;
    for &d in digits.iter().take_while(|b| b.is_ascii_digit()) {
        let d = i64::from(d - b'0');
        n = n.saturating_mul(10);
        n = if negative {
            n.saturating_sub(d)
        } else {
            n.saturating_add(d)
        };
    }
    Some(n)
}

/// The integer of `hdr_val`, `urlp_val` and `cook_val` (HAProxy's `strl2ic`): an
/// optional `-`, then the leading digits; a value without digits reads 0.
pub(crate) fn value_int(s: &[u8]) -> i64 {
    let (negative, digits) = match s {
        [b'-', rest @ ..] => (true, rest),
        _ => (false, s),
    };
    let mut n: i64 = 0;
    for &d in digits.iter().take_while(|b| b.is_ascii_digit()) {
        n = n.saturating_mul(10).saturating_add(i64::from(d - b'0'));
    }
    if negative { -n } else { n }
}

/// A dotted-quad IPv4 address at the start of `s`, read as HAProxy's `buf2ip` does: up
/// to the first byte that is neither a digit nor a dot. Returns the address and the
/// bytes read; `None` when there are not four octets of at most 255, or a dot is misplaced.
pub(crate) fn ipv4_prefix(s: &[u8]) -> Option<(Ipv4Addr, usize)> {
    let mut octets = [0u8; 4];
    let mut count = 0usize;
    let mut in_octet = false;
    let mut read = 0;
    for &b in s {
        if b.is_ascii_digit() {
            if !in_octet {
                if count == 4 {
                    return None;
                }
                count += 1;
                in_octet = true;
            }
            let octet = &mut octets[count - 1];
            let value = u16::from(*octet) * 10 + u16::from(b - b'0');
            *octet = u8::try_from(value).ok()?;
        } else if b == b'.' {
            if !in_octet || count == 4 {
                return None;
            }
            in_octet = false;
        } else {
            break;
        }
        read += 1;
    }
    (count == 4 && in_octet).then(|| (Ipv4Addr::from(octets), read))
}

/// An IPv6 address written alone, as `inet_pton` reads it.
fn ipv6_exact(s: &[u8]) -> Option<Ipv6Addr> {
    std::str::from_utf8(s).ok()?.parse().ok()
}

/// HAProxy's string-to-address cast (`c_str2addr`), used when `-m ip` compares a string
/// fetch: a leading dotted quad (what follows it is ignored), else a whole IPv6 address.
pub(crate) fn cast_ip(s: &[u8]) -> Option<IpAddr> {
    match ipv4_prefix(s) {
        Some((v4, _)) => Some(IpAddr::V4(v4)),
        None => ipv6_exact(s).map(IpAddr::V6),
    }
}

/// The address of `hdr_ip` (HAProxy's `smp_fetch_hdr_ip`): a whole IPv4 address, one
/// followed by `:` and a port from 0 to 65535, or a whole IPv6 address.
pub(crate) fn header_ip(s: &[u8]) -> Option<IpAddr> {
    if let Some((v4, read)) = ipv4_prefix(s) {
        match s[read..] {
            [] => return Some(IpAddr::V4(v4)),
            [b':', ref port @ ..] if is_port(port) => return Some(IpAddr::V4(v4)),
            _ => {}
        }
    }
    ipv6_exact(s).map(IpAddr::V6)
}

/// Whether `s` is a port as HAProxy's `strl2irc` then a 0..=65535 check accept it:
/// digits, or `-` and digits that read 0.
fn is_port(s: &[u8]) -> bool {
    let (negative, digits) = match s {
        [] => return false,
        [b'-', rest @ ..] => (true, rest),
        _ => (false, s),
    };
    if !digits.iter().all(u8::is_ascii_digit) {
        return false;
    }
    let significant = &digits[digits.iter().take_while(|&&b| b == b'0').count()..];
    if negative {
        return significant.is_empty();
    }
    significant.len() <= 5
        && significant
            .iter()
            .fold(0u32, |n, &d| n * 10 + u32::from(d - b'0'))
            <= 65_535
}

#[inline]
fn fold(b: u8, ignore_case: bool) -> u8 {
    if ignore_case {
        b.to_ascii_lowercase()
    } else {
        b
    }
}

/// Whether the sample bytes `s` equal the (folded) pattern bytes `p`.
#[inline]
fn bytes_eq(p: &[u8], s: &[u8], ignore_case: bool) -> bool {
    if ignore_case {
        crate::view::eq_folded(p, s)
    } else {
        crate::view::eq_exact(p, s)
    }
}

fn folded(p: &[u8], ignore_case: bool) -> Box<[u8]> {
    p.iter().map(|&b| fold(b, ignore_case)).collect()
}

/// A pattern compared with or without ASCII case by `(sample | mask) == pattern`: the
/// mask holds the 0x20 bit of each letter when case is ignored (so no per-sample folding).
pub(crate) struct Folded {
    /// The pattern, lowercase when case is ignored.
    bytes: Box<[u8]>,
    /// 0x20 where `bytes` holds a lowercase letter and case is ignored, else 0.
    mask: Box<[u8]>,
    /// Whether `bytes` holds neither `,` nor `"`.
    no_comma_or_quote: bool,
}

impl Folded {
    /// `pattern` must already be lowercase when `ignore_case`.
    pub(crate) fn new(pattern: &[u8], ignore_case: bool) -> Folded {
        let mask = pattern
            .iter()
            .map(|b| {
                if ignore_case && b.is_ascii_lowercase() {
                    0x20
                } else {
                    0
                }
            })
            .collect();
        Folded {
            bytes: pattern.into(),
            mask,
            no_comma_or_quote: !pattern.iter().any(|&b| b == b',' || b == b'"'),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Whether the pattern holds neither `,` nor `"` (so it can never span header
    /// value elements).
    #[inline]
    pub(crate) fn has_no_comma_or_quote(&self) -> bool {
        self.no_comma_or_quote
    }

    /// Whether `s` begins with the pattern.
    #[inline]
    pub(crate) fn begins(&self, s: &[u8]) -> bool {
        s.get(..self.len()).is_some_and(|part| self.matches(part))
    }

    /// Whether `s` ends with the pattern.
    #[inline]
    pub(crate) fn ends(&self, s: &[u8]) -> bool {
        s.len()
            .checked_sub(self.len())
            .is_some_and(|start| self.matches(&s[start..]))
    }

    /// Whether `s` equals the pattern (ignoring ASCII case if so built).
    #[inline]
    pub(crate) fn matches(&self, s: &[u8]) -> bool {
        use crate::view::{ends4, word_at};
        let (p, m) = (&*self.bytes, &*self.mask);
        let len = p.len();
        if len != s.len() || m.len() != len {
            return false;
        }
        if len >= 8 {
            let mut i = 0;
            while i + 8 <= len {
                if word_at(s, i) | word_at(m, i) != word_at(p, i) {
                    return false;
                }
                i += 8;
            }
            // The last, possibly overlapping, word covers the tail.
            return i == len || word_at(s, len - 8) | word_at(m, len - 8) == word_at(p, len - 8);
        }
        if len >= 4 {
            return ends4(s) | ends4(m) == ends4(p);
        }
        s.iter().zip(p).zip(m).all(|((a, b), c)| a | c == *b)
    }
}

/// Exact strings: a short list, or a sorted table searched by binary search.
pub(crate) struct StrSet {
    ignore_case: bool,
    sorted: Box<[Box<[u8]>]>,
    /// The patterns when few (compared one by one), else empty.
    few: Box<[Folded]>,
}

impl StrSet {
    fn new<'p>(patterns: impl Iterator<Item = &'p [u8]>, ignore_case: bool) -> StrSet {
        let mut sorted: Vec<Box<[u8]>> = patterns.map(|p| folded(p, ignore_case)).collect();
        sorted.sort_unstable();
        sorted.dedup();
        let few = if sorted.len() <= FEW * 2 {
            sorted.iter().map(|p| Folded::new(p, ignore_case)).collect()
        } else {
            Box::default()
        };
        StrSet {
            ignore_case,
            sorted: sorted.into_boxed_slice(),
            few,
        }
    }

    /// The pattern when there is exactly one.
    #[inline]
    pub(crate) fn single(&self) -> Option<&Folded> {
        match &*self.few {
            [one] => Some(one),
            _ => None,
        }
    }

    #[inline]
    pub(crate) fn contains(&self, s: &[u8]) -> bool {
        if self.sorted.len() <= FEW * 2 {
            return self.few.iter().any(|p| p.matches(s));
        }
        let ic = self.ignore_case;
        self.sorted
            .binary_search_by(|p| cmp_folded(p, s, ic))
            .is_ok()
    }
}

fn cmp_folded(pattern: &[u8], s: &[u8], ignore_case: bool) -> Ordering {
    pattern
        .iter()
        .copied()
        .cmp(s.iter().map(|&b| fold(b, ignore_case)))
}

/// A byte trie over folded patterns, path-compressed: a chain of single-child nodes is one
/// node whose label is compared byte by byte without searching edges.
pub(crate) struct Trie {
    nodes: Box<[TrieNode]>,
    /// Edges of every node, each node's sorted and contiguous: (byte, child node).
    edges: Box<[(u8, u32)]>,
    /// Label bytes of every node.
    labels: Box<[u8]>,
    ignore_case: bool,
}

#[derive(Debug, Clone, Copy, Default)]
struct TrieNode {
    label_start: u32,
    label_len: u32,
    edge_start: u32,
    edge_len: u32,
    /// Whether a pattern ends after this node's label.
    terminal: bool,
}

fn index_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

impl Trie {
    fn new<'p>(
        patterns: impl Iterator<Item = &'p [u8]>,
        ignore_case: bool,
        reversed: bool,
    ) -> Trie {
        // Build an uncompressed trie first: per node, (edges, terminal).
        let mut build: Vec<(Vec<(u8, u32)>, bool)> = vec![(Vec::new(), false)];
        for pattern in patterns {
            let mut node = 0usize;
            let bytes: Box<dyn Iterator<Item = &u8>> = if reversed {
                Box::new(pattern.iter().rev())
            } else {
                Box::new(pattern.iter())
            };
            for &b in bytes {
                let b = fold(b, ignore_case);
                node = match build[node].0.iter().find(|(c, _)| *c == b) {
                    Some(&(_, next)) => next as usize,
                    None => {
                        let next = build.len();
                        build.push((Vec::new(), false));
                        build[node].0.push((b, index_u32(next)));
                        next
                    }
                };
            }
            build[node].1 = true;
        }
        // Freeze with path compression, iteratively (patterns may be long).
        let mut nodes = vec![TrieNode::default()];
        let mut edges: Vec<(u8, u32)> = Vec::new();
        let mut labels: Vec<u8> = Vec::new();
        let mut pending = vec![(0usize, 0usize)];
        while let Some((mut at, frozen)) = pending.pop() {
            let label_start = labels.len();
            while !build[at].1 && build[at].0.len() == 1 {
                let (b, child) = build[at].0[0];
                labels.push(b);
                at = child as usize;
            }
            let mut children = std::mem::take(&mut build[at].0);
            children.sort_unstable();
            let edge_start = edges.len();
            for &(b, child) in &children {
                let index = nodes.len();
                nodes.push(TrieNode::default());
                edges.push((b, index_u32(index)));
                pending.push((child as usize, index));
            }
            nodes[frozen] = TrieNode {
                label_start: index_u32(label_start),
                label_len: index_u32(labels.len() - label_start),
                edge_start: index_u32(edge_start),
                edge_len: index_u32(children.len()),
                terminal: build[at].1,
            };
        }
        Trie {
            nodes: nodes.into_boxed_slice(),
            edges: edges.into_boxed_slice(),
            labels: labels.into_boxed_slice(),
            ignore_case,
        }
    }

    /// [`Trie::walk`] over a forward slice, comparing labels as slices.
    #[inline]
    fn walk_forward(&self, s: &[u8], mut found: impl FnMut(usize) -> bool) -> bool {
        let ic = self.ignore_case;
        let mut node = self.nodes[0];
        let mut pos = 0usize;
        loop {
            let start = node.label_start as usize;
            let label = &self.labels[start..start + node.label_len as usize];
            let Some(part) = s.get(pos..pos + label.len()) else {
                return false;
            };
            if !bytes_eq(label, part, ic) {
                return false;
            }
            pos += label.len();
            if node.terminal && found(pos) {
                return true;
            }
            let Some(&b) = s.get(pos) else {
                return false;
            };
            match self.child(node, fold(b, ic)) {
                Some(n) => {
                    node = self.nodes[n as usize];
                    pos += 1;
                }
                None => return false,
            }
        }
    }

    #[inline]
    fn child(&self, node: TrieNode, b: u8) -> Option<u32> {
        let start = node.edge_start as usize;
        let edges = &self.edges[start..start + node.edge_len as usize];
        if edges.len() <= 8 {
            edges.iter().find(|e| e.0 == b).map(|e| e.1)
        } else {
            edges
                .binary_search_by_key(&b, |e| e.0)
                .ok()
                .map(|i| edges[i].1)
        }
    }

    /// Walks the `len` bytes given by `byte(i)` from the root and calls `found(end)` at
    /// each length `end` where a pattern ends, until it returns true.
    #[inline]
    fn walk(
        &self,
        len: usize,
        byte: impl Fn(usize) -> u8,
        mut found: impl FnMut(usize) -> bool,
    ) -> bool {
        let ic = self.ignore_case;
        let mut node = self.nodes[0];
        let mut pos = 0usize;
        loop {
            let start = node.label_start as usize;
            let label = &self.labels[start..start + node.label_len as usize];
            if len - pos < label.len() {
                return false;
            }
            for (k, &l) in label.iter().enumerate() {
                if fold(byte(pos + k), ic) != l {
                    return false;
                }
            }
            pos += label.len();
            if node.terminal && found(pos) {
                return true;
            }
            if pos == len {
                return false;
            }
            match self.child(node, fold(byte(pos), ic)) {
                Some(n) => {
                    node = self.nodes[n as usize];
                    pos += 1;
                }
                None => return false,
            }
        }
    }
}

/// Prefixes (`beg`) or suffixes (`end`).
pub(crate) enum Affixes {
    Few {
        patterns: Box<[Folded]>,
        suffix: bool,
    },
    Trie {
        trie: Trie,
        suffix: bool,
    },
}

impl Affixes {
    fn new<'p>(
        patterns: impl Iterator<Item = &'p [u8]>,
        ignore_case: bool,
        suffix: bool,
    ) -> Affixes {
        let list: Vec<&[u8]> = patterns.collect();
        if list.len() <= FEW {
            Affixes::Few {
                patterns: list
                    .iter()
                    .map(|p| Folded::new(&folded(p, ignore_case), ignore_case))
                    .collect(),
                suffix,
            }
        } else {
            Affixes::Trie {
                trie: Trie::new(list.into_iter(), ignore_case, suffix),
                suffix,
            }
        }
    }

    /// The pattern when there is exactly one.
    #[inline]
    pub(crate) fn single(&self) -> Option<&Folded> {
        match self {
            Affixes::Few { patterns, .. } if patterns.len() == 1 => patterns.first(),
            _ => None,
        }
    }

    #[inline]
    pub(crate) fn matches(&self, s: &[u8]) -> bool {
        match self {
            Affixes::Few { patterns, suffix } => patterns.iter().any(|p| {
                p.len() <= s.len() && {
                    let part = if *suffix {
                        &s[s.len() - p.len()..]
                    } else {
                        &s[..p.len()]
                    };
                    p.matches(part)
                }
            }),
            Affixes::Trie { trie, suffix } => {
                if *suffix {
                    trie.walk(s.len(), |i| s[s.len() - 1 - i], |_| true)
                } else {
                    trie.walk_forward(s, |_| true)
                }
            }
        }
    }
}

/// Substrings, by Aho-Corasick (which also serves a single pattern well).
pub(crate) struct Substrings {
    automaton: AhoCorasick,
}

impl Substrings {
    fn new<'p>(
        patterns: impl Iterator<Item = &'p [u8]>,
        ignore_case: bool,
    ) -> Result<Self, String> {
        let automaton = AhoCorasick::builder()
            .ascii_case_insensitive(ignore_case)
            .build(patterns)
            .map_err(|e| e.to_string())?;
        Ok(Substrings { automaton })
    }

    #[inline]
    fn matches(&self, s: &[u8]) -> bool {
        self.automaton.is_match(s)
    }
}

/// Delimited words (`dir`, `dom`): a short list, or a trie walked from each word start.
pub(crate) enum Words {
    Few {
        patterns: Box<[Box<[u8]>]>,
        ignore_case: bool,
        delimiters: &'static [u8],
    },
    Trie {
        trie: Trie,
        delimiters: &'static [u8],
    },
}

/// Strips leading and trailing delimiters from a word pattern, as HAProxy does.
pub(crate) fn strip_delimiters<'p>(mut p: &'p [u8], delimiters: &[u8]) -> &'p [u8] {
    while let [first, rest @ ..] = p {
        if !delimiters.contains(first) {
            break;
        }
        p = rest;
    }
    while let [rest @ .., last] = p {
        if !delimiters.contains(last) {
            break;
        }
        p = rest;
    }
    p
}

impl Words {
    fn new<'p>(
        patterns: impl Iterator<Item = &'p [u8]>,
        ignore_case: bool,
        delimiters: &'static [u8],
    ) -> Words {
        // A pattern made only of delimiters never matches anything.
        let list: Vec<&[u8]> = patterns
            .map(|p| strip_delimiters(p, delimiters))
            .filter(|p| !p.is_empty())
            .collect();
        if list.len() <= FEW {
            Words::Few {
                patterns: list.iter().map(|p| folded(p, ignore_case)).collect(),
                ignore_case,
                delimiters,
            }
        } else {
            Words::Trie {
                trie: Trie::new(list.into_iter(), ignore_case, false),
                delimiters,
            }
        }
    }

    #[inline]
    fn matches(&self, s: &[u8]) -> bool {
        match self {
            Words::Few {
                patterns,
                ignore_case,
                delimiters,
            } => patterns
                .iter()
                .any(|p| match_word(s, p, *ignore_case, delimiters)),
            Words::Trie { trie, delimiters } => {
                let mut at_word_start = true;
                for (start, &b) in s.iter().enumerate() {
                    if delimiters.contains(&b) {
                        at_word_start = true;
                        continue;
                    }
                    if !at_word_start {
                        continue;
                    }
                    at_word_start = false;
                    let word = &s[start..];
                    let ends_word =
                        |end: usize| end == word.len() || delimiters.contains(&word[end]);
                    if trie.walk_forward(word, ends_word) {
                        return true;
                    }
                }
                false
            }
        }
    }
}

/// HAProxy's `match_word`: `pattern` (already stripped of delimiters) appears in `s`
/// starting at the beginning or after a delimiter, and ending at the end or before one.
fn match_word(s: &[u8], pattern: &[u8], ignore_case: bool, delimiters: &[u8]) -> bool {
    if pattern.is_empty() || pattern.len() > s.len() {
        return false;
    }
    let mut may_match = true;
    for start in 0..=s.len() - pattern.len() {
        let c = s[start];
        if delimiters.contains(&c) {
            may_match = true;
            continue;
        }
        if !may_match {
            continue;
        }
        let end = start + pattern.len();
        if bytes_eq(pattern, &s[start..end], ignore_case)
            && (end == s.len() || delimiters.contains(&s[end]))
        {
            return true;
        }
        may_match = false;
    }
    false
}

/// Regular expressions (unanchored search, like HAProxy's), matched byte by byte as
/// HAProxy's PCRE does (no Unicode mode): `.` is one byte, `-i` folds ASCII letters only.
pub(crate) enum Regexes {
    One(regex::bytes::Regex),
    Many(regex::bytes::RegexSet),
}

impl Regexes {
    fn new(patterns: &[String], ignore_case: bool) -> Result<Regexes, String> {
        if let [one] = patterns {
            return byte_regex(one, ignore_case).map(Regexes::One);
        }
        regex::bytes::RegexSetBuilder::new(patterns)
            .unicode(false)
            .case_insensitive(ignore_case)
            .build()
            .map(Regexes::Many)
            .map_err(|e| {
                // Name the pattern the set failed on.
                patterns
                    .iter()
                    .find_map(|p| byte_regex(p, ignore_case).err())
                    .unwrap_or_else(|| regex_error(e))
            })
    }

    #[inline]
    fn matches(&self, s: &[u8]) -> bool {
        match self {
            Regexes::One(r) => r.is_match(s),
            Regexes::Many(set) => set.is_match(s),
        }
    }
}

/// One byte-wise regular expression; the error names the pattern.
fn byte_regex(pattern: &str, ignore_case: bool) -> Result<regex::bytes::Regex, String> {
    byte_regex_builder(pattern, ignore_case)
        .map_err(|e| format!("regular expression `{pattern}`: {}", regex_error(e)))
}

fn byte_regex_builder(
    pattern: &str,
    ignore_case: bool,
) -> Result<regex::bytes::Regex, regex::Error> {
    regex::bytes::RegexBuilder::new(pattern)
        .unicode(false)
        .case_insensitive(ignore_case)
        .build()
}

/// A one-line reason for a regular expression error.
fn regex_error(e: regex::Error) -> String {
    match e {
        regex::Error::Syntax(text) => {
            let detail = text
                .lines()
                .rev()
                .find_map(|l| l.strip_prefix("error: "))
                .unwrap_or(&text);
            if detail.contains("Unicode not allowed") {
                format!(
                    "{detail}: matching is byte-wise, as with HAProxy's PCRE, so `\\p{{..}}` \
                     classes and non-ASCII characters inside `[...]` are not available \
                     (write bytes as `\\xNN`)"
                )
            } else {
                detail.to_owned()
            }
        }
        other => other.to_string(),
    }
}

/// Checks that `pattern` compiles as a (byte-wise) regular expression (the caller names
/// the pattern in its error).
pub(crate) fn check_regex(pattern: &str) -> Result<(), String> {
    byte_regex_builder(pattern, false)
        .map(drop)
        .map_err(|e| format!("not a regular expression: {}", regex_error(e)))
}

/// Inclusive integer ranges, merged and sorted.
pub(crate) struct IntRanges {
    ranges: Box<[(i64, i64)]>,
}

impl IntRanges {
    fn new(input: &[(i64, i64)]) -> IntRanges {
        IntRanges {
            ranges: merge(input.iter().copied().filter(|(lo, hi)| lo <= hi)),
        }
    }

    #[inline]
    fn contains(&self, n: i64) -> bool {
        in_ranges(&self.ranges, n)
    }
}

fn merge<T: Ord + Copy + One>(input: impl Iterator<Item = (T, T)>) -> Box<[(T, T)]> {
    let mut v: Vec<(T, T)> = input.collect();
    v.sort_unstable();
    let mut out: Vec<(T, T)> = Vec::with_capacity(v.len());
    for (lo, hi) in v {
        match out.last_mut() {
            Some(last) if lo <= last.1.saturating_inc() => {
                if hi > last.1 {
                    last.1 = hi;
                }
            }
            _ => out.push((lo, hi)),
        }
    }
    out.into_boxed_slice()
}

#[inline]
fn in_ranges<T: Ord + Copy>(ranges: &[(T, T)], n: T) -> bool {
    // Index of the first range starting after n; the one before it may contain n.
    let i = ranges.partition_point(|r| r.0 <= n);
    i > 0 && n <= ranges[i - 1].1
}

trait One {
    fn saturating_inc(self) -> Self;
}
impl One for i64 {
    fn saturating_inc(self) -> Self {
        self.saturating_add(1)
    }
}
impl One for u32 {
    fn saturating_inc(self) -> Self {
        self.saturating_add(1)
    }
}
impl One for u128 {
    fn saturating_inc(self) -> Self {
        self.saturating_add(1)
    }
}

/// IPv4 and IPv6 networks as merged address ranges.
pub(crate) struct IpSet {
    v4: Box<[(u32, u32)]>,
    v6: Box<[(u128, u128)]>,
}

fn v4_range(addr: Ipv4Addr, prefix: u8) -> (u32, u32) {
    let bits = u32::from(addr);
    let mask = if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(prefix.min(32)))
    };
    (bits & mask, (bits & mask) | !mask)
}

fn v6_range(addr: Ipv6Addr, prefix: u8) -> (u128, u128) {
    let bits = u128::from(addr);
    let mask = if prefix == 0 {
        0
    } else {
        u128::MAX << (128 - u32::from(prefix.min(128)))
    };
    (bits & mask, (bits & mask) | !mask)
}

/// The IPv4 address embedded in an IPv6 one as `::ffff:a.b.c.d`, `::a.b.c.d` or
/// `2002:a.b.c.d::/48` (6to4), the forms HAProxy matches against IPv4 patterns.
fn embedded_v4(v6: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = v6.segments();
    let o = v6.octets();
    if s[..5] == [0; 5] && (s[5] == 0xffff || s[5] == 0) {
        return Some(Ipv4Addr::new(o[12], o[13], o[14], o[15]));
    }
    if s[0] == 0x2002 {
        return Some(Ipv4Addr::new(o[2], o[3], o[4], o[5]));
    }
    None
}

impl IpSet {
    fn new(nets: &[(IpAddr, u8)]) -> IpSet {
        let v4 = nets.iter().filter_map(|&(ip, prefix)| match ip {
            IpAddr::V4(a) => Some(v4_range(a, prefix)),
            IpAddr::V6(_) => None,
        });
        let v6 = nets.iter().filter_map(|&(ip, prefix)| match ip {
            IpAddr::V6(a) => Some(v6_range(a, prefix)),
            IpAddr::V4(_) => None,
        });
        IpSet {
            v4: merge(v4),
            v6: merge(v6),
        }
    }

    #[inline]
    fn contains(&self, ip: IpAddr) -> bool {
        match ip {
            IpAddr::V4(a) => {
                in_ranges(&self.v4, u32::from(a))
                    || in_ranges(&self.v6, u128::from(a.to_ipv6_mapped()))
            }
            IpAddr::V6(a) => {
                in_ranges(&self.v6, u128::from(a))
                    || embedded_v4(a).is_some_and(|v4| in_ranges(&self.v4, u32::from(v4)))
            }
        }
    }
}

/// Parses an address pattern: `a.b.c.d`, `a.b.c.d/len`, `a.b.c.d/m.m.m.m`, `v6`, `v6/len`.
pub(crate) fn parse_net(pattern: &str) -> Result<(IpAddr, u8), String> {
    let (addr, mask) = match pattern.split_once('/') {
        Some((a, m)) => (a, Some(m)),
        None => (pattern, None),
    };
    let ip: IpAddr = addr.parse().map_err(|_| {
        "expected an IPv4 or IPv6 address, optionally followed by /mask (host names are not resolved)"
            .to_owned()
    })?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let prefix = match mask {
        None => max,
        Some(m) => match m.parse::<u8>() {
            Ok(p) if p <= max => p,
            Ok(_) => return Err(format!("mask length must be at most {max}")),
            Err(_) => match (ip, m.parse::<Ipv4Addr>()) {
                (IpAddr::V4(_), Ok(dotted)) => {
                    let bits = u32::from(dotted);
                    if bits.leading_ones() + bits.trailing_zeros() != 32 {
                        return Err("dotted netmask must be contiguous ones".to_owned());
                    }
                    bits.leading_ones() as u8
                }
                _ => return Err(format!("expected a mask length from 0 to {max}")),
            },
        },
    };
    Ok((ip, prefix))
}

/// Parses one integer pattern: `N`, `a:b`, `:b` or `a:`.
pub(crate) fn parse_int_range(pattern: &str) -> Result<(i64, i64), String> {
    let int = |s: &str| {
        s.parse::<i64>().map_err(|_| {
            "expected an integer, a range `a:b`, or an operator eq/ge/gt/le/lt".to_owned()
        })
    };
    match pattern.split_once(':') {
        None => {
            let n = int(pattern)?;
            Ok((n, n))
        }
        Some(("", "")) => Err("a range needs at least one bound".to_owned()),
        Some(("", hi)) => Ok((i64::MIN, int(hi)?)),
        Some((lo, "")) => Ok((int(lo)?, i64::MAX)),
        Some((lo, hi)) => Ok((int(lo)?, int(hi)?)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(texts: &[&str]) -> PatternList {
        PatternList {
            texts: texts.iter().map(|s| (*s).to_owned()).collect(),
            ..PatternList::default()
        }
    }

    fn m(method: MatchMethod, ic: bool, pats: &[&str], sample: &str) -> bool {
        Matcher::compile(method, ic, &list(pats))
            .unwrap()
            .matches(Sample::Str(sample.as_bytes()))
    }

    #[test]
    fn word_matching_follows_haproxy() {
        use MatchMethod::{Dir, Dom};
        let cases = [
            (Dom, "example.com", "www.example.com", true),
            (Dom, "example.com", "example.com:8080", true),
            (Dom, "example.com", "myexample.com", false),
            (Dom, ".example.com.", "a.example.com", true),
            (Dom, "com", "a.b.com", true),
            (Dom, "b.c", "a.b.cd", false),
            (Dir, "/ws", "/ws/echo", true),
            (Dir, "ws", "/api/ws", true),
            (Dir, "ws", "/wss", false),
            (Dir, "/ws/echo/", "/x/ws/echo?y", true),
            (Dir, "/", "/anything", false),
        ];
        for (method, pattern, sample, expected) in cases {
            for count in [1, 10] {
                // Padding with never-matching patterns exercises the trie form too.
                let mut pats = vec![pattern];
                let pad: Vec<String> = (0..count).map(|i| format!("zz{i}qq")).collect();
                pats.extend(pad.iter().map(String::as_str));
                assert_eq!(
                    m(method, false, &pats, sample),
                    expected,
                    "{method} {pattern:?} on {sample:?} ({} patterns)",
                    pats.len()
                );
            }
        }
    }

    #[test]
    fn ip_sets_match_mapped_addresses() {
        let nets: Vec<(IpAddr, u8)> = [
            "10.0.0.0/8",
            "192.168.1.1",
            "2001:db8::/32",
            "172.16.0.0/255.240.0.0",
        ]
        .iter()
        .map(|p| parse_net(p).unwrap())
        .collect();
        let set = IpSet::new(&nets);
        let cases = [
            ("10.1.2.3", true),
            ("11.0.0.1", false),
            ("192.168.1.1", true),
            ("192.168.1.2", false),
            ("172.31.255.255", true),
            ("172.32.0.0", false),
            ("::ffff:10.9.9.9", true),
            ("2002:0a00:0001::", true),
            ("2001:db8:1::1", true),
            ("2001:db9::1", false),
        ];
        for (ip, expected) in cases {
            assert_eq!(set.contains(ip.parse().unwrap()), expected, "{ip}");
        }
        assert!(parse_net("example.com").is_err());
        assert!(parse_net("10.0.0.0/33").is_err());
        assert!(parse_net("10.0.0.0/255.0.255.0").is_err());
    }

    #[test]
    fn ip_samples_follow_haproxy() {
        let v4 = |s: &str| Some(IpAddr::V4(s.parse().unwrap()));
        let v6 = |s: &str| Some(IpAddr::V6(s.parse().unwrap()));
        // (sample, hdr_ip, `-m ip` cast)
        let cases = [
            ("10.1.2.3", v4("10.1.2.3"), v4("10.1.2.3")),
            ("10.1.2.3:5555", v4("10.1.2.3"), v4("10.1.2.3")),
            ("10.1.2.3:0", v4("10.1.2.3"), v4("10.1.2.3")),
            ("10.1.2.3:65535", v4("10.1.2.3"), v4("10.1.2.3")),
            ("10.1.2.3:000080", v4("10.1.2.3"), v4("10.1.2.3")),
            ("10.1.2.3:-0", v4("10.1.2.3"), v4("10.1.2.3")),
            ("10.1.2.3:65536", None, v4("10.1.2.3")),
            ("10.1.2.3:", None, v4("10.1.2.3")),
            ("10.1.2.3:+80", None, v4("10.1.2.3")),
            ("10.1.2.3:80x", None, v4("10.1.2.3")),
            ("10.1.2.3 junk", None, v4("10.1.2.3")),
            ("010.001.002.003", v4("10.1.2.3"), v4("10.1.2.3")),
            ("10.1.2.3.", None, None),
            ("10.1.2.3.4", None, None),
            ("10.1.2", None, None),
            ("10..1.2", None, None),
            (".10.1.2.3", None, None),
            ("10.1.2.256", None, None),
            ("2001:db8::1", v6("2001:db8::1"), v6("2001:db8::1")),
            (
                "::ffff:10.1.2.3",
                v6("::ffff:10.1.2.3"),
                v6("::ffff:10.1.2.3"),
            ),
            ("[2001:db8::1]", None, None),
            ("[2001:db8::1]:443", None, None),
            ("2001:db8::1 ", None, None),
            (" 10.1.2.3", None, None),
            ("beta", None, None),
            ("", None, None),
        ];
        for (sample, hdr_ip, cast) in cases {
            assert_eq!(header_ip(sample.as_bytes()), hdr_ip, "hdr_ip {sample:?}");
            assert_eq!(cast_ip(sample.as_bytes()), cast, "cast {sample:?}");
        }
    }

    #[test]
    fn regexes_match_bytes() {
        let one = |p: &str, ic: bool| Regexes::new(&[p.to_owned()], ic).unwrap();
        let many =
            |p: &str, ic: bool| Regexes::new(&[p.to_owned(), "^zz$".to_owned()], ic).unwrap();
        for build in [one, many] {
            // -i folds ASCII only: the Kelvin sign (U+212A) is not a `k`.
            assert!(build("^k$", true).matches(b"K"));
            assert!(!build("^k$", true).matches("\u{212A}".as_bytes()));
            // `.` is one byte, also a lone non-UTF-8 byte.
            assert!(build("^/a.b$", false).matches(b"/a\xffb"));
            assert!(!build("^/a.b$", false).matches("/a\u{e9}b".as_bytes()));
            assert!(build("^/a..b$", false).matches("/a\u{e9}b".as_bytes()));
            // `\w` is ASCII; a literal non-ASCII character matches its UTF-8 bytes.
            assert!(!build("^\\w$", false).matches("\u{e9}".as_bytes()));
            assert!(build("caf\u{e9}", false).matches("caf\u{e9}".as_bytes()));
            assert!(build("^\\xff$", false).matches(b"\xff"));
        }
        for bad in ["\\p{L}", "[\u{e9}]"] {
            for patterns in [vec![bad.to_owned()], vec!["ok".to_owned(), bad.to_owned()]] {
                let err = Regexes::new(&patterns, false).err().unwrap();
                assert!(err.contains(&format!("`{bad}`")), "{err}");
                assert!(err.contains("byte-wise"), "{err}");
                assert!(!err.contains('\n'), "{err}");
            }
        }
    }

    #[test]
    fn int_ranges_merge() {
        let r = IntRanges::new(&[(1, 3), (4, 6), (10, 10), (i64::MIN, -5)]);
        for (n, expected) in [
            (0, false),
            (1, true),
            (5, true),
            (7, false),
            (10, true),
            (-100, true),
            (-4, false),
        ] {
            assert_eq!(r.contains(n), expected, "{n}");
        }
        assert_eq!(parse_int_range("3:"), Ok((3, i64::MAX)));
        assert_eq!(parse_int_range(":3"), Ok((i64::MIN, 3)));
        assert!(parse_int_range("x").is_err());
        // `-m int` on a string (HAProxy's read_int64) and `*_val` (strl2ic).
        assert_eq!(cast_int(b"42abc"), Some(42));
        assert_eq!(cast_int(b"-7"), Some(-7));
        assert_eq!(cast_int(b"+7"), Some(7));
        assert_eq!(cast_int(b"abc"), Some(0));
        assert_eq!(cast_int(b""), None);
        assert_eq!(cast_int(b"99999999999999999999"), Some(i64::MAX));
        assert_eq!(value_int(b"42abc"), 42);
        assert_eq!(value_int(b"-7"), -7);
        assert_eq!(value_int(b"beta"), 0);
        assert_eq!(value_int(b""), 0);
        assert_eq!(value_int(b"-"), 0);
        assert_eq!(value_int(b"+7"), 0);
    }

    #[test]
    fn large_sets_agree_with_small_ones() {
        let pats: Vec<String> = (0..50).map(|i| format!("/p{i}/x")).collect();
        let refs: Vec<&str> = pats.iter().map(String::as_str).collect();
        for method in [
            MatchMethod::Str,
            MatchMethod::Beg,
            MatchMethod::End,
            MatchMethod::Sub,
        ] {
            for (sample, expected) in [
                ("/p7/x", true),
                ("/P7/X", true),
                ("/p77/x", false),
                ("/q", false),
            ] {
                let expected = match (method, sample) {
                    (
                        MatchMethod::Str | MatchMethod::Beg | MatchMethod::End | MatchMethod::Sub,
                        "/p77/x",
                    ) => false,
                    _ => expected,
                };
                assert_eq!(
                    m(method, true, &refs, sample),
                    expected,
                    "{method} {sample}"
                );
            }
        }
        assert!(m(MatchMethod::Beg, false, &refs, "/p7/xyz"));
        assert!(!m(MatchMethod::Beg, false, &refs, "/P7/xyz"));
        assert!(m(MatchMethod::End, false, &refs, "/a/p7/x"));
    }
}
