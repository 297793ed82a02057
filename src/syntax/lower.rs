//! Parse tree (pest pairs) to spanned AST.
//!
//! INVARIANT: the grammar has already accepted the input, so every shape matched here is one the
//! grammar guarantees; an unexpected pair is skipped rather than trusted.

use super::grammar::Rule;
use crate::ast::*;
use crate::diagnostic::{Code, Diagnostic, FileId, Span};
use crate::limits::MAX_NAME_CHARS;
use pest::iterators::Pair;
use std::cell::RefCell;

struct Ctx {
    file: FileId,
    offset: usize,
    /// Names over [`MAX_NAME_CHARS`], one CP0112 each.
    too_long: RefCell<Vec<Diagnostic>>,
}

impl Ctx {
    fn span(&self, p: &Pair<Rule>) -> Span {
        let s = p.as_span();
        Span::new(self.file, self.offset + s.start(), self.offset + s.end())
    }

    fn ident(&self, p: Pair<Rule>) -> Ident {
        let span = self.span(&p);
        // Identifiers are ASCII: bytes are characters.
        if p.as_str().len() > MAX_NAME_CHARS {
            self.too_long
                .borrow_mut()
                .push(name_too_long(span, p.as_str().len()));
        }
        Ident {
            name: p.as_str().to_string(),
            span,
        }
    }

    fn idents(&self, p: Pair<Rule>) -> Vec<Ident> {
        match p.as_rule() {
            // `everyone` in a subject list lowers to a name no declaration can have: it is a
            // keyword, so the checker knows it for the subject every principal holds.
            Rule::ident_list | Rule::subject_list => inner(p).map(|i| self.ident(i)).collect(),
            Rule::ident | Rule::everyone => vec![self.ident(p)],
            _ => Vec::new(),
        }
    }
}

/// The children of a pair that carry meaning: keywords are dropped.
fn inner(p: Pair<Rule>) -> impl Iterator<Item = Pair<Rule>> {
    p.into_inner().filter(|c| !is_keyword(c.as_rule()))
}

/// Whether `r` is one of the grammar's `kw_…` rules. A match, not the rule's name: this runs
/// for every pair, and formatting the name allocated each time (a sixth of the parse of a
/// 10,000-rule policy).
fn is_keyword(r: Rule) -> bool {
    use Rule::*;
    matches!(
        r,
        kw_action
            | kw_actions
            | kw_all
            | kw_and
            | kw_allow
            | kw_assigned
            | kw_any
            | kw_attr
            | kw_by
            | kw_case
            | kw_casetype
            | kw_codes
            | kw_contains
            | kw_context
            | kw_data
            | kw_deny
            | kw_enum
            | kw_everyone
            | kw_filter
            | kw_final
            | kw_grants
            | kw_group
            | kw_in
            | kw_inherit
            | kw_initial
            | kw_is
            | kw_mode
            | kw_not
            | kw_module
            | kw_permission
            | kw_permits
            | kw_principal
            | kw_records
            | kw_ref
            | kw_relation
            | kw_require
            | kw_requires
            | kw_resource
            | kw_role
            | kw_roles
            | kw_scope
            | kw_set
            | kw_states
            | kw_table
            | kw_transition
            | kw_under
            | kw_user
            | kw_via
            | kw_when
    )
}

/// Lowers a parsed policy into `out`; a CP0112 for each name over the length limit goes to
/// `too_long`.
pub fn lower_policy(
    p: Pair<Rule>,
    file: FileId,
    offset: usize,
    out: &mut PolicyAst,
    too_long: &mut Vec<Diagnostic>,
) {
    let cx = Ctx {
        file,
        offset,
        too_long: RefCell::new(std::mem::take(too_long)),
    };
    for item in inner(p) {
        if let Some(i) = lower_item(&cx, item) {
            out.items.push(i);
        }
    }
    *too_long = cx.too_long.into_inner();
}

#[cold]
fn name_too_long(span: Span, len: usize) -> Diagnostic {
    Diagnostic::new(
        Code::Limit,
        span,
        format!("this name is {len} characters long, more than the limit of {MAX_NAME_CHARS}"),
    )
    .with_label("name too long")
    .with_help(format!(
        "use a name of at most {MAX_NAME_CHARS} characters; say more in a comment"
    ))
}

