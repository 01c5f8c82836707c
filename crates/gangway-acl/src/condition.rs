//! Conditions (`if`/`unless` with implicit and, `or`/`||`, `!`, `{ }`) and the named ACL
//! set they refer to.

use std::collections::HashMap;
use std::fmt;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use crate::error::{Error, Position};
use crate::expr::{self, End, Expr, PatternLoader};
use crate::fetch::{self, KeywordError};
use crate::lexer::{self, Word};
use crate::view::RequestView;

/// A compiled condition over a request: the `if ...` / `unless ...` part of
/// `use_backend`, built from named ACLs, anonymous `{ ... }` ACLs, inline fetch
/// expressions, `!`, implicit and, and `or` / `||`.
///
/// Parsed on its own (without an [`AclSet`]) a condition may use predefined ACLs
/// (`TRUE`, `METH_GET`, `LOCALHOST`, ...), `{ ... }` blocks and inline expressions; an
/// inline expression (not in braces) runs to the next `or`/`||`, so use `{ }` to
/// and several of them.
///
/// ```
/// use gangway_acl::{Condition, RequestView};
/// let cond: Condition = "path_beg /ws || hdr(Upgrade) -i websocket".parse().unwrap();
/// let upgrade = [httparse::Header { name: "Upgrade", value: b"WebSocket" }];
/// assert!(cond.eval(&RequestView::new("GET", "/chat", &upgrade)));
/// assert!(cond.eval(&RequestView::new("GET", "/ws/echo", &[])));
/// assert!(!cond.eval(&RequestView::new("GET", "/", &[])));
///
/// let cond: Condition = "unless { src 10.0.0.0/8 } METH_GET".parse().unwrap();
/// assert!(cond.eval(&RequestView::new("POST", "/", &[])));
/// ```
#[derive(Clone, Debug)]
pub struct Condition {
    node: Node,
}

#[derive(Clone)]
enum Node {
    Const(bool),
    Expr(Arc<Expr>),
    /// A named ACL made of one line.
    NamedExpr {
        name: Arc<str>,
        expr: Arc<Expr>,
    },
    /// A named ACL: its lines are ORed.
    Acl {
        name: Arc<str>,
        exprs: Arc<[Arc<Expr>]>,
    },
    Not(Box<Node>),
    All(Box<[Node]>),
    Any(Box<[Node]>),
}

impl fmt::Debug for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Node::Const(b) => write!(f, "{b}"),
            Node::Expr(e) => write!(f, "{{ {e} }}"),
            Node::Acl { name, .. } | Node::NamedExpr { name, .. } => f.write_str(name),
            Node::Not(n) => write!(f, "!{n:?}"),
            Node::All(ns) => f.debug_tuple("All").field(ns).finish(),
            Node::Any(ns) => f.debug_tuple("Any").field(ns).finish(),
        }
    }
}

impl Node {
    #[inline]
    fn eval(&self, req: &RequestView<'_>) -> bool {
        match self {
            Node::Const(b) => *b,
            Node::Expr(e) | Node::NamedExpr { expr: e, .. } => e.eval(req),
            Node::Acl { exprs, .. } => exprs.iter().any(|e| e.eval(req)),
            Node::Not(n) => !n.eval(req),
            Node::All(ns) => ns.iter().all(|n| n.eval_term(req)),
            Node::Any(ns) => ns.iter().any(|n| n.eval_term(req)),
        }
    }

    /// [`Node::eval`] with the commonest terms (one expression) handled without a
    /// recursive call.
    #[inline(always)]
    fn eval_term(&self, req: &RequestView<'_>) -> bool {
        match self {
            Node::Expr(e) | Node::NamedExpr { expr: e, .. } => e.eval(req),
            other => other.eval(req),
        }
    }
}

impl Condition {
    /// Parses a condition that may use predefined ACLs, `{ ... }` and inline expressions.
    /// An optional leading `if` or `unless` is accepted.
    pub fn parse(text: &str) -> Result<Condition, Error> {
        AclSet::new().parse_condition(text)
    }

    /// Whether the request satisfies the condition. Fetches are computed only when a
    /// term is reached (and/or short-circuit); nothing is allocated.
    #[inline]
    pub fn eval(&self, req: &RequestView<'_>) -> bool {
        self.node.eval(req)
    }

    /// A condition that always holds.
    pub fn always() -> Condition {
        Condition {
            node: Node::Const(true),
        }
    }

