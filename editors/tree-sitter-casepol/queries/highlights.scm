; Highlights for casepol (.casepol). Captures follow the names Neovim, Helix and Zed share.

(comment) @comment

; A string in the form of a datetime (docs/data-formats.md §1.5) is read as one where a datetime
; is compared; casepol has no other datetime literal.
((string) @string.special
  (#match? @string.special "^\"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{1,9})?([Zz]|[+-][0-9]{2}:[0-9]{2})\"$"))
((string) @string
  (#not-match? @string "^\"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{1,9})?([Zz]|[+-][0-9]{2}:[0-9]{2})\"$"))
(escape_sequence) @string.escape
(integer) @number
(boolean) @boolean

; Keywords of the declarations and clauses. `data`, `roles`, `any`, `when`, `and`, `not`, `is`
; and `context` are words only in their places; there they are keywords too.
[
  "role"
  "action"
  "actions"
  "permission"
  "requires"
  "require"
  "module"
  "records"
  "data"
  "roles"
  "enum"
  "group"
  "grants"
  "permits"
  "scope"
  "all"
  "assigned"
  "via"
  "filter"
  "any"
  "user"
  "case"
  "resource"
  "under"
  "attr"
  "relation"
  "inherit"
  "mode"
  "codes"
  "context"
  "casetype"
  "states"
  "initial"
  "final"
  "transition"
  "by"
  "table"
] @keyword

; The effect of a rule.
[
  "allow"
  "deny"
] @keyword.control

; Words of a condition.
[
  "when"
  "and"
  "not"
  "in"
  "is"
  "contains"
] @keyword.operator

(principal) @variable.builtin
(everyone) @constant.builtin
(star) @constant.builtin
(empty_cell) @punctuation.special

[
  "set"
  "ref"
] @type.builtin

((type_identifier) @type.builtin
  (#any-of? @type.builtin "string" "bool" "int" "datetime"))
((type_identifier) @type
  (#not-any-of? @type "string" "bool" "int" "datetime"))

; Declared names.
(role_declaration name: (identifier) @type)
(permission_declaration name: (identifier) @constant)
(action_declaration name: (identifier) @function)
(action_group name: (identifier) @function)
(requires_clause permission: (identifier) @constant)
(module_declaration name: (identifier) @module)
(module_grant name: (identifier) @module)
(enum_declaration name: (identifier) @type)
(enum_declaration variant: (identifier) @constant)
(group_declaration name: (identifier) @type)
(group_declaration parent: (identifier) @type)
(case_declaration name: (identifier) @type)
(resource_declaration name: (identifier) @type)
(resource_declaration parent: (identifier) @type)
(casetype_declaration name: (identifier) @type)
(attribute_declaration name: (identifier) @property)
(context_field name: (identifier) @property)
(relation_declaration name: (identifier) @property)
(condition attribute: (identifier) @property)
(path field: (identifier) @property)
(path root: _ @variable.builtin)
(states_declaration name: (identifier) @constant)
(initial_declaration state: (identifier) @constant)
(final_declaration state: (identifier) @constant)
(transition action: (identifier) @function)
(transition from: (identifier) @constant)
(transition to: (identifier) @constant)
(table_row state: (identifier) @constant)
(rule_states (identifier) @constant)
(action_list (identifier) @function)
(cell_entry action: (identifier) @function)
(cell_entry sign: _ @operator)

[
  "=="
  "!="
  "<="
  ">="
  "<"
  ">"
  "->"
  "="
] @operator

[
  ";"
  ","
  ":"
] @punctuation.delimiter

(path "." @punctuation.delimiter)

[
  "{"
  "}"
  "["
  "]"
] @punctuation.bracket

"|" @punctuation.special
