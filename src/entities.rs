//! Loading entities (users, org units, resources) from JSON and validating them against a policy.
//!
//! Loading does the work that deciding must not: strings are interned, group and unit closures
//! and each resource's anchor case are computed once, here. The pipeline, by file:
//!
//! - `read.rs`: the entity format (the one table of sections, fields and the JSON each holds)
//!   and the streaming reader, which borrows strings from the text and resolves the policy's
//!   names as it goes;
//! - `load.rs`: the one construction path: every check against the policy, in one order, and
//!   the interning and compaction of what passes, generic over the reporter;
//! - `given.rs`: entities given as values (a database's rows) rather than a text, made into
//!   what the reader makes of a file and built by the same path ([`Entities::from_given`]);
//! - `report.rs`: the reporter ([`EntityError`] and every message), silent or recording;
//! - `diagnose.rs`: after the reader refuses a file, every structural problem, with its line
//!   and column, from the same table;
//! - `closure.rs`: group and unit closures, unit cycles and depth, anchors, and the chains
//!   effective access codes are read through ([`EffectiveCode`]);
//! - `model.rs`: the loaded entities as deciding reads them; `store.rs`: shared arenas and id
//!   indexes; `index.rs`: the policy's names hashed once per load.
//!
//! **Invariant:** the silent load and the reporting load are one function, so they accept the
//! same files and build the same entities; a test compares them on every entities file in the
//! repository and on thousands of broken variants.

use crate::compile::CompiledPolicy;
use crate::limits;

mod closure;
mod diagnose;
#[cfg(feature = "db")]
mod given;
mod index;
mod load;
mod model;
mod pvec;
mod read;
mod report;
mod store;
mod write;

pub use closure::EffectiveCode;
pub(crate) use closure::{close_groups, unit_ancestors};
#[cfg(feature = "db")]
pub(crate) use given::{Given, GivenError, GivenResource, GivenUser, GivenValue};
pub(crate) use load::{bidi_control, text_problem};
pub(crate) use model::NONE;
#[doc(hidden)]
pub use model::{held_by, member_groups, member_users, GROUP_MEMBER};
pub use model::{AttrValue, CodeClass, Entities, Level, Resource, Unit, User};
pub use pvec::PVec;
pub use report::EntityError;
pub(crate) use store::IdIndex;
pub use store::{Ids, Shared};

impl Entities {
    /// Parses and validates entity JSON against a compiled policy. Reports every problem found.
    /// Applications call [`Policy::load_entities`](crate::Policy::load_entities).
    #[doc(hidden)]
    pub fn from_json(policy: &CompiledPolicy, json: &str) -> Result<Entities, Vec<EntityError>> {
        if json.len() > limits::MAX_ENTITIES_BYTES {
            return Err(vec![EntityError::whole(
                format!(
                    "the entities file is {}, more than the limit of {}",
                    limits::bytes(json.len()),
                    limits::bytes(limits::MAX_ENTITIES_BYTES)
                ),
                "split the entities over several deployments, or leave out resources no request names",
            )]);
        }
        // A byte order mark, as some Windows tools write, is not part of the JSON; lines and
        // columns are counted without it, byte offsets in the text given.
        let text = json;
        let json = json.strip_prefix('\u{feff}').unwrap_or(json);
        let bom = text.len() - json.len();
        if json.trim().is_empty() {
            return Err(vec![EntityError::whole(
                "the entities file is empty".to_string(),
                "write `{}` for no entities, or list them, as in `{\"users\": [{\"id\": \"anna\"}], \"resources\": []}`",
            )]);
        }
        // Most files are valid: load them silently, stopping at the first problem. A file with
        // a problem is loaded again, reporting every problem with its place and a fix.
        if let Ok(entities) = load::load(policy, json, &mut report::Silent) {
            return Ok(entities);
        }
        let mut reporter = report::Reporter::new();
        let loaded = load::load(policy, json, &mut reporter);
        let mut errors = reporter.into_errors();
        for offset in errors.iter_mut().filter_map(|e| e.offset.as_mut()) {
            *offset += bom;
        }
        match loaded {
            // The reporter stops a load only after it recorded a problem, and the two loads are
            // one function, so the silent one did not stop on a valid file; but should one
            // ever stop with nothing to say, the load still fails.
            Err(_) if errors.is_empty() => Err(vec![EntityError::whole(
                "the entities could not be loaded, and no problem was found".to_string(),
                "this is a bug in casepol; please report it with the entities file",
            )]),
            Err(_) => Err(errors),
            Ok(entities) => Ok(entities),
        }
    }

    /// Builds the entities that `fill` gives (the rows of a database) by the one construction
    /// path of a file, with its rules and messages. As with a file, a silent load comes first,
    /// and only when it fails does `fill` give them again for a load that reports every
    /// problem; so `fill` must give the same entities each time (the database reads them in
    /// one transaction). `Err` from `fill` ends the load at once.
    #[cfg(feature = "db")]
    pub(crate) fn from_given<E>(
        policy: &CompiledPolicy,
        mut fill: impl FnMut(&mut Given<'_>) -> Result<(), E>,
    ) -> Result<Result<Entities, Vec<EntityError>>, E> {
        let mut given = Given::new(policy);
        fill(&mut given)?;
        let Given { ix, read, .. } = given;
        if let Ok(entities) = load::build(policy, &ix, read, &mut report::Silent) {
            return Ok(Ok(entities));
        }
        let mut given = Given::new(policy);
        fill(&mut given)?;
        let Given { ix, read, .. } = given;
        let mut reporter = report::Reporter::new();
        let loaded = load::build(policy, &ix, read, &mut reporter);
        let errors = reporter.into_errors();
        Ok(match loaded {
            Err(_) if errors.is_empty() => Err(vec![EntityError::whole(
                "the entities could not be loaded, and no problem was found".to_string(),
                "this is a bug in casepol; please report it with the entities",
            )]),
            Err(_) => Err(errors),
            Ok(entities) => Ok(entities),
        })
    }
}