fn lower_item(cx: &Ctx, p: Pair<Rule>) -> Option<Item> {
    let span = cx.span(&p);
    Some(match p.as_rule() {
        Rule::role_decl => Item::Roles(inner(p).flat_map(|c| cx.idents(c)).collect()),
        Rule::action_decl => {
            let mut names = Vec::new();
            let mut requires = None;
            for c in inner(p) {
                match c.as_rule() {
                    Rule::ident_list => names = cx.idents(c),
                    Rule::requires_clause => requires = inner(c).next().map(|i| cx.ident(i)),
                    _ => {}
                }
            }
            Item::Actions { names, requires }
        }
        Rule::action_group => {
            let mut it = inner(p);
            let name = cx.ident(it.next()?);
            let members = it.next().map(|c| cx.idents(c)).unwrap_or_default();
            Item::ActionGroup { name, members }
        }
        Rule::permission_decl => Item::Permissions(inner(p).flat_map(|c| cx.idents(c)).collect()),
        Rule::require_decl => Item::RequireGroup(span),
        Rule::module_decl => {
            let mut it = inner(p);
            let name = cx.ident(it.next()?);
            let mut m = ModuleDecl {
                name,
                actions: Vec::new(),
                records: Vec::new(),
                data_roles: Vec::new(),
            };
            for c in it {
                let kind = c.as_rule();
                let names: Vec<Ident> = inner(c).flat_map(|l| cx.idents(l)).collect();
                match kind {
                    Rule::module_actions => m.actions.extend(names),
                    Rule::module_records => m.records.extend(names),
                    Rule::module_data => m.data_roles.extend(names),
                    _ => {}
                }
            }
            Item::Module(m)
        }
        Rule::enum_decl => {
            let mut it = inner(p);
            let name = cx.ident(it.next()?);
            let variants = it.flat_map(|c| cx.idents(c)).collect();
            Item::Enum { name, variants }
        }
        Rule::group_decl => Item::Group(lower_group(cx, p)?),
        Rule::user_decl => Item::User {
            attrs: inner(p).filter_map(|c| lower_attr(cx, c)).collect(),
            span,
        },
        Rule::case_decl | Rule::resource_decl => Item::Kind(lower_kind(cx, p)?),
        Rule::casetype_decl => Item::CaseType(lower_casetype(cx, p)?),
        Rule::codes_decl => Item::Codes(
            inner(p)
                .filter_map(|c| {
                    let mut it = inner(c);
                    let class = cx.ident(it.next()?);
                    let actions = it.next().map(|a| lower_actions(cx, a)).unwrap_or_default();
                    Some(CodeClass { class, actions })
                })
                .collect(),
        ),
        Rule::context_decl => Item::Context {
            fields: inner(p).filter_map(|c| lower_attr(cx, c)).collect(),
            span,
        },
        Rule::rule => Item::Rule(lower_rule(cx, p)?),
        _ => return None,
    })
}

fn lower_group(cx: &Ctx, p: Pair<Rule>) -> Option<GroupDecl> {
    let mut it = inner(p);
    let name = cx.ident(it.next()?);
    let mut g = GroupDecl {
        name,
        parent: None,
        grants: Vec::new(),
        permits: Vec::new(),
        scopes: Vec::new(),
    };
    for c in it {
        let span = cx.span(&c);
        match c.as_rule() {
            Rule::group_parent => g.parent = inner(c).next().map(|i| cx.ident(i)),
            Rule::grants => g.grants.extend(inner(c).flat_map(|l| cx.idents(l))),
            Rule::permits => g.permits.extend(inner(c).flat_map(|l| cx.idents(l))),
            Rule::scope => {
                let Some(s) = inner(c).next() else { continue };
                let scope = match s.as_rule() {
                    Rule::scope_all => Scope::All,
                    Rule::scope_assigned => {
                        Scope::Assigned(inner(s).flat_map(|l| cx.idents(l)).collect())
                    }
                    Rule::scope_filter => {
                        let mut mode = None;
                        let mut conditions = Vec::new();
                        for c in inner(s) {
                            match c.as_rule() {
                                Rule::filter_mode => {
                                    // The pair holds one keyword, `any` or `all`, and nothing else.
                                    let m = match c.as_str() {
                                        "all" => FilterMode::All,
                                        _ => FilterMode::Any,
                                    };
                                    mode = Some((m, cx.span(&c)));
                                }
                                Rule::condition => conditions.extend(lower_condition(cx, c)),
                                _ => {}
                            }
                        }
                        Scope::Filter { mode, conditions }
                    }
                    _ => continue,
                };
                g.scopes.push((scope, span));
            }
            _ => {}
        }
    }
    Some(g)
}

