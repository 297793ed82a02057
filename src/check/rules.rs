//! Rules: the rule statements outside and inside case types, and the count of the entries
//! that every rule, table cell, transition and module grant expands to.

use super::casetypes::States;
use super::Checker;
use crate::ast::{self, Item};
use crate::bits::Bits;
use crate::diagnostic::words::thousands;
use crate::diagnostic::{Code, Diagnostic, Span};
use crate::ir::*;
use crate::limits::MAX_RULE_ENTRIES;

impl Checker {
    /// The rules outside case types: at the top level and in resource kinds.
    pub(super) fn rules(&mut self, items: &[&Item], action_groups: &[Bits], p: &mut Policy) {
        for item in items {
            match item {
                Item::Rule(r) => self.rule(r, RuleScope::Global, None, action_groups, p),
                Item::Kind(k) => {
                    if let Some(kid) = self.kinds.get(&k.name.name) {
                        for r in &k.rules {
                            self.rule(r, RuleScope::Kind(KindId(kid)), None, action_groups, p);
                        }
                    }
                }
                _ => {}
            }
        }
    }

    pub(super) fn rule(
        &mut self,
        r: &ast::Rule,
        scope: RuleScope,
        ct: Option<(CaseTypeId, &States)>,
        groups: &[Bits],
        p: &mut Policy,
    ) {
        let subjects = self.subjects_in(&r.subjects, scope, p);
        let actions = self.action_refs(&r.actions, groups, None);
        let mut states = Vec::new();
        if !r.states.is_empty() {
            match ct {
                Some((t, st)) => {
                    for s in &r.states {
                        if let Some(id) = self.state(s, st, Some(t), p) {
                            states.push(id);
                        }
                    }
                }
                None => self.error(
                    Diagnostic::new(
                        Code::Misplaced,
                        r.states[0].span,
                        "only rules inside a `casetype` can name states",
                    )
                    .with_help("move the rule into the case type whose states it names"),
                ),
            }
        }
        let when = self.rule_condition(&r.when, scope, p);
        self.push_rule(
            p,
            RuleDef {
                effect: effect(r.effect),
                subjects,
                actions,
                states,
                scope,
                origin: RuleOrigin::Statement,
                when,
                span: r.span,
            },
        );
    }

    /// Adds a rule to the policy, counting its entries against [`MAX_RULE_ENTRIES`]: its
    /// actions times the states it applies in. Past the limit, rules are reported once and no
    /// longer kept, so the limit also bounds what the checker holds.
    pub(super) fn push_rule(&mut self, p: &mut Policy, rule: RuleDef) {
        let states = match rule.scope {
            RuleScope::CaseType(t) if rule.states.is_empty() => p.casetypes[t.idx()].states.len(),
            _ => rule.states.len(),
        };
        let entries = rule.actions.len().max(1).saturating_mul(states.max(1));
        if self.count_entries(entries, rule.span) {
            p.rules.push(rule);
        }
    }

    /// Counts `n` rule entries (see [`MAX_RULE_ENTRIES`]) for the rule or module grant line at
    /// `span`; false, and one error for the whole policy, once the total is over the limit.
    pub(super) fn count_entries(&mut self, n: usize, span: Span) -> bool {
        let before = self.rule_entries;
        self.rule_entries = before.saturating_add(n);
        if self.rule_entries <= MAX_RULE_ENTRIES {
            return true;
        }
        if before <= MAX_RULE_ENTRIES {
            self.error(
                Diagnostic::new(
                    Code::Limit,
                    span,
                    format!(
                        "the rules and module grants expand to more than {} entries (each counts its actions times the states it applies in)",
                        thousands(MAX_RULE_ENTRIES)
                    ),
                )
                .with_label("the limit is passed here")
                .with_help("a rule with `*` or an action group and no `in` states covers every action in every state of its case type: write fewer, broader rules (a rule outside the case types covers them all at once), or split the policy"),
            );
        }
        false
    }
}

/// A rule's effect as the IR holds it, from the keyword written (`allow`, `deny`, `+`, `-`).
pub(super) fn effect(written: ast::Effect) -> Effect {
    match written {
        ast::Effect::Allow => Effect::Allow,
        ast::Effect::Deny => Effect::Deny,
    }
}

