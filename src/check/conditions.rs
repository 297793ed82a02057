//! Rule conditions (`when …`) and the request context they read (`context { … }`): the
//! fields of the context, the paths a term reads (`principal.dept`, `resource.owner`,
//! `case.priority`, `context.hour`), and the type of every term.

use super::names::Sort;
use super::Checker;
use crate::ast::{self, Item, LiteralKind, PathRoot, TermValue};
use crate::diagnostic::words::thousands;
use crate::diagnostic::{Code, Diagnostic};
use crate::ir::*;
use crate::limits::{MAX_CONDITION_TERMS, MAX_CONTEXT_FIELDS};
use std::collections::HashMap;

/// What a path reads, once resolved: its operand, its type, and the declaration it names (for
/// messages).
struct Read<'p> {
    operand: Operand,
    ty: Type,
    decl: Option<&'p AttrDef>,
}

impl Checker {
    /// All `context { }` blocks together declare the fields of the request context. Every type
    /// but a reference may be a field's: a request names no entity by its context.
    pub(super) fn context_fields(&mut self, items: &[&Item], p: &mut Policy) {
        let decls: Vec<ast::AttrDecl> = items
            .iter()
            .filter_map(|i| match i {
                Item::Context { fields, .. } => Some(fields.clone()),
                _ => None,
            })
            .flatten()
            .collect();
        if let Some(over) = decls.get(MAX_CONTEXT_FIELDS) {
            self.error(
                Diagnostic::new(
                    Code::Limit,
                    over.name.span,
                    format!(
                        "the `context` blocks declare {} fields, more than the limit of {}",
                        thousands(decls.len()),
                        thousands(MAX_CONTEXT_FIELDS)
                    ),
                )
                .with_label(format!(
                    "field number {} is declared here",
                    MAX_CONTEXT_FIELDS + 1
                ))
                .with_help("keep only the fields that rule conditions read"),
            );
        }
        let decls = &decls[..decls.len().min(MAX_CONTEXT_FIELDS)];
        let fields = self.attrs(decls, "the `context`", p);
        for f in &fields {
            if matches!(f.ty, Type::RefUser | Type::Ref(_)) {
                self.error(
                    Diagnostic::new(
                        Code::TypeMismatch,
                        f.span,
                        format!(
                            "context field `{}` has type {}, which a context cannot hold",
                            f.name,
                            p.type_name(f.ty)
                        ),
                    )
                    .with_help("a request names its principal and resource already; give the context a `string`, `int`, `bool`, enum or `set<string>` field"),
                );
            }
        }
        p.context = fields;
        self.index_attrs(p);
    }

    /// Each attribute of the users, the context and every kind, by name.
    pub(super) fn index_attrs(&mut self, p: &Policy) {
        self.context_index = index(&p.context);
        self.user_attr_index = index(&p.user_attrs);
        self.kind_attr_index = p.kinds.iter().map(|k| index(&k.attrs)).collect();
    }

    /// The condition of a rule placed at `scope`: each term type-checked, or reported.
    pub(super) fn rule_condition(
        &mut self,
        when: &[ast::Term],
        scope: RuleScope,
        p: &Policy,
    ) -> Vec<Term> {
        if let Some(over) = when.get(MAX_CONDITION_TERMS) {
            self.error(
                Diagnostic::new(
                    Code::Limit,
                    over.span,
                    format!(
                        "this condition has {} terms, more than the limit of {MAX_CONDITION_TERMS}",
                        when.len()
                    ),
                )
                .with_label("the limit is passed here")
                .with_help("every term must hold, so fewer will do only if several say one thing: keep the terms the rule needs, or let one attribute or context field stand for several"),
            );
            return Vec::new();
        }
        when.iter()
            .filter_map(|t| {
                Some(Term {
                    test: self.term(&t.test, scope, p)?,
                    negate: t.negate,
                    span: t.span,
                })
            })
            .collect()
    }