    /// A condition that never holds.
    pub fn never() -> Condition {
        Condition {
            node: Node::Const(false),
        }
    }

    /// Holds when all `conditions` hold (true when empty).
    pub fn all(conditions: impl IntoIterator<Item = Condition>) -> Condition {
        let mut nodes: Vec<Node> = conditions.into_iter().map(|c| c.node).collect();
        Condition {
            node: match nodes.len() {
                0 => Node::Const(true),
                1 => nodes.swap_remove(0),
                _ => Node::All(nodes.into_boxed_slice()),
            },
        }
    }

    /// Holds when any of `conditions` holds (false when empty).
    pub fn any(conditions: impl IntoIterator<Item = Condition>) -> Condition {
        let mut nodes: Vec<Node> = conditions.into_iter().map(|c| c.node).collect();
        Condition {
            node: match nodes.len() {
                0 => Node::Const(false),
                1 => nodes.swap_remove(0),
                _ => Node::Any(nodes.into_boxed_slice()),
            },
        }
    }

    /// Holds when both hold.
    pub fn and(self, other: Condition) -> Condition {
        Condition::all([self, other])
    }

    /// Holds when either holds.
    pub fn or(self, other: Condition) -> Condition {
        Condition::any([self, other])
    }

    /// Whether the condition is the constant `never` (useful to skip dead rules).
    pub fn is_never(&self) -> bool {
        matches!(self.node, Node::Const(false))
    }

    /// When the condition is an OR of plain expressions, those expressions (route
    /// tables index such rules).
    pub(crate) fn alternatives(&self) -> Option<Vec<&Expr>> {
        node_alternatives(&self.node)
    }

    /// When the condition is an AND, the alternatives of its first conjunct that is an
    /// OR of plain expressions satisfying `usable`: the condition can only hold when one
    /// of them does (route tables use them to skip rules).
    pub(crate) fn guard(&self, usable: impl Fn(&Expr) -> bool) -> Option<Vec<&Expr>> {
        let Node::All(conjuncts) = &self.node else {
            return None;
        };
        conjuncts
            .iter()
            .filter_map(node_alternatives)
            .find(|alts| !alts.is_empty() && alts.iter().all(|e| usable(e)))
    }
}

fn node_alternatives(node: &Node) -> Option<Vec<&Expr>> {
    fn collect<'c>(node: &'c Node, out: &mut Vec<&'c Expr>) -> bool {
        match node {
            Node::Expr(e) | Node::NamedExpr { expr: e, .. } => {
                out.push(e);
                true
            }
            Node::Acl { exprs, .. } => {
                out.extend(exprs.iter().map(|e| &**e));
                true
            }
            Node::Any(nodes) => nodes.iter().all(|n| collect(n, out)),
            _ => false,
        }
    }
    let mut out = Vec::new();
    collect(node, &mut out).then_some(out)
}

impl std::ops::Not for Condition {
    type Output = Condition;

    fn not(self) -> Condition {
        Condition {
            node: match self.node {
                Node::Const(b) => Node::Const(!b),
                Node::Not(inner) => *inner,
                other => Node::Not(Box::new(other)),
            },
        }
    }
}

impl From<Expr> for Condition {
    fn from(expr: Expr) -> Condition {
        Condition {
            node: Node::Expr(Arc::new(expr)),
        }
    }
}

impl std::str::FromStr for Condition {
    type Err = Error;

    fn from_str(s: &str) -> Result<Condition, Error> {
        Condition::parse(s)
    }
}

/// Named ACLs, as declared by `acl <name> <fetch> [flags] [patterns]` lines.
///
/// Several lines with the same name are ORed. Conditions parsed from the set see the
/// lines added before them (HAProxy requires an ACL to be declared before use).
///
/// ```
/// use gangway_acl::{AclSet, RequestView};
/// let mut acls = AclSet::new();
/// acls.add_line("acl is_websocket hdr(Upgrade) -i WebSocket").unwrap();
/// acls.add_line("acl is_websocket_server hdr_end(host) -i ws.example.com").unwrap();
/// let cond = acls.parse_condition("if is_websocket is_websocket_server").unwrap();
/// let headers = [
///     httparse::Header { name: "Host", value: b"ws.example.com" },
///     httparse::Header { name: "Upgrade", value: b"websocket" },
/// ];
/// assert!(cond.eval(&RequestView::new("GET", "/", &headers)));
/// ```
#[derive(Clone)]
pub struct AclSet {
    acls: HashMap<String, Vec<Arc<Expr>>>,
    loader: Arc<PatternLoader>,
}

