//! Loading entities (users, org units, resources) from JSON and validating them against a policy.
//!
//! Loading does the work that deciding must not: strings are interned, group and unit closures
//! and each resource's anchor case and effective access codes are computed once, here.

use crate::access_code;
use crate::compile::CompiledPolicy;
use crate::ir::{KindId, Policy as Ir, Type};
use crate::limits;
use index::PolicyIndex;
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};
pub use store::Shared;
use store::{Builder, IdIndex, Ranges};

mod fast;
mod index;
mod store;

/// An attribute value with every string interned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttrValue {
    Sym(u32),
    Int(i64),
    Bool(bool),
    Set(Box<[u32]>),
    User(u32),
    Resource(u32),
    Variant(u32),
}

/// A user. Its id is kept once, in the entities' id index: [`Entities::user_id`].
#[derive(Debug, Clone)]
pub struct User {
    /// Groups as listed, and with every ancestor (sorted).
    pub direct_groups: Shared<u32>,
    pub groups: Shared<u32>,
    pub direct_units: Shared<u32>,
    pub terms: Shared<u32>,
    /// Every code that stands for this user: id, groups, units (with ancestors) and terms (sorted).
    pub codes: Shared<u32>,
}

/// One access-code level: codes as symbols, sorted.
pub type Level = Shared<u32>;

/// A case or a document. Its id is kept once, in the entities' id index:
/// [`Entities::resource_id`]. Its effective access codes are not stored in it: they are its own
/// levels followed by those of the ancestors it inherits from ([`Entities::read_code`]).
#[derive(Debug, Clone)]
pub struct Resource {
    pub kind: KindId,
    pub parent: Option<u32>,
    /// The nearest case at or above this resource.
    pub anchor: Option<u32>,
    /// On cases: case type and state.
    pub casetype: u32,
    pub state: u32,
    pub attrs: Box<[AttrValue]>,
    /// On cases: for each relation, the users holding it (sorted).
    pub relations: Shared<Shared<u32>>,
    /// The levels of the resource's own codes, as written; an absent field is one empty level.
    pub own_read: Shared<Level>,
    pub own_write: Shared<Level>,
    /// Whether the effective code goes on with the parent's: the kind inherits, and the
    /// resource does not set `inherit_read` (or `inherit_write`) to `false`.
    pub inherit_read: bool,
    pub inherit_write: bool,
    /// For deciding: whether every own level is empty (`[ ]`, met by anyone), and the nearest
    /// resource up the inherited chain whose own levels are not ([`NONE`] if there is none). So
    /// a decision visits only the levels that can fail.
    pub(crate) read_trivial: bool,
    pub(crate) write_trivial: bool,
    pub(crate) read_rest: u32,
    pub(crate) write_rest: u32,
}

/// No resource: the end of a chain of effective-code levels.
pub(crate) const NONE: u32 = u32::MAX;

impl Resource {
    /// A resource as the file gives it, before [`finish_resources`] sets its anchor and its
    /// lists. Its own inherit flags (`None` where the file leaves them out, meaning inherit)
    /// count only where its kind inherits.
    pub(crate) fn read(
        kind: KindId,
        kdef: &crate::ir::KindDef,
        parent: Option<u32>,
        (casetype, state): (u32, u32),
        attrs: Vec<AttrValue>,
        (inherit_read, inherit_write): (Option<bool>, Option<bool>),
    ) -> Resource {
        Resource {
            kind,
            parent,
            anchor: None,
            casetype,
            state,
            attrs: attrs.into(),
            relations: Shared::default(),
            own_read: Shared::default(),
            own_write: Shared::default(),
            inherit_read: inherit_read.unwrap_or(true) && kdef.inherit_read,
            inherit_write: inherit_write.unwrap_or(true) && kdef.inherit_write,
            read_trivial: false,
            write_trivial: false,
            read_rest: NONE,
            write_rest: NONE,
        }
    }
}

// A million cases are a million `Resource`s: a change that makes one larger costs resident
// memory per case (docs/performance.md), so it should be a deliberate one.
#[cfg(target_pointer_width = "64")]
const _: () = assert!(std::mem::size_of::<Resource>() <= 104);

/// Read or write: the two classes of access code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeClass {
    Read,
    Write,
}

/// An effective access code: every level must be met (AND), and a level is met by holding any
/// of its codes (OR). It is a view, not a copy: the levels are the resource's own, then those of
/// each ancestor it inherits from, read where they are stored, so that a code shared by many
/// descendants is kept once (docs/semantics.md step 2.6).
#[derive(Clone, Copy)]
pub struct EffectiveCode<'a> {
    resources: &'a [Resource],
    at: u32,
    class: CodeClass,
}

impl<'a> EffectiveCode<'a> {
    /// Whether a user with this code set (sorted) meets the code: every level empty or holding
    /// one of the codes. Only the resources with a level that is not empty are visited, through
    /// the chain that loading links; nothing is copied or allocated.
    #[inline(always)]
    pub fn is_met_by(&self, codes: &[u32]) -> bool {
        match self.class {
            CodeClass::Read => self.met::<true>(codes),
            CodeClass::Write => self.met::<false>(codes),
        }
    }

    /// [`EffectiveCode::is_met_by`] for one class, so that the walk does not ask which.
    #[inline(always)]
    fn met<const READ: bool>(&self, codes: &[u32]) -> bool {
        let parts = |r: &'a Resource| match READ {
            true => (&r.own_read, r.read_trivial, r.read_rest),
            false => (&r.own_write, r.write_trivial, r.write_rest),
        };
        let mut r = &self.resources[self.at as usize];
        let (_, trivial, rest) = parts(r);
        if trivial {
            if rest == NONE {
                return true;
            }
            r = &self.resources[rest as usize];
        }
        loop {
            let (own, _, rest) = parts(r);
            let holds =
                |l: &Level| l.is_empty() || l.iter().any(|c| codes.binary_search(c).is_ok());
            if !own.iter().all(holds) {
                return false;
            }
            if rest == NONE {
                return true;
            }
            r = &self.resources[rest as usize];
        }
    }

    /// The resource `at` and whether its code goes on with its parent's.
    #[inline(always)]
    fn step(&self, at: u32) -> (&'a [Level], Option<u32>) {
        let r = &self.resources[at as usize];
        match self.class {
            CodeClass::Read => (&r.own_read, r.parent.filter(|_| r.inherit_read)),
            CodeClass::Write => (&r.own_write, r.parent.filter(|_| r.inherit_write)),
        }
    }

    /// The levels, own first. The chain is at most [`limits::MAX_KIND_DEPTH`] resources long:
    /// a parent has the parent kind.
    pub fn iter(&self) -> impl Iterator<Item = &'a Level> + 'a {
        self.origins().map(|(level, _)| level)
    }

    /// The levels, own first, each with the position of the resource it belongs to.
    pub fn origins(&self) -> impl Iterator<Item = (&'a Level, u32)> + 'a {
        let code = *self;
        std::iter::successors(Some(self.at), move |&a| code.step(a).1)
            .flat_map(move |a| code.step(a).0.iter().map(move |l| (l, a)))
    }
}

impl std::fmt::Debug for EffectiveCode<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// An org unit. Unlike users and resources, a unit keeps its own id: units are few.
#[derive(Debug, Clone)]
pub struct Unit {
    pub id: String,
    pub parent: Option<u32>,
}

/// Loaded entities, bound to the policy they were validated against.
#[derive(Debug)]
pub struct Entities {
    /// The stamp of the compiled policy that loaded these entities.
    pub(crate) policy_stamp: u64,
    /// Unique to this load; a `Resolved` request carries the stamp it was resolved against.
    pub(crate) stamp: u64,
    pub(crate) symbols: Vec<String>,
    pub(crate) users: Vec<User>,
    pub(crate) units: Vec<Unit>,
    pub(crate) resources: Vec<Resource>,
    pub(crate) user_index: IdIndex,
    pub(crate) resource_index: IdIndex,
    pub(crate) unit_index: IdIndex,
}

/// A problem in the entity data. It is located by `line` and `column` in the JSON, or by `entity`
/// (or `position`, when the entity has no usable id) and `field`; `help` says how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct EntityError {
    pub message: String,
    /// The id of the entity the problem is in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entity: Option<String>,
    /// The entity by its place in the file, such as `user #2`, when it has no usable id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub position: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
    /// One-based line and column (counted in characters) in the JSON text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<usize>,
}

impl EntityError {
    /// An error about the file as a whole rather than one entity.
    #[cold]
    fn whole(message: String, help: &str) -> EntityError {
        EntityError {
            message,
            entity: None,
            position: None,
            field: None,
            help: Some(help.to_string()),
            line: None,
            column: None,
        }
    }
}

/// `text` with control and bidirectional control characters written as `\u{1b}`: messages
/// quote names from the file, and a terminal must show them as they are, neither obeying an
/// escape sequence nor reordering the line.
pub(crate) fn printable(text: &str) -> std::borrow::Cow<'_, str> {
    let hidden = |c: char| c.is_control() || is_bidi_control(c);
    if !text.chars().any(hidden) {
        return text.into();
    }
    text.chars()
        .map(|c| match hidden(c) {
            true => c.escape_unicode().to_string(),
            false => c.to_string(),
        })
        .collect::<String>()
        .into()
}

