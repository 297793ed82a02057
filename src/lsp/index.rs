//! Every name of a policy's ASTs, as a declaration or a use: what the language server's hover,
//! definition, references, rename, symbols and semantic tokens read.
//!
//! One walk over the ASTs records each name with its sort and the scope it lives in. Roles,
//! relations, actions, action groups, permissions, access groups, enums, kinds, case types and
//! modules share one namespace (the checker's); states live in their case type, attributes in
//! their kind (`user` for the principal's, `context` for the request context's), variants in
//! their enum. A use whose scope the AST alone cannot tell (`resource.x` in a rule outside any
//! kind, a bare enum variant) has the empty scope and matches a declaration in any scope.

use casepol::diagnostic::Span;
use casepol::internal::ast::{
    ActionRef, CaseTypeDecl, CondOp, GroupDecl, Ident, Item, KindDecl, LiteralKind, Operand, Path,
    PathRoot, PolicyAst, Rule, Scope as AstScope, TermTest, TermValue, TypeExpr,
};

/// What a name is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sort {
    Role,
    Relation,
    Action,
    ActionGroup,
    Permission,
    Group,
    Enum,
    Variant,
    Kind,
    CaseKind,
    CaseType,
    Module,
    State,
    Attribute,
    ContextField,
    /// A subject (role or relation) in a use.
    Subject,
    /// An action or action group in a use.
    ActionLike,
    /// A type name in a use: an enum or a kind.
    Type,
}

/// Which namespace a sort's names live in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Family {
    Global,
    State,
    Attribute,
    Variant,
}

impl Sort {
    pub(crate) fn family(self) -> Family {
        match self {
            Sort::State => Family::State,
            Sort::Attribute | Sort::ContextField => Family::Attribute,
            Sort::Variant => Family::Variant,
            _ => Family::Global,
        }
    }

    /// The word a person reads.
    pub(crate) fn word(self) -> &'static str {
        match self {
            Sort::Role => "role",
            Sort::Relation => "relation",
            Sort::Action => "action",
            Sort::ActionGroup => "action group",
            Sort::Permission => "permission",
            Sort::Group => "access group",
            Sort::Enum => "enum",
            Sort::Variant => "enum variant",
            Sort::Kind => "resource kind",
            Sort::CaseKind => "case kind",
            Sort::CaseType => "case type",
            Sort::Module => "module",
            Sort::State => "state",
            Sort::Attribute => "attribute",
            Sort::ContextField => "context field",
            Sort::Subject => "role or relation",
            Sort::ActionLike => "action or action group",
            Sort::Type => "type",
        }
    }
}

/// One name in the text.
#[derive(Debug, Clone)]
pub(crate) struct Occurrence {
    pub name: String,
    pub span: Span,
    pub sort: Sort,
    /// The case type of a state, the owner of an attribute (a kind's name, `user` or
    /// `context`), the enum of a variant; empty for the global namespace and for a use whose
    /// scope is not known.
    pub scope: String,
    pub decl: bool,
    /// For a declaration: what more there is to say than its sort, in a phrase (`of type
    /// `string``, `under the kind `Case``).
    pub detail: Option<String>,
}

/// The names of a policy, in the order the walk meets them (by file, then by position within
/// each item).
#[derive(Debug, Default)]
pub(crate) struct Index {
    pub occurrences: Vec<Occurrence>,
}

/// The built-in attribute types, which are no declaration.
pub(crate) const BUILTIN_TYPES: [&str; 4] = ["string", "bool", "int", "datetime"];

impl Index {
    /// Indexes the ASTs of every file of one policy.
    pub(crate) fn build(asts: &[PolicyAst]) -> Index {
        let case_kind = asts
            .iter()
            .flat_map(|a| &a.items)
            .find_map(|i| match i {
                Item::Kind(k) if k.is_case => Some(k.name.name.clone()),
                _ => None,
            })
            .unwrap_or_default();
        let mut w = Walker {
            out: Vec::new(),
            case_kind,
        };
        for ast in asts {
            for item in &ast.items {
                w.item(item);
            }
        }
        let mut occurrences = w.out;
        occurrences.sort_by_key(|o| (o.span.file, o.span.start));
        Index { occurrences }
    }

