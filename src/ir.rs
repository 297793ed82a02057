//! The checked, name-resolved policy: the one IR at the centre of casepol.
//!
//! `check` produces it from the AST; `compile` lowers it to lookup tables and bytecode, and the
//! reference evaluator in `reference` interprets it directly. Every name is an index here.

use crate::diagnostic::Span;

macro_rules! id {
    ($($name:ident),*) => {$(
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub u32);
        impl $name {
            pub fn idx(self) -> usize { self.0 as usize }
        }
    )*};
}
id!(
    RoleId,
    RelationId,
    ActionId,
    PermissionId,
    ModuleId,
    GroupId,
    EnumId,
    KindId,
    CaseTypeId,
    StateId,
    RuleId,
    AttrId
);

/// A declared name and where it was declared.
#[derive(Debug, Clone, PartialEq)]
pub struct Named {
    pub name: String,
    pub span: Span,
}

/// Who a rule or grant is about: a role held through groups, a relation held on the case, or
/// `everyone`, which every principal holds on every resource (docs/semantics.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Subject {
    Role(RoleId),
    Relation(RelationId),
    Everyone,
}

/// How `everyone` is written: a keyword, so no declared name can be it.
pub const EVERYONE: &str = "everyone";

#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    pub roles: Vec<Named>,
    pub relations: Vec<Named>,
    pub actions: Vec<ActionDef>,
    pub permissions: Vec<Named>,
    pub modules: Vec<ModuleDef>,
    pub groups: Vec<GroupDef>,
    pub enums: Vec<EnumDef>,
    pub user_attrs: Vec<AttrDef>,
    /// The fields of the request context (`context { … }`), which every request supplies.
    pub context: Vec<AttrDef>,
    pub kinds: Vec<KindDef>,
    /// The one kind declared with `case`, if any: it carries type, state and relations.
    pub case_kind: Option<KindId>,
    pub casetypes: Vec<CaseTypeDef>,
    /// Every allow and deny: rule statements, table cells and transitions alike.
    pub rules: Vec<RuleDef>,
    /// Users must be in at least one access group (`require group;`).
    pub require_group: bool,
    /// Some rule, table column, transition or module-grant line names `everyone`: then every
    /// principal holds it on every resource, and so is in scope everywhere.
    pub everyone: bool,
    /// Per relation: the kind that declares it (see [`Policy::relation_kind`]).
    pub relation_owner: Vec<Option<KindId>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ActionDef {
    pub name: String,
    pub span: Span,
    /// An account permission the principal must also hold (`action delete requires …`).
    pub requires: Option<PermissionId>,
    /// The action is checked against the read access code.
    pub read_code: bool,
    /// The action is checked against the write access code.
    pub write_code: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ModuleDef {
    pub name: String,
    pub span: Span,
    pub actions: Vec<ActionId>,
    /// The principal must hold one of these relations on a case to reach it via this module.
    pub records: Vec<RelationId>,
    /// `data roles …;`: for a request through this module, the data layer reads only these
    /// roles (and every relation held). `None` when the module declares none: every role counts.
    pub data_roles: Option<Vec<RoleId>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct GroupDef {
    pub name: String,
    pub span: Span,
    pub parent: Option<GroupId>,
    pub grants: Vec<RoleId>,
    pub permits: Vec<PermissionId>,
    pub scope: ScopeDef,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ScopeDef {
    All,
    /// The principal holds one of these relations on the case.
    Assigned(Vec<RelationId>),
    /// The conditions hold on the case's attributes: one of them (`any`) or every one
    /// (`all`). A filter without conditions admits nothing, whichever its mode.
    Filter(FilterMode, Vec<Cond>),
}

/// How the conditions of a scope filter combine: `filter any { … }` (and the bare
/// `filter { … }`) or `filter all { … }`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FilterMode {
    /// One condition that holds suffices.
    Any,
    /// Every condition must hold.
    All,
}

impl FilterMode {
    /// As written in a policy: `any` or `all`.
    pub fn keyword(self) -> &'static str {
        match self {
            FilterMode::Any => "any",
            FilterMode::All => "all",
        }
    }

    /// As `explain` and `who-can` say it: `any of` or `all of`.
    pub fn words(self) -> &'static str {
        match self {
            FilterMode::Any => "any of",
            FilterMode::All => "all of",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Cond {
    /// An attribute of the case kind.
    pub attr: AttrId,
    pub test: CondTest,
    pub negate: bool,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum CondTest {
    /// Equal to one of these values (`==` has one, `in` several).
    OneOf(Vec<Value>),
    /// A set attribute contains the string.
    Contains(String),
    /// A user reference equals the requesting principal.
    IsPrincipal,
}

/// A literal value in a policy.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Value {
    Str(String),
    Int(i64),
    Bool(bool),
    /// A `datetime` literal: microseconds since 1970-01-01T00:00:00Z.
    DateTime(i64),
    /// An enum variant by index.
    Variant(u32),
}

#[derive(Debug, Clone, PartialEq)]
pub struct EnumDef {
    pub name: String,
    pub span: Span,
    pub variants: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Type {
    Str,
    Bool,
    Int,
    /// `datetime`: an instant, kept as microseconds since 1970-01-01T00:00:00Z (UTC).
    DateTime,
    SetStr,
    RefUser,
    Ref(KindId),
    Enum(EnumId),
}

#[derive(Debug, Clone, PartialEq)]
pub struct AttrDef {
    pub name: String,
    pub span: Span,
    pub ty: Type,
}

#[derive(Debug, Clone, PartialEq)]
pub struct KindDef {
    pub name: String,
    pub span: Span,
    pub is_case: bool,
    pub parent: Option<KindId>,
    pub attrs: Vec<AttrDef>,
    pub inherit_read: bool,
    pub inherit_write: bool,
    /// The access-mode switch, on the case kind only.
    pub mode: Option<ModeDef>,
    /// The relations declared in this kind, in order of declaration. Those of the case kind are
    /// relations 0, 1, …; those of a resource kind follow, consecutive too, so a resource's
    /// list of relations is indexed by `relation id - relations[0]`.
    pub relations: Vec<RelationId>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ModeDef {
    pub attr: AttrId,
    pub span: Span,
    /// Indexed by enum variant: `None` admits everyone, otherwise one of these relations is needed.
    pub arms: Vec<Option<Vec<RelationId>>>,
    /// Where each arm was written, for explanations.
    pub arm_spans: Vec<Span>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CaseTypeDef {
    pub name: String,
    pub span: Span,
    pub states: Vec<Named>,
    pub initial: StateId,
    pub finals: Vec<StateId>,
    pub transitions: Vec<TransitionDef>,
    pub module_grants: Vec<ModuleGrantDef>,
    /// The case type has at least one `module` block: the module layer applies to its cases.
    pub uses_modules: bool,
    /// The permission tables as written (their cells are also `RuleDef`s), for lints.
    pub tables: Vec<TableDef>,
    /// The case type declares `states`. Without them it has no workflow: `states` holds one
    /// state with an empty name, which is its cases' state; entities give no `state` for its
    /// cases, and no request can name a target (docs/semantics.md).
    pub workflow: bool,
    /// Per state: whether a chain of transitions leads to it from the initial state. The checker
    /// computes it once; it reports the states not reached (CP0201), and the lints read it.
    pub reachable: Vec<bool>,
}

/// One `table { … }` of a case type: where it and its rows and cells are.
#[derive(Debug, Clone, PartialEq)]
pub struct TableDef {
    /// The `table` keyword.
    pub span: Span,
    /// How many columns the header names.
    pub columns: usize,
    pub rows: Vec<TableRowDef>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TableRowDef {
    pub state: StateId,
    /// The state name that starts the row.
    pub span: Span,
    /// Each cell, in column order.
    pub cells: Vec<Span>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TransitionDef {
    pub action: ActionId,
    pub from: Vec<StateId>,
    pub to: StateId,
    /// The subjects that may take it (`by …`).
    pub by: Vec<Subject>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ModuleGrantDef {
    pub module: ModuleId,
    pub subjects: Vec<Subject>,
    pub actions: Vec<ActionId>,
    pub span: Span,
}

/// What a rule does to the subjects it lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Effect {
    Allow,
    Deny,
}

/// Where a rule applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleScope {
    /// Every resource.
    Global,
    /// Resources of one kind.
    Kind(KindId),
    /// Resources whose case has this type; `states` narrows to some states.
    CaseType(CaseTypeId),
}

/// Where a rule came from in the source, for explanations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleOrigin {
    Statement,
    TableCell { state: StateId, subject: Subject },
    Transition { index: u32 },
}

#[derive(Debug, Clone, PartialEq)]
pub struct RuleDef {
    pub effect: Effect,
    pub subjects: Vec<Subject>,
    pub actions: Vec<ActionId>,
    /// Empty means every state.
    pub states: Vec<StateId>,
    pub scope: RuleScope,
    pub origin: RuleOrigin,
    /// The rule's condition (`when …`): it applies only where every term holds. Empty: always.
    pub when: Vec<Term>,
    pub span: Span,
}

/// One term of a rule's condition, after `not` when `negate`.
#[derive(Debug, Clone, PartialEq)]
pub struct Term {
    pub test: TermTest,
    pub negate: bool,
    pub span: Span,
}

/// What a term of a condition tests. The checker makes sure that its operands have the types
/// the test needs, and that no test compares two values stored on resources (each test reads
/// at most one stored value, so the residual can put it into a condition on the resource).
#[derive(Debug, Clone, PartialEq)]
pub enum TermTest {
    /// `principal is r`: the principal holds relation `r` on the anchor case (never without one).
    Holds(RelationId),
    /// `a op b`, both of one type; `<`, `<=`, `>` and `>=` only on `int`.
    Compare(Operand, CmpOp, Operand),
    /// `a in [v1, v2]`: `a` equals one of the values.
    OneOf(Operand, Vec<Value>),
    /// `set contains item`: a `set<string>` holds a string.
    Contains(Operand, Operand),
    /// A `bool` that is true.
    True(Operand),
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
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

    /// The operator with its sides swapped: `a op b` is `b op.flipped() a`.
    pub fn flipped(self) -> CmpOp {
        match self {
            CmpOp::Lt => CmpOp::Gt,
            CmpOp::Le => CmpOp::Ge,
            CmpOp::Gt => CmpOp::Lt,
            CmpOp::Ge => CmpOp::Le,
            same => same,
        }
    }

    /// Whether `a op b` holds, for two numbers.
    pub fn holds(self, a: i64, b: i64) -> bool {
        match self {
            CmpOp::Eq => a == b,
            CmpOp::Ne => a != b,
            CmpOp::Lt => a < b,
            CmpOp::Le => a <= b,
            CmpOp::Gt => a > b,
            CmpOp::Ge => a >= b,
        }
    }
}

/// A value a term reads.
#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    /// The principal itself, a `ref User`.
    Principal,
    /// An attribute of the principal (`user { attr … }`).
    User(AttrId),
    /// An attribute of the resource, whose kind the rule's place fixes.
    Resource(AttrId),
    /// An attribute of the resource's anchor case, which the rule's place guarantees.
    Case(AttrId),
    /// A field of the request context.
    Context(AttrId),
    /// A literal.
    Literal(Value),
}

impl Operand {
    /// Whether the value is stored on a resource (the resource's or its case's attribute):
    /// the residual leaves such a value to the database; every other operand is fixed by the
    /// question.
    pub fn is_stored(&self) -> bool {
        matches!(self, Operand::Resource(_) | Operand::Case(_))
    }
}

impl Policy {
    /// The kind that declares relation `r` (`None` only in a policy that did not check).
    pub fn relation_kind(&self, r: RelationId) -> Option<KindId> {
        self.relation_owner.get(r.idx()).copied().flatten()
    }

    /// Is `kind` the kind `above`, or a kind under it (through `under`, at any depth)?
    pub fn kind_within(&self, kind: KindId, above: KindId) -> bool {
        let mut k = Some(kind);
        // At most one step per kind: a cycle (an error the checker reports) ends the walk.
        for _ in 0..=self.kinds.len() {
            match k {
                Some(x) if x == above => return true,
                Some(x) => k = self.kinds.get(x.idx()).and_then(|d| d.parent),
                None => return false,
            }
        }
        false
    }

    pub fn subject_name(&self, s: Subject) -> &str {
        match s {
            Subject::Role(r) => &self.roles[r.idx()].name,
            Subject::Relation(r) => &self.relations[r.idx()].name,
            Subject::Everyone => EVERYONE,
        }
    }

    pub fn case_attrs(&self) -> &[AttrDef] {
        match self.case_kind {
            Some(k) => &self.kinds[k.idx()].attrs,
            None => &[],
        }
    }

    /// A type as messages name it, in backticks: `` `int` ``, `` `ref Case` ``, `` `Level` ``.
    pub fn type_name(&self, t: Type) -> String {
        match t {
            Type::Str => "`string`".into(),
            Type::Bool => "`bool`".into(),
            Type::Int => "`int`".into(),
            Type::DateTime => "`datetime`".into(),
            Type::SetStr => "`set<string>`".into(),
            Type::RefUser => "`ref User`".into(),
            Type::Ref(k) => format!("`ref {}`", self.kinds[k.idx()].name),
            Type::Enum(e) => format!("`{}`", self.enums[e.idx()].name),
        }
    }
}