impl std::fmt::Display for EntityError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let (Some(l), Some(c)) = (self.line, self.column) {
            write!(f, "{l}:{c}: ")?;
        }
        let named = match (&self.entity, &self.position) {
            (Some(e), _) => {
                write!(f, "entity `{}`", printable(e))?;
                true
            }
            (None, Some(p)) => {
                write!(f, "{p}")?;
                true
            }
            (None, None) => false,
        };
        match (&self.field, named) {
            (Some(fl), true) => write!(f, ", field `{}`: ", printable(fl))?,
            (None, true) => write!(f, ": ")?,
            _ => {}
        }
        write!(f, "{}", printable(&self.message))?;
        if let Some(h) = &self.help {
            write!(f, "\n  help: {}", printable(h))?;
        }
        Ok(())
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEntities {
    #[serde(default)]
    units: Vec<RawUnit>,
    #[serde(default)]
    users: Vec<RawUser>,
    #[serde(default)]
    resources: Vec<RawResource>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawUnit {
    id: String,
    #[serde(default)]
    parent: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawUser {
    id: String,
    #[serde(default)]
    groups: Vec<String>,
    #[serde(default)]
    units: Vec<String>,
    #[serde(default)]
    terms: Vec<String>,
    #[serde(default, deserialize_with = "unique_keys")]
    attrs: serde_json::Map<String, serde_json::Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawResource {
    id: String,
    kind: String,
    #[serde(default)]
    parent: Option<String>,
    #[serde(default, rename = "type")]
    casetype: Option<String>,
    #[serde(default)]
    state: Option<String>,
    #[serde(default, deserialize_with = "unique_keys")]
    attrs: serde_json::Map<String, serde_json::Value>,
    #[serde(default, deserialize_with = "unique_keys")]
    relations: BTreeMap<String, Vec<String>>,
    #[serde(default, deserialize_with = "not_null")]
    read: Option<String>,
    #[serde(default, deserialize_with = "not_null")]
    write: Option<String>,
    #[serde(default)]
    inherit_read: Option<bool>,
    #[serde(default)]
    inherit_write: Option<bool>,
}

/// Deserialises a JSON object into a map, failing on a repeated key (JSON parsers disagree on
/// which of two values wins, so casepol accepts neither) and on more than
/// [`limits::MAX_ENTITY_ATTRS`] keys. The error path (`structure`) then reports the key with its
/// position, or the size of the object.
fn unique_keys<'de, D, V, M>(d: D) -> Result<M, D::Error>
where
    D: serde::Deserializer<'de>,
    V: Deserialize<'de>,
    M: FromIterator<(String, V)>,
{
    struct Entries<V>(std::marker::PhantomData<V>);
    impl<'de, V: Deserialize<'de>> serde::de::Visitor<'de> for Entries<V> {
        type Value = Vec<(String, V)>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("an object")
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(
            self,
            mut map: A,
        ) -> Result<Self::Value, A::Error> {
            let mut seen = std::collections::HashSet::new();
            let mut out = Vec::new();
            while let Some((key, value)) = map.next_entry::<String, V>()? {
                if out.len() == limits::MAX_ENTITY_ATTRS {
                    return Err(serde::de::Error::custom("too many keys"));
                }
                if !seen.insert(key.clone()) {
                    return Err(serde::de::Error::custom(format!("`{key}` appears twice")));
                }
                out.push((key, value));
            }
            Ok(out)
        }
    }
    let entries = d.deserialize_map(Entries(std::marker::PhantomData))?;
    Ok(entries.into_iter().collect())
}

/// A field that may be left out, but not given as `null`: an access code of `null` would
/// otherwise read as no code at all. The error path (`structure`) reports the `null`.
fn not_null<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    String::deserialize(d).map(Some)
}

/// Whether `text` holds a bidirectional control character (U+202A–U+202E, U+2066–U+2069).
/// Such a character makes text display in another order than it is stored ("Trojan Source",
/// CVE-2021-42574), so an id holding one could look like another.
pub(crate) fn has_bidi_control(text: &str) -> bool {
    bidi_control(text).is_some()
}

/// The first bidirectional control character in `text`.
fn bidi_control(text: &str) -> Option<char> {
    text.chars().find(|&c| is_bidi_control(c))
}

fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// What is wrong with an id or a term as text, if anything: a control character, a
/// bidirectional control character, or too many bytes. `what` is how the message names it,
/// such as "the id" or "term 2", and `noun` what the rule is about, such as "id". The text
/// itself is not shown: it could drive the terminal.
#[cold]
fn text_problem(what: &str, noun: &str, text: &str) -> Option<(String, String)> {
    if let Some(c) = text.chars().find(|c| c.is_control()) {
        return Some((
            format!("{what} contains the control character U+{:04X}", u32::from(c)),
            format!("{noun}s may hold any printable characters, but no control characters such as tabs, line breaks or escapes"),
        ));
    }
    if let Some(c) = bidi_control(text) {
        return Some((
            format!(
                "{what} contains the bidirectional control character U+{:04X}",
                u32::from(c)
            ),
            format!("remove it: it makes text display in another order than it is stored, so one {noun} could look like another"),
        ));
    }
    if text.len() > limits::MAX_ID_BYTES {
        return Some((
            format!(
                "{what} is {} bytes long, more than the limit of {} bytes",
                text.len(),
                limits::MAX_ID_BYTES
            ),
            format!("use a shorter {noun}"),
        ));
    }
    None
}

/// How many names a help text lists before it says how many more there are.
const LIST_LIMIT: usize = 20;

struct Loader<'p> {
    policy: &'p CompiledPolicy,
    symbols: Vec<String>,
    sym_index: HashMap<String, u32>,
    errors: Vec<EntityError>,
    suggest_budget: usize,
    /// The help for naming each role as a group, once made.
    role_help: HashMap<u32, String>,
}

/// An entity as errors name it: by id, or by its place in the file when the id is empty.
#[derive(Clone, Copy)]
struct Who<'a> {
    what: &'static str,
    index: usize,
    id: &'a str,
}

impl Who<'_> {
    fn place(&self) -> String {
        format!("{} #{}", self.what, self.index + 1)
    }
}

fn unit_who(index: usize, u: &RawUnit) -> Who<'_> {
    Who {
        what: "unit",
        index,
        id: &u.id,
    }
}

fn user_who(index: usize, u: &RawUser) -> Who<'_> {
    Who {
        what: "user",
        index,
        id: &u.id,
    }
}

fn resource_who(index: usize, r: &RawResource) -> Who<'_> {
    Who {
        what: "resource",
        index,
        id: &r.id,
    }
}

impl Loader<'_> {
    fn sym(&mut self, s: &str) -> u32 {
        if let Some(&i) = self.sym_index.get(s) {
            return i;
        }
        let i = self.symbols.len() as u32;
        self.symbols.push(s.to_string());
        self.sym_index.insert(s.to_string(), i);
        i
    }

    #[cold]
    fn err(&mut self, who: Who<'_>, field: &str, message: String, help: String) {
        let (entity, position) = if who.id.is_empty() {
            (None, Some(who.place()))
        } else {
            (Some(who.id.to_string()), None)
        };
        self.errors.push(EntityError {
            message,
            entity,
            position,
            field: (!field.is_empty()).then(|| field.to_string()),
            help: Some(help),
            line: None,
            column: None,
        });
    }

    /// "did you mean" among `cands`, within the load's budget.
    #[cold]
    fn mean<'a>(&mut self, name: &str, cands: impl IntoIterator<Item = &'a str>) -> Option<String> {
        crate::diagnostic::suggest_within(name, cands, &mut self.suggest_budget)
            .map(|s| format!("did you mean `{s}`?"))
    }

    /// "did you mean" among some of `n` entity ids, within the load's budget: walking all `n`
    /// is paid for first, however few of them are candidates.
    #[cold]
    fn suggest_id<'a>(
        &mut self,
        name: &str,
        n: usize,
        cands: impl IntoIterator<Item = &'a str>,
    ) -> Option<String> {
        if n > self.suggest_budget {
            return None;
        }
        self.suggest_budget -= n;
        self.mean(name, cands)
    }
}

/// The ids in the file and the names in the policy, to say what a misplaced name is.
struct Names<'a> {
    ir: &'a Ir,
    ix: &'a PolicyIndex<'a>,
    units: &'a HashMap<String, u32>,
    users: &'a HashMap<String, u32>,
    resources: &'a HashMap<String, u32>,
    kinds_of: &'a [Option<KindId>],
}

impl Names<'_> {
    /// What `id` is, when it is something: "a user", "an org unit", "a `Case`", "an access group", "a role".
    #[cold]
    fn describe(&self, id: &str) -> Option<String> {
        if self.users.contains_key(id) {
            return Some("a user".into());
        }
        if self.units.contains_key(id) {
            return Some("an org unit".into());
        }
        if let Some(&r) = self.resources.get(id) {
            return Some(match self.kinds_of.get(r as usize).copied().flatten() {
                Some(k) => a_kind(&self.ir.kinds[k.idx()].name),
                None => "a resource".into(),
            });
        }
        if self.ix.groups.contains_key(id) {
            return Some("an access group".into());
        }
        if self.ix.roles.contains_key(id) {
            return Some("a role".into());
        }
        None
    }

    /// The ids of the resources of kind `k`.
    fn of_kind(&self, k: KindId) -> impl Iterator<Item = &str> {
        self.resources
            .iter()
            .filter(move |(_, &i)| self.kinds_of.get(i as usize).copied().flatten() == Some(k))
            .map(|(id, _)| id.as_str())
    }
}

fn did_you_mean<'a>(name: &str, cands: impl IntoIterator<Item = &'a str>) -> Option<String> {
    crate::diagnostic::suggest(name, cands).map(|s| format!("did you mean `{s}`?"))
}

/// `a` or `an`, for a word read aloud in English.
fn article(word: &str) -> &'static str {
    let w = word.to_ascii_lowercase();
    let silent_h = ["hour", "honest", "honor", "honour", "heir"]
        .iter()
        .any(|p| w.starts_with(p));
    let sounds_like_y = [
        "uni", "use", "usu", "uti", "ure", "uri", "eu", "ewe", "one", "once",
    ]
    .iter()
    .any(|p| w.starts_with(p));
    let vowel = w.starts_with(['a', 'e', 'i', 'o', 'u']);
    if silent_h || (vowel && !sounds_like_y) {
        "an"
    } else {
        "a"
    }
}

/// "a `Case`", "an `Attachment`".
fn a_kind(name: &str) -> String {
    format!("{} `{name}`", article(name))
}

/// "`A`, `B`, `C`", with at most [`LIST_LIMIT`] names.
/// Only the names listed are read, so a help text costs the same however long the list.
fn list<'a, I>(names: I) -> String
where
    I: IntoIterator<Item = &'a str>,
    I::IntoIter: ExactSizeIterator,
{
    let names = names.into_iter();
    let n = names.len();
    let mut out: Vec<String> = names.take(LIST_LIMIT).map(|n| format!("`{n}`")).collect();
    if n > LIST_LIMIT {
        out.push(format!("and {} more", n - LIST_LIMIT));
    }
    out.join(", ")
}

/// "null", "a string", … for a JSON value.
fn json_kind(v: &serde_json::Value) -> &'static str {
    use serde_json::Value as J;
    match v {
        J::Null => "null",
        J::Bool(_) => "a boolean",
        J::Number(_) => "a number",
        J::String(_) => "a string",
        J::Array(_) => "an array",
        J::Object(_) => "an object",
    }
}