    /// The name whose span holds `offset` of `file` (its end included, so that a cursor just
    /// after a name finds it).
    pub(crate) fn at(
        &self,
        file: casepol::diagnostic::FileId,
        offset: usize,
    ) -> Option<&Occurrence> {
        let offset = offset as u32;
        let first = self
            .occurrences
            .partition_point(|o| (o.span.file, o.span.end) < (file, offset));
        self.occurrences[first..]
            .iter()
            .take_while(|o| o.span.file == file && o.span.start <= offset)
            .find(|o| o.span.start <= offset && offset <= o.span.end)
    }

    /// The declarations a name refers to (itself, if it is one): a global name by name alone,
    /// a scoped name by name in its scope, or in any scope when its scope is unknown.
    pub(crate) fn declarations<'a>(&'a self, o: &'a Occurrence) -> Vec<&'a Occurrence> {
        self.occurrences
            .iter()
            .filter(|d| d.decl && d.name == o.name && same_symbol_family(d, o))
            .collect()
    }

    /// Every occurrence of the symbol `o` names, declarations included, in text order.
    pub(crate) fn references<'a>(&'a self, o: &'a Occurrence) -> Vec<&'a Occurrence> {
        let decls = self.declarations(o);
        let scope = if o.scope.is_empty() {
            decls.first().map(|d| d.scope.as_str()).unwrap_or("")
        } else {
            o.scope.as_str()
        };
        self.occurrences
            .iter()
            .filter(|r| {
                r.name == o.name
                    && same_symbol_family(r, o)
                    && (r.sort.family() == Family::Global
                        || r.scope.is_empty()
                        || scope.is_empty()
                        || r.scope == scope)
            })
            .collect()
    }

    /// The declarations of the whole policy, for completion.
    pub(crate) fn declared(&self) -> impl Iterator<Item = &Occurrence> {
        self.occurrences.iter().filter(|o| o.decl)
    }
}

fn same_symbol_family(a: &Occurrence, b: &Occurrence) -> bool {
    let (fa, fb) = (a.sort.family(), b.sort.family());
    fa == fb
        && (fa == Family::Global || a.scope.is_empty() || b.scope.is_empty() || a.scope == b.scope)
}

struct Walker {
    out: Vec<Occurrence>,
    case_kind: String,
}

impl Walker {
    fn push(&mut self, id: &Ident, sort: Sort, scope: &str, decl: bool, detail: Option<String>) {
        // `everyone` lowers to a name no declaration can have; it is a keyword, not a name.
        if id.name.is_empty()
            || !id
                .name
                .starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        {
            return;
        }
        self.out.push(Occurrence {
            name: id.name.clone(),
            span: id.span,
            sort,
            scope: scope.to_string(),
            decl,
            detail,
        });
    }

    fn decl(&mut self, id: &Ident, sort: Sort, scope: &str) {
        self.push(id, sort, scope, true, None);
    }

    fn uses(&mut self, ids: &[Ident], sort: Sort, scope: &str) {
        for id in ids {
            self.push(id, sort, scope, false, None);
        }
    }

    fn actions(&mut self, refs: &[ActionRef]) {
        for a in refs {
            if let ActionRef::Name(id) = a {
                self.push(id, Sort::ActionLike, "", false, None);
            }
        }
    }

