//! Built-in limits. Each keeps a hostile or broken input from costing unbounded time, memory or
//! stack; going over one is a clear error, never a crash or an allow. docs/limits.md lists them.

/// The largest policy source file, in bytes.
pub const MAX_POLICY_FILE_BYTES: usize = 16 * 1024 * 1024;
/// The longest message `casepol lsp` reads: twice the largest policy file, for JSON's escapes,
/// and 1 MiB more. A longer message is skipped without being kept.
pub const MAX_LSP_MESSAGE_BYTES: usize = 2 * MAX_POLICY_FILE_BYTES + 1024 * 1024;
/// The most tokens (words, numbers, strings and marks) in one policy file, counted before the
/// parser runs: the parser keeps a record of every token, about 160 bytes each.
pub const MAX_TOKENS: usize = 2_000_000;
/// The most syntax errors reported for one file; parsing stops after that many.
pub const MAX_SYNTAX_ERRORS: usize = 100;
/// The most declarations (top-level items and the members of their blocks) in one policy.
pub const MAX_DECLARATIONS: usize = 200_000;
/// The most roles plus relations in one policy: role sets are 256-bit masks.
pub const MAX_SUBJECTS: usize = 256;
/// The most actions in one policy: action sets are 256-bit masks.
pub const MAX_ACTIONS: usize = 256;
/// The most account permissions in one policy: permission sets are 256-bit masks.
pub const MAX_PERMISSIONS: usize = 256;
/// The most attributes one resource kind, or the `user` blocks together, may declare.
pub const MAX_ATTRS: usize = 1_000;
/// The most fields the `context` blocks of a policy may declare together.
pub const MAX_CONTEXT_FIELDS: usize = 256;
/// The most terms of one rule's condition (`when t1 and t2 …`).
pub const MAX_CONDITION_TERMS: usize = 32;
/// The longest condition a query is asked with (`casepol list --where`, `filter --where`,
/// `query::Condition`), in bytes. Its terms are bounded by [`MAX_CONDITION_TERMS`] too.
pub const MAX_WHERE_BYTES: usize = 16 * 1024;
/// The most strings of one `set<string>` field of a request's context.
pub const MAX_CONTEXT_SET_ITEMS: usize = 1024;
/// The most slots of each compiled lookup table: kinds × actions, case-type states × actions,
/// and case types × modules × actions, each on its own.
pub const MAX_TABLE_SLOTS: usize = 1_000_000;
/// The most (rule, action, state) entries the rules and module grants expand to: a rule counts
/// its actions times the states it applies in (one for a rule outside a case type), a module
/// grant line its actions. Compiling and linting cost this much.
pub const MAX_RULE_ENTRIES: usize = 4_000_000;
/// The most errors the checker reports for one policy; it counts the rest in one more error.
pub const MAX_CHECK_ERRORS: usize = 1_000;
/// The most warnings of one code reported for one policy; the rest are counted in one more
/// warning of that code. A policy that makes thousands of the same warning has one mistake
/// repeated, and rendering them all would cost more than the check.
pub const MAX_WARNINGS_PER_CODE: usize = 500;
/// How much work the checker spends on "did you mean" help for one policy, in the units of
/// [`SUGGEST_WORK`] (a candidate looked at, a cell of the distance table computed). Past it,
/// help shows an example declaration instead.
pub const SUGGESTION_BUDGET: usize = 50_000_000;
/// The most steps one lint spends on what can grow with the square of the policy: comparing
/// candidate rules (CP0203), looking for the denies to mark (CP0204), testing groups whose full
/// access takes several roles (CP0208). Past it, that lint says nothing more.
pub const MAX_LINT_COMPARISONS: usize = 20_000_000;
/// The longest chain of access groups, each `in` the next.
pub const MAX_GROUP_DEPTH: usize = 32;
/// The longest chain of resource kinds, each `under` the next.
pub const MAX_KIND_DEPTH: usize = 32;
/// The largest residual condition partial evaluation builds for one question (`filter`), in
/// the units of `Cond::size`: conditions plus the kinds, states, values and relations they list.
/// Building one costs about this much; past it, the question is an error.
pub const MAX_RESIDUAL_SIZE: usize = 4_000_000;
/// The deepest nesting of a residual condition the SQL writer reads (`filter`): it recurses
/// once per level, so a deeper condition is refused before it is read. Residuals of policies
/// nest far less (the grammar has no recursive rule; kinds chain at most [`MAX_KIND_DEPTH`]).
pub const MAX_COND_NESTING: usize = 256;
/// The deepest nesting of a `filter` statement, as SQLite counts it (one level per operator of
/// an `AND` or `OR` chain, and per subquery around a condition): SQLite refuses expressions
/// deeper than 1,000 by default. Wide chains are grouped, so only a residual nested this deep
/// itself reaches it.
pub const MAX_SQL_DEPTH: usize = 1_000;
/// The most parameters a SQLite statement of `filter` binds: SQLite's default limit
/// (`SQLITE_MAX_VARIABLE_NUMBER`, since 3.32).
pub const MAX_SQLITE_PARAMS: usize = 32_766;
/// The most parameters a PostgreSQL statement of `filter` binds: the wire protocol counts them
/// in 16 bits.
pub const MAX_POSTGRES_PARAMS: usize = 65_535;
/// The most subqueries (`EXISTS`, `IN (SELECT …)`) in one `filter` statement. PostgreSQL plans
/// each apart, at about 100 KB of memory each: 2,000 kinds that differ make 4,000 and about
/// 400 MB, and 40,000 made it ask for more than 20 GB.
pub const MAX_SQL_SUBQUERIES: usize = 10_000;

