//! Access groups: their parents, the roles they grant, the permissions they permit, and
//! their scopes (`all`, `assigned via …`, `filter { … }` and its conditions).

use super::names::Sort;
use super::Checker;
use crate::ast::{self, CondOp, Item, LiteralKind, Operand};
use crate::diagnostic::{Code, Diagnostic, Span};
use crate::ir::*;
use std::collections::HashSet;

impl Checker {
    /// The access groups, in declaration order, and the cycles and depth of their nesting.
    pub(super) fn groups(&mut self, items: &[&Item], p: &mut Policy) {
        self.case_attr_index = p
            .case_attrs()
            .iter()
            .enumerate()
            .map(|(i, a)| (a.name.clone(), i as u32))
            .collect();
        for item in items {
            if let Item::Group(g) = item {
                if self.groups.get(&g.name.name) != Some(p.groups.len() as u32) {
                    continue;
                }
                let def = self.group(g, p);
                p.groups.push(def);
            }
        }
        self.group_cycles(p);
    }

    fn group(&mut self, g: &ast::GroupDecl, p: &Policy) -> GroupDef {
        let parent = g
            .parent
            .as_ref()
            .and_then(|x| self.lookup(x, Sort::Group))
            .map(GroupId);
        let mut grants = Vec::new();
        for r in &g.grants {
            if let Some(id) = self.roles.get(&r.name) {
                grants.push(RoleId(id));
            } else if self.relations.get(&r.name).is_some() {
                self.error(
                    Diagnostic::new(Code::WrongSort, r.span, format!("`{}` is a relation, which a group cannot grant", r.name))
                        .with_help("relations are held on a case (assignee, collaborator, …); grant a role instead"),
                );
            } else {
                self.unresolved(r, &[Sort::Role], &[]);
            }
        }
        let permits = g
            .permits
            .iter()
            .filter_map(|x| self.lookup(x, Sort::Permission).map(PermissionId))
            .collect();
        let mut scope = ScopeDef::All;
        for (i, (s, span)) in g.scopes.iter().enumerate() {
            if i > 0 {
                self.error(
                    Diagnostic::new(
                        Code::Duplicate,
                        *span,
                        format!("group `{}` has more than one scope", g.name.name),
                    )
                    .with_label("second scope")
                    .with_secondary(g.scopes[0].1, "first scope")
                    .with_help("a group has one scope, such as `scope all;`, `scope assigned via assignee;` or `scope filter { status == open; }`; keep one"),
                );
                continue;
            }
            scope = match s {
                ast::Scope::All => ScopeDef::All,
                ast::Scope::Assigned(rels) => ScopeDef::Assigned(
                    rels.iter()
                        .filter_map(|r| {
                            let rel = self.lookup(r, Sort::Relation).map(RelationId)?;
                            self.case_relation(rel, r.span, "a scope's `via`", p)
                                .then_some(rel)
                        })
                        .collect(),
                ),
                ast::Scope::Filter { mode, conditions } => {
                    if mode.is_none() && conditions.len() >= 2 {
                        self.bare_filter(g, *span, conditions);
                    }
                    let mode = match mode {
                        Some((ast::FilterMode::All, _)) => FilterMode::All,
                        _ => FilterMode::Any,
                    };
                    if p.case_kind.is_none() {
                        self.error(
                            Diagnostic::new(
                                Code::Misplaced,
                                *span,
                                "a filter scope needs a `case` kind whose attributes it tests",
                            )
                            .with_help("declare the case kind with the attributes the filter tests, as in `case Case { attr status: string; }`"),
                        );
                        ScopeDef::Filter(mode, Vec::new())
                    } else {
                        ScopeDef::Filter(
                            mode,
                            conditions
                                .iter()
                                .filter_map(|c| self.condition(c, mode == FilterMode::All, p))
                                .collect(),
                        )
                    }
                }
            };
        }
        GroupDef {
            name: g.name.name.clone(),
            span: g.name.span,
            parent,
            grants,
            permits,
            scope,
        }
    }

    /// CP0214: `scope filter { c1; c2; }` without `any` or `all`. It means `any` (one condition
    /// suffices), which a reader of `;` as "and" misreads.
    fn bare_filter(&mut self, g: &ast::GroupDecl, span: Span, conditions: &[ast::Condition]) {
        self.diags.push(
            Diagnostic::new(
                Code::BareFilter,
                span,
                format!(
                    "the filter of group `{}` admits a case when any one of its {} conditions holds",
                    g.name.name,
                    conditions.len()
                ),
            )
            .with_label("one condition that holds admits a case, whatever the others")
            .with_help("say which you mean: write `any` after `filter` if one condition should suffice (what the filter means now; `casepol fmt` writes it), or `all` if every condition must hold"),
        );
    }

