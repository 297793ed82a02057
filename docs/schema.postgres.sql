-- The relational layout that `casepol filter --dialect postgres` writes queries for.
-- docs/queries.md describes it; the SQLite version is docs/schema.sqlite.sql.
--
-- The database holds the resources of an entities file (docs/data-formats.md): one row per
-- resource, its attribute values, the users holding each relation on a case, and the codes of
-- its own access codes. The filter's query reads no user, group or unit: `casepol filter` reads
-- them from the entities it is given (a file, or the tables of users and units further down,
-- which hold the rest of an entities file: docs/database.md) and binds the principal's codes as one
-- parameter, a text[].
--
-- Every column holding a resource id has the collation "C": ids sort by bytes, as `list` sorts
-- them, and one collation for all of them lets joins between them use the indexes.

CREATE TABLE resources (
  id            TEXT COLLATE "C" PRIMARY KEY, -- "C": ORDER BY id is `list`'s byte order
  kind          TEXT NOT NULL,             -- a kind declared with `case` or `resource`
  parent_id     TEXT COLLATE "C" REFERENCES resources (id),
  case_type     TEXT,                      -- on cases only
  state         TEXT,                      -- on cases only
  inherit_read  BOOLEAN NOT NULL DEFAULT TRUE,
  inherit_write BOOLEAN NOT NULL DEFAULT TRUE
);
CREATE INDEX resources_parent ON resources (parent_id);
CREATE INDEX resources_kind ON resources (kind, id);

-- Attribute values as text: strings as they are, integers in decimal (`-7`), booleans as
-- `true`/`false`, enum values by variant name, references by id, datetimes in UTC with six
-- digits of fraction (`2026-01-31T09:30:00.000000Z`: every one the same length, so they sort as
-- the instants do, compared byte by byte); a set has one row per element
-- (none when empty), every other attribute exactly one row.
CREATE TABLE resource_attrs (
  resource_id TEXT COLLATE "C" NOT NULL REFERENCES resources (id),
  name        TEXT NOT NULL,
  value       TEXT NOT NULL,
  PRIMARY KEY (resource_id, name, value)
);
CREATE INDEX resource_attrs_value ON resource_attrs (name, value, resource_id);

