//! An application embedding casepol: loads the bundled eFOB policy and its entities from disk,
//! asks one question in one call, and prints the decision with the rules that determined it.
//! Every casepol error goes through `?` into `Box<dyn Error>`.
//!
//! Run from this directory: `cargo run -- ../../policies/efob hugo access case-review Cases`.

use casepol::{Policy, Request};
use std::error::Error;

fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [dir, principal, action, resource, rest @ ..] = args.as_slice() else {
        return Err(
            "usage: casepol-embed-example POLICY_DIR PRINCIPAL ACTION RESOURCE [MODULE]".into(),
        );
    };
    let policy = Policy::from_path(dir)?;
    let entities = policy.load_entities_from_path(format!("{dir}/entities.json"))?;
    let mut request = Request::new(principal, action, Some(resource));
    if let Some(module) = rest.first() {
        request = request.via(module);
    }
    // An unknown name is an error: say so, as an application would.
    let strict = policy.resolve(&entities, &request)?;
    let response = policy.authorize(&entities, &request);
    assert_eq!(response.decision, policy.decide(&entities, &strict));
    println!(
        "{} ({}: {})",
        if response.allowed() { "allow" } else { "deny" },
        response.layer().title(),
        response.reason().title()
    );
    for rule in &response.determining {
        println!("  {rule}");
    }
    Ok(())
}