impl fmt::Debug for AclSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AclSet")
            .field("acls", &self.acls)
            .finish_non_exhaustive()
    }
}

impl Default for AclSet {
    fn default() -> Self {
        AclSet::new()
    }
}

/// Predefined ACLs, as HAProxy defines them.
const PREDEFINED: &[(&str, &str)] = &[
    ("FALSE", "always_false"),
    ("HTTP", "always_true"),
    ("HTTP_1.0", "req.ver 1.0"),
    ("HTTP_1.1", "req.ver 1.1"),
    ("HTTP_2.0", "req.ver 2.0"),
    ("HTTP_CONTENT", "req.hdr_val(content-length) gt 0"),
    ("HTTP_URL_ABS", "url_reg ^[^/:]*://"),
    ("HTTP_URL_SLASH", "url_beg /"),
    ("HTTP_URL_STAR", "url *"),
    ("LOCALHOST", "src 127.0.0.1/8 ::1"),
    ("METH_CONNECT", "method CONNECT"),
    ("METH_DELETE", "method DELETE"),
    ("METH_GET", "method GET HEAD"),
    ("METH_HEAD", "method HEAD"),
    ("METH_OPTIONS", "method OPTIONS"),
    ("METH_POST", "method POST"),
    ("METH_PUT", "method PUT"),
    ("METH_TRACE", "method TRACE"),
    ("TRUE", "always_true"),
];

/// The names of the predefined ACLs (`TRUE`, `FALSE`, `HTTP_1.1`, `METH_GET`, `LOCALHOST`, ...).
pub fn predefined_acl_names() -> impl Iterator<Item = &'static str> {
    PREDEFINED.iter().map(|(name, _)| *name)
}

fn predefined(name: &str) -> Option<(&'static str, Arc<[Arc<Expr>]>)> {
    static COMPILED: OnceLock<HashMap<&'static str, Arc<[Arc<Expr>]>>> = OnceLock::new();
    let table = COMPILED.get_or_init(|| {
        PREDEFINED
            .iter()
            .filter_map(|(name, text)| {
                // The definitions are constants checked by the tests; skip rather than panic.
                let expr = Expr::parse(text).ok()?;
                Some((*name, Arc::from(vec![Arc::new(expr)])))
            })
            .collect()
    });
    table.get_key_value(name).map(|(k, v)| (*k, v.clone()))
}

fn valid_acl_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

impl AclSet {
    /// An empty set (predefined ACLs are always available). `-f FILE` reads files from
    /// the file system.
    pub fn new() -> Self {
        AclSet {
            acls: HashMap::new(),
            loader: Arc::new(expr::read_file),
        }
    }

    /// Replaces how `-f FILE` pattern files are read (for embedded files, tests, or
    /// resolving names relative to a configuration directory).
    pub fn with_pattern_loader(
        mut self,
        loader: impl Fn(&Path) -> std::io::Result<String> + Send + Sync + 'static,
    ) -> Self {
        self.loader = Arc::new(loader);
        self
    }

    /// Parses text made of `acl` lines (blank lines and `#` comments allowed).
    pub fn parse(text: &str) -> Result<AclSet, Error> {
        let mut set = AclSet::new();
        set.add_lines(text)?;
        Ok(set)
    }

    /// Adds every `acl` line of `text`; errors carry line numbers of `text`.
    pub fn add_lines(&mut self, text: &str) -> Result<(), Error> {
        for (i, line) in text.lines().enumerate() {
            let trimmed = line.trim_start();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            let line_no = u32::try_from(i + 1).unwrap_or(u32::MAX);
            self.add_line(line).map_err(|e| e.at_line(line_no))?;
        }
        Ok(())
    }