/// The largest policy made of several files (a directory), in bytes of all its files together.
pub const MAX_POLICY_BYTES: usize = 64 * 1024 * 1024;
/// The most files in one policy (the `.casepol` files of a directory).
pub const MAX_POLICY_FILES: usize = 4096;
/// The deepest a directory is walked below the one named (every command that takes a directory
/// walks it by one rule, `files::walk`).
pub const MAX_WALK_DEPTH: usize = 64;
/// The most files one directory argument of `fmt` or `test` stands for.
pub const MAX_WALK_FILES: usize = 100_000;
/// The longest name (identifier) in a policy, in characters.
pub const MAX_NAME_CHARS: usize = 256;
/// The most characters a column is padded to when text is aligned in columns (`fmt` tables,
/// `casepol actions`): a longer cell is written as it is and does not widen its column, so
/// padding never costs more than this per cell.
pub const MAX_ALIGN_CHARS: usize = 40;
/// The most diagnostics shown with their source in one run of a command (human output); the
/// rest are counted in one line. JSON, SARIF and GitHub output hold every diagnostic.
pub const MAX_SHOWN_DIAGNOSTICS: usize = 100;
/// The most labels (source locations) shown for one diagnostic (human output); the rest are
/// counted in a note.
pub const MAX_SHOWN_LABELS: usize = 8;
/// Source lines longer than this, in characters, are shown in a diagnostic only around its
/// labels, with `…` for what is left out.
pub const MAX_SHOWN_LINE_CHARS: usize = 160;
/// How many characters of a long source line are shown on each side of a label's start and end.
pub const SHOWN_CONTEXT_CHARS: usize = 40;

/// The largest entities file, in bytes.
pub const MAX_ENTITIES_BYTES: usize = 1024 * 1024 * 1024;
/// The most entities (units, users and resources together) in one entities file.
pub const MAX_ENTITIES: usize = 16_000_000;
/// The longest chain of org units, each the `parent` of the one before.
pub const MAX_UNIT_DEPTH: usize = 64;
/// The longest entity id (unit, user or resource), term, or code in an access-code string, in
/// bytes.
pub const MAX_ID_BYTES: usize = 1024;
/// The most levels in one access-code string (`[A] & [B]` has two).
pub const MAX_CODE_LEVELS: usize = 64;
/// The most codes in one level of an access-code string (`[A|B]` has two).
pub const MAX_LEVEL_CODES: usize = 1024;
/// The most keys in one `attrs` object of a user or a resource.
pub const MAX_ENTITY_ATTRS: usize = 1024;
/// The longest name, in characters, that "did you mean" looks for near misses of; a longer
/// name gets no suggestion.
pub const MAX_SUGGEST_CHARS: usize = 64;
/// The most work one "did you mean" may do: candidates looked at plus cells of the distance
/// table computed. Once it is spent, the closest candidate found so far is the suggestion.
pub const SUGGEST_WORK: usize = 4_000_000;
/// The most work all the "did you mean" of one entities load may do together, in the units of
/// [`SUGGEST_WORK`]; walking a list of entity ids costs one unit an id. Once it is spent, errors
/// come without suggestions, so a file with very many errors still fails fast.
pub const LOAD_SUGGEST_WORK: usize = 20_000_000;

/// The most hints `explain` tries for one request: each is a change to a copy of the
/// principal or of the anchor case (a group, a unit, a term, a relation) decided again by the
/// VM, so explaining a deny costs at most this many decisions more.
pub const MAX_HINT_CANDIDATES: usize = 16;
/// The most hints `explain` shows for one layer, the smallest changes that allow first.
pub const MAX_SHOWN_HINTS: usize = 3;
/// The most strings of a set attribute `explain` shows when it says why a scope filter does
/// not admit a case; the rest are counted.
pub const MAX_SHOWN_SET_ITEMS: usize = 8;

