//! The spanned abstract syntax tree: what `syntax` produces from text, before any name is resolved.
//!
//! Every name carries the span of its occurrence so that later phases can point at it.

use crate::diagnostic::Span;

/// A name as written, with where it was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ident {
    pub name: String,
    pub span: Span,
}

/// One parsed `.casepol` file.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PolicyAst {
    pub items: Vec<Item>,
    /// What error recovery left out of `items` (empty when the file parsed).
    pub skipped: Vec<Skipped>,
}

/// A stretch of a file that did not parse and is not in the AST. The checker reports nothing
/// about the names it mentions, nor within the declaration it was part of: a mistake there is
/// the syntax error's, reported once.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Skipped {
    /// The stretch left out.
    pub span: Span,
    /// The top-level declaration it was part of.
    pub within: Span,
    /// The words it holds: names it may have declared.
    pub names: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    Roles(Vec<Ident>),
    Actions {
        names: Vec<Ident>,
        requires: Option<Ident>,
    },
    ActionGroup {
        name: Ident,
        members: Vec<Ident>,
    },
    Permissions(Vec<Ident>),
    RequireGroup(Span),
    Module(ModuleDecl),
    Group(GroupDecl),
    Enum {
        name: Ident,
        variants: Vec<Ident>,
    },
    User {
        attrs: Vec<AttrDecl>,
        span: Span,
    },
    Kind(KindDecl),
    CaseType(CaseTypeDecl),
    Codes(Vec<CodeClass>),
    /// `context { name: type; … }`: the fields of the request context.
    Context {
        fields: Vec<AttrDecl>,
        span: Span,
    },
    Rule(Rule),
}