    /// Adds one `acl <name> <fetch> [flags] [--] [patterns]` line.
    pub fn add_line(&mut self, line: &str) -> Result<(), Error> {
        let words = lexer::words(line)?;
        let end = lexer::end_position(line);
        let Some(first) = words.first() else {
            return Err(Error::syntax(
                end,
                "end of input",
                "`acl <name> <fetch> ...`",
            ));
        };
        if !first.is("acl") {
            return Err(Error::syntax(first.position, &first.text, "`acl`"));
        }
        let Some(name) = words.get(1) else {
            return Err(Error::syntax(
                end,
                "end of input",
                "an ACL name after `acl`",
            ));
        };
        self.check_name(name)?;
        let expr = expr::parse_words(&words[2..], End::of_text(line), &*self.loader)?;
        self.acls
            .entry(name.text.clone())
            .or_default()
            .push(Arc::new(expr));
        Ok(())
    }

    /// Adds `expr` under `name` (ORed with earlier lines of the same name).
    pub fn add(&mut self, name: &str, expr: Expr) -> Result<(), Error> {
        let word = Word {
            text: name.to_owned(),
            position: Position::default(),
            literal: false,
        };
        self.check_name(&word)?;
        self.acls
            .entry(name.to_owned())
            .or_default()
            .push(Arc::new(expr));
        Ok(())
    }

    fn check_name(&self, name: &Word) -> Result<(), Error> {
        if !valid_acl_name(&name.text) {
            return Err(Error::syntax(
                name.position,
                &name.text,
                "an ACL name made of letters, digits, `-`, `_`, `.` and `:`",
            ));
        }
        if predefined(&name.text).is_some() {
            return Err(Error::syntax(
                name.position,
                &name.text,
                "a name that is not a predefined ACL",
            ));
        }
        Ok(())
    }

    /// Whether an ACL of this name was declared.
    pub fn contains(&self, name: &str) -> bool {
        self.acls.contains_key(name)
    }

    /// The names declared so far (any order).
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.acls.keys().map(String::as_str)
    }

    /// A condition made of the named ACL alone (declared or predefined).
    pub fn get(&self, name: &str) -> Option<Condition> {
        self.lookup(name).map(|node| Condition { node })
    }

    fn lookup(&self, name: &str) -> Option<Node> {
        let exprs: Arc<[Arc<Expr>]> = match self.acls.get(name) {
            Some(exprs) => exprs.iter().cloned().collect(),
            None => predefined(name)?.1,
        };
        Some(match &*exprs {
            // One line needs no OR loop.
            [one] => Node::NamedExpr {
                name: name.into(),
                expr: one.clone(),
            },
            _ => Node::Acl {
                name: name.into(),
                exprs,
            },
        })
    }

    /// Parses a condition such as `if is_websocket is_websocket_server`,
    /// `unless { src 10.0.0.0/8 } || !METH_GET`, resolving names in this set.
    pub fn parse_condition(&self, text: &str) -> Result<Condition, Error> {
        let words = lexer::words(text)?;
        let mut parser = Parser {
            words: &words,
            next: 0,
            end: lexer::end_position(text),
            acls: self,
        };
        let mut negate = false;
        if let Some(first) = words.first() {
            if first.is("if") {
                parser.next = 1;
            } else if first.is("unless") {
                parser.next = 1;
                negate = true;
            }
        }
        let node = parser.or_expr()?;
        if let Some(extra) = parser.peek() {
            return Err(Error::syntax(
                extra.position,
                &extra.text,
                "`or`, `||`, an ACL name or the end of the condition",
            ));
        }
        let condition = Condition { node };
        Ok(if negate { !condition } else { condition })
    }

    /// Parses one expression (`<fetch> [flags] [patterns]`) with this set's pattern loader.
    pub fn parse_expr(&self, text: &str) -> Result<Expr, Error> {
        let words = lexer::words(text)?;
        expr::parse_words(&words, End::of_text(text), &*self.loader)
    }
}

struct Parser<'s> {
    words: &'s [Word],
    next: usize,
    end: Position,
    acls: &'s AclSet,
}

const TERM_EXPECTED: &str = "an ACL name, `!`, `{ <expression> }` or a fetch expression";

