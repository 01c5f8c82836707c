//! An ordered route table: `use_backend <backend> if <condition>` rules and a default.

use crate::condition::Condition;
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
}

impl<B> Default for RouteTable<B> {
    fn default() -> Self {
        RouteTable {
            routes: Vec::new(),
            default: None,
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
        match self.routes.iter().position(|r| r.condition.eval(req)) {
            Some(i) => Some(RouteMatch::Rule(i)),
            None => self.default.as_ref().map(|_| RouteMatch::Default),
        }
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
        }
    }
}