impl Entities {
    /// Parses and validates entity JSON against a compiled policy. Reports every problem found.
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
        // A byte order mark, as some Windows tools write, is not part of the JSON.
        let json = json.strip_prefix('\u{feff}').unwrap_or(json);
        if json.trim().is_empty() {
            return Err(vec![EntityError::whole(
                "the entities file is empty".to_string(),
                "write `{}` for no entities, or `{\"users\": [ … ], \"resources\": [ … ]}`",
            )]);
        }
        // Most files are valid: load them without building owned intermediate values. Any
        // problem sends the file down the full path, which reports every problem exactly.
        if let Some(entities) = fast::load(policy, json) {
            return Ok(entities);
        }
        Entities::load_reporting(policy, json)
    }

    /// The full path of [`Entities::from_json`], after its checks of the text as a whole:
    /// reads every entity into owned values and reports every problem it finds.
    fn load_reporting(policy: &CompiledPolicy, json: &str) -> Result<Entities, Vec<EntityError>> {
        let raw: RawEntities = match serde_json::from_str(json) {
            Ok(raw) => raw,
            Err(e) => return Err(structure::diagnose(&policy.ir, json, e)),
        };
        let count = raw.units.len() + raw.users.len() + raw.resources.len();
        if count > limits::MAX_ENTITIES {
            return Err(vec![EntityError::whole(
                format!(
                    "the file holds {count} entities, more than the limit of {}",
                    limits::MAX_ENTITIES
                ),
                "leave out resources no request names",
            )]);
        }
        let mut ld = Loader {
            policy,
            symbols: Vec::new(),
            sym_index: HashMap::new(),
            errors: Vec::new(),
            suggest_budget: limits::LOAD_SUGGEST_WORK,
            role_help: HashMap::new(),
        };
        // Policy literals first, so that a literal's index is its symbol.
        for l in &policy.literals {
            ld.sym(l);
        }
        let p = &policy.ir;

        let ix = PolicyIndex::new(p);
        // Ids are unique across users, units and resources, and not empty.
        let mut seen: HashMap<&str, &str> =
            HashMap::with_capacity(raw.units.len() + raw.users.len() + raw.resources.len());
        let all = raw
            .units
            .iter()
            .enumerate()
            .map(|(i, u)| unit_who(i, u))
            .chain(raw.users.iter().enumerate().map(|(i, u)| user_who(i, u)))
            .chain(
                raw.resources
                    .iter()
                    .enumerate()
                    .map(|(i, r)| resource_who(i, r)),
            );
        for who in all {
            if who.id.is_empty() {
                let help = format!(
                    "give the {} an id that no other unit, user or resource has",
                    who.what
                );
                ld.err(who, "id", "the id is empty".into(), help);
            } else if let Some((message, help)) = text_problem("the id", "id", who.id) {
                // Named by its place, not its id: printing the id could drive the terminal,
                // show it in another order than it is, or flood the output.
                ld.errors.push(EntityError {
                    message,
                    entity: None,
                    position: Some(who.place()),
                    field: Some("id".to_string()),
                    help: Some(help),
                    line: None,
                    column: None,
                });
            } else if let Some(prev) = seen.insert(who.id, who.what) {
                let again = if prev == who.what { "another" } else { "a" };
                let message = format!(
                    "id `{}` is used by a {prev} and again by {again} {}",
                    who.id, who.what
                );
                ld.err(
                    who,
                    "id",
                    message,
                    "give every entity its own id".to_string(),
                );
            } else if who.what != "resource" && ix.groups.contains_key(who.id) {
                // User and unit ids are access codes, and so are group names: one code must
                // name one thing, or holding it would mean two things (docs/data-formats.md §1.1).
                let holder = match who.what {
                    "user" => "the user would hold the group's access code without being a member",
                    _ => "the unit's members would hold the group's access code without being members",
                };
                ld.err(
                    who,
                    "id",
                    format!(
                        "{} id `{}` is also the name of the access group `{}`, so {holder}",
                        who.what, who.id, who.id
                    ),
                    format!("give the {} another id: user ids, unit ids, access-group names and terms are all access codes, and each must name one thing", who.what),
                );
            }
        }

        let unit_index: HashMap<String, u32> = raw
            .units
            .iter()
            .enumerate()
            .map(|(i, u)| (u.id.clone(), i as u32))
            .collect();
        let mut user_index = HashMap::with_capacity(raw.users.len());
        for (i, u) in raw.users.iter().enumerate() {
            user_index.insert(u.id.clone(), i as u32);
        }
        // Resources are indexed before any is validated, since parents may come later in the file.
        let mut resource_index = HashMap::with_capacity(raw.resources.len());
        for (i, r) in raw.resources.iter().enumerate() {
            resource_index.insert(r.id.clone(), i as u32);
        }
        let kinds_of: Vec<Option<KindId>> = raw
            .resources
            .iter()
            .map(|r| ix.kinds.get(r.kind.as_str()).copied())
            .collect();
        let names = Names {
            ir: p,
            ix: &ix,
            units: &unit_index,
            users: &user_index,
            resources: &resource_index,
            kinds_of: &kinds_of,
        };

        // Units and their ancestry.
        let mut units = Vec::with_capacity(raw.units.len());
        for (i, u) in raw.units.iter().enumerate() {
            let parent = match &u.parent {
                Some(pid) => {
                    match unit_index.get(pid) {
                        Some(&i) => Some(i),
                        None => {
                            let help = match names.describe(pid) {
                            Some(what) => format!("`{pid}` is {what}; `parent` must be the id of a unit"),
                            None => ld
                                .suggest_id(pid, unit_index.len(), unit_index.keys().map(String::as_str))
                                .unwrap_or_else(|| format!("add a unit with id `{pid}` to `units`, or remove `parent`")),
                        };
                            ld.err(
                                unit_who(i, u),
                                "parent",
                                format!("unknown parent unit `{pid}`"),
                                help,
                            );
                            None
                        }
                    }
                }
                None => None,
            };
            units.push(Unit {
                id: u.id.clone(),
                parent,
            });
        }
        unit_cycles(&mut ld, &units, &raw.units);
        if ld.errors.is_empty() {
            unit_depth(&mut ld, &units, &raw.units);
        }
        let unit_syms: Vec<u32> = units.iter().map(|u| ld.sym(&u.id)).collect();
        // A unit and its ancestors. A chain is at most `MAX_UNIT_DEPTH` long unless the units
        // form a cycle, which is an error already; the walk stops there either way.
        let unit_ancestors = |start: u32| -> Vec<u32> {
            let mut out = Vec::new();
            let mut cur = Some(start);
            while let (Some(c), true) = (cur, out.len() <= limits::MAX_UNIT_DEPTH) {
                out.push(c);
                cur = units[c as usize].parent;
            }
            out
        };

        // Users.
        let group_syms: Vec<u32> = p.groups.iter().map(|g| ld.sym(&g.name)).collect();
        let mut users = Vec::with_capacity(raw.users.len());
        for (i, u) in raw.users.iter().enumerate() {
            let who = user_who(i, u);
            let mut direct_groups = Vec::new();
            for g in &u.groups {
                match ix.groups.get(g.as_str()) {
                    Some(&gi) => direct_groups.push(gi),
                    None => {
                        let help = unknown_group_help(&mut ld, &names, g);
                        ld.err(who, "groups", format!("unknown access group `{g}`"), help);
                    }
                }
            }
            if p.require_group && u.groups.is_empty() {
                ld.err(
                    who,
                    "groups",
                    "user is in no access group, but the policy says `require group;`".into(),
                    "add the user to at least one access group".to_string(),
                );
            }
            let mut groups: Vec<u32> = Vec::new();
            close_groups(p, &direct_groups, &mut groups);
            let mut direct_units = Vec::new();
            let mut codes = vec![ld.sym(&u.id)];
            for un in &u.units {
                match unit_index.get(un) {
                    Some(&x) => {
                        direct_units.push(x);
                        codes.extend(unit_ancestors(x).into_iter().map(|a| unit_syms[a as usize]));
                    }
                    None => {
                        let help = match names.describe(un) {
                            Some(what) if ix.groups.contains_key(un.as_str()) => {
                                format!("`{un}` is {what}; list it in `groups`, not `units`")
                            }
                            Some(what) => format!("`{un}` is {what}; `units` lists org units"),
                            None => ld
                                .suggest_id(
                                    un,
                                    unit_index.len(),
                                    unit_index.keys().map(String::as_str),
                                )
                                .unwrap_or_else(|| format!("add a unit with id `{un}` to `units`")),
                        };
                        ld.err(who, "units", format!("unknown unit `{un}`"), help);
                    }
                }
            }
            codes.extend(groups.iter().map(|g| group_syms[*g as usize]));
            for (k, t) in u.terms.iter().enumerate() {
                if let Some((message, help)) = text_problem(&format!("term {}", k + 1), "term", t) {
                    ld.err(who, "terms", message, help);
                } else if let Some((message, help)) =
                    term_collision(t, &u.id, &ix, &user_index, &unit_index)
                {
                    ld.err(who, "terms", message, help);
                }
            }
            let terms: Vec<u32> = u.terms.iter().map(|t| ld.sym(t)).collect();
            codes.extend(&terms);
            codes.sort_unstable();
            codes.dedup();
            for k in u.attrs.keys() {
                if !ix.user_attrs.contains_key(k.as_str()) {
                    let help = ld.mean(k, p.user_attrs.iter().map(|a| a.name.as_str())).unwrap_or_else(|| {
                        if p.user_attrs.is_empty() {
                            format!("the policy declares no user attributes; remove `{k}`, or declare it in a `user {{ … }}` block")
                        } else {
                            format!("the policy's `user {{ … }}` block declares {}; remove `{k}`, or declare it there", list(p.user_attrs.iter().map(|a| a.name.as_str())))
                        }
                    });
                    ld.err(
                        who,
                        &format!("attrs.{k}"),
                        format!("unknown user attribute `{k}`"),
                        help,
                    );
                }
            }
            users.push(User {
                direct_groups: direct_groups.into(),
                groups: groups.into(),
                direct_units: direct_units.into(),
                terms: terms.into(),
                codes: codes.into(),
            });
        }
        // User attributes are checked by type but not stored: no rule reads them yet.
        for (i, u) in raw.users.iter().enumerate() {
            for a in &p.user_attrs {
                match u.attrs.get(&a.name) {
                    None => ld.err(
                        user_who(i, u),
                        &format!("attrs.{}", a.name),
                        format!("missing attribute `{}`", a.name),
                        "every attribute declared in `user { … }` must be given".to_string(),
                    ),
                    Some(v) => {
                        let _ = convert(&mut ld, user_who(i, u), &a.name, a.ty, v, &names);
                    }
                }
            }
        }

        let mut resources = Vec::with_capacity(raw.resources.len());
        let mut ranges: Vec<Ranges> = Vec::with_capacity(raw.resources.len());
        let mut builder = Builder::default();
        for (i, r) in raw.resources.iter().enumerate() {
            let who = resource_who(i, r);
            let Some(kind) = kinds_of[i] else {
                let help = ld.mean(&r.kind, p.kinds.iter().map(|k| k.name.as_str())).unwrap_or_else(|| {
                    if p.kinds.is_empty() {
                        "the policy declares no resource kinds; declare one with `case` or `resource`"
                            .to_string()
                    } else {
                        format!(
                            "the policy declares the kinds {}",
                            list(p.kinds.iter().map(|k| k.name.as_str()))
                        )
                    }
                });
                ld.err(
                    who,
                    "kind",
                    format!("unknown resource kind `{}`", r.kind),
                    help,
                );
                continue;
            };
            let kdef = &p.kinds[kind.idx()];
            let parent = match (&r.parent, kdef.parent) {
                (Some(pid), Some(pk)) => match resource_index.get(pid) {
                    Some(&pi) if kinds_of[pi as usize] == Some(pk) => Some(pi),
                    Some(&pi) => {
                        wrong_parent_kind(
                            &mut ld,
                            who,
                            kind,
                            pid,
                            pk,
                            kinds_of[pi as usize],
                            &raw.resources[pi as usize].kind,
                        );
                        None
                    }
                    None => {
                        let help = match names.describe(pid) {
                            Some(what) => format!("`{pid}` is {what}; `parent` must be the id of {}", a_kind(&p.kinds[pk.idx()].name)),
                            None => ld.suggest_id(pid, resource_index.len(), names.of_kind(pk)).unwrap_or_else(|| {
                                let want = a_kind(&p.kinds[pk.idx()].name);
                                format!("add {want} with id `{pid}` to `resources`, or set `parent` to the id of {want} in the file")
                            }),
                        };
                        ld.err(who, "parent", format!("unknown parent `{pid}`"), help);
                        None
                    }
                },
                (None, Some(pk)) => {
                    let message = format!(
                        "{} needs {} as its parent",
                        a_kind(&kdef.name),
                        a_kind(&p.kinds[pk.idx()].name)
                    );
                    ld.err(
                        who,
                        "parent",
                        message,
                        format!(
                            "set `parent` to the id of {}",
                            a_kind(&p.kinds[pk.idx()].name)
                        ),
                    );
                    None
                }
                (Some(pid), None) => {
                    parent_not_allowed(&mut ld, who, kind, pid, &names);
                    None
                }
                (None, None) => None,
            };
            // Case fields.
            let (mut casetype, mut state) = (0, 0);
            let mut relations: Vec<Vec<u32>> = Vec::new();
            if kdef.is_case {
                let case_types = || list(p.casetypes.iter().map(|c| c.name.as_str()));
                match &r.casetype {
                    None => ld.err(
                        who,
                        "type",
                        "a case needs a `type`".into(),
                        format!("set `type` to one of {}", case_types()),
                    ),
                    Some(t) => match ix.casetypes.get(t.as_str()) {
                        None => {
                            let help = ld
                                .mean(t, p.casetypes.iter().map(|c| c.name.as_str()))
                                .unwrap_or_else(|| {
                                    format!("the policy declares the case types {}", case_types())
                                });
                            ld.err(who, "type", format!("unknown case type `{t}`"), help);
                        }
                        Some(&ti) => {
                            casetype = ti;
                            let ct = &p.casetypes[ti as usize];
                            let states = || list(ct.states.iter().map(|x| x.name.as_str()));
                            match &r.state {
                                None => ld.err(
                                    who,
                                    "state",
                                    "a case needs a `state`".into(),
                                    format!(
                                        "set `state` to one of the states of `{}`: {}",
                                        ct.name,
                                        states()
                                    ),
                                ),
                                Some(s) => match ix.states[ti as usize].get(s.as_str()) {
                                    Some(&si) => state = si,
                                    None => {
                                        let help = ld
                                            .mean(s, ct.states.iter().map(|x| x.name.as_str()))
                                            .unwrap_or_else(|| {
                                                format!(
                                                    "the states of `{}` are {}",
                                                    ct.name,
                                                    states()
                                                )
                                            });
                                        ld.err(
                                            who,
                                            "state",
                                            format!("case type `{}` has no state `{s}`", ct.name),
                                            help,
                                        );
                                    }
                                },
                            }
                        }
                    },
                }
                relations = vec![Vec::new(); p.relations.len()];
                for (name, members) in &r.relations {
                    let field = format!("relations.{name}");
                    let Some(&ri) = ix.relations.get(name.as_str()) else {
                        let help = ld
                            .mean(name, p.relations.iter().map(|x| x.name.as_str()))
                            .unwrap_or_else(|| {
                                if p.relations.is_empty() {
                                    "the policy declares no relations; remove it".to_string()
                                } else {
                                    format!(
                                        "the policy declares the relations {}",
                                        list(p.relations.iter().map(|x| x.name.as_str()))
                                    )
                                }
                            });
                        ld.err(who, &field, format!("unknown relation `{name}`"), help);
                        continue;
                    };
                    let mut ids = Vec::with_capacity(members.len());
                    for m in members {
                        match user_index.get(m) {
                            Some(&u) => ids.push(u),
                            None => {
                                let help = match names.describe(m) {
                                    Some(what) => {
                                        format!("`{m}` is {what}; relations list user ids")
                                    }
                                    None => ld
                                        .suggest_id(
                                            m,
                                            user_index.len(),
                                            user_index.keys().map(String::as_str),
                                        )
                                        .unwrap_or_else(|| {
                                            format!("add a user with id `{m}` to `users`")
                                        }),
                                };
                                ld.err(who, &field, format!("unknown user `{m}`"), help);
                            }
                        }
                    }
                    ids.sort_unstable();
                    ids.dedup();
                    relations[ri as usize] = ids;
                }
            } else {
                for (field, present) in [
                    ("type", r.casetype.is_some()),
                    ("state", r.state.is_some()),
                    ("relations", !r.relations.is_empty()),
                ] {
                    if present {
                        ld.err(
                            who,
                            field,
                            format!(
                                "only cases have `{field}`; `{}` is not the case kind",
                                kdef.name
                            ),
                            format!("remove `{field}`"),
                        );
                    }
                }
            }
            // Attributes.
            let mut attrs = Vec::with_capacity(kdef.attrs.len());
            for a in &kdef.attrs {
                match r.attrs.get(&a.name) {
                    None => {
                        ld.err(
                            who,
                            &format!("attrs.{}", a.name),
                            format!("missing attribute `{}`", a.name),
                            format!(
                                "kind `{}` declares `{}`; give it a value",
                                kdef.name, a.name
                            ),
                        );
                        attrs.push(AttrValue::Bool(false));
                    }
                    Some(v) => {
                        let cv = convert(&mut ld, who, &a.name, a.ty, v, &names);
                        attrs.push(cv.unwrap_or(AttrValue::Bool(false)));
                    }
                }
            }
            for k in r.attrs.keys() {
                if !ix.kind_attrs[kind.idx()].contains_key(k.as_str()) {
                    let help = ld.mean(k, kdef.attrs.iter().map(|a| a.name.as_str())).unwrap_or_else(|| {
                        if kdef.attrs.is_empty() {
                            format!("kind `{}` declares no attributes; remove `{k}`, or declare it in kind `{}`", kdef.name, kdef.name)
                        } else {
                            format!("kind `{}` declares {}; remove `{k}`, or declare it in kind `{}`", kdef.name, list(kdef.attrs.iter().map(|a| a.name.as_str())), kdef.name)
                        }
                    });
                    ld.err(
                        who,
                        &format!("attrs.{k}"),
                        format!("kind `{}` has no attribute `{k}`", kdef.name),
                        help,
                    );
                }
            }
            // Access codes, as ranges of levels in the builder.
            let mut codes = |field: &str, text: &Option<String>| -> (u32, u32) {
                let text = text.as_deref().unwrap_or("");
                let start = builder.next_level();
                match access_code::parse(text) {
                    Ok(expr) => {
                        for l in &expr.levels {
                            let mut v: Vec<u32> = l.iter().map(|c| ld.sym(c)).collect();
                            builder.level(&mut v);
                        }
                    }
                    Err(e) => code_error(&mut ld, who, field, text, &e),
                }
                (start, builder.next_level() - start)
            };
            let own_read = codes("read", &r.read);
            let own_write = codes("write", &r.write);
            ranges.push(Ranges {
                relations: builder.relations(relations.iter().map(Vec::as_slice)),
                own_read,
                own_write,
            });
            resources.push(Resource::read(
                kind,
                kdef,
                parent,
                (casetype, state),
                attrs,
                (r.inherit_read, r.inherit_write),
            ));
        }
        if !ld.errors.is_empty() {
            return Err(ld.errors);
        }
        // INVARIANT: with no errors every resource was pushed, so indices match `resource_index`.
        finish_resources(p, &mut resources, &ranges, builder);
        let index = |ids: Vec<&str>| IdIndex::new(ids.into_iter());
        // INVARIANT: ids are unique (checked above), so every index builds.
        let (Some(user_index), Some(resource_index), Some(unit_index)) = (
            index(raw.users.iter().map(|u| u.id.as_str()).collect()),
            index(raw.resources.iter().map(|r| r.id.as_str()).collect()),
            index(units.iter().map(|u| u.id.as_str()).collect()),
        ) else {
            return Err(vec![EntityError::whole(
                "the file holds too many entities, or too long ids, to index".to_string(),
                "leave out resources no request names",
            )]);
        };
        Ok(Entities {
            policy_stamp: ld.policy.stamp,
            stamp: crate::compile::next_stamp(),
            symbols: ld.symbols,
            users,
            units,
            resources,
            user_index,
            resource_index,
            unit_index,
        })
    }

    pub fn user(&self, id: &str) -> Option<&User> {
        self.user_index.get(id).map(|&i| &self.users[i as usize])
    }

    pub fn resource(&self, id: &str) -> Option<&Resource> {
        self.resource_index
            .get(id)
            .map(|&i| &self.resources[i as usize])
    }

    /// The effective read code of the resource at `i` in [`Entities::resources`].
    ///
    /// # Panics
    /// When `i` is not a position in [`Entities::resources`].
    pub fn read_code(&self, i: u32) -> EffectiveCode<'_> {
        self.code(i, CodeClass::Read)
    }

    /// The effective write code of the resource at `i` in [`Entities::resources`].
    ///
    /// # Panics
    /// When `i` is not a position in [`Entities::resources`].
    pub fn write_code(&self, i: u32) -> EffectiveCode<'_> {
        self.code(i, CodeClass::Write)
    }

    /// The effective code of one class of the resource at `i`.
    ///
    /// # Panics
    /// When `i` is not a position in [`Entities::resources`].
    #[inline]
    pub fn code(&self, i: u32, class: CodeClass) -> EffectiveCode<'_> {
        let _ = &self.resources[i as usize];
        EffectiveCode {
            resources: &self.resources,
            at: i,
            class,
        }
    }

    /// The id of the user at `i` in [`Entities::users`].
    ///
    /// # Panics
    /// When `i` is not a position in [`Entities::users`].
    pub fn user_id(&self, i: u32) -> &str {
        self.user_index.id(i)
    }

    /// The user ids, in the order of [`Entities::users`].
    pub fn user_ids(&self) -> impl ExactSizeIterator<Item = &str> + '_ {
        (0..self.users.len() as u32).map(|i| self.user_index.id(i))
    }

    /// The id of the resource at `i` in [`Entities::resources`].
    ///
    /// # Panics
    /// When `i` is not a position in [`Entities::resources`].
    pub fn resource_id(&self, i: u32) -> &str {
        self.resource_index.id(i)
    }

    /// The resource ids, in the order of [`Entities::resources`].
    pub fn resource_ids(&self) -> impl ExactSizeIterator<Item = &str> + '_ {
        (0..self.resources.len() as u32).map(|i| self.resource_index.id(i))
    }

    pub fn symbol(&self, s: u32) -> &str {
        self.symbols
            .get(s as usize)
            .map(String::as_str)
            .unwrap_or("?")
    }

    pub fn users(&self) -> &[User] {
        &self.users
    }

    pub fn resources(&self) -> &[Resource] {
        &self.resources
    }

    pub fn units(&self) -> &[Unit] {
        &self.units
    }

    /// Is `id` an org unit?
    pub fn is_unit(&self, id: &str) -> bool {
        self.unit_index.contains_key(id)
    }
}