fn lower_condition(cx: &Ctx, p: Pair<Rule>) -> Option<Condition> {
    let span = cx.span(&p);
    let mut it = inner(p);
    let attr = cx.ident(it.next()?);
    let op_pair = it.next()?;
    let op_rule = op_pair.as_rule();
    let mut args = inner(op_pair);
    let op = match op_rule {
        Rule::cond_eq | Rule::cond_ne => {
            let a = args.next()?;
            let operand = if a.as_rule() == Rule::principal {
                Operand::Principal(cx.span(&a))
            } else {
                Operand::Literal(lower_literal(cx, a)?)
            };
            if op_rule == Rule::cond_eq {
                CondOp::Eq(operand)
            } else {
                CondOp::Ne(operand)
            }
        }
        Rule::cond_contains => CondOp::Contains(lower_literal(cx, args.next()?)?),
        Rule::cond_in => CondOp::In(args.filter_map(|a| lower_literal(cx, a)).collect()),
        _ => return None,
    };
    Some(Condition { attr, op, span })
}

fn lower_literal(cx: &Ctx, p: Pair<Rule>) -> Option<Literal> {
    let span = cx.span(&p);
    let v = inner(p).next()?;
    let kind = match v.as_rule() {
        Rule::string => {
            LiteralKind::Str(unescape(inner(v).next().map(|s| s.as_str()).unwrap_or("")))
        }
        Rule::int => match v.as_str().parse() {
            Ok(i) => LiteralKind::Int(i),
            Err(_) => LiteralKind::BadInt(v.as_str().to_string()),
        },
        Rule::bool_lit => LiteralKind::Bool(v.as_str() == "true"),
        Rule::ident => LiteralKind::Name(v.as_str().to_string()),
        _ => return None,
    };
    Some(Literal { kind, span })
}

fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some(other) => out.push(other),
                None => {}
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// An `attr name: type;` of a kind or a `user` block, or a `name: type;` of the `context`.
fn lower_attr(cx: &Ctx, p: Pair<Rule>) -> Option<AttrDecl> {
    if !matches!(p.as_rule(), Rule::attr_decl | Rule::context_field) {
        return None;
    }
    let mut it = inner(p);
    let name = cx.ident(it.next()?);
    let ty_pair = inner(it.next()?).next()?;
    let ty = match ty_pair.as_rule() {
        Rule::type_set => TypeExpr::Set(cx.ident(inner(ty_pair).next()?)),
        Rule::type_ref => TypeExpr::Ref(cx.ident(inner(ty_pair).next()?)),
        Rule::ident => TypeExpr::Named(cx.ident(ty_pair)),
        _ => return None,
    };
    Some(AttrDecl { name, ty })
}

fn lower_kind(cx: &Ctx, p: Pair<Rule>) -> Option<KindDecl> {
    let is_case = p.as_rule() == Rule::case_decl;
    let mut it = inner(p);
    let name = cx.ident(it.next()?);
    let mut k = KindDecl {
        name,
        is_case,
        parent: None,
        attrs: Vec::new(),
        relations: Vec::new(),
        modes: Vec::new(),
        inherits: Vec::new(),
        rules: Vec::new(),
    };
    for c in it {
        let span = cx.span(&c);
        match c.as_rule() {
            Rule::kind_parent => k.parent = inner(c).next().map(|i| cx.ident(i)),
            Rule::attr_decl => k.attrs.extend(lower_attr(cx, c)),
            Rule::relation_decl => k.relations.extend(inner(c).flat_map(|l| cx.idents(l))),
            Rule::inherit_decl => k.inherits.extend(inner(c).flat_map(|l| cx.idents(l))),
            Rule::rule => k.rules.extend(lower_rule(cx, c)),
            Rule::mode_decl => {
                let mut mi = inner(c);
                let Some(attr) = mi.next().map(|a| cx.ident(a)) else {
                    continue;
                };
                let arms = mi
                    .filter_map(|arm| {
                        let mut ai = inner(arm);
                        let variant = cx.ident(ai.next()?);
                        let who = ai.next()?;
                        let relations = (who.as_rule() != Rule::everyone).then(|| cx.idents(who));
                        Some(ModeArm { variant, relations })
                    })
                    .collect();
                k.modes.push(ModeDecl { attr, arms, span });
            }
            _ => {}
        }
    }
    Some(k)
}

