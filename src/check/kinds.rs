//! Resource kinds: the case kind and the kinds under it, their parents and attributes, the
//! access mode of the case kind, the user attributes, and the access-code classes of actions.

use super::names::Sort;
use super::Checker;
use crate::ast::{self, Item};
use crate::bits::Bits;
use crate::diagnostic::words::{self, thousands};
use crate::diagnostic::{Code, Diagnostic, Span};
use crate::ir::*;
use crate::limits::MAX_ATTRS;
use std::collections::{HashMap, HashSet};

impl Checker {
    /// The resource kinds: the case kind, each kind's parent, attributes and inherited access
    /// codes, then the case kind's access mode.
    pub(super) fn kinds(&mut self, items: &[&Item], p: &mut Policy) {
        let kind_decls: Vec<&ast::KindDecl> = items
            .iter()
            .filter_map(|i| if let Item::Kind(k) = i { Some(k) } else { None })
            .collect();
        for k in &kind_decls {
            if self.kinds.get(&k.name.name) != Some(p.kinds.len() as u32) {
                continue; // A duplicate, already reported.
            }
            p.kinds.push(KindDef {
                name: k.name.name.clone(),
                span: k.name.span,
                is_case: k.is_case,
                parent: None,
                attrs: Vec::new(),
                inherit_read: false,
                inherit_write: false,
                mode: None,
                relations: Vec::new(),
            });
        }
        for k in &kind_decls {
            let Some(kid) = self.kinds.get(&k.name.name) else {
                continue;
            };
            let kid = KindId(kid);
            if p.kinds[kid.idx()].span != k.name.span {
                continue;
            }
            if k.is_case {
                if let Some(prev) = p.case_kind {
                    let prev_span = p.kinds[prev.idx()].span;
                    self.error(
                        Diagnostic::new(
                            Code::Duplicate,
                            k.name.span,
                            "a policy may declare only one `case` kind",
                        )
                        .with_secondary(prev_span, "the case kind is declared here")
                        .with_help("declare further kinds under it, as in `resource Document under Case { }`"),
                    );
                } else {
                    p.case_kind = Some(kid);
                }
            }
            let parent = k
                .parent
                .as_ref()
                .and_then(|par| self.lookup(par, Sort::Kind))
                .map(KindId);
            p.kinds[kid.idx()].parent = parent;
            // The relations this declaration declared (a duplicate name belongs elsewhere).
            let rels: Vec<RelationId> = k
                .relations
                .iter()
                .filter_map(|r| match self.relations.map.get(&r.name) {
                    Some(&(id, span)) if span == r.span => Some(RelationId(id)),
                    _ => None,
                })
                .collect();
            p.kinds[kid.idx()].relations = rels;
            let attrs = self.attrs(&k.attrs, &format!("kind `{}`", k.name.name), p);
            p.kinds[kid.idx()].attrs = attrs;
            for inh in &k.inherits {
                match inh.name.as_str() {
                    "read" => p.kinds[kid.idx()].inherit_read = true,
                    "write" => p.kinds[kid.idx()].inherit_write = true,
                    other => self.error(
                        Diagnostic::new(
                            Code::Undefined,
                            inh.span,
                            format!("unknown access-code class `{other}`"),
                        )
                        .with_help(
                            self.did_you_mean(other, ["read", "write"])
                                .unwrap_or_else(|| "the classes are `read` and `write`".into()),
                        ),
                    ),
                }
            }
            if let (Some(first), None) = (k.inherits.first(), &k.parent) {
                let parent = p
                    .case_kind
                    .map(|c| p.kinds[c.idx()].name.clone())
                    .unwrap_or_else(|| "Parent".into());
                self.error(
                    Diagnostic::new(
                        Code::Misplaced,
                        first.span,
                        format!("kind `{}` inherits access codes but has no parent to inherit from", k.name.name),
                    )
                    .with_label("nothing to inherit from")
                    .with_help(format!("give it a parent, as in `resource {} under {parent} {{ inherit read; }}`, or remove `inherit`", k.name.name)),
                );
            }
        }
        p.relation_owner = vec![None; self.relations.order.len()];
        for (k, def) in p.kinds.iter().enumerate() {
            for r in &def.relations {
                p.relation_owner[r.idx()] = Some(KindId(k as u32));
            }
        }
        self.kind_cycles(p);
        // Access modes need the case kind's attributes and relations.
        for k in &kind_decls {
            let Some(kid) = self.kinds.get(&k.name.name).map(KindId) else {
                continue;
            };
            if p.kinds[kid.idx()].span != k.name.span {
                continue;
            }
            for (i, m) in k.modes.iter().enumerate() {
                if i > 0 {
                    self.error(
                        Diagnostic::new(
                            Code::Duplicate,
                            m.span,
                            "a case kind may have only one access `mode`",
                        )
                        .with_label("second `mode`")
                        .with_secondary(k.modes[0].span, "first `mode`")
                        .with_help("merge the two `mode` blocks"),
                    );
                    continue;
                }
                if let Some(def) = self.mode(m, &p.kinds[kid.idx()], p) {
                    p.kinds[kid.idx()].mode = Some(def);
                }
            }
        }
    }