/// Sets each resource's anchor case and its lists from the shared arenas. Parent kinds form no
/// cycle and a parent has the parent kind (both checked before), so every chain of parents ends.
fn finish_resources(p: &Ir, resources: &mut [Resource], ranges: &[Ranges], builder: Builder) {
    let mut anchors = Vec::with_capacity(resources.len());
    for i in 0..resources.len() as u32 {
        let mut anchor = None;
        let mut cur = Some(i);
        while let Some(c) = cur {
            let r = &resources[c as usize];
            if p.kinds[r.kind.idx()].is_case {
                anchor = Some(c);
                break;
            }
            cur = r.parent;
        }
        anchors.push(anchor);
    }
    // Which own codes are all empty levels, then for each resource the nearest resource above
    // it, on its inherited chain, with an own level that is not empty. Each walk is at most
    // `MAX_KIND_DEPTH` long.
    for (r, range) in resources.iter_mut().zip(ranges) {
        r.read_trivial = builder.all_empty(range.own_read);
        r.write_trivial = builder.all_empty(range.own_write);
    }
    for i in 0..resources.len() {
        let rest = |read: bool| {
            let next = |x: &Resource| match read {
                true => x.parent.filter(|_| x.inherit_read),
                false => x.parent.filter(|_| x.inherit_write),
            };
            let mut cur = next(&resources[i]);
            while let Some(c) = cur {
                let x = &resources[c as usize];
                if !(if read {
                    x.read_trivial
                } else {
                    x.write_trivial
                }) {
                    return c;
                }
                cur = next(x);
            }
            NONE
        };
        let (read_rest, write_rest) = (rest(true), rest(false));
        resources[i].read_rest = read_rest;
        resources[i].write_rest = write_rest;
    }
    let arenas = builder.finish();
    for ((r, range), anchor) in resources.iter_mut().zip(ranges).zip(anchors) {
        r.anchor = anchor;
        r.relations = arenas.relations(range.relations);
        r.own_read = arenas.levels(range.own_read);
        r.own_write = arenas.levels(range.own_write);
    }
}