/// The largest request, in bytes of JSON: one `--request`, or one line of a `--requests` batch.
pub const MAX_REQUEST_BYTES: usize = 64 * 1024;

/// A byte count for messages: `16 MiB`, `64 KiB`, `16777221 bytes` (exact unless round).
pub fn bytes(n: usize) -> String {
    const KIB: usize = 1024;
    const MIB: usize = 1024 * 1024;
    const GIB: usize = 1024 * 1024 * 1024;
    match n {
        n if n >= GIB && n % GIB == 0 => format!("{} GiB", n / GIB),
        n if n >= MIB && n % MIB == 0 => format!("{} MiB", n / MIB),
        n if n >= KIB && n % KIB == 0 => format!("{} KiB", n / KIB),
        n => format!("{n} bytes"),
    }
}

/// The largest change set (one line of a changes file), in bytes.
pub const MAX_CHANGE_SET_BYTES: usize = 64 * 1024 * 1024;
/// The most changes in one change set.
pub const MAX_CHANGES: usize = 100_000;

/// Units one change set may add, move or delete in place (docs/data-formats.md §4.1): each copies the
/// list of units, so more than a few would make applying quadratic; a change set writing more is
/// applied by reloading, which is linear.
pub const MAX_UNITS_ADDED_IN_PLACE: usize = 16;
/// Users one change set may delete in place in a policy with `ref User` attributes
/// (docs/data-formats.md §4.1): each deletion reads every attribute, so more than a few would
/// make applying quadratic; a change set deleting more is applied by reloading, which is linear.
pub const MAX_USERS_DELETED_WITH_REFS_IN_PLACE: usize = 16;
/// The most (user, resource) pairs one change set may reach. Each is decided before and after
/// for every action and module, so a change set that would reach more is refused, not applied.
pub const MAX_EVENT_PAIRS: usize = 2_000_000;

// ---- `casepol serve` (docs/server.md) ------------------------------------------------------

/// The largest body of a decision request to the server: `/v1/check` (a batch included),
/// `/v1/explain` and the queries. A change set and a policy have their own limits
/// ([`MAX_CHANGE_SET_BYTES`], [`MAX_POLICY_FILE_BYTES`]).
pub const MAX_SERVE_BODY_BYTES: usize = 8 * 1024 * 1024;
/// The most requests in one batch of `/v1/check`.
pub const MAX_SERVE_BATCH: usize = 10_000;
/// The deepest nesting of arrays and objects in a body the server reads, checked by a linear
/// scan before the body is parsed.
pub const MAX_SERVE_JSON_DEPTH: usize = 64;
/// The most resources on one page of `/v1/list`.
pub const MAX_SERVE_PAGE: usize = 10_000;
/// The change sets an events subscriber may fall behind by; past that it misses the oldest and
/// is told how many it missed. Writers never wait for a subscriber.
pub const MAX_SERVE_EVENTS_BEHIND: usize = 1_024;
/// The most subscribers of `/v1/events` at once.
pub const MAX_SERVE_SUBSCRIBERS: usize = 256;
/// Decision-log lines waiting to be written; past that, new lines are dropped and counted.
pub const MAX_SERVE_LOG_QUEUE: usize = 65_536;
/// The most connections served at once; more wait to be accepted.
pub const MAX_SERVE_CONNECTIONS: usize = 1_024;
/// Seconds a client has to send a request's headers.
pub const SERVE_HEADER_SECS: u64 = 10;
/// Seconds a client has to send a request's body.
pub const SERVE_BODY_SECS: u64 = 30;
/// Seconds a decision request (`/v1/check`, `/v1/explain`, the queries) may take once its body
/// is read; past that it is answered 503 and nothing is decided for it.
pub const SERVE_DECIDE_SECS: u64 = 30;
/// Seconds the requests in flight have to finish after SIGTERM.
pub const SERVE_SHUTDOWN_SECS: u64 = 30;

#[cfg(test)]
mod tests {
    #[test]
    fn byte_counts_read_well() {
        assert_eq!(super::bytes(16 * 1024 * 1024), "16 MiB");
        assert_eq!(super::bytes(64 * 1024), "64 KiB");
        assert_eq!(super::bytes(812), "812 bytes");
        // Not rounded: a count just over a limit must not read as equal to it.
        assert_eq!(super::bytes(16 * 1024 * 1024 + 5), "16777221 bytes");
    }
}