impl Checker {
    /// The subjects named by a rule, table, transition or module-grant line that applies where
    /// `scope` says, each relation checked to be one that can be held there.
    pub(super) fn subjects_in(
        &mut self,
        names: &[ast::Ident],
        scope: RuleScope,
        p: &Policy,
    ) -> Vec<Subject> {
        names
            .iter()
            .filter_map(|s| {
                let subject = self.subject(s)?;
                match subject {
                    Subject::Relation(r) => self
                        .relation_in_rule(r, s.span, scope, p)
                        .then_some(subject),
                    _ => Some(subject),
                }
            })
            .collect()
    }

    /// CP0111 when a relation of a resource kind is named by a rule, table column, transition
    /// or module-grant line (at `span`, applying where `scope` says) that never applies to a
    /// resource where it can be held: on a resource of its kind or one under it. A relation of
    /// the case kind is held wherever there is an anchor, as before. Returns whether it may be.
    pub(super) fn relation_in_rule(
        &mut self,
        r: RelationId,
        span: Span,
        scope: RuleScope,
        p: &Policy,
    ) -> bool {
        let Some(k) = p.relation_kind(r) else {
            return true;
        };
        if p.kinds[k.idx()].is_case {
            return true;
        }
        let (name, kind) = (&p.relations[r.idx()].name, &p.kinds[k.idx()].name);
        let help = match scope {
            RuleScope::Global => return true,
            RuleScope::Kind(j) if p.kind_within(j, k) => return true,
            RuleScope::CaseType(_) if p.case_kind.is_some_and(|c| p.kind_within(k, c)) => {
                return true
            }
            RuleScope::Kind(j) => format!(
                "a relation of `{kind}` is held on each `{kind}` and on the resources under it, never on a `{}`; move the rule into `{kind}` or a kind under it, or name a subject a `{}` can have",
                p.kinds[j.idx()].name,
                p.kinds[j.idx()].name
            ),
            RuleScope::CaseType(_) => format!(
                "the rules of a case type apply to cases and the resources under them, and `{kind}` is not under the case kind; move the rule into the declaration of `{kind}`, or write it at the top level"
            ),
        };
        self.error(
            Diagnostic::new(
                Code::Misplaced,
                span,
                format!("relation `{name}` of `{kind}` can never be held where this applies"),
            )
            .with_label(format!(
                "held only on `{kind}` resources and those under them"
            ))
            .with_secondary(p.relations[r.idx()].span, "declared here")
            .with_help(help),
        );
        false
    }

    /// CP0111 when a relation of a resource kind is named where only the case's relations are
    /// read (`what`: a module's `records`, an access-mode line, a scope's `via`). Returns
    /// whether it is a relation of the case kind.
    pub(super) fn case_relation(
        &mut self,
        r: RelationId,
        span: Span,
        what: &str,
        p: &Policy,
    ) -> bool {
        let Some(k) = p.relation_kind(r) else {
            return true;
        };
        if p.kinds[k.idx()].is_case {
            return true;
        }
        let (name, kind) = (&p.relations[r.idx()].name, &p.kinds[k.idx()].name);
        let case_rels: Vec<&str> = p
            .case_kind
            .map(|c| {
                p.kinds[c.idx()]
                    .relations
                    .iter()
                    .map(|r| p.relations[r.idx()].name.as_str())
                    .collect()
            })
            .unwrap_or_default();
        let help = match self.did_you_mean(name, case_rels.iter().copied()) {
            Some(dym) => dym,
            None if case_rels.is_empty() => {
                "declare the relation in the `case` kind, as in `case Case { relation assignee; }`"
                    .into()
            }
            None => format!(
                "name a relation of the case kind: {}",
                crate::diagnostic::words::list(&case_rels)
            ),
        };
        self.error(
            Diagnostic::new(
                Code::Misplaced,
                span,
                format!("relation `{name}` is held on `{kind}` resources, but {what} reads the relations held on the case"),
            )
            .with_label("not a relation of the case kind")
            .with_secondary(p.relations[r.idx()].span, "declared here")
            .with_help(help),
        );
        false
    }
}
