-- The relational layout that `casepol filter --dialect postgres` writes queries for.
-- docs/queries.md describes it; the SQLite version is docs/schema.sqlite.sql.
--
-- The database holds the resources of an entities file (docs/data-formats.md): one row per
-- resource, its attribute values, the users holding each relation on a case, and the codes of
-- its own access codes. Users, groups and units stay with casepol: `casepol filter` reads them
-- from the entities file and binds the principal's codes as one parameter, a text[].
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