/// Reports each cycle of unit parents once, on the unit of the cycle that comes first in the
/// file, naming the whole cycle. Units that only lead into a cycle are not reported.
fn unit_cycles(ld: &mut Loader<'_>, units: &[Unit], raw: &[RawUnit]) {
    const NEW: u8 = 0;
    const ON_PATH: u8 = 1;
    const DONE: u8 = 2;
    let mut state = vec![NEW; units.len()];
    let mut path: Vec<usize> = Vec::new();
    for start in 0..units.len() {
        let mut cur = Some(start);
        while let Some(c) = cur {
            match state[c] {
                NEW => {
                    state[c] = ON_PATH;
                    path.push(c);
                    cur = units[c].parent.map(|x| x as usize);
                }
                ON_PATH => {
                    let from = path.iter().position(|&x| x == c).unwrap_or(0);
                    report_unit_cycle(ld, units, raw, &path[from..]);
                    break;
                }
                _ => break,
            }
        }
        for x in path.drain(..) {
            state[x] = DONE;
        }
    }
}

/// Fills `out` with `direct` and every ancestor group of theirs, sorted, without repeats. The
/// checker rejects group cycles and chains over [`limits::MAX_GROUP_DEPTH`], so each walk is
/// short; the walks are not cut short where they meet, since checking that costs more than a
/// sort when a user lists many groups.
pub(crate) fn close_groups(p: &Ir, direct: &[u32], out: &mut Vec<u32>) {
    out.clear();
    for &g in direct {
        let mut cur = Some(g);
        let mut steps = 0;
        while let (Some(c), true) = (cur, steps <= limits::MAX_GROUP_DEPTH) {
            out.push(c);
            cur = p.groups[c as usize].parent.map(|x| x.0);
            steps += 1;
        }
    }
    out.sort_unstable();
    out.dedup();
}

/// The first unit, in file order, whose chain of parents holds more than
/// [`limits::MAX_UNIT_DEPTH`] units. Walks are bounded by the limit, so a chain that loops
/// counts as too long and this ends on any input; both loading paths use it.
pub(crate) fn unit_too_deep(units: &[Unit]) -> Option<usize> {
    // depth[i]: units on the chain from i to its root, i included; 0 while unknown.
    let mut depth = vec![0usize; units.len()];
    let mut chain = Vec::new();
    for start in 0..units.len() {
        let mut cur = Some(start);
        while let Some(c) = cur {
            if depth[c] != 0 {
                break;
            }
            if chain.len() > limits::MAX_UNIT_DEPTH {
                return Some(start);
            }
            chain.push(c);
            cur = units[c].parent.map(|x| x as usize);
        }
        let mut d = cur.map_or(0, |c| depth[c]);
        for &c in chain.iter().rev() {
            d += 1;
            depth[c] = d;
        }
        chain.clear();
        if depth[start] > limits::MAX_UNIT_DEPTH {
            return Some(start);
        }
    }
    None
}

/// Reports the first unit whose chain of parents is longer than the limit. Runs only when the
/// units form no cycle (cycles have their own error).
fn unit_depth(ld: &mut Loader<'_>, units: &[Unit], raw: &[RawUnit]) {
    if let Some(start) = unit_too_deep(units) {
        ld.err(
            unit_who(start, &raw[start]),
            "parent",
            format!(
                "the chain of parents of unit `{}` holds more than {} units",
                units[start].id,
                limits::MAX_UNIT_DEPTH
            ),
            "flatten the unit hierarchy: a unit may name a unit higher up as its parent"
                .to_string(),
        );
    }
}

#[cold]
fn report_unit_cycle(ld: &mut Loader<'_>, units: &[Unit], raw: &[RawUnit], cycle: &[usize]) {
    // Start at the unit that comes first in the file; follow parents from there.
    let first = cycle
        .iter()
        .position(|&x| x == *cycle.iter().min().unwrap_or(&0))
        .unwrap_or(0);
    let order: Vec<usize> = cycle[first..]
        .iter()
        .chain(&cycle[..first])
        .copied()
        .collect();
    let who = Who {
        what: "unit",
        index: order[0],
        id: &raw[order[0]].id,
    };
    let id = |i: usize| -> &str {
        if units[i].id.is_empty() {
            "(empty id)"
        } else {
            &units[i].id
        }
    };
    if order.len() == 1 {
        ld.err(
            who,
            "parent",
            format!("unit `{}` is its own parent", id(order[0])),
            "remove `parent`, or set it to another unit".to_string(),
        );
        return;
    }
    let names: Vec<&str> = order.iter().chain(order.first()).map(|&i| id(i)).collect();
    let members = list(order.iter().map(|&i| id(i)));
    ld.err(
        who,
        "parent",
        format!("units form a cycle through their parents: `{}`", names.join(" → ")),
        format!("a chain of parents must end at a unit with no parent; remove or change the `parent` of one of {members}"),
    );
}

/// What is wrong with term `t` of user `user` when it is the id of a user or a unit or the name
/// of an access group: it would give the user that code without the membership it stands for.
#[cold]
fn term_collision(
    t: &str,
    user: &str,
    ix: &PolicyIndex<'_>,
    users: &HashMap<String, u32>,
    units: &HashMap<String, u32>,
) -> Option<(String, String)> {
    let (message, help) = if ix.groups.contains_key(t) {
        (
            format!("term `{t}` is the name of the access group `{t}`, whose access code the user would hold without being a member"),
            format!("list `{t}` in `groups` if the user is a member; otherwise remove the term"),
        )
    } else if units.contains_key(t) {
        (
            format!("term `{t}` is the id of the unit `{t}`, whose access code the user would hold without being a member"),
            format!("list `{t}` in `units` if the user is a member; otherwise remove the term"),
        )
    } else if t == user {
        (
            format!("term `{t}` is the user's own id, which is an access code of theirs already"),
            "remove the term".to_string(),
        )
    } else if users.contains_key(t) {
        (
            format!("term `{t}` is the id of the user `{t}`, whose personal access code this user would hold"),
            "remove the term: a user id is an access code for that user alone".to_string(),
        )
    } else {
        return None;
    };
    Some((message, help))
}

#[cold]
fn unknown_group_help(ld: &mut Loader<'_>, names: &Names<'_>, g: &str) -> String {
    let policy = ld.policy;
    let p = &policy.ir;
    // A near miss is most likely a typo, even when the name is also a role or a unit.
    if let Some(help) = ld.mean(g, p.groups.iter().map(|x| x.name.as_str())) {
        return help;
    }
    if let Some(&role) = names.ix.roles.get(g) {
        if let Some(help) = ld.role_help.get(&role) {
            return help.clone();
        }
        // Finding the granting groups scans the policy: once for each role named.
        let granting: Vec<&str> = p
            .groups
            .iter()
            .filter(|x| x.grants.iter().any(|r| r.idx() == role as usize))
            .map(|x| x.name.as_str())
            .collect();
        let help = if granting.is_empty() {
            format!("`{g}` is a role, not an access group, and no access group grants it")
        } else {
            format!(
                "`{g}` is a role, not an access group; it is granted by {}",
                list(granting)
            )
        };
        ld.role_help.insert(role, help.clone());
        return help;
    }
    if let Some(what) = names.describe(g) {
        if names.units.contains_key(g) {
            return format!("`{g}` is {what}; list it in `units`, not `groups`");
        }
        return format!("`{g}` is {what}, not an access group");
    }
    if p.groups.is_empty() {
        "the policy declares no access groups".to_string()
    } else {
        format!(
            "the policy declares the access groups {}",
            list(p.groups.iter().map(|x| x.name.as_str()))
        )
    }
}

/// `parent` names a resource of the wrong kind.
#[cold]
fn wrong_parent_kind(
    ld: &mut Loader<'_>,
    who: Who<'_>,
    kind: KindId,
    pid: &str,
    want: KindId,
    found: Option<KindId>,
    found_name: &str,
) {
    let p = &ld.policy.ir;
    let (kname, wname) = (&p.kinds[kind.idx()].name, &p.kinds[want.idx()].name);
    let message = format!(
        "parent `{pid}` is {}, but {} needs {} parent",
        a_kind(found_name),
        a_kind(kname),
        a_kind(wname)
    );
    // Is the parent found higher up the chain of kinds, so that a resource is missing between?
    // Kinds' parents form no cycle (the checker rejects one), so this walk ends.
    let mut above = p.kinds[want.idx()].parent;
    let mut skipped = false;
    while let Some(k) = above {
        if Some(k) == found {
            skipped = true;
            break;
        }
        above = p.kinds[k.idx()].parent;
    }
    let help = if skipped {
        format!(
            "{} goes under {}, not directly under {}; set `parent` to the id of {} below `{pid}`",
            a_kind(kname),
            a_kind(wname),
            a_kind(found_name),
            a_kind(wname)
        )
    } else {
        format!("set `parent` to the id of {}", a_kind(wname))
    };
    ld.err(who, "parent", message, help);
}