impl<'s> Parser<'s> {
    fn peek(&self) -> Option<&'s Word> {
        self.words.get(self.next)
    }

    fn at_or(&self) -> bool {
        self.peek().is_some_and(|w| w.is("or") || w.is("||"))
    }

    fn or_expr(&mut self) -> Result<Node, Error> {
        let mut alternatives = vec![self.and_expr()?];
        while self.at_or() {
            self.next += 1;
            alternatives.push(self.and_expr()?);
        }
        Ok(if alternatives.len() == 1 {
            alternatives.swap_remove(0)
        } else {
            Node::Any(alternatives.into_boxed_slice())
        })
    }

    fn and_expr(&mut self) -> Result<Node, Error> {
        let mut terms = Vec::new();
        while let Some(w) = self.peek() {
            if self.at_or() {
                break;
            }
            if w.is("}") {
                return Err(Error::syntax(
                    w.position,
                    "}",
                    format!("{TERM_EXPECTED} (no `{{` is open)"),
                ));
            }
            terms.push(self.term()?);
        }
        match terms.len() {
            0 => {
                let (position, found) = match self.peek() {
                    Some(w) => (w.position, w.text.as_str()),
                    None => (self.end, "end of input"),
                };
                Err(Error::syntax(position, found, TERM_EXPECTED))
            }
            1 => Ok(terms.swap_remove(0)),
            _ => Ok(Node::All(terms.into_boxed_slice())),
        }
    }

    fn term(&mut self) -> Result<Node, Error> {
        let Some(w) = self.peek() else {
            return Err(Error::syntax(self.end, "end of input", TERM_EXPECTED));
        };
        if w.is("!") {
            self.next += 1;
            return Ok(negate(self.term()?));
        }
        if w.is("{") {
            return self.braced();
        }
        if !w.literal && w.text == "!{" {
            return Ok(negate(self.braced()?));
        }
        if !w.literal && w.text.len() > 1 && w.text.starts_with('!') {
            let inner = Word {
                text: w.text[1..].to_owned(),
                position: Position {
                    line: w.position.line,
                    column: w.position.column + 1,
                },
                literal: false,
            };
            return Ok(negate(self.atom(&inner)?));
        }
        self.atom(w)
    }

    fn braced(&mut self) -> Result<Node, Error> {
        let open = &self.words[self.next];
        let start = self.next + 1;
        let Some(len) = self.words[start..].iter().position(|w| w.is("}")) else {
            return Err(Error::syntax(
                self.end,
                "end of input",
                format!("`}}` closing the `{{` at {}", open.position),
            ));
        };
        let inner = &self.words[start..start + len];
        let close = &self.words[start + len];
        self.next = start + len + 1;
        if inner.is_empty() {
            return Err(Error::syntax(
                close.position,
                "}",
                "a fetch expression inside `{ }`",
            ));
        }
        let end = End {
            position: close.position,
            token: "}",
        };
        let expr = expr::parse_words(inner, end, &*self.acls.loader)?;
        Ok(Node::Expr(Arc::new(expr)))
    }

    /// A name (declared or predefined ACL) or an inline expression running to `or`/`||`.
    fn atom(&mut self, word: &Word) -> Result<Node, Error> {
        let first = self.next;
        self.next += 1;
        if !word.literal
            && let Some(node) = self.acls.lookup(&word.text)
        {
            return Ok(node);
        }
        match fetch::parse_keyword(&word.text) {
            Ok(_) | Err(KeywordError::BadArgument(_)) => {}
            Err(KeywordError::Unknown) => {
                let next_looks_like_pattern = self.peek().is_some_and(|n| {
                    !n.is("or")
                        && !n.is("||")
                        && (n.text.starts_with('-') || n.text.starts_with('/'))
                });
                return Err(if word.text.contains('(') || next_looks_like_pattern {
                    Error::UnknownFetch {
                        position: word.position,
                        name: word.text.clone(),
                    }
                } else {
                    Error::UnknownAcl {
                        position: word.position,
                        name: word.text.clone(),
                    }
                });
            }
        }
        let mut stop = first + 1;
        while let Some(w) = self.words.get(stop) {
            if w.is("or") || w.is("||") || w.is("}") {
                break;
            }
            stop += 1;
        }
        let mut words: Vec<Word> = Vec::with_capacity(stop - first);
        words.push(word.clone());
        words.extend_from_slice(&self.words[first + 1..stop]);
        self.next = stop;
        let end = self.words.get(stop).map_or(
            End {
                position: self.end,
                token: "end of input",
            },
            |w| End {
                position: w.position,
                token: &w.text,
            },
        );
        let expr = expr::parse_words(&words, end, &*self.acls.loader)?;
        Ok(Node::Expr(Arc::new(expr)))
    }
}

fn negate(node: Node) -> Node {
    match node {
        Node::Not(inner) => *inner,
        Node::Const(b) => Node::Const(!b),
        other => Node::Not(Box::new(other)),
    }
}
