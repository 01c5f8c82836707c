//! An ordered route table: `use_backend <backend> if <condition>` rules and a default.

use std::cmp::Ordering;

use crate::condition::Condition;
use crate::expr::Expr;
use crate::fetch::{Fetch, FetchOptions, SampleType};
use crate::pattern::{MatchMethod, Sample};
use crate::view::RequestView;

/// One rule: when `condition` holds, the request goes to `backend`.
#[derive(Debug, Clone)]
pub struct Route<B> {
    /// When the rule applies.
    pub condition: Condition,
    /// Where the request goes (a backend name, id, or handle).
    pub backend: B,
}

/// Ordered routing rules evaluated top to bottom; the first rule whose condition holds
/// picks the backend, else the default backend (if any).
///
/// Rules whose condition is a plain `str`, `beg` or `end` match (or an OR of such), for
/// example thousands of `{ path_beg /tenant/N/ }` or `{ hdr(host) -i N.example.com }`
/// rules, are indexed by fetch: one lookup finds the first such rule that matches, so the
/// cost does not grow with their number. A rule that ANDs such a match with other terms
/// is evaluated only when that match holds. Other rules are evaluated in order, and only
/// those placed before the best indexed match.
///
/// ```
/// use gangway_acl::{RequestView, RouteTable};
/// let table = RouteTable::new()
///     .with_route("{ path_beg /ws }".parse().unwrap(), "websocket_servers")
///     .with_default("http_servers");
/// let view = RequestView::new("GET", "/ws/echo", &[]);
/// assert_eq!(table.route(&view), Some(&"websocket_servers"));
/// assert_eq!(table.route(&RequestView::new("GET", "/", &[])), Some(&"http_servers"));
/// ```
#[derive(Debug, Clone)]
pub struct RouteTable<B> {
    routes: Vec<Route<B>>,
    default: Option<B>,
    index: RouteIndex,
}

impl<B> Default for RouteTable<B> {
    fn default() -> Self {
        RouteTable {
            routes: Vec::new(),
            default: None,
            index: RouteIndex::default(),
        }
    }
}

/// Which rule picked the backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RouteMatch {
    /// The rule at this index (0-based, in insertion order).
    Rule(usize),
    /// No rule matched; the default backend applies.
    Default,
}

impl<B> RouteTable<B> {
    /// An empty table without a default backend.
    pub fn new() -> Self {
        RouteTable::default()
    }

    /// Appends a rule (like a `use_backend` line after the previous ones).
    pub fn push(&mut self, condition: Condition, backend: B) -> &mut Self {
        let rule = u32::try_from(self.routes.len()).unwrap_or(u32::MAX);
        self.index.add(rule, &condition);
        self.routes.push(Route { condition, backend });
        self
    }

    /// Appends a rule, builder style.
    pub fn with_route(mut self, condition: Condition, backend: B) -> Self {
        self.push(condition, backend);
        self
    }

    /// Sets the backend used when no rule matches (`default_backend`).
    pub fn set_default(&mut self, backend: B) -> &mut Self {
        self.default = Some(backend);
        self
    }

    /// Sets the default backend, builder style.
    pub fn with_default(mut self, backend: B) -> Self {
        self.set_default(backend);
        self
    }

    /// The default backend, if set.
    pub fn default_backend(&self) -> Option<&B> {
        self.default.as_ref()
    }

    /// The rules in order.
    pub fn routes(&self) -> &[Route<B>] {
        &self.routes
    }

    /// Number of rules (not counting the default).
    pub fn len(&self) -> usize {
        self.routes.len()
    }

    /// Whether there are no rules.
    pub fn is_empty(&self) -> bool {
        self.routes.is_empty()
    }

    /// Which rule applies to `req`: the first whose condition holds, else
    /// [`RouteMatch::Default`] when a default is set, else `None`.
    pub fn find(&self, req: &RequestView<'_>) -> Option<RouteMatch> {
        let mut best = NO_RULE;
        let verify = |rule: u32| self.routes[rule as usize].condition.eval(req);
        for group in &self.index.groups {
            group.lower_best(req, &mut best, &verify);
        }
        for &rule in &self.index.unindexed {
            if rule >= best {
                break;
            }
            if self.routes[rule as usize].condition.eval(req) {
                best = rule;
                break;
            }
        }
        if best != NO_RULE {
            return Some(RouteMatch::Rule(best as usize));
        }
        self.default.as_ref().map(|_| RouteMatch::Default)
    }