    /// The account permission each action requires, the access-code classes of actions (the
    /// `codes` block), and `require group;`.
    pub(super) fn codes(&mut self, items: &[&Item], action_groups: &[Bits], p: &mut Policy) {
        let mut codes_seen: Option<Span> = None;
        for item in items {
            match item {
                Item::Actions {
                    names,
                    requires: Some(req),
                } => {
                    if let Some(perm) = self.lookup(req, Sort::Permission) {
                        for n in names {
                            if let Some(a) = self.actions.get(&n.name) {
                                p.actions[a as usize].requires = Some(PermissionId(perm));
                            }
                        }
                    }
                }
                Item::Codes(classes) => {
                    let span = classes.first().map(|c| c.class.span).unwrap_or_default();
                    if let Some(prev) = codes_seen {
                        self.error(
                            Diagnostic::new(
                                Code::Duplicate,
                                span,
                                "the policy has two `codes` blocks",
                            )
                            .with_secondary(prev, "the first is here")
                            .with_help("merge them into one"),
                        );
                    }
                    codes_seen = Some(span);
                    for c in classes {
                        let ids = self.action_refs(&c.actions, action_groups, None);
                        match c.class.name.as_str() {
                            "read" => ids.iter().for_each(|a| p.actions[a.idx()].read_code = true),
                            "write" => ids
                                .iter()
                                .for_each(|a| p.actions[a.idx()].write_code = true),
                            other => self.error(
                                Diagnostic::new(
                                    Code::Undefined,
                                    c.class.span,
                                    format!("unknown access-code class `{other}`"),
                                )
                                .with_help(
                                    self.did_you_mean(other, ["read", "write"]).unwrap_or_else(
                                        || "the classes are `read` and `write`".into(),
                                    ),
                                ),
                            ),
                        }
                    }
                }
                Item::RequireGroup(_) => p.require_group = true,
                Item::User { .. } => {}
                _ => {}
            }
        }
    }

    /// All `user { }` blocks together declare the user attributes.
    pub(super) fn user_attrs(&mut self, items: &[&Item], p: &mut Policy) {
        let user_attrs: Vec<ast::AttrDecl> = items
            .iter()
            .filter_map(|i| {
                if let Item::User { attrs, .. } = i {
                    Some(attrs.clone())
                } else {
                    None
                }
            })
            .flatten()
            .collect();
        p.user_attrs = self.attrs(&user_attrs, "", p);
    }

    /// The attributes of a kind (`owner` is `kind `Case``) or of users (`owner` is empty).
    pub(super) fn attrs(
        &mut self,
        decls: &[ast::AttrDecl],
        owner: &str,
        p: &Policy,
    ) -> Vec<AttrDef> {
        let decls = match decls.get(MAX_ATTRS) {
            Some(over) => {
                let who = if owner.is_empty() {
                    "the `user` blocks declare".to_string()
                } else {
                    format!("{owner} declares")
                };
                self.error(
                    Diagnostic::new(
                        Code::Limit,
                        over.name.span,
                        format!(
                            "{who} {} attributes, more than the limit of {}",
                            thousands(decls.len()),
                            thousands(MAX_ATTRS)
                        ),
                    )
                    .with_label(format!("attribute number {} is declared here", MAX_ATTRS + 1))
                    .with_help("keep only the attributes that access rules test; other data belongs in the application, not in the policy"),
                );
                &decls[..MAX_ATTRS]
            }
            None => decls,
        };
        let mut out: Vec<AttrDef> = Vec::new();
        let mut seen: HashMap<&str, Span> = HashMap::new();
        for a in decls {
            if let Some(&prev_span) = seen.get(a.name.name.as_str()) {
                self.error(
                    Diagnostic::new(
                        Code::Duplicate,
                        a.name.span,
                        format!("attribute `{}` is declared twice", a.name.name),
                    )
                    .with_secondary(prev_span, "first declared here")
                    .with_help("remove one of the declarations"),
                );
                continue;
            }
            let Some(ty) = self.type_expr(&a.ty, p) else {
                continue;
            };
            seen.insert(&a.name.name, a.name.span);
            out.push(AttrDef {
                name: a.name.name.clone(),
                span: a.name.span,
                ty,
            });
        }
        out
    }