    /// A condition of a filter whose conditions must all hold (`all`) or not.
    fn condition(&mut self, c: &ast::Condition, all: bool, p: &Policy) -> Option<Cond> {
        let attrs = p.case_attrs();
        let Some(ai) = self.case_attr_index.get(&c.attr.name).map(|&i| i as usize) else {
            let help = self
                .did_you_mean(&c.attr.name, attrs.iter().map(|a| a.name.as_str()))
                .unwrap_or_else(|| {
                    "filters test attributes declared on the `case` kind".to_string()
                });
            let kind = p
                .case_kind
                .map(|k| p.kinds[k.idx()].name.clone())
                .unwrap_or_default();
            self.error(
                Diagnostic::new(
                    Code::Undefined,
                    c.attr.span,
                    format!("case kind `{kind}` has no attribute `{}`", c.attr.name),
                )
                .with_help(help),
            );
            return None;
        };
        let attr = &attrs[ai];
        let ty = attr.ty;
        if ty == Type::DateTime {
            self.error(
                Diagnostic::new(
                    Code::TypeMismatch,
                    c.attr.span,
                    format!(
                        "attribute `{}` has type `datetime`, which a scope filter does not test",
                        attr.name
                    ),
                )
                .with_secondary(attr.span, format!("`{}` is declared here", attr.name))
                .with_help(format!(
                    "compare it in a rule's condition instead, such as `allow Reader: view when case.{} < context.now;`",
                    attr.name
                )),
            );
            return None;
        }
        let (test, negate) = match &c.op {
            CondOp::Eq(Operand::Principal(s)) | CondOp::Ne(Operand::Principal(s)) => {
                if ty != Type::RefUser {
                    self.type_mismatch(
                        *s,
                        attr,
                        "`principal` (a user)",
                        "compare `principal` with an attribute of type `ref User`",
                        p,
                    );
                    return None;
                }
                (CondTest::IsPrincipal, matches!(c.op, CondOp::Ne(_)))
            }
            CondOp::Eq(Operand::Literal(l)) | CondOp::Ne(Operand::Literal(l)) => {
                let op = if matches!(c.op, CondOp::Ne(_)) {
                    "!="
                } else {
                    "=="
                };
                let v = self.value(l, attr, op, all, p)?;
                (CondTest::OneOf(vec![v]), matches!(c.op, CondOp::Ne(_)))
            }
            CondOp::In(lits) => {
                let mut vs = Vec::new();
                for l in lits {
                    vs.push(self.value(l, attr, "in", all, p)?);
                }
                (CondTest::OneOf(vs), false)
            }
            CondOp::Contains(l) => {
                if ty != Type::SetStr {
                    self.error(
                        Diagnostic::new(
                            Code::TypeMismatch,
                            c.attr.span,
                            format!(
                                "`contains` needs a `set<string>` attribute, but `{}` has type {}",
                                attr.name,
                                p.type_name(ty)
                            ),
                        )
                        .with_label("not a set")
                        .with_secondary(attr.span, format!("`{}` is declared here", attr.name))
                        .with_help(match ty {
                            Type::RefUser => format!(
                                "a `ref User` attribute is compared with `principal`: `{} == principal`",
                                attr.name
                            ),
                            Type::Ref(_) => format!(
                                "a {} attribute cannot be tested in a filter",
                                p.type_name(ty)
                            ),
                            _ => format!(
                                "compare single values with `==` or `in`: `{} == {}`",
                                attr.name,
                                super::types::example_value(ty, &l.kind, p)
                            ),
                        }),
                    );
                    return None;
                }
                let LiteralKind::Str(s) = &l.kind else {
                    self.type_mismatch(
                        l.span,
                        attr,
                        "a non-string value",
                        "sets hold strings: write the value in double quotes",
                        p,
                    );
                    return None;
                };
                (CondTest::Contains(s.clone()), false)
            }
        };
        Some(Cond {
            attr: AttrId(ai as u32),
            test,
            negate,
            span: c.span,
        })
    }

    /// Reports cycles of group parents, and chains deeper than the limit (once per policy).
    fn group_cycles(&mut self, p: &Policy) {
        let mut reported: HashSet<usize> = HashSet::new();
        let mut too_deep = false;
        for (i, g) in p.groups.iter().enumerate() {
            let mut path = vec![i];
            let mut cur = g.parent;
            while let Some(c) = cur {
                if c.idx() == i {
                    if path.iter().all(|x| !reported.contains(x)) {
                        reported.extend(path.iter().copied());
                        let names: Vec<String> = path
                            .iter()
                            .map(|x| p.groups[*x].name.clone())
                            .chain([g.name.clone()])
                            .collect();
                        self.error(
                            Diagnostic::new(
                                Code::GroupCycle,
                                g.span,
                                format!("access groups nest in a cycle: {}", names.join(" in ")),
                            )
                            .with_label("this group is inside itself")
                            .with_help(
                                "remove one `in` clause so that the chain of parent groups ends",
                            ),
                        );
                    }
                    break;
                }
                if path.contains(&c.idx()) {
                    break;
                }
                path.push(c.idx());
                if path.len() > crate::limits::MAX_GROUP_DEPTH {
                    if !too_deep {
                        too_deep = true;
                        self.error(
                            Diagnostic::new(
                                Code::Limit,
                                g.span,
                                format!(
                                    "the chain of parents of access group `{}` holds more than {} groups",
                                    g.name,
                                    crate::limits::MAX_GROUP_DEPTH
                                ),
                            )
                            .with_label("the chain of `in` parents starts here")
                            .with_help("flatten the hierarchy: a group may be `in` a group higher up"),
                        );
                    }
                    break;
                }
                cur = p.groups[c.idx()].parent;
            }
        }
    }
}
