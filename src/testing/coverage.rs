//! Coverage: which items of a policy the tests exercised.

use super::items::{items, Item};
use super::run::FileRun;
use crate::diagnostic::Span;
use crate::reference::{Detail, RuleRef, Trace};
use crate::Policy;
use std::collections::HashMap;

/// Which items of one policy the tests exercised.
///
/// An item is exercised when it *matched* in some case's trace: a rule statement, table-cell
/// entry or transition that applied to the resource and listed the action and one of the
/// principal's subjects when the data layer was reached (whether it decided or was overridden);
/// a module-grant line that let a request through the module layer; an access-mode line that
/// was consulted for the case's mode value (whether it admitted or denied).
#[derive(Debug, Clone)]
pub struct Coverage {
    items: Vec<Item>,
    hits: Vec<usize>,
    index: HashMap<Span, usize>,
}

impl Coverage {
    pub fn new(policy: &Policy) -> Coverage {
        let items = items(policy);
        let index = items.iter().enumerate().map(|(i, x)| (x.span, i)).collect();
        Coverage {
            hits: vec![0; items.len()],
            items,
            index,
        }
    }

    /// Counts the items one decision exercised.
    pub fn record(&mut self, trace: &Trace) {
        let mut hit = |r: &RuleRef| {
            if let Some(&i) = self.index.get(&r.span) {
                self.hits[i] += 1;
            }
        };
        for layer in &trace.layers {
            match &layer.detail {
                Detail::Rules { allows, denies, .. } => {
                    allows.iter().chain(denies).for_each(&mut hit)
                }
                Detail::Module { grants, .. } => grants.iter().for_each(&mut hit),
                Detail::Transition { transitions, .. } => transitions.iter().for_each(&mut hit),
                Detail::Mode { rule, .. } => hit(rule),
                Detail::None {} | Detail::Groups { .. } | Detail::Code { .. } => {}
            }
        }
    }

    pub fn record_run(&mut self, run: &FileRun) {
        for r in &run.results {
            self.record(&r.trace);
        }
    }

    pub fn total(&self) -> usize {
        self.items.len()
    }

    pub fn covered(&self) -> usize {
        self.hits.iter().filter(|h| **h > 0).count()
    }

    /// Every item with the number of cases that exercised it, in source order.
    pub fn items(&self) -> impl Iterator<Item = (&Item, usize)> {
        self.items.iter().zip(self.hits.iter().copied())
    }

    /// The items no case exercised, in source order.
    pub fn uncovered(&self) -> impl Iterator<Item = &Item> {
        self.items().filter(|(_, h)| *h == 0).map(|(i, _)| i)
    }
}

/// `covered` of `total` as a percentage with one decimal, rounded down so that 99.96% of a
/// policy never shows as 100.0%; `None` when there is nothing to cover.
pub fn percent(covered: usize, total: usize) -> Option<f64> {
    if total == 0 {
        return None;
    }
    Some((covered as f64 * 1000.0 / total as f64).floor() / 10.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentages_round_down() {
        assert_eq!(percent(1, 3), Some(33.3));
        assert_eq!(percent(2, 3), Some(66.6));
        assert_eq!(percent(9999, 10000), Some(99.9));
        assert_eq!(percent(4, 4), Some(100.0));
        assert_eq!(percent(0, 0), None);
    }
}