fn lower_actions(cx: &Ctx, p: Pair<Rule>) -> Vec<ActionRef> {
    inner(p)
        .map(|a| match a.as_rule() {
            Rule::star => ActionRef::Star(cx.span(&a)),
            _ => ActionRef::Name(cx.ident(a)),
        })
        .collect()
}

fn lower_rule(cx: &Ctx, p: Pair<Rule>) -> Option<Rule_> {
    let span = cx.span(&p);
    let mut it = inner(p);
    let effect_pair = it.next()?;
    let effect = if effect_pair.as_str().starts_with("allow") {
        Effect::Allow
    } else {
        Effect::Deny
    };
    let subjects = cx.idents(it.next()?);
    let actions = lower_actions(cx, it.next()?);
    let mut states = Vec::new();
    let mut when = Vec::new();
    for c in it {
        match c.as_rule() {
            Rule::rule_states => states.extend(inner(c).flat_map(|l| cx.idents(l))),
            Rule::rule_when => when.extend(inner(c).filter_map(|t| lower_term(cx, t))),
            _ => {}
        }
    }
    Some(Rule_ {
        effect,
        subjects,
        actions,
        states,
        when,
        span,
    })
}

/// The terms of a condition on its own (`where_condition`, the text of `--where`).
pub fn lower_where(p: Pair<Rule>, file: FileId, too_long: &mut Vec<Diagnostic>) -> Vec<Term> {
    let cx = Ctx {
        file,
        offset: 0,
        too_long: RefCell::new(std::mem::take(too_long)),
    };
    let terms = inner(p).filter_map(|t| lower_term(&cx, t)).collect();
    *too_long = cx.too_long.into_inner();
    terms
}

/// One term of a `when` condition; `not` is the only keyword child it keeps.
fn lower_term(cx: &Ctx, p: Pair<Rule>) -> Option<Term> {
    if p.as_rule() != Rule::term {
        return None;
    }
    let span = cx.span(&p);
    let mut negate = false;
    let mut test = None;
    for c in p.into_inner() {
        match c.as_rule() {
            Rule::kw_not => negate = true,
            Rule::term_is => test = Some(TermTest::Is(cx.ident(inner(c).next()?))),
            Rule::term_in => {
                let mut it = inner(c);
                let path = lower_path(cx, it.next()?)?;
                test = Some(TermTest::In(
                    path,
                    it.filter_map(|l| lower_literal(cx, l)).collect(),
                ));
            }
            Rule::term_contains => {
                let mut it = inner(c);
                let path = lower_path(cx, it.next()?)?;
                test = Some(TermTest::Contains(path, lower_term_value(cx, it.next()?)?));
            }
            Rule::term_cmp => {
                let mut it = inner(c);
                let path = lower_path(cx, it.next()?)?;
                let op = match it.next()?.as_str() {
                    "==" => CmpOp::Eq,
                    "!=" => CmpOp::Ne,
                    "<=" => CmpOp::Le,
                    ">=" => CmpOp::Ge,
                    "<" => CmpOp::Lt,
                    _ => CmpOp::Gt,
                };
                test = Some(TermTest::Compare(
                    path,
                    op,
                    lower_term_value(cx, it.next()?)?,
                ));
            }
            Rule::term_bool => test = Some(TermTest::Bool(lower_path(cx, inner(c).next()?)?)),
            _ => {}
        }
    }
    Some(Term {
        negate,
        test: test?,
        span,
    })
}

fn lower_path(cx: &Ctx, p: Pair<Rule>) -> Option<Path> {
    if p.as_rule() != Rule::path {
        return None;
    }
    let span = cx.span(&p);
    let mut it = inner(p);
    let first = it.next()?;
    if first.as_rule() == Rule::principal {
        return Some(Path {
            root: PathRoot::Principal,
            attr: None,
            span,
        });
    }
    let root = match first.as_str() {
        "principal" => PathRoot::Principal,
        "resource" => PathRoot::Resource,
        "case" => PathRoot::Case,
        _ => PathRoot::Context,
    };
    Some(Path {
        root,
        attr: Some(cx.ident(it.next()?)),
        span,
    })
}