/// `parent` on a resource whose kind has no parent kind.
#[cold]
fn parent_not_allowed(
    ld: &mut Loader<'_>,
    who: Who<'_>,
    kind: KindId,
    pid: &str,
    names: &Names<'_>,
) {
    let p = &ld.policy.ir;
    let kdef = &p.kinds[kind.idx()];
    let (message, help) = if kdef.is_case {
        (
            format!("`{}` is the case kind, the top of every chain of resources, so a case cannot have a parent", kdef.name),
            format!("remove `parent`; to link one case to another, declare an attribute of type `ref {}` on `{}`", kdef.name, kdef.name),
        )
    } else {
        let under = names
            .resources
            .get(pid)
            .and_then(|&i| names.kinds_of.get(i as usize).copied().flatten());
        let declare = match under {
            Some(k) => format!(
                "declare it as `resource {} under {}`",
                kdef.name,
                p.kinds[k.idx()].name
            ),
            None => "declare it with `under`".to_string(),
        };
        (
            format!(
                "kind `{}` is declared without `under`, so {} cannot have a parent",
                kdef.name,
                a_kind(&kdef.name)
            ),
            format!("remove `parent`, or {declare} in the policy"),
        )
    };
    ld.err(who, "parent", message, help);
}

/// What is wrong with a JSON number that is not an `i64`, and how to fix it. The number's text
/// is gone, and a float's rendering may not be what was written, so it is described, not shown.
#[cold]
fn int_problem(n: &serde_json::Number) -> (String, String) {
    const TWO_63: f64 = 9_223_372_036_854_775_808.0;
    const TWO_53: f64 = 9_007_199_254_740_992.0;
    if let Some(u) = n.as_u64() {
        // Only integers above i64::MAX get here as u64; their text is exactly this.
        return (
            format!("`{u}` is too large"),
            "use a number in that range".to_string(),
        );
    }
    let f = n.as_f64().unwrap_or(f64::NAN);
    if f == 0.0 && f.is_sign_negative() {
        // JSON parsers read `-0` as the float minus zero, as they read `-0.0`: casepol cannot
        // tell them apart, so it accepts neither, and says so rather than blame a fraction.
        return (
            "the value is minus zero (`-0`)".into(),
            "write it as `0`".into(),
        );
    }
    if !f.is_finite() || f.fract() != 0.0 {
        if f.abs() < TWO_63 {
            return (
                "the value has a fraction".into(),
                "round it to a whole number".into(),
            );
        }
        return (
            "the value is out of range".into(),
            "use a number in that range".into(),
        );
    }
    if f > -TWO_63 && f < TWO_63 {
        // A whole number in range that is not an i64 was written with `.` or an exponent.
        let help = if f.abs() <= TWO_53 {
            format!("write it as `{}`", f as i64)
        } else {
            "write it as plain digits".into()
        };
        return (
            "the value is written with a fraction or an exponent".into(),
            help,
        );
    }
    if f == -TWO_63 {
        // Either below -2^63 and rounded to it, or -2^63 itself written with `.` or an exponent.
        return (
            "the value is out of range, or is written with a fraction or an exponent".into(),
            "write a number in that range as plain digits".into(),
        );
    }
    (
        "the value is out of range".into(),
        "use a number in that range".into(),
    )
}

/// Reports an access-code string that does not parse, quoting at most its start.
#[cold]
fn code_error(
    ld: &mut Loader<'_>,
    who: Who<'_>,
    field: &str,
    text: &str,
    e: &access_code::CodeError,
) {
    /// Longer strings are quoted in part.
    const SHOWN: usize = 60;
    let quoted = if text.len() <= SHOWN {
        format!("{text:?}")
    } else {
        let mut end = SHOWN;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        format!("{:?} ({} bytes)", format!("{}…", &text[..end]), text.len())
    };
    let at = text.get(..e.offset).map_or(e.offset, |t| t.chars().count()) + 1;
    let help = if e.limit {
        format!(
            "an access code has at most {} levels, each of at most {} codes of at most {} bytes; the problem is at character {at}",
            limits::MAX_CODE_LEVELS,
            limits::MAX_LEVEL_CODES,
            limits::MAX_ID_BYTES
        )
    } else {
        format!("write codes as `A|B` or `[A|B] & [C]`; the problem is at character {at}")
    };
    ld.err(
        who,
        field,
        format!("invalid access code {quoted}: {}", e.message),
        help,
    );
}

/// A string attribute value, or element `k` of one, holds a bidirectional control character.
#[cold]
fn bidi_value(ld: &mut Loader<'_>, who: Who<'_>, name: &str, k: Option<usize>, c: char) {
    let what = match k {
        Some(k) => format!("element {} of `{name}`", k + 1),
        None => format!("the value of `{name}`"),
    };
    ld.err(
        who,
        &format!("attrs.{name}"),
        format!(
            "{what} contains the bidirectional control character U+{:04X}",
            u32::from(c)
        ),
        "remove it: it makes text display in another order than it is stored, so a value could look like another".to_string(),
    );
}

fn convert(
    ld: &mut Loader<'_>,
    who: Who<'_>,
    name: &str,
    ty: Type,
    v: &serde_json::Value,
    names: &Names<'_>,
) -> Option<AttrValue> {
    use serde_json::Value as J;
    let field = format!("attrs.{name}");
    let p = names.ir;
    let out = match (ty, v) {
        (Type::Str, J::String(s)) => {
            if let Some(c) = bidi_control(s) {
                bidi_value(ld, who, name, None, c);
                return None;
            }
            AttrValue::Sym(ld.sym(s))
        }
        (Type::Bool, J::Bool(b)) => AttrValue::Bool(*b),
        (Type::Int, J::Number(n)) => match n.as_i64() {
            Some(i) => AttrValue::Int(i),
            None => {
                let (what, help) = int_problem(n);
                let message = format!("`{name}` must be a whole number written without a fraction or exponent, between {} and {}, but {what}", i64::MIN, i64::MAX);
                ld.err(who, &field, message, help);
                return None;
            }
        },
        (Type::SetStr, J::Array(items)) => {
            let mut out = Vec::with_capacity(items.len());
            for (k, it) in items.iter().enumerate() {
                match it {
                    J::String(s) if has_bidi_control(s) => {
                        bidi_value(ld, who, name, Some(k), bidi_control(s).unwrap_or(' '));
                        return None;
                    }
                    J::String(s) => out.push(ld.sym(s)),
                    _ => {
                        let help = match it {
                            J::Number(n) if n.is_i64() || n.is_u64() => {
                                format!("write it in quotes: `\"{n}\"`")
                            }
                            J::Bool(b) => format!("write it in quotes: `\"{b}\"`"),
                            _ => format!("write every element of `{name}` as a string"),
                        };
                        ld.err(
                            who,
                            &field,
                            format!(
                                "element {} of `{name}` is {}; every element must be a string",
                                k + 1,
                                json_kind(it)
                            ),
                            help,
                        );
                        return None;
                    }
                }
            }
            out.sort_unstable();
            out.dedup();
            AttrValue::Set(out.into())
        }
        (Type::RefUser, J::String(s)) => match names.users.get(s) {
            Some(&u) => AttrValue::User(u),
            None => {
                let help = match names.describe(s) {
                    Some(what) => format!("`{s}` is {what}; `{name}` holds a user id"),
                    None => ld
                        .suggest_id(s, names.users.len(), names.users.keys().map(String::as_str))
                        .unwrap_or_else(|| format!("add a user with id `{s}` to `users`")),
                };
                ld.err(who, &field, format!("unknown user `{s}`"), help);
                return None;
            }
        },
        (Type::Ref(k), J::String(s)) => {
            let want = a_kind(&p.kinds[k.idx()].name);
            match names.resources.get(s) {
                Some(&r) if names.kinds_of.get(r as usize).copied().flatten() == Some(k) => {
                    AttrValue::Resource(r)
                }
                Some(&r) => {
                    let message = match names.kinds_of.get(r as usize).copied().flatten() {
                        Some(found) => format!(
                            "`{s}` is not {want}; it is {}",
                            a_kind(&p.kinds[found.idx()].name)
                        ),
                        None => format!("`{s}` is not {want}"),
                    };
                    ld.err(
                        who,
                        &field,
                        message,
                        format!("set `{name}` to the id of {want}"),
                    );
                    return None;
                }
                None => {
                    let help = match names.describe(s) {
                        Some(what) => format!("`{s}` is {what}; `{name}` holds the id of {want}"),
                        None => ld
                            .suggest_id(s, names.resources.len(), names.of_kind(k))
                            .unwrap_or_else(|| format!("add {want} with id `{s}` to `resources`, or use the id of {want} in the file")),
                    };
                    ld.err(who, &field, format!("unknown resource `{s}`"), help);
                    return None;
                }
            }
        }
        (Type::Enum(e), J::String(s)) => {
            let def = &p.enums[e.idx()];
            match names.ix.variants[e.idx()].get(s.as_str()) {
                Some(&i) => AttrValue::Variant(i),
                None => {
                    let help = ld
                        .mean(s, def.variants.iter().map(String::as_str))
                        .unwrap_or_else(|| {
                            format!(
                                "`{}` is one of {}",
                                def.name,
                                list(def.variants.iter().map(String::as_str))
                            )
                        });
                    ld.err(
                        who,
                        &field,
                        format!("`{s}` is not a variant of `{}`", def.name),
                        help,
                    );
                    return None;
                }
            }
        }
        _ => {
            let want = p.type_name(ty);
            let help = match (ty, v) {
                (Type::Int, J::String(s)) if s.parse::<i64>().is_ok() => {
                    format!("write it without quotes: `{s}`")
                }
                (Type::Bool, J::String(s)) if s == "true" || s == "false" => {
                    format!("write it without quotes: `{s}`")
                }
                (Type::SetStr, J::String(_)) => format!("write it as an array of strings: `[{v}]`"),
                (Type::Str, J::Number(n)) if n.is_i64() || n.is_u64() => {
                    format!("write it in quotes: `\"{n}\"`")
                }
                (Type::Str, _) => format!("write `{name}` as a string in double quotes"),
                (Type::Bool, _) => "write `true` or `false`".to_string(),
                (Type::Int, _) => "write a whole number, such as `42`".to_string(),
                (Type::SetStr, _) => {
                    format!("write `{name}` as an array of strings, such as `[\"a\", \"b\"]`")
                }
                (Type::RefUser, _) => format!("set `{name}` to the id of a user, in double quotes"),
                (Type::Ref(k), _) => format!(
                    "set `{name}` to the id of {}, in double quotes",
                    a_kind(&p.kinds[k.idx()].name)
                ),
                (Type::Enum(e), _) => format!(
                    "set `{name}` to one of {}",
                    list(p.enums[e.idx()].variants.iter().map(String::as_str))
                ),
            };
            ld.err(
                who,
                &field,
                format!(
                    "attribute `{name}` has type {want}, but the value is {}",
                    json_kind(v)
                ),
                help,
            );
            return None;
        }
    };
    Some(out)
}