-- Who holds each relation (assignee, collaborator, subject, ...) on each case, and each
-- relation of a resource kind (an issue's reporter) on each resource of that kind: `case_id` is
-- the id of the case or resource that lists the user.
CREATE TABLE case_relations (
  case_id  TEXT COLLATE "C" NOT NULL REFERENCES resources (id),
  relation TEXT NOT NULL,
  user_id  TEXT NOT NULL,
  PRIMARY KEY (case_id, user_id, relation)
);
CREATE INDEX case_relations_user ON case_relations (user_id, relation, case_id);

-- The access groups each relation lists (`relation_groups`): their members hold it. Read only
-- when the entities list a group in some relation.
CREATE TABLE relation_groups (
  resource_id TEXT COLLATE "C" NOT NULL REFERENCES resources (id),
  relation    TEXT NOT NULL,
  group_name  TEXT NOT NULL,
  PRIMARY KEY (resource_id, relation, group_name)
);
CREATE INDEX relation_groups_group ON relation_groups (group_name, relation, resource_id);

-- A resource's own access codes: one row per code of each non-empty level. `level` numbers the
-- levels of the code string from 0 (`[BB|AA] & [ ] & [PERS]` gives BB and AA at level 0 and
-- PERS at level 2). An empty level restricts nothing and has no row.
CREATE TABLE access_codes (
  resource_id TEXT COLLATE "C" NOT NULL REFERENCES resources (id),
  class       TEXT NOT NULL CHECK (class IN ('read', 'write')),
  level       INTEGER NOT NULL,
  code        TEXT NOT NULL,
  PRIMARY KEY (resource_id, class, level, code)
);
CREATE INDEX access_codes_code ON access_codes (class, code, resource_id, level);

-- The rest of an entities file, so that the database can be the system of record
-- (`--entities postgres://…`, `casepol db`, docs/database.md). Values are text as in
-- resource_attrs; the ids of the same entity in every table are compared as bytes.

-- A resource's own access code ends with empty levels that have no row in access_codes, such as
-- `[A] & [ ]`: the number of its levels. Without a row, a code has the levels up to its highest
-- one with a row (one empty level when it has none).
CREATE TABLE access_code_levels (
  resource_id TEXT COLLATE "C" NOT NULL REFERENCES resources (id),
  class       TEXT NOT NULL CHECK (class IN ('read', 'write')),
  levels      INTEGER NOT NULL,
  PRIMARY KEY (resource_id, class)
);

-- Org units (docs/data-formats.md §1.2).
CREATE TABLE units (
  id        TEXT COLLATE "C" PRIMARY KEY,
  parent_id TEXT COLLATE "C"
);

-- Users (§1.3), their access groups, units, terms and attribute values.
CREATE TABLE users (
  id TEXT COLLATE "C" PRIMARY KEY
);
CREATE TABLE user_groups (
  user_id    TEXT COLLATE "C" NOT NULL REFERENCES users (id),
  group_name TEXT NOT NULL,
  PRIMARY KEY (user_id, group_name)
);
CREATE TABLE user_units (
  user_id TEXT COLLATE "C" NOT NULL REFERENCES users (id),
  unit_id TEXT COLLATE "C" NOT NULL,
  PRIMARY KEY (user_id, unit_id)
);
CREATE TABLE user_terms (
  user_id TEXT COLLATE "C" NOT NULL REFERENCES users (id),
  term    TEXT COLLATE "C" NOT NULL,
  PRIMARY KEY (user_id, term)
);
CREATE TABLE user_attrs (
  user_id TEXT COLLATE "C" NOT NULL REFERENCES users (id),
  name    TEXT NOT NULL,
  value   TEXT NOT NULL,
  PRIMARY KEY (user_id, name, value)
);

-- Following changes (`casepol serve --entities postgres://…`, docs/database.md §7): every
-- insert, update and delete of a row above records the entity the row belongs to, with the
-- transaction that wrote it, and notifies `casepol_changes`. A server applies each committed
-- transaction's entities as one change set. The application may delete rows of transactions
-- every server has applied (docs/database.md §7.3).
CREATE TABLE change_log (
  seq    BIGSERIAL PRIMARY KEY,
  txid   xid8 NOT NULL DEFAULT pg_current_xact_id(),
  entity TEXT NOT NULL CHECK (entity IN ('unit', 'user', 'resource')),
  id     TEXT COLLATE "C" NOT NULL
);
CREATE INDEX change_log_txid ON change_log (txid);

-- TG_ARGV: the entity ('unit', 'user', 'resource') and the column holding its id. A row moved
-- to another entity records both.
CREATE FUNCTION casepol_log() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  old_id TEXT;
  new_id TEXT;
BEGIN
  IF TG_OP <> 'INSERT' THEN old_id := to_jsonb(OLD) ->> TG_ARGV[1]; END IF;
  IF TG_OP <> 'DELETE' THEN new_id := to_jsonb(NEW) ->> TG_ARGV[1]; END IF;
  INSERT INTO change_log (entity, id) VALUES (TG_ARGV[0], COALESCE(new_id, old_id));
  IF old_id IS DISTINCT FROM new_id AND old_id IS NOT NULL AND new_id IS NOT NULL THEN
    INSERT INTO change_log (entity, id) VALUES (TG_ARGV[0], old_id);
  END IF;
  PERFORM pg_notify('casepol_changes', '');
  RETURN NULL;
END
$$;

CREATE TRIGGER units_log AFTER INSERT OR UPDATE OR DELETE ON units
  FOR EACH ROW EXECUTE FUNCTION casepol_log('unit', 'id');
CREATE TRIGGER users_log AFTER INSERT OR UPDATE OR DELETE ON users
  FOR EACH ROW EXECUTE FUNCTION casepol_log('user', 'id');
CREATE TRIGGER user_groups_log AFTER INSERT OR UPDATE OR DELETE ON user_groups
  FOR EACH ROW EXECUTE FUNCTION casepol_log('user', 'user_id');
CREATE TRIGGER user_units_log AFTER INSERT OR UPDATE OR DELETE ON user_units
  FOR EACH ROW EXECUTE FUNCTION casepol_log('user', 'user_id');
CREATE TRIGGER user_terms_log AFTER INSERT OR UPDATE OR DELETE ON user_terms
  FOR EACH ROW EXECUTE FUNCTION casepol_log('user', 'user_id');
CREATE TRIGGER user_attrs_log AFTER INSERT OR UPDATE OR DELETE ON user_attrs
  FOR EACH ROW EXECUTE FUNCTION casepol_log('user', 'user_id');
CREATE TRIGGER resources_log AFTER INSERT OR UPDATE OR DELETE ON resources
  FOR EACH ROW EXECUTE FUNCTION casepol_log('resource', 'id');
CREATE TRIGGER resource_attrs_log AFTER INSERT OR UPDATE OR DELETE ON resource_attrs
  FOR EACH ROW EXECUTE FUNCTION casepol_log('resource', 'resource_id');
CREATE TRIGGER case_relations_log AFTER INSERT OR UPDATE OR DELETE ON case_relations
  FOR EACH ROW EXECUTE FUNCTION casepol_log('resource', 'case_id');
CREATE TRIGGER relation_groups_log AFTER INSERT OR UPDATE OR DELETE ON relation_groups
  FOR EACH ROW EXECUTE FUNCTION casepol_log('resource', 'resource_id');
CREATE TRIGGER access_codes_log AFTER INSERT OR UPDATE OR DELETE ON access_codes
  FOR EACH ROW EXECUTE FUNCTION casepol_log('resource', 'resource_id');
CREATE TRIGGER access_code_levels_log AFTER INSERT OR UPDATE OR DELETE ON access_code_levels
  FOR EACH ROW EXECUTE FUNCTION casepol_log('resource', 'resource_id');
