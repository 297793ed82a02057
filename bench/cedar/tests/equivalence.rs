//! casepol and Cedar decide every benchmarked request alike: the four probes of the decision
//! benchmarks at each scale, and a sample of the generated requests of each scale.

use casepol::{Layer, Reason};
use casepol_cedar_bench::{Scale, SCALES};
use casepol_gen::{Probe, SEED};

#[test]
fn both_engines_decide_every_benchmarked_request_alike() {
    let authorizer = cedar_policy::Authorizer::new();
    for rules in SCALES {
        let scale = Scale::new(rules).unwrap_or_else(|e| panic!("{rules} rules: {e}"));
        assert_eq!(scale.generated.rules(), rules);
        for probe in Probe::ALL {
            let r = probe.request();
            let resolved = scale.casepol_request(&r).unwrap();
            let d = scale.casepol.decide(&scale.casepol_entities, &resolved);
            let expected = match probe {
                Probe::Allow => (true, Layer::ReadCode, Reason::Allowed),
                Probe::DenyByTable => (false, Layer::Data, Reason::NotPermitted),
                Probe::DenyByCode => (false, Layer::ReadCode, Reason::CodeNotHeld),
                Probe::DenyByOverride => (false, Layer::Data, Reason::ExplicitlyDenied),
            };
            assert_eq!(
                (d.allowed, d.layer, d.reason),
                expected,
                "{rules} rules, {probe:?}"
            );
            let cedar = scale.cedar_allows(&authorizer, &scale.cedar_request(&r).unwrap());
            assert_eq!(cedar, d.allowed, "{rules} rules, {probe:?}: Cedar differs");
        }
        // Cedar takes milliseconds per request at 10,000 rules: fewer there.
        let n = match rules {
            20 => 5_000,
            1_000 => 1_000,
            _ => 100,
        };
        let (mut allowed, mut differ) = (0, Vec::new());
        for r in scale.population.requests(n, SEED) {
            let ours = scale.casepol_allows(&scale.casepol_request(&r).unwrap());
            let response = authorizer.is_authorized(
                &scale.cedar_request(&r).unwrap(),
                &scale.cedar_policies,
                &scale.cedar_entities,
            );
            // A Cedar policy that fails to evaluate is skipped: none may, or the model is wrong.
            let errors: Vec<String> = response
                .diagnostics()
                .errors()
                .map(|e| e.to_string())
                .collect();
            assert!(errors.is_empty(), "{rules} rules, {r:?}: {errors:?}");
            let cedar = response.decision() == cedar_policy::Decision::Allow;
            allowed += usize::from(ours);
            if ours != cedar {
                differ.push(format!("{r:?}: casepol {ours}, Cedar {cedar}"));
            }
        }
        assert!(differ.is_empty(), "{rules} rules:\n{}", differ.join("\n"));
        assert!(
            allowed > 0 && allowed < n,
            "{rules} rules: {allowed} of {n} allowed"
        );
    }
}

/// The translation has one Cedar policy per casepol rule, and one for the access codes.
#[test]
fn the_translation_has_one_cedar_policy_per_rule() {
    let scale = Scale::new(20).unwrap();
    assert_eq!(scale.cedar_policies.policies().count(), 21);
    assert_eq!(scale.casepol.compiled().ir().rules.len(), 20);
}