fn lower_term_value(cx: &Ctx, p: Pair<Rule>) -> Option<TermValue> {
    match p.as_rule() {
        Rule::path => Some(TermValue::Path(lower_path(cx, p)?)),
        Rule::literal => Some(TermValue::Literal(lower_literal(cx, p)?)),
        _ => None,
    }
}

type Rule_ = crate::ast::Rule;

fn lower_casetype(cx: &Ctx, p: Pair<Rule>) -> Option<CaseTypeDecl> {
    let mut it = inner(p);
    let name = cx.ident(it.next()?);
    let mut ct = CaseTypeDecl {
        name,
        states: Vec::new(),
        initials: Vec::new(),
        finals: Vec::new(),
        transitions: Vec::new(),
        module_grants: Vec::new(),
        rules: Vec::new(),
        tables: Vec::new(),
    };
    for c in it {
        let span = cx.span(&c);
        match c.as_rule() {
            Rule::states_decl => ct.states.extend(inner(c).flat_map(|l| cx.idents(l))),
            Rule::initial_decl => ct.initials.extend(inner(c).next().map(|i| cx.ident(i))),
            Rule::final_decl => ct.finals.extend(inner(c).flat_map(|l| cx.idents(l))),
            Rule::transition => {
                let mut ti = inner(c);
                let (Some(action), Some(from), Some(to), Some(by)) =
                    (ti.next(), ti.next(), ti.next(), ti.next())
                else {
                    continue;
                };
                ct.transitions.push(Transition {
                    action: cx.ident(action),
                    from: cx.idents(from),
                    to: cx.ident(to),
                    by: cx.idents(by),
                    span,
                });
            }
            Rule::module_grant => {
                let mut mi = inner(c);
                let Some(module) = mi.next().map(|m| cx.ident(m)) else {
                    continue;
                };
                let lines = mi
                    .filter_map(|line| {
                        let span = cx.span(&line);
                        let mut li = inner(line);
                        let subjects = cx.idents(li.next()?);
                        let actions = lower_actions(cx, li.next()?);
                        Some(ModuleLine {
                            subjects,
                            actions,
                            span,
                        })
                    })
                    .collect();
                ct.module_grants.push(ModuleGrant { module, lines });
            }
            Rule::rule => ct.rules.extend(lower_rule(cx, c)),
            Rule::table => ct.tables.extend(lower_table(cx, c)),
            _ => {}
        }
    }
    Some(ct)
}

fn lower_table(cx: &Ctx, p: Pair<Rule>) -> Option<Table> {
    let span = cx.span(&p);
    let mut it = inner(p);
    let columns = inner(it.next()?).map(|i| cx.ident(i)).collect();
    let rows = it
        .filter_map(|row| {
            let mut ri = inner(row);
            let state = cx.ident(ri.next()?);
            let cells = ri
                .map(|cell| {
                    let span = cx.span(&cell);
                    let entries = inner(cell)
                        .filter(|e| e.as_rule() == Rule::cell_entry)
                        .filter_map(|e| {
                            let espan = cx.span(&e);
                            let mut ei = inner(e);
                            let sign = ei.next()?;
                            let effect = if sign.as_str() == "+" {
                                Effect::Allow
                            } else {
                                Effect::Deny
                            };
                            let a = ei.next()?;
                            let action = match a.as_rule() {
                                Rule::star => ActionRef::Star(cx.span(&a)),
                                _ => ActionRef::Name(cx.ident(a)),
                            };
                            Some(CellEntry {
                                effect,
                                action,
                                span: espan,
                            })
                        })
                        .collect();
                    Cell { entries, span }
                })
                .collect();
            Some(TableRow { state, cells })
        })
        .collect();
    Some(Table {
        columns,
        rows,
        span,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `is_keyword` names exactly the rules whose name starts with `kw_`.
    #[test]
    fn keywords_are_the_kw_rules() {
        let mut kw = 0;
        for r in Rule::all_rules() {
            let named = format!("{r:?}").starts_with("kw_");
            assert_eq!(is_keyword(*r), named, "{r:?}");
            kw += usize::from(named);
        }
        assert!(kw >= 49, "{kw}");
    }
}