    fn term(&mut self, t: &ast::TermTest, scope: RuleScope, p: &Policy) -> Option<TermTest> {
        match t {
            ast::TermTest::Is(rel) => match self.relations.get(&rel.name) {
                Some(r) => self
                    .relation_in_rule(RelationId(r), rel.span, scope, p)
                    .then_some(TermTest::Holds(RelationId(r))),
                None if self.query && !self.sorts.contains_key(&rel.name) => {
                    let help = self
                        .did_you_mean(&rel.name, self.relations.candidates())
                        .unwrap_or_else(|| {
                            match crate::diagnostic::words::the(
                                "relation",
                                "relations",
                                &self.relations.order,
                            ) {
                                Some(list) => format!("the policy declares {list}"),
                                None => "the policy declares no relations".to_string(),
                            }
                        });
                    self.error(
                        Diagnostic::new(
                            Code::Undefined,
                            rel.span,
                            format!("unknown relation `{}`", rel.name),
                        )
                        .with_label("no relation with this name is declared")
                        .with_help(help),
                    );
                    None
                }
                None => {
                    self.unresolved(rel, &[Sort::Relation], &[]);
                    None
                }
            },
            ast::TermTest::Bool(path) => {
                let read = self.path(path, scope, p)?;
                if read.ty != Type::Bool {
                    self.term_type(
                        path,
                        &read,
                        "is used as a condition on its own",
                        &format!(
                            "compare it with a value: `{} == {}`",
                            path_text(path),
                            super::types::example_value(read.ty, &LiteralKind::Bool(true), p)
                        ),
                        p,
                    );
                    return None;
                }
                Some(TermTest::True(read.operand))
            }
            ast::TermTest::In(path, values) => {
                let read = self.path(path, scope, p)?;
                if !scalar(read.ty) {
                    self.not_scalar(path, &read, "in", p);
                    return None;
                }
                let attr = attr_def(path, &read, p);
                let mut vs = Vec::with_capacity(values.len());
                for l in values {
                    vs.push(self.value(l, &attr, "in", false, p)?);
                }
                Some(TermTest::OneOf(read.operand, vs))
            }
            ast::TermTest::Contains(path, item) => {
                let set = self.path(path, scope, p)?;
                if set.ty != Type::SetStr {
                    self.term_type(
                        path,
                        &set,
                        "is tested with `contains`",
                        "`contains` tests a `set<string>`; compare single values with `==` or `in`",
                        p,
                    );
                    return None;
                }
                let item = match item {
                    TermValue::Literal(l) => match &l.kind {
                        LiteralKind::Str(s) => Operand::Literal(Value::Str(s.clone())),
                        _ => {
                            self.error(
                                Diagnostic::new(
                                    Code::TypeMismatch,
                                    l.span,
                                    format!(
                                        "`{}` holds strings, but is tested for a value that is not one",
                                        path_text(path)
                                    ),
                                )
                                .with_help("a set holds strings: write the value in double quotes"),
                            );
                            return None;
                        }
                    },
                    TermValue::Path(q) => {
                        let read = self.path(q, scope, p)?;
                        if read.ty != Type::Str {
                            self.term_type(
                                q,
                                &read,
                                "is looked for in a `set<string>`",
                                "a set holds strings: look for a `string` value",
                                p,
                            );
                            return None;
                        }
                        if set.operand.is_stored() && read.operand.is_stored() {
                            self.two_stored(path, q);
                            return None;
                        }
                        read.operand
                    }
                };
                Some(TermTest::Contains(set.operand, item))
            }
            ast::TermTest::Compare(path, op, value) => {
                let left = self.path(path, scope, p)?;
                let op = cmp_op(*op);
                let ordered = !matches!(op, CmpOp::Eq | CmpOp::Ne);
                if left.ty == Type::SetStr {
                    self.not_scalar(path, &left, op.text(), p);
                    return None;
                }
                if ordered && !matches!(left.ty, Type::Int | Type::DateTime) {
                    self.term_type(
                        path,
                        &left,
                        &format!("is compared with `{}`", op.text()),
                        "`<`, `<=`, `>` and `>=` compare numbers and datetimes; compare other values with `==` or `!=`",
                        p,
                    );
                    return None;
                }
                let right = match value {
                    TermValue::Literal(l) => {
                        if matches!(left.ty, Type::RefUser | Type::Ref(_)) {
                            let help = match left.ty {
                                Type::RefUser => format!(
                                    "a `ref User` is compared with the principal: `{} {} principal`",
                                    path_text(path),
                                    op.text()
                                ),
                                _ => "a reference to a resource is compared with another reference of its kind, such as an attribute of the principal".to_string(),
                            };
                            self.term_type(path, &left, "is compared with a value", &help, p);
                            return None;
                        }
                        let attr = attr_def(path, &left, p);
                        let text = if op == CmpOp::Ne { "!=" } else { "==" };
                        Operand::Literal(self.value(l, &attr, text, false, p)?)
                    }
                    TermValue::Path(q) => {
                        let right = self.path(q, scope, p)?;
                        if right.ty != left.ty {
                            self.error(
                                Diagnostic::new(
                                    Code::TypeMismatch,
                                    q.span,
                                    format!(
                                        "`{}` has type {}, but is compared with `{}` of type {}",
                                        path_text(path),
                                        p.type_name(left.ty),
                                        path_text(q),
                                        p.type_name(right.ty)
                                    ),
                                )
                                .with_help("compare values of one type"),
                            );
                            return None;
                        }
                        if left.operand.is_stored() && right.operand.is_stored() {
                            self.two_stored(path, q);
                            return None;
                        }
                        right.operand
                    }
                };
                Some(TermTest::Compare(left.operand, op, right))
            }
        }
    }