/// Diagnosing entity files that do not deserialise, on the error path only.
///
/// The typed parse stops at its first error and says little. Once it has failed, the text is
/// checked again: first that it is JSON at all, then the top level, then each unit, user and
/// resource on its own, so that every failing element is reported, by its id (or its place in
/// the file) and its field, with a line and column.
mod structure {
    use super::{did_you_mean, list, EntityError, Ir, RawResource, RawUnit, RawUser};
    use crate::json_pos::{self, Kind, Lines, Member};
    use crate::limits;
    use serde_json::Value;
    use std::collections::HashSet;
    use std::ops::Range;

    /// The JSON a field must hold, as the `Raw*` structs deserialise it.
    #[derive(Clone, Copy)]
    enum Shape {
        /// A string.
        Str,
        /// A string or `null`.
        OptStr,
        /// An access-code string: a string, never `null` (left out, it is no own code).
        Code,
        /// `true`, `false` or `null`.
        OptBool,
        /// An array of strings.
        Strings,
        /// An object of any values.
        Object,
        /// An object of arrays of strings.
        Relations,
    }

    struct Section {
        key: &'static str,
        what: &'static str,
        fields: &'static [(&'static str, Shape)],
        required: &'static [&'static str],
    }

    const SECTIONS: [Section; 3] = [
        Section {
            key: "units",
            what: "unit",
            fields: &[("id", Shape::Str), ("parent", Shape::OptStr)],
            required: &["id"],
        },
        Section {
            key: "users",
            what: "user",
            fields: &[
                ("id", Shape::Str),
                ("groups", Shape::Strings),
                ("units", Shape::Strings),
                ("terms", Shape::Strings),
                ("attrs", Shape::Object),
            ],
            required: &["id"],
        },
        Section {
            key: "resources",
            what: "resource",
            fields: &[
                ("id", Shape::Str),
                ("kind", Shape::Str),
                ("parent", Shape::OptStr),
                ("type", Shape::OptStr),
                ("state", Shape::OptStr),
                ("attrs", Shape::Object),
                ("relations", Shape::Relations),
                ("read", Shape::Code),
                ("write", Shape::Code),
                ("inherit_read", Shape::OptBool),
                ("inherit_write", Shape::OptBool),
            ],
            required: &["id", "kind"],
        },
    ];

    /// The typed parse's error for one element, if it fails on its own.
    fn element_error(section: &str, text: &str) -> Option<serde_json::Error> {
        match section {
            "units" => serde_json::from_str::<RawUnit>(text).err(),
            "users" => serde_json::from_str::<RawUser>(text).err(),
            _ => serde_json::from_str::<RawResource>(text).err(),
        }
    }

    /// serde's message without its " at line L column C".
    fn bare_message(e: &serde_json::Error) -> String {
        let text = e.to_string();
        let suffix = format!(" at line {} column {}", e.line(), e.column());
        text.strip_suffix(&suffix).unwrap_or(&text).to_string()
    }

    fn syntax_error(e: &serde_json::Error) -> EntityError {
        let message = bare_message(e);
        let help = if e.is_eof() {
            "the text ends before the JSON does; close every open string, `[` and `{`".to_string()
        } else {
            match message.as_str() {
                "trailing comma" => "remove the comma after the last element".into(),
                "key must be a string" => "write object keys in double quotes".into(),
                "expected value" => "write a JSON value here: a string in double quotes, a number, `true`, `false`, `null`, an array or an object".into(),
                "expected `,` or `]`" | "expected `,` or `}`" => "separate elements with `,`, and close every `[` and `{` that is opened".into(),
                "expected `:`" => "separate each key from its value with `:`".into(),
                "trailing characters" => "the file holds more than one JSON value; remove everything after the closing `}`".into(),
                m if m.starts_with("control character") => "write line breaks and tabs in strings as `\\n` and `\\t`".into(),
                _ => "the entities file must be valid JSON; see docs/data-formats.md §1".into(),
            }
        };
        // At the end of a line serde reports column 0; the error is at the first column of the next.
        EntityError {
            message,
            entity: None,
            position: None,
            field: None,
            help: Some(help),
            line: Some(e.line()),
            column: Some(e.column().max(1)),
        }
    }

    /// JSON text already known to be valid, and the line and column of its byte offsets.
    struct Scan<'a> {
        json: &'a str,
        lines: Lines<'a>,
    }

    impl<'a> Scan<'a> {
        fn new(json: &'a str) -> Scan<'a> {
            Scan {
                json,
                lines: Lines::new(json),
            }
        }

        /// The text of a value; empty if the range is not one.
        fn text(&self, range: Range<usize>) -> &'a str {
            self.json.get(range).unwrap_or_default()
        }

        /// The kind of the value starting at `at`.
        fn kind(&self, at: usize) -> Kind {
            json_pos::kind(self.json, at)
        }

        /// Where the `k`-th element of the array at `at` starts, if it has one.
        fn element(&self, at: usize, k: usize) -> Option<usize> {
            json_pos::elements(self.json, at).nth(k).map(|r| r.start)
        }

        fn error(
            &self,
            at: usize,
            name: &Name,
            field: Option<&str>,
            message: String,
            help: String,
        ) -> EntityError {
            let (line, column) = self.lines.line_col(at);
            EntityError {
                message,
                entity: name.entity.clone(),
                position: name.position.clone(),
                field: field.map(str::to_string),
                help: Some(help),
                line: Some(line),
                column: Some(column),
            }
        }
    }

    /// How an error names the element it is in.
    #[derive(Default)]
    struct Name {
        entity: Option<String>,
        position: Option<String>,
    }

    /// Every structural problem in `json`, given the typed parse's first error.
    #[cold]
    #[inline(never)]
    pub(super) fn diagnose(p: &Ir, json: &str, first: serde_json::Error) -> Vec<EntityError> {
        if first.is_syntax() || first.is_eof() {
            return vec![syntax_error(&first)];
        }
        if let Err(e) = serde_json::from_str::<serde::de::IgnoredAny>(json) {
            return vec![syntax_error(&e)];
        }
        let sc = Scan::new(json);
        let top = json_pos::ws(json, 0);
        let none = Name::default();
        if sc.kind(top) != Kind::Object {
            let message = format!(
                "the entities file must be a JSON object, found {}",
                sc.kind(top).name()
            );
            let help = "write it as `{\"units\": [ … ], \"users\": [ … ], \"resources\": [ … ]}`; each array is optional".to_string();
            return vec![sc.error(top, &none, None, message, help)];
        }
        let mut out = Vec::new();
        let mut seen = HashSet::new();
        for e in json_pos::members(json, top) {
            if !seen.insert(e.key.clone()) {
                let help = format!("merge the two `{}` arrays into one", e.key);
                out.push(sc.error(
                    e.key_range.start,
                    &none,
                    Some(&e.key),
                    format!("the top level has `{}` twice", e.key),
                    help,
                ));
                continue;
            }
            let Some(section) = SECTIONS.iter().find(|s| s.key == e.key) else {
                let help =
                    did_you_mean(&e.key, SECTIONS.iter().map(|s| s.key)).unwrap_or_else(|| {
                        "the top level has only `units`, `users` and `resources`".to_string()
                    });
                out.push(sc.error(
                    e.key_range.start,
                    &none,
                    Some(&e.key),
                    format!("unknown top-level field `{}`", e.key),
                    help,
                ));
                continue;
            };
            let at = e.value.start;
            if sc.kind(at) != Kind::Array {
                let message = format!(
                    "`{}` must be an array of {} objects, found {}",
                    e.key,
                    section.what,
                    sc.kind(at).name()
                );
                let help = if sc.kind(at) == Kind::Object {
                    format!("put the object in an array: `\"{}\": [{{ … }}]`", e.key)
                } else {
                    format!("write `\"{}\": [ … ]`, or leave `{}` out", e.key, e.key)
                };
                out.push(sc.error(at, &none, Some(&e.key), message, help));
                continue;
            }
            for (i, element) in json_pos::elements(json, at).enumerate() {
                check_element(p, &sc, section, i, element, &mut out);
            }
        }
        if out.is_empty() {
            // Nothing more specific found: report what the typed parse said.
            out.push(EntityError {
                message: bare_message(&first),
                entity: None,
                position: None,
                field: None,
                help: Some("the entities file is one JSON object with optional `units`, `users` and `resources` arrays; see docs/data-formats.md §1".into()),
                line: Some(first.line()),
                column: Some(first.column().max(1)),
            });
        }
        out
    }

    /// Reports what is wrong with element `i` of a section, if it fails to deserialise.
    fn check_element(
        p: &Ir,
        sc: &Scan<'_>,
        s: &Section,
        i: usize,
        element: Range<usize>,
        out: &mut Vec<EntityError>,
    ) {
        let at = element.start;
        let text = sc.text(element);
        let Some(typed) = element_error(s.key, text) else {
            return;
        };
        let before = out.len();
        let place = format!("{} #{}", s.what, i + 1);
        if sc.kind(at) != Kind::Object {
            let name = Name {
                entity: None,
                position: Some(place),
            };
            let help = if sc.kind(at) == Kind::String {
                format!("write it as an object: `{{\"id\": {text}}}`")
            } else {
                format!(
                    "write each {} as an object, such as `{{\"id\": \"…\"}}`",
                    s.what
                )
            };
            out.push(sc.error(
                at,
                &name,
                None,
                format!(
                    "a {} must be a JSON object, found {}",
                    s.what,
                    sc.kind(at).name()
                ),
                help,
            ));
            return;
        }
        let entries: Vec<Member> = json_pos::members(sc.json, at).collect();
        let id = entries
            .iter()
            .rev()
            .find(|e| e.key == "id")
            .and_then(|e| json_pos::string(sc.json, e.value.start))
            .map(|(id, _)| id);
        let name = match id.filter(|id| !id.is_empty()) {
            Some(id) => Name {
                entity: Some(id),
                position: None,
            },
            None => Name {
                entity: None,
                position: Some(place),
            },
        };
        // Missing fields first: they are located at the element's start.
        for &required in s.required {
            if !entries.iter().any(|e| e.key == required) {
                let help = match required {
                    "kind" if p.kinds.is_empty() => {
                        "the policy declares no resource kinds".to_string()
                    }
                    "kind" => format!(
                        "set `kind` to one of {}",
                        list(p.kinds.iter().map(|k| k.name.as_str()))
                    ),
                    _ => format!(
                        "give the {} an id that no other unit, user or resource has",
                        s.what
                    ),
                };
                out.push(sc.error(
                    at,
                    &name,
                    Some(required),
                    format!("missing field `{required}`"),
                    help,
                ));
            }
        }
        let mut seen = HashSet::new();
        for e in &entries {
            if !seen.insert(e.key.as_str()) {
                out.push(sc.error(
                    e.key_range.start,
                    &name,
                    Some(&e.key),
                    format!("`{}` appears twice", e.key),
                    format!("keep one `{}`", e.key),
                ));
                continue;
            }
            let Some(&(_, shape)) = s.fields.iter().find(|(f, _)| *f == e.key) else {
                let help =
                    did_you_mean(&e.key, s.fields.iter().map(|(f, _)| *f)).unwrap_or_else(|| {
                        format!(
                            "a {} has the fields {}",
                            s.what,
                            list(s.fields.iter().map(|(f, _)| *f))
                        )
                    });
                out.push(sc.error(
                    e.key_range.start,
                    &name,
                    Some(&e.key),
                    format!("unknown field `{}`", e.key),
                    help,
                ));
                continue;
            };
            let value_at = e.value.start;
            if matches!(shape, Shape::Object | Shape::Relations)
                && sc.kind(value_at) == Kind::Object
            {
                let count = json_pos::members(sc.json, value_at).count();
                if count > limits::MAX_ENTITY_ATTRS {
                    let what = match shape {
                        Shape::Object => "attributes",
                        _ => "relations",
                    };
                    out.push(sc.error(
                        value_at,
                        &name,
                        Some(&e.key),
                        format!(
                            "`{}` has {count} keys, more than the limit of {}",
                            e.key,
                            limits::MAX_ENTITY_ATTRS
                        ),
                        format!("give only the {what} the policy declares"),
                    ));
                    continue;
                }
                let mut keys = HashSet::new();
                for inner in json_pos::members(sc.json, value_at) {
                    if !keys.insert(inner.key.clone()) {
                        out.push(sc.error(
                            inner.key_range.start,
                            &name,
                            Some(&e.key),
                            format!("`{}` has the key `{}` twice", e.key, inner.key),
                            format!("keep one `{}`", inner.key),
                        ));
                    }
                }
            }
            let Ok(value) = serde_json::from_str::<Value>(sc.text(e.value.clone())) else {
                continue;
            };
            for problem in check_shape(&e.key, shape, &value) {
                let where_ = match &problem.inside {
                    Inside::Value => value_at,
                    Inside::Element(k) => sc.element(value_at, *k).unwrap_or(value_at),
                    Inside::Key(key, element) => {
                        let entry = json_pos::members(sc.json, value_at)
                            .filter(|x| &x.key == key)
                            .last();
                        match (entry.map(|x| x.value.start), element) {
                            (Some(x), Some(k)) => sc.element(x, *k).unwrap_or(x),
                            (Some(x), None) => x,
                            (None, _) => value_at,
                        }
                    }
                };
                out.push(sc.error(
                    where_,
                    &name,
                    Some(&problem.field),
                    problem.message,
                    problem.help,
                ));
            }
        }
        if out.len() == before {
            // The shape checks missed it: report serde's own message, placed in the file.
            let (line, column) = sc.lines.line_col(at);
            let (line, column) = if typed.line() <= 1 {
                (line, column + typed.column().saturating_sub(1))
            } else {
                (line + typed.line() - 1, typed.column().max(1))
            };
            out.push(EntityError {
                message: bare_message(&typed),
                entity: name.entity,
                position: name.position,
                field: None,
                help: Some(format!(
                    "see the fields of a {} in docs/data-formats.md §1",
                    s.what
                )),
                line: Some(line),
                column: Some(column),
            });
        }
    }

    /// Where in a field's value a problem is.
    enum Inside {
        Value,
        /// The k-th element of an array.
        Element(usize),
        /// The value under a key of an object, or the k-th element of that value.
        Key(String, Option<usize>),
    }

    struct Problem {
        field: String,
        message: String,
        help: String,
        inside: Inside,
    }

    fn problem(field: &str, message: String, help: String, inside: Inside) -> Problem {
        Problem {
            field: field.to_string(),
            message,
            help,
            inside,
        }
    }

    fn check_shape(f: &str, shape: Shape, v: &Value) -> Vec<Problem> {
        let kind = super::json_kind(v);
        let mut out = Vec::new();
        match (shape, v) {
            (Shape::Str, Value::String(_)) | (Shape::OptStr, Value::String(_) | Value::Null) => {}
            (Shape::Str | Shape::OptStr, _) => {
                let help = match v {
                    Value::Number(n) if n.is_i64() || n.is_u64() => {
                        format!("write it in quotes: `\"{n}\"`")
                    }
                    _ if matches!(shape, Shape::OptStr) => {
                        format!("write `{f}` as a string in double quotes, or leave it out")
                    }
                    _ => format!("write `{f}` as a string in double quotes"),
                };
                out.push(problem(
                    f,
                    format!("`{f}` must be a string, found {kind}"),
                    help,
                    Inside::Value,
                ));
            }
            (Shape::Code, Value::String(_)) => {}
            (Shape::Code, _) => {
                let help = if v.is_null() {
                    format!("leave `{f}` out for no access code of its own, or write `\"\"`; `null` is refused so that a missing value cannot open a resource")
                } else {
                    format!("write `{f}` as an access-code string in double quotes, such as `\"[A|B] & [C]\"`")
                };
                out.push(problem(
                    f,
                    format!("`{f}` must be an access-code string, found {kind}"),
                    help,
                    Inside::Value,
                ));
            }
            (Shape::OptBool, Value::Bool(_) | Value::Null) => {}
            (Shape::OptBool, _) => {
                let help = match v.as_str() {
                    Some(s @ ("true" | "false")) => format!("write it without quotes: `{s}`"),
                    _ => format!("write `true` or `false`, or leave `{f}` out"),
                };
                out.push(problem(
                    f,
                    format!("`{f}` must be `true` or `false`, found {kind}"),
                    help,
                    Inside::Value,
                ));
            }
            (Shape::Strings, Value::Array(items)) => {
                if let Some((k, it)) = items.iter().enumerate().find(|(_, it)| !it.is_string()) {
                    let message = format!(
                        "element {} of `{f}` is {}; every element must be a string",
                        k + 1,
                        super::json_kind(it)
                    );
                    let help = match it {
                        Value::Number(n) if n.is_i64() || n.is_u64() => {
                            format!("write it in quotes: `\"{n}\"`")
                        }
                        _ => format!("write every element of `{f}` as a string in double quotes"),
                    };
                    out.push(problem(f, message, help, Inside::Element(k)));
                }
            }
            (Shape::Strings, _) => {
                let help = match v {
                    Value::Null => format!("write `[]`, or leave `{f}` out"),
                    Value::String(_) => format!("write it as an array: `[{v}]`"),
                    _ => format!("write `{f}` as an array of strings, such as `[\"a\", \"b\"]`"),
                };
                out.push(problem(
                    f,
                    format!("`{f}` must be an array of strings, found {kind}"),
                    help,
                    Inside::Value,
                ));
            }
            (Shape::Object, Value::Object(_)) => {}
            (Shape::Object, _) => {
                let help = if v.is_null() {
                    format!("write `{{}}`, or leave `{f}` out")
                } else {
                    format!("write `{f}` as an object of names and values, such as `{{\"<name>\": <value>}}`")
                };
                out.push(problem(
                    f,
                    format!("`{f}` must be an object, found {kind}"),
                    help,
                    Inside::Value,
                ));
            }
            (Shape::Relations, Value::Object(map)) => {
                for (rel, users) in map {
                    let field = format!("{f}.{rel}");
                    match users {
                        Value::Array(items) => {
                            if let Some((k, it)) =
                                items.iter().enumerate().find(|(_, it)| !it.is_string())
                            {
                                let message = format!("element {} of `{field}` is {}; every element must be a user id, as a string", k + 1, super::json_kind(it));
                                out.push(problem(
                                    &field,
                                    message,
                                    "write every user id in double quotes".into(),
                                    Inside::Key(rel.clone(), Some(k)),
                                ));
                            }
                        }
                        _ => {
                            let help = match users {
                                Value::String(_) => format!("write it as an array: `[{users}]`"),
                                _ => "list the user ids in an array, such as `[\"<user id>\"]`"
                                    .into(),
                            };
                            let message = format!(
                                "`{field}` must be an array of user ids, found {}",
                                super::json_kind(users)
                            );
                            out.push(problem(
                                &field,
                                message,
                                help,
                                Inside::Key(rel.clone(), None),
                            ));
                        }
                    }
                }
            }
            (Shape::Relations, _) => {
                let message = format!("`{f}` must be an object from relation names to arrays of user ids, found {kind}");
                let help = if v.is_null() {
                    format!("write `{{}}`, or leave `{f}` out")
                } else {
                    "write it as an object such as `{\"<relation>\": [\"<user id>\"]}`".into()
                };
                out.push(problem(f, message, help, Inside::Value));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use crate::api::Policy;
    use crate::diagnostic::work;

    /// Suggestions while loading share one budget: a 60 KB unknown user id against 10,000 users
    /// is compared with none of them, and ten thousand near misses cost no more than the budget.
    #[test]
    fn suggestions_while_loading_are_budgeted() {
        let policy = Policy::from_source(
            "p.casepol",
            "role R;\naction view;\ncase Case { relation owner; }\ncasetype T { states S; initial S; }\nallow owner: view;",
        )
        .unwrap();
        let users: Vec<String> = (0..10_000)
            .map(|i| format!(r#"{{"id": "user{i:05}"}}"#))
            .collect();
        let case = |i: usize, owner: &str| {
            format!(
                r#"{{"id": "c{i}", "kind": "Case", "type": "T", "state": "S", "relations": {{"owner": ["{owner}"]}}}}"#
            )
        };
        let huge = "u".repeat(60 * 1024);
        let json = format!(
            r#"{{"users": [{}], "resources": [{}]}}"#,
            users.join(","),
            case(0, &huge)
        );
        work::take();
        let errors = policy.load_entities(&json).unwrap_err();
        assert_eq!(work::take(), 0);
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].field.as_deref(), Some("relations.owner"));
        assert_eq!(
            errors[0].help.as_deref(),
            Some(format!("add a user with id `{huge}` to `users`").as_str())
        );
        // A thousand typos, each near one user: the first are suggested, and the work of all
        // of them together stays within the load's budget.
        let cases: Vec<String> = (0..1_000).map(|i| case(i, &format!("usr{i:05}"))).collect();
        let json = format!(
            r#"{{"users": [{}], "resources": [{}]}}"#,
            users.join(","),
            cases.join(",")
        );
        let errors = policy.load_entities(&json).unwrap_err();
        let spent = work::take();
        assert_eq!(errors.len(), 1_000);
        assert_eq!(errors[0].help.as_deref(), Some("did you mean `user00000`?"));
        assert!(spent <= crate::limits::LOAD_SUGGEST_WORK, "{spent}");
        assert!(
            errors.last().is_some_and(
                |e| e.help.as_deref() == Some("add a user with id `usr00999` to `users`")
            ),
            "{:?}",
            errors.last()
        );
    }
}