    /// The backend for `req`: the first matching rule's, else the default.
    /// Evaluates conditions lazily and never allocates.
    pub fn route(&self, req: &RequestView<'_>) -> Option<&B> {
        match self.find(req)? {
            RouteMatch::Rule(i) => Some(&self.routes[i].backend),
            RouteMatch::Default => self.default.as_ref(),
        }
    }

    /// Maps every backend through `f`, keeping conditions and order (e.g. names to ids).
    pub fn map<C>(self, mut f: impl FnMut(B) -> C) -> RouteTable<C> {
        RouteTable {
            routes: self
                .routes
                .into_iter()
                .map(|r| Route {
                    condition: r.condition,
                    backend: f(r.backend),
                })
                .collect(),
            default: self.default.map(f),
            index: self.index,
        }
    }
}

const NO_RULE: u32 = u32::MAX;

/// Indexed rules grouped by (fetch, method, case), and the rules evaluated one by one.
#[derive(Debug, Clone, Default)]
struct RouteIndex {
    groups: Vec<IndexGroup>,
    unindexed: Vec<u32>,
}

impl RouteIndex {
    fn add(&mut self, rule: u32, condition: &Condition) {
        let whole = condition
            .alternatives()
            .filter(|alts| !alts.is_empty() && alts.iter().all(|e| indexable(e)));
        let (alternatives, guarded) = match whole {
            Some(alts) => (alts, false),
            // An AND with an indexable term is a candidate only when that term matches.
            None => match condition.guard(indexable) {
                Some(alts) => (alts, true),
                None => {
                    self.unindexed.push(rule);
                    return;
                }
            },
        };
        for expr in alternatives {
            let position = self.groups.iter().position(|g| g.holds(expr));
            let group = match position {
                Some(i) => &mut self.groups[i],
                None => {
                    self.groups.push(IndexGroup::new(expr));
                    let last = self.groups.len() - 1;
                    &mut self.groups[last]
                }
            };
            for text in expr.texts() {
                group.insert(text.as_bytes(), rule, guarded);
            }
        }
    }
}

/// The rules reached by one pattern: the lowest rule the pattern decides alone, and rules
/// (ascending) for which it is only a necessary condition.
#[derive(Debug, Clone)]
struct RuleEntry {
    rule: u32,
    guarded: Vec<u32>,
}

impl Default for RuleEntry {
    fn default() -> Self {
        RuleEntry {
            rule: NO_RULE,
            guarded: Vec::new(),
        }
    }
}

impl RuleEntry {
    fn add(&mut self, rule: u32, guarded: bool) {
        if guarded {
            // Rules arrive in ascending order, so the list stays sorted.
            if self.guarded.last() != Some(&rule) {
                self.guarded.push(rule);
            }
        } else {
            self.rule = self.rule.min(rule);
        }
    }

    /// Lowers `best` to this entry's rule, or to the first guarded rule below `best`
    /// whose whole condition holds.
    #[inline]
    fn apply(&self, best: &mut u32, verify: &impl Fn(u32) -> bool) {
        *best = (*best).min(self.rule);
        for &rule in &self.guarded {
            if rule >= *best {
                break;
            }
            if verify(rule) {
                *best = rule;
                break;
            }
        }
    }
}

fn indexable(expr: &Expr) -> bool {
    matches!(
        expr.method(),
        MatchMethod::Str | MatchMethod::Beg | MatchMethod::End
    ) && expr.fetch().sample_type() == SampleType::Str
        && !expr.texts().is_empty()
        && !expr.mixes_host_ports()
}

/// The lowest rule per pattern for one (fetch, options, method, case) combination.
#[derive(Debug, Clone)]
struct IndexGroup {
    fetch: Fetch,
    options: FetchOptions,
    method: MatchMethod,
    ignore_case: bool,
    /// For `str`: folded pattern and its rules, sorted by pattern.
    exact: Vec<(Box<[u8]>, RuleEntry)>,
    /// For `beg` (forward) and `end` (reversed).
    trie: RuleTrie,
}

impl IndexGroup {
    fn new(expr: &Expr) -> IndexGroup {
        IndexGroup {
            fetch: expr.fetch().clone(),
            options: expr.options(),
            method: expr.method(),
            ignore_case: expr.ignore_case(),
            exact: Vec::new(),
            trie: RuleTrie::default(),
        }
    }

    fn holds(&self, expr: &Expr) -> bool {
        self.method == expr.method()
            && self.ignore_case == expr.ignore_case()
            && self.options == expr.options()
            && &self.fetch == expr.fetch()
    }