    /// What `path` reads in a rule placed at `scope`, or the reason it cannot be read there.
    fn path<'p>(&mut self, path: &ast::Path, scope: RuleScope, p: &'p Policy) -> Option<Read<'p>> {
        let Some(attr) = &path.attr else {
            return Some(Read {
                operand: Operand::Principal,
                ty: Type::RefUser,
                decl: None,
            });
        };
        let (defs, index, owner): (&[AttrDef], Option<&HashMap<String, u32>>, String) = match path
            .root
        {
            PathRoot::Principal => (
                &p.user_attrs,
                Some(&self.user_attr_index),
                "users".to_string(),
            ),
            PathRoot::Context => (
                &p.context,
                Some(&self.context_index),
                "the request context".to_string(),
            ),
            PathRoot::Resource => match scope {
                RuleScope::Kind(k) => (
                    &p.kinds[k.idx()].attrs,
                    self.kind_attr_index.get(k.idx()),
                    format!("kind `{}`", p.kinds[k.idx()].name),
                ),
                RuleScope::Global if self.query => {
                    self.error(
                        Diagnostic::new(
                            Code::Misplaced,
                            path.span,
                            format!(
                                "`resource.{}` reads an attribute of one kind, and the question names no kind",
                                attr.name
                            ),
                        )
                        .with_help(self.kinds_with_attr(&attr.name, p)),
                    );
                    return None;
                }
                RuleScope::Global | RuleScope::CaseType(_) => {
                    let help = match scope {
                            RuleScope::CaseType(_) => format!(
                                "a rule of a case type applies to its cases and to the resources under them, which are of several kinds: test the case with `case.{}`, or move the rule into the `resource` declaration of the kind it is about",
                                attr.name
                            ),
                            _ => "a top-level rule applies to resources of every kind: move the rule into the `case` or `resource` declaration of the kind whose attribute it tests".to_string(),
                        };
                    self.error(
                        Diagnostic::new(
                            Code::Misplaced,
                            path.span,
                            format!(
                                "`resource.{}` can only be read in a rule of one kind",
                                attr.name
                            ),
                        )
                        .with_help(help),
                    );
                    return None;
                }
            },
            PathRoot::Case => {
                let Some(ck) = p.case_kind else {
                    self.error(
                            Diagnostic::new(
                                Code::Misplaced,
                                path.span,
                                format!("`case.{}` reads a case, but the policy declares no `case` kind", attr.name),
                            )
                            .with_help("declare the case kind with the attribute, as in `case Case { attr priority: int; }`"),
                        );
                    return None;
                };
                if self.query && !self.anchored(scope, p) && scope != RuleScope::Global {
                    let RuleScope::Kind(k) = scope else {
                        return None;
                    };
                    self.error(
                        Diagnostic::new(
                            Code::Misplaced,
                            path.span,
                            format!(
                                "`case.{}` reads the case of a resource, and resources of kind `{}` are in no case",
                                attr.name, p.kinds[k.idx()].name
                            ),
                        )
                        .with_help(format!(
                            "ask about a kind under the case kind `{}`, or about no kind",
                            p.kinds[ck.idx()].name
                        )),
                    );
                    return None;
                }
                if !self.query && !self.anchored(scope, p) {
                    self.error(
                            Diagnostic::new(
                                Code::Misplaced,
                                path.span,
                                format!(
                                    "`case.{}` is read where a resource may be in no case",
                                    attr.name
                                ),
                            )
                            .with_help("a top-level rule, or a rule of a kind not under the case kind, also applies to resources in no case: move the rule into the case type, the case kind, or a kind under it"),
                        );
                    return None;
                }
                (
                    &p.kinds[ck.idx()].attrs,
                    self.kind_attr_index.get(ck.idx()),
                    format!("case kind `{}`", p.kinds[ck.idx()].name),
                )
            }
        };
        let found = index.and_then(|m| m.get(&attr.name)).copied();
        let Some(i) = found else {
            let help = self
                .did_you_mean(&attr.name, defs.iter().map(|a| a.name.as_str()))
                .unwrap_or_else(|| match path.root {
                    _ if self.query && !defs.is_empty() => format!(
                        "{} {}",
                        match path.root {
                            PathRoot::Principal => "users have".to_string(),
                            PathRoot::Context => "the request context has".to_string(),
                            _ => format!("{owner} has"),
                        },
                        crate::diagnostic::words::the(
                            "attribute",
                            "attributes",
                            defs.iter().map(|a| a.name.as_str())
                        )
                        .unwrap_or_default()
                    ),
                    _ if self.query => format!("{owner} has none"),
                    PathRoot::Principal => {
                        "declare user attributes in a `user { attr name: type; }` block".to_string()
                    }
                    PathRoot::Context => {
                        "declare the field in the policy's `context { name: type; }` block"
                            .to_string()
                    }
                    _ => format!(
                        "declare the attribute on the kind, as in `attr {}: string;`",
                        attr.name
                    ),
                });
            let message = match path.root {
                PathRoot::Principal => {
                    format!("the `user` blocks declare no attribute `{}`", attr.name)
                }
                PathRoot::Context => {
                    format!("the `context` declares no field `{}`", attr.name)
                }
                _ => format!("{owner} has no attribute `{}`", attr.name),
            };
            self.error(Diagnostic::new(Code::Undefined, attr.span, message).with_help(help));
            return None;
        };
        let def = &defs[i as usize];
        let id = AttrId(i);
        let operand = match path.root {
            PathRoot::Principal => Operand::User(id),
            PathRoot::Context => Operand::Context(id),
            PathRoot::Resource => Operand::Resource(id),
            PathRoot::Case => Operand::Case(id),
        };
        Some(Read {
            operand,
            ty: def.ty,
            decl: Some(def),
        })
    }

    /// Whether every resource a rule placed at `scope` applies to has an anchor case: the
    /// rules of a case type, of the case kind and of a kind under it.
    fn anchored(&self, scope: RuleScope, p: &Policy) -> bool {
        let mut kind = match scope {
            RuleScope::CaseType(_) => return true,
            RuleScope::Global => return false,
            RuleScope::Kind(k) => Some(k),
        };
        // The chain of parents is bounded; a cycle (reported elsewhere) ends the walk.
        for _ in 0..=crate::limits::MAX_KIND_DEPTH {
            let Some(k) = kind else { return false };
            if p.case_kind == Some(k) {
                return true;
            }
            kind = p.kinds[k.idx()].parent;
        }
        false
    }

    /// Help for `resource.a` asked about no kind: the kinds that declare `a`.
    #[cold]
    fn kinds_with_attr(&self, attr: &str, p: &Policy) -> String {
        let kinds: Vec<&str> = p
            .kinds
            .iter()
            .filter(|k| k.attrs.iter().any(|a| a.name == attr))
            .map(|k| k.name.as_str())
            .collect();
        match kinds.as_slice() {
            [] => format!("no kind declares `{attr}`; ask about one kind (`--kind`) and one of its attributes"),
            [k] => format!("ask about kind `{k}` (`--kind {k}`), which declares `{attr}`"),
            _ => format!(
                "ask about one kind (`--kind`): {} declare `{attr}`",
                crate::diagnostic::words::list(&kinds)
            ),
        }
    }

    #[cold]
    fn term_type(&mut self, path: &ast::Path, read: &Read<'_>, used: &str, help: &str, p: &Policy) {
        let mut d = Diagnostic::new(
            Code::TypeMismatch,
            path.span,
            format!(
                "`{}` has type {}, but {used}",
                path_text(path),
                p.type_name(read.ty)
            ),
        )
        .with_help(help.to_string());
        if let Some(decl) = read.decl {
            d = d.with_secondary(decl.span, format!("`{}` is declared here", decl.name));
        }
        self.error(d);
    }

    #[cold]
    fn not_scalar(&mut self, path: &ast::Path, read: &Read<'_>, op: &str, p: &Policy) {
        let help = match read.ty {
            Type::SetStr => format!(
                "a set is tested with `contains`, one string at a time: `{} contains \"text\"`",
                path_text(path)
            ),
            _ => format!("`{op}` compares single values"),
        };
        self.term_type(path, read, &format!("is compared with `{op}`"), &help, p);
    }

    #[cold]
    fn two_stored(&mut self, left: &ast::Path, right: &ast::Path) {
        self.error(
            Diagnostic::new(
                Code::TypeMismatch,
                right.span,
                format!(
                    "`{}` and `{}` are both stored on resources, and a condition compares a stored value only with the principal, the context or a value",
                    path_text(left),
                    path_text(right)
                ),
            )
            .with_help("compare each of them with the principal's attribute, a context field or a value instead, or store their comparison as an attribute of its own"),
        );
    }
}

