; Folds: every braced block.
[
  (module_declaration)
  (group_declaration)
  (filter)
  (enum_declaration)
  (user_declaration)
  (case_declaration)
  (resource_declaration)
  (mode_declaration)
  (codes_declaration)
  (context_declaration)
  (casetype_declaration)
  (module_grant)
  (table)
] @fold