#[derive(Debug, Clone, PartialEq)]
pub struct ModuleDecl {
    pub name: Ident,
    pub actions: Vec<Ident>,
    /// Relations the principal must hold on a case to reach it through this module.
    pub records: Vec<Ident>,
    /// `data roles …;`: the only roles the data layer reads for a request through this module
    /// (relations always count). Empty when the module declares none.
    pub data_roles: Vec<Ident>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct GroupDecl {
    pub name: Ident,
    pub parent: Option<Ident>,
    pub grants: Vec<Ident>,
    pub permits: Vec<Ident>,
    pub scopes: Vec<(Scope, Span)>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Scope {
    All,
    Assigned(Vec<Ident>),
    /// `filter any { … }`, `filter all { … }`, or the bare `filter { … }` (`mode` is `None`),
    /// which means `any`.
    Filter {
        mode: Option<(FilterMode, Span)>,
        conditions: Vec<Condition>,
    },
}

/// How the conditions of a scope filter combine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilterMode {
    /// `any`: one condition that holds suffices.
    Any,
    /// `all`: every condition must hold.
    All,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    pub attr: Ident,
    pub op: CondOp,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum CondOp {
    Eq(Operand),
    Ne(Operand),
    Contains(Literal),
    In(Vec<Literal>),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    Principal(Span),
    Literal(Literal),
}

#[derive(Debug, Clone, PartialEq)]
pub enum LiteralKind {
    Str(String),
    Int(i64),
    /// Digits that do not fit in 64 bits, as written.
    BadInt(String),
    Bool(bool),
    /// A bare name: an enum variant.
    Name(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Literal {
    pub kind: LiteralKind,
    pub span: Span,
}

/// `case Name { … }` (is_case) or `resource Name under Parent { … }`.
#[derive(Debug, Clone, PartialEq)]
pub struct KindDecl {
    pub name: Ident,
    pub is_case: bool,
    pub parent: Option<Ident>,
    pub attrs: Vec<AttrDecl>,
    pub relations: Vec<Ident>,
    pub modes: Vec<ModeDecl>,
    pub inherits: Vec<Ident>,
    pub rules: Vec<Rule>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AttrDecl {
    pub name: Ident,
    pub ty: TypeExpr,
}

#[derive(Debug, Clone, PartialEq)]
pub enum TypeExpr {
    Named(Ident),
    Set(Ident),
    Ref(Ident),
}

#[derive(Debug, Clone, PartialEq)]
pub struct ModeDecl {
    pub attr: Ident,
    pub arms: Vec<ModeArm>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ModeArm {
    pub variant: Ident,
    /// `None` is `everyone`; otherwise the relations of which the principal must hold one.
    pub relations: Option<Vec<Ident>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CodeClass {
    pub class: Ident,
    pub actions: Vec<ActionRef>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CaseTypeDecl {
    pub name: Ident,
    pub states: Vec<Ident>,
    /// Every `initial` line; more than one is an error.
    pub initials: Vec<Ident>,
    pub finals: Vec<Ident>,
    pub transitions: Vec<Transition>,
    pub module_grants: Vec<ModuleGrant>,
    pub rules: Vec<Rule>,
    pub tables: Vec<Table>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Transition {
    pub action: Ident,
    pub from: Vec<Ident>,
    pub to: Ident,
    pub by: Vec<Ident>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ModuleGrant {
    pub module: Ident,
    pub lines: Vec<ModuleLine>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ModuleLine {
    pub subjects: Vec<Ident>,
    pub actions: Vec<ActionRef>,
    pub span: Span,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Effect {
    Allow,
    Deny,
}

/// An action position: a name (action or action group) or `*`, every action.
#[derive(Debug, Clone, PartialEq)]
pub enum ActionRef {
    Star(Span),
    Name(Ident),
}

impl ActionRef {
    pub fn span(&self) -> Span {
        match self {
            ActionRef::Star(s) => *s,
            ActionRef::Name(i) => i.span,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub effect: Effect,
    pub subjects: Vec<Ident>,
    pub actions: Vec<ActionRef>,
    pub states: Vec<Ident>,
    /// `when t1 and t2`: every term must hold for the rule to apply. Empty: no condition.
    pub when: Vec<Term>,
    pub span: Span,
}

/// One term of a rule's condition, possibly negated with `not`.
#[derive(Debug, Clone, PartialEq)]
pub struct Term {
    pub negate: bool,
    pub test: TermTest,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum TermTest {
    /// `principal is reporter`: the principal holds the relation on the case.
    Is(Ident),
    /// `path in [v1, v2]`.
    In(Path, Vec<Literal>),
    /// `path contains value`.
    Contains(Path, TermValue),
    /// `path op value`.
    Compare(Path, CmpOp, TermValue),
    /// `path`: a `bool` that must be true.
    Bool(Path),
}

/// A comparison operator of a condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl CmpOp {
    /// As written.
    pub fn text(self) -> &'static str {
        match self {
            CmpOp::Eq => "==",
            CmpOp::Ne => "!=",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
        }
    }
}

/// What a path starts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathRoot {
    Principal,
    Resource,
    Case,
    Context,
}

impl PathRoot {
    /// As written.
    pub fn text(self) -> &'static str {
        match self {
            PathRoot::Principal => "principal",
            PathRoot::Resource => "resource",
            PathRoot::Case => "case",
            PathRoot::Context => "context",
        }
    }
}

/// `principal`, or `root.attr`: a value a condition reads.
#[derive(Debug, Clone, PartialEq)]
pub struct Path {
    pub root: PathRoot,
    /// `None` for `principal` itself.
    pub attr: Option<Ident>,
    pub span: Span,
}

/// The right-hand side of a comparison or `contains`: a path or a literal.
#[derive(Debug, Clone, PartialEq)]
pub enum TermValue {
    Path(Path),
    Literal(Literal),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    pub columns: Vec<Ident>,
    pub rows: Vec<TableRow>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TableRow {
    pub state: Ident,
    pub cells: Vec<Cell>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Cell {
    pub entries: Vec<CellEntry>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CellEntry {
    pub effect: Effect,
    pub action: ActionRef,
    pub span: Span,
}