    fn item(&mut self, item: &Item) {
        match item {
            Item::Roles(names) => names.iter().for_each(|n| self.decl(n, Sort::Role, "")),
            Item::Actions { names, requires } => {
                let detail = requires
                    .as_ref()
                    .map(|r| format!("requires the permission `{}`", r.name));
                for n in names {
                    self.push(n, Sort::Action, "", true, detail.clone());
                }
                if let Some(r) = requires {
                    self.push(r, Sort::Permission, "", false, None);
                }
            }
            Item::ActionGroup { name, members } => {
                let list = members.iter().map(|m| m.name.as_str()).collect::<Vec<_>>();
                let detail = format!("the actions `{}`", list.join("`, `"));
                self.push(name, Sort::ActionGroup, "", true, Some(detail));
                self.uses(members, Sort::ActionLike, "");
            }
            Item::Permissions(names) => names
                .iter()
                .for_each(|n| self.decl(n, Sort::Permission, "")),
            Item::RequireGroup(_) => {}
            Item::Module(m) => {
                self.decl(&m.name, Sort::Module, "");
                self.uses(&m.actions, Sort::ActionLike, "");
                self.uses(&m.records, Sort::Relation, "");
                self.uses(&m.data_roles, Sort::Role, "");
            }
            Item::Group(g) => self.group(g),
            Item::Enum { name, variants } => {
                let list = variants.iter().map(|v| v.name.as_str()).collect::<Vec<_>>();
                let detail = format!("the variants `{}`", list.join("`, `"));
                self.push(name, Sort::Enum, "", true, Some(detail));
                for v in variants {
                    self.push(v, Sort::Variant, &name.name, true, None);
                }
            }
            Item::User { attrs, .. } => {
                for a in attrs {
                    self.attr(&a.name, &a.ty, Sort::Attribute, "user");
                }
            }
            Item::Kind(k) => self.kind(k),
            Item::CaseType(c) => self.casetype(c),
            Item::Codes(classes) => {
                for c in classes {
                    self.actions(&c.actions);
                }
            }
            Item::Context { fields, .. } => {
                for f in fields {
                    self.attr(&f.name, &f.ty, Sort::ContextField, "context");
                }
            }
            Item::Rule(r) => self.rule(r, None, ""),
        }
    }

    fn attr(&mut self, name: &Ident, ty: &TypeExpr, sort: Sort, owner: &str) {
        let (text, ty_id) = match ty {
            TypeExpr::Named(t) => (t.name.clone(), t),
            TypeExpr::Set(t) => (format!("set<{}>", t.name), t),
            TypeExpr::Ref(t) => (format!("ref {}", t.name), t),
        };
        self.push(name, sort, owner, true, Some(format!("of type `{text}`")));
        if !BUILTIN_TYPES.contains(&ty_id.name.as_str()) {
            self.push(ty_id, Sort::Type, "", false, None);
        }
    }

    fn group(&mut self, g: &GroupDecl) {
        let detail = g
            .parent
            .as_ref()
            .map(|p| format!("inside the group `{}`", p.name));
        self.push(&g.name, Sort::Group, "", true, detail);
        if let Some(p) = &g.parent {
            self.push(p, Sort::Group, "", false, None);
        }
        self.uses(&g.grants, Sort::Role, "");
        self.uses(&g.permits, Sort::Permission, "");
        for (scope, _) in &g.scopes {
            match scope {
                AstScope::All => {}
                AstScope::Assigned(rels) => self.uses(rels, Sort::Relation, ""),
                AstScope::Filter { conditions, .. } => {
                    let case_kind = self.case_kind.clone();
                    for c in conditions {
                        self.push(&c.attr, Sort::Attribute, &case_kind, false, None);
                        let lits: Vec<_> = match &c.op {
                            CondOp::Eq(Operand::Literal(l)) | CondOp::Ne(Operand::Literal(l)) => {
                                vec![l]
                            }
                            CondOp::Contains(l) => vec![l],
                            CondOp::In(ls) => ls.iter().collect(),
                            _ => Vec::new(),
                        };
                        for l in lits {
                            self.literal(&l.kind, l.span);
                        }
                    }
                }
            }
        }
    }

    fn literal(&mut self, kind: &LiteralKind, span: Span) {
        if let LiteralKind::Name(n) = kind {
            let id = Ident {
                name: n.clone(),
                span,
            };
            self.push(&id, Sort::Variant, "", false, None);
        }
    }

