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
        let subjects: Vec<Subject> = r.subjects.iter().filter_map(|s| self.subject(s)).collect();
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