/// Each attribute's position by name.
fn index(attrs: &[AttrDef]) -> HashMap<String, u32> {
    attrs
        .iter()
        .enumerate()
        .map(|(i, a)| (a.name.clone(), i as u32))
        .collect()
}

fn cmp_op(op: ast::CmpOp) -> CmpOp {
    match op {
        ast::CmpOp::Eq => CmpOp::Eq,
        ast::CmpOp::Ne => CmpOp::Ne,
        ast::CmpOp::Lt => CmpOp::Lt,
        ast::CmpOp::Le => CmpOp::Le,
        ast::CmpOp::Gt => CmpOp::Gt,
        ast::CmpOp::Ge => CmpOp::Ge,
    }
}

/// Types whose values `==` and `in` compare one at a time.
fn scalar(t: Type) -> bool {
    matches!(
        t,
        Type::Str | Type::Int | Type::DateTime | Type::Bool | Type::Enum(_)
    )
}

/// A path as written: `principal`, `resource.owner`.
pub(super) fn path_text(path: &ast::Path) -> String {
    match &path.attr {
        Some(a) => format!("{}.{}", path.root.text(), a.name),
        None => "principal".to_string(),
    }
}

/// The declaration a literal is checked against, named as the path is written, so that the
/// messages of `Checker::value` show `context.hour` rather than `hour`.
fn attr_def(path: &ast::Path, read: &Read<'_>, _p: &Policy) -> AttrDef {
    AttrDef {
        name: path_text(path),
        span: read.decl.map_or(path.span, |d| d.span),
        ty: read.ty,
    }
}