    fn mode(&mut self, m: &ast::ModeDecl, kind: &KindDef, p: &Policy) -> Option<ModeDef> {
        let Some(attr_idx) = kind.attrs.iter().position(|a| a.name == m.attr.name) else {
            let cands = kind.attrs.iter().map(|a| a.name.as_str());
            let help = self.did_you_mean(&m.attr.name, cands).unwrap_or_else(|| {
                format!("declare it: `attr {}: AccessMode;` with `enum AccessMode {{ open, restricted }}`", m.attr.name)
            });
            self.error(
                Diagnostic::new(
                    Code::Undefined,
                    m.attr.span,
                    format!("kind `{}` has no attribute `{}`", kind.name, m.attr.name),
                )
                .with_help(help),
            );
            return None;
        };
        let attr = &kind.attrs[attr_idx];
        let Type::Enum(e) = attr.ty else {
            self.error(
                Diagnostic::new(
                    Code::TypeMismatch,
                    m.attr.span,
                    format!("the mode's attribute `{}` has type {}; an access mode needs an enum attribute", attr.name, p.type_name(attr.ty)),
                )
                .with_label("not an enum")
                .with_secondary(attr.span, "declared here")
                    .with_help("declare an enum of modes, e.g. `enum AccessMode { open, restricted }`"),
            );
            return None;
        };
        let def = &p.enums[e.idx()];
        let mut arms: Vec<Option<Option<Vec<RelationId>>>> = vec![None; def.variants.len()];
        let mut spans = vec![m.span; def.variants.len()];
        for arm in &m.arms {
            let Some(v) = self.variant_index[e.idx()]
                .get(&arm.variant.name)
                .map(|&v| v as usize)
            else {
                let help = self
                    .did_you_mean(&arm.variant.name, def.variants.iter().map(String::as_str))
                    .unwrap_or_else(|| {
                        format!(
                            "the variants of `{}` are {}",
                            def.name,
                            words::list(&def.variants)
                        )
                    });
                self.error(
                    Diagnostic::new(
                        Code::Undefined,
                        arm.variant.span,
                        format!("`{}` is not a variant of `{}`", arm.variant.name, def.name),
                    )
                    .with_help(help),
                );
                continue;
            };
            let rels = arm.relations.as_ref().map(|rs| {
                rs.iter()
                    .filter_map(|r| {
                        let rel = self.lookup(r, Sort::Relation).map(RelationId)?;
                        self.case_relation(rel, r.span, "an access-mode line", p)
                            .then_some(rel)
                    })
                    .collect::<Vec<_>>()
            });
            if arms[v].is_some() {
                self.error(
                    Diagnostic::new(
                        Code::Duplicate,
                        arm.variant.span,
                        format!(
                            "variant `{}` has two lines in this access mode",
                            arm.variant.name
                        ),
                    )
                    .with_label("second line")
                    .with_secondary(spans[v], "first line")
                    .with_help("keep one line per variant"),
                );
            }
            arms[v] = Some(rels);
            spans[v] = arm.variant.span;
        }
        let missing: Vec<String> = def
            .variants
            .iter()
            .zip(&arms)
            .filter(|(_, a)| a.is_none())
            .map(|(v, _)| v.clone())
            .collect();
        if !missing.is_empty() {
            self.error(
                Diagnostic::new(
                    Code::ModeNotExhaustive,
                    m.span,
                    format!(
                        "access mode does not say who may access {} cases",
                        words::list(&missing)
                    ),
                )
                .with_label("every variant needs a line")
                .with_help(format!(
                    "add a line for each, e.g. `{}: everyone;` or `{}: assignee;`",
                    missing[0], missing[0]
                )),
            );
            return None;
        }
        Some(ModeDef {
            attr: AttrId(attr_idx as u32),
            span: m.span,
            arms: arms.into_iter().map(|a| a.unwrap_or(None)).collect(),
            arm_spans: spans,
        })
    }

    /// Reports cycles of kind parents, and chains deeper than the limit (once per policy).
    fn kind_cycles(&mut self, p: &Policy) {
        let mut reported: HashSet<usize> = HashSet::new();
        let mut too_deep = false;
        for (i, k) in p.kinds.iter().enumerate() {
            if reported.contains(&i) {
                continue;
            }
            let mut seen = vec![i];
            let mut cur = k.parent;
            while let Some(c) = cur {
                if c.idx() == i {
                    reported.extend(seen.iter().copied());
                    let path: Vec<String> = seen
                        .iter()
                        .map(|s| p.kinds[*s].name.clone())
                        .chain([k.name.clone()])
                        .collect();
                    self.error(
                        Diagnostic::new(Code::KindCycle, k.span, format!("resource kinds form a cycle: {}", path.join(" → ")))
                            .with_help("a kind's parent chain must end at a kind with no parent, usually the case kind"),
                    );
                    break;
                }
                if seen.contains(&c.idx()) {
                    break; // The cycle does not pass through `k`; it is reported from its own members.
                }
                seen.push(c.idx());
                if seen.len() > crate::limits::MAX_KIND_DEPTH {
                    if !too_deep {
                        too_deep = true;
                        self.error(
                            Diagnostic::new(
                                Code::Limit,
                                k.span,
                                format!(
                                    "the chain of parents of resource kind `{}` holds more than {} kinds",
                                    k.name,
                                    crate::limits::MAX_KIND_DEPTH
                                ),
                            )
                            .with_label("the chain of `under` parents starts here")
                            .with_help("shorten the chain of `under` kinds"),
                        );
                    }
                    break;
                }
                cur = p.kinds[c.idx()].parent;
            }
        }
    }
}