    fn kind(&mut self, k: &KindDecl) {
        let sort = if k.is_case {
            Sort::CaseKind
        } else {
            Sort::Kind
        };
        let detail = k
            .parent
            .as_ref()
            .map(|p| format!("under the kind `{}`", p.name));
        self.push(&k.name, sort, "", true, detail);
        if let Some(p) = &k.parent {
            self.push(p, Sort::Type, "", false, None);
        }
        for a in &k.attrs {
            self.attr(&a.name, &a.ty, Sort::Attribute, &k.name.name);
        }
        for r in &k.relations {
            let detail = format!("on the kind `{}`", k.name.name);
            self.push(r, Sort::Relation, "", true, Some(detail));
        }
        for m in &k.modes {
            self.push(&m.attr, Sort::Attribute, &k.name.name, false, None);
            for arm in &m.arms {
                self.push(&arm.variant, Sort::Variant, "", false, None);
                if let Some(rels) = &arm.relations {
                    self.uses(rels, Sort::Relation, "");
                }
            }
        }
        for r in &k.rules {
            self.rule(r, Some(&k.name.name), "");
        }
    }

    fn casetype(&mut self, c: &CaseTypeDecl) {
        let scope = c.name.name.as_str();
        self.decl(&c.name, Sort::CaseType, "");
        for s in &c.states {
            self.push(s, Sort::State, scope, true, None);
        }
        self.uses(&c.initials, Sort::State, scope);
        self.uses(&c.finals, Sort::State, scope);
        for t in &c.transitions {
            self.push(&t.action, Sort::ActionLike, "", false, None);
            self.uses(&t.from, Sort::State, scope);
            self.push(&t.to, Sort::State, scope, false, None);
            self.uses(&t.by, Sort::Subject, "");
        }
        for g in &c.module_grants {
            self.push(&g.module, Sort::Module, "", false, None);
            for line in &g.lines {
                self.uses(&line.subjects, Sort::Subject, "");
                self.actions(&line.actions);
            }
        }
        for r in &c.rules {
            self.rule(r, None, scope);
        }
        for t in &c.tables {
            self.uses(&t.columns, Sort::Subject, "");
            for row in &t.rows {
                self.push(&row.state, Sort::State, scope, false, None);
                for cell in &row.cells {
                    for e in &cell.entries {
                        if let ActionRef::Name(id) = &e.action {
                            self.push(id, Sort::ActionLike, "", false, None);
                        }
                    }
                }
            }
        }
    }

    /// A rule in `kind` (a kind's body) or in the case type `casetype`.
    fn rule(&mut self, r: &Rule, kind: Option<&str>, casetype: &str) {
        self.uses(&r.subjects, Sort::Subject, "");
        self.actions(&r.actions);
        self.uses(&r.states, Sort::State, casetype);
        for t in &r.when {
            match &t.test {
                TermTest::Is(rel) => self.push(rel, Sort::Relation, "", false, None),
                TermTest::In(p, lits) => {
                    self.path(p, kind);
                    for l in lits {
                        self.literal(&l.kind, l.span);
                    }
                }
                TermTest::Contains(p, v) | TermTest::Compare(p, _, v) => {
                    self.path(p, kind);
                    match v {
                        TermValue::Path(q) => self.path(q, kind),
                        TermValue::Literal(l) => self.literal(&l.kind, l.span),
                    }
                }
                TermTest::Bool(p) => self.path(p, kind),
            }
        }
    }

    fn path(&mut self, p: &Path, kind: Option<&str>) {
        let Some(attr) = &p.attr else { return };
        let (sort, owner) = match p.root {
            PathRoot::Principal => (Sort::Attribute, "user".to_string()),
            PathRoot::Context => (Sort::ContextField, "context".to_string()),
            PathRoot::Case => (Sort::Attribute, self.case_kind.clone()),
            PathRoot::Resource => (Sort::Attribute, kind.unwrap_or("").to_string()),
        };
        self.push(attr, sort, &owner, false, None);
    }
}