    fn fold(&self, b: u8) -> u8 {
        if self.ignore_case {
            b.to_ascii_lowercase()
        } else {
            b
        }
    }

    fn insert(&mut self, pattern: &[u8], rule: u32, guarded: bool) {
        let folded: Box<[u8]> = pattern.iter().map(|&b| self.fold(b)).collect();
        match self.method {
            MatchMethod::Str => {
                let i = match self.exact.binary_search_by(|(k, _)| k.cmp(&folded)) {
                    Ok(i) => i,
                    Err(i) => {
                        self.exact.insert(i, (folded, RuleEntry::default()));
                        i
                    }
                };
                self.exact[i].1.add(rule, guarded);
            }
            MatchMethod::End => self
                .trie
                .insert(folded.iter().rev().copied(), rule, guarded),
            _ => self.trie.insert(folded.iter().copied(), rule, guarded),
        }
    }

    fn visit(&self, s: &[u8], best: &mut u32, verify: &impl Fn(u32) -> bool) {
        let ic = self.ignore_case;
        let fold = move |b: u8| if ic { b.to_ascii_lowercase() } else { b };
        match self.method {
            MatchMethod::Str => {
                let found = self
                    .exact
                    .binary_search_by(|(k, _)| k.iter().copied().cmp(s.iter().map(|&b| fold(b))));
                if let Ok(i) = found {
                    self.exact[i].1.apply(best, verify);
                }
            }
            MatchMethod::End => self
                .trie
                .visit(s.iter().rev().map(|&b| fold(b)), best, verify),
            _ => self.trie.visit(s.iter().map(|&b| fold(b)), best, verify),
        }
    }

    /// Lowers `best` to the lowest rule reached through this group that holds for `req`.
    fn lower_best(&self, req: &RequestView<'_>, best: &mut u32, verify: &impl Fn(u32) -> bool) {
        self.fetch.any(self.options, req, |sample| {
            if let Sample::Str(s) = sample {
                self.visit(s, best, verify);
            }
            false
        });
    }
}

/// A byte trie whose nodes hold the rules of the patterns ending there.
#[derive(Debug, Clone)]
struct RuleTrie {
    nodes: Vec<RuleNode>,
}

#[derive(Debug, Clone, Default)]
struct RuleNode {
    edges: Vec<(u8, u32)>,
    entry: RuleEntry,
}

impl Default for RuleTrie {
    fn default() -> Self {
        RuleTrie {
            nodes: vec![RuleNode::default()],
        }
    }
}

impl RuleTrie {
    fn insert(&mut self, bytes: impl Iterator<Item = u8>, rule: u32, guarded: bool) {
        let mut node = 0usize;
        for b in bytes {
            let edges = &self.nodes[node].edges;
            node = match edges.binary_search_by(|e| e.0.cmp(&b)) {
                Ok(i) => edges[i].1 as usize,
                Err(i) => {
                    let next = self.nodes.len();
                    self.nodes.push(RuleNode::default());
                    self.nodes[node]
                        .edges
                        .insert(i, (b, u32::try_from(next).unwrap_or(u32::MAX)));
                    next
                }
            };
        }
        self.nodes[node].entry.add(rule, guarded);
    }

    /// Applies the entries of every pattern that is a prefix of `bytes`.
    fn visit(
        &self,
        bytes: impl Iterator<Item = u8>,
        best: &mut u32,
        verify: &impl Fn(u32) -> bool,
    ) {
        let mut node = &self.nodes[0];
        node.entry.apply(best, verify);
        for b in bytes {
            let next = match node.edges.len() {
                0 => break,
                1..=8 => node.edges.iter().find(|e| e.0 == b).map(|e| e.1),
                _ => node
                    .edges
                    .binary_search_by(|e| e.0.cmp(&b))
                    .ok()
                    .map(|i| node.edges[i].1),
            };
            match next.and_then(|n| self.nodes.get(n as usize)) {
                Some(n) => {
                    node = n;
                    node.entry.apply(best, verify);
                }
                None => break,
            }
        }
    }
}

impl PartialOrd for RouteMatch {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for RouteMatch {
    /// Earlier rules sort first; the default sorts last.
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (RouteMatch::Rule(a), RouteMatch::Rule(b)) => a.cmp(b),
            (RouteMatch::Rule(_), RouteMatch::Default) => Ordering::Less,
            (RouteMatch::Default, RouteMatch::Rule(_)) => Ordering::Greater,
            (RouteMatch::Default, RouteMatch::Default) => Ordering::Equal,
        }
    }
}
