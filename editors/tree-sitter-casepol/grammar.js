/**
 * @file A tree-sitter grammar for casepol policy files (`.casepol`).
 *
 * grammar/casepol.pest at the repository root is the single source of truth for the syntax; this
 * file follows it rule for rule (the pest rule each node mirrors is named beside it), reserved
 * words included. check.sh proves every `.casepol` file of the repository that casepol itself
 * parses also parses here, without an error node.
 */

/// <reference types="tree-sitter-cli/dsl" />
// @ts-check

// The line breaks that end a comment (and may not appear in a string): the pest grammar's list.
const LINE_BREAK = '\\n\\r\\u000B\\u000C\\u0085\\u2028\\u2029';

/**
 * One or more `rule`, separated by commas.
 * @param {RuleOrLiteral} rule
 */
function commaSep1(rule) {
  return seq(rule, repeat(seq(',', rule)));
}

module.exports = grammar({
  name: 'casepol',

  // Keyword extraction: a keyword is a word that is valid as a keyword where it stands, and a
  // name elsewhere (`data`, `roles`, `any`, `when`, `and`, `not`, `is` and `context` are words
  // only in their places in the pest grammar too).
  word: $ => $.identifier,

  // pest's `keyword`: these are never a name. The words that are keywords only in their places
  // (above) are not in the list.
  reserved: {
    global: _ => [
      'permission', 'transition', 'principal', 'assigned', 'casetype', 'contains', 'everyone',
      'relation', 'requires', 'resource', 'actions', 'inherit', 'initial', 'permits', 'records',
      'require', 'action', 'filter', 'grants', 'module', 'states', 'allow', 'codes', 'false',
      'final', 'group', 'scope', 'table', 'under', 'attr', 'case', 'deny', 'enum', 'mode', 'role',
      'true', 'user', 'all', 'ref', 'set', 'via', 'by', 'in',
    ],
  },

  extras: $ => [
    // pest's WHITESPACE.
    new RegExp(`[ \\t\\uFEFF${LINE_BREAK}]`),
    $.comment,
  ],

  rules: {
    // policy
    source_file: $ => repeat($._item),

    _item: $ => choice(
      $.role_declaration,
      $.action_group,
      $.action_declaration,
      $.permission_declaration,
      $.module_declaration,
      $.group_declaration,
      $.enum_declaration,
      $.user_declaration,
      $.case_declaration,
      $.resource_declaration,
      $.casetype_declaration,
      $.codes_declaration,
      $.require_declaration,
      $.context_declaration,
      $.rule,
    ),

    // ---- lexical ----------------------------------------------------------

    // COMMENT: `//` to the end of the line.
    comment: _ => token(seq('//', new RegExp(`[^${LINE_BREAK}]*`))),

    // ident
    identifier: _ => /[A-Za-z_][A-Za-z0-9_]*/,

    // string, string_inner
    string: $ => seq(
      '"',
      repeat(choice($.string_content, $.escape_sequence)),
      token.immediate('"'),
    ),
    string_content: _ => token.immediate(prec(1, new RegExp(`[^"\\\\${LINE_BREAK}]+`))),
    escape_sequence: _ => token.immediate(seq('\\', /["\\nt]/)),

    // int
    integer: _ => /-?[0-9]+/,

    // bool_lit
    boolean: _ => choice('true', 'false'),

    // star
    star: _ => '*',

    // ---- vocabulary -------------------------------------------------------

    // role_decl
    role_declaration: $ => seq('role', commaSep1(field('name', $.identifier)), ';'),

    // action_decl, requires_clause
    action_declaration: $ => seq(
      'action',
      commaSep1(field('name', $.identifier)),
      optional($.requires_clause),
      ';',
    ),
    requires_clause: $ => seq('requires', field('permission', $.identifier)),

    // action_group
    action_group: $ => seq(
      'actions',
      field('name', $.identifier),
      '=',
      commaSep1(field('action', $.identifier)),
      ';',
    ),

    // permission_decl
    permission_declaration: $ => seq('permission', commaSep1(field('name', $.identifier)), ';'),

    // require_decl
    require_declaration: _ => seq('require', 'group', ';'),

    // module_decl
    module_declaration: $ => seq(
      'module',
      field('name', $.identifier),
      '{',
      repeat(choice($.module_actions, $.module_records, $.module_data)),
      '}',
    ),
    module_actions: $ => seq('actions', commaSep1($.identifier), ';'),
    module_records: $ => seq('records', commaSep1($.identifier), ';'),
    module_data: $ => seq('data', 'roles', commaSep1($.identifier), ';'),

    // enum_decl
    enum_declaration: $ => seq(
      'enum',
      field('name', $.identifier),
      '{',
      commaSep1(field('variant', $.identifier)),
      optional(','),
      '}',
    ),

    // ---- access groups ----------------------------------------------------

    // group_decl, group_parent
    group_declaration: $ => seq(
      'group',
      field('name', $.identifier),
      optional(seq('in', field('parent', $.identifier))),
      '{',
      repeat(choice($.grants, $.permits, $.scope)),
      '}',
    ),
    grants: $ => seq('grants', commaSep1($.identifier), ';'),
    permits: $ => seq('permits', commaSep1($.identifier), ';'),

    // scope, scope_all, scope_assigned, scope_filter, filter_mode
    scope: $ => seq('scope', choice(
      seq('all', ';'),
      seq('assigned', 'via', commaSep1($.identifier), ';'),
      $.filter,
    )),
    filter: $ => seq(
      'filter',
      optional(field('mode', choice('any', 'all'))),
      '{',
      repeat(seq($.condition, ';')),
      '}',
    ),

    // condition, cond_eq, cond_ne, cond_contains, cond_in, operand
    condition: $ => seq(
      field('attribute', $.identifier),
      choice(
        seq(field('operator', choice('==', '!=')), field('value', choice($.principal, $._literal))),
        seq(field('operator', 'contains'), field('value', $._literal)),
        seq(field('operator', 'in'), $.literal_list),
      ),
    ),
    principal: _ => 'principal',
    literal_list: $ => seq('[', commaSep1($._literal), ']'),

    // literal
    _literal: $ => choice($.string, $.integer, $.boolean, $.identifier),

    // ---- resources --------------------------------------------------------

    // user_decl
    user_declaration: $ => seq('user', '{', repeat($.attribute_declaration), '}'),

    // case_decl
    case_declaration: $ => seq(
      'case',
      field('name', $.identifier),
      '{',
      repeat(choice($.attribute_declaration, $.relation_declaration, $.mode_declaration, $.rule)),
      '}',
    ),

    // resource_decl, kind_parent
    resource_declaration: $ => seq(
      'resource',
      field('name', $.identifier),
      optional(seq('under', field('parent', $.identifier))),
      '{',
      repeat(choice($.attribute_declaration, $.relation_declaration, $.inherit_declaration, $.rule)),
      '}',
    ),

    // attr_decl
    attribute_declaration: $ => seq(
      'attr',
      field('name', $.identifier),
      ':',
      field('type', $._type),
      ';',
    ),

    // type_expr, type_set, type_ref
    _type: $ => choice($.set_type, $.ref_type, alias($.identifier, $.type_identifier)),
    set_type: $ => seq('set', '<', alias($.identifier, $.type_identifier), '>'),
    ref_type: $ => seq('ref', alias($.identifier, $.type_identifier)),

    // relation_decl
    relation_declaration: $ => seq('relation', commaSep1(field('name', $.identifier)), ';'),

    // inherit_decl
    inherit_declaration: $ => seq('inherit', commaSep1($.identifier), ';'),

    // mode_decl, mode_arm
    mode_declaration: $ => seq('mode', field('name', $.identifier), '{', repeat($.mode_arm), '}'),
    mode_arm: $ => seq(
      field('mode', $.identifier),
      ':',
      choice($.everyone, commaSep1($.identifier)),
      ';',
    ),
    everyone: _ => 'everyone',

    // codes_decl, codes_class
    codes_declaration: $ => seq('codes', '{', repeat($.codes_class), '}'),
    codes_class: $ => seq(field('class', $.identifier), ':', $.action_list, ';'),

    // context_decl, context_field
    context_declaration: $ => seq('context', '{', repeat($.context_field), '}'),
    context_field: $ => seq(field('name', $.identifier), ':', field('type', $._type), ';'),

    // ---- case types -------------------------------------------------------

    // casetype_decl, casetype_item
    casetype_declaration: $ => seq(
      'casetype',
      field('name', $.identifier),
      '{',
      repeat(choice(
        $.states_declaration,
        $.initial_declaration,
        $.final_declaration,
        $.transition,
        $.module_grant,
        $.table,
        $.rule,
      )),
      '}',
    ),
    states_declaration: $ => seq('states', commaSep1(field('name', $.identifier)), ';'),
    initial_declaration: $ => seq('initial', field('state', $.identifier), ';'),
    final_declaration: $ => seq('final', commaSep1(field('state', $.identifier)), ';'),

    // transition
    transition: $ => seq(
      'transition',
      field('action', $.identifier),
      ':',
      commaSep1(field('from', $.identifier)),
      '->',
      field('to', $.identifier),
      'by',
      $.subject_list,
      ';',
    ),

    // module_grant, module_line
    module_grant: $ => seq('module', field('name', $.identifier), '{', repeat($.module_line), '}'),
    module_line: $ => seq($.subject_list, ':', $.action_list, ';'),

    // ---- rules and tables -------------------------------------------------

    // rule, effect, rule_states
    rule: $ => seq(
      field('effect', choice('allow', 'deny')),
      $.subject_list,
      ':',
      $.action_list,
      optional($.rule_states),
      optional($.rule_when),
      ';',
    ),
    rule_states: $ => seq('in', commaSep1($.identifier)),

    // subject_list, subject
    subject_list: $ => commaSep1(choice($.everyone, $.identifier)),

    // action_list, action_ref
    action_list: $ => commaSep1(choice($.star, $.identifier)),

    // rule_when
    rule_when: $ => seq('when', $.term, repeat(seq('and', $.term))),

    // term, term_is, term_in, term_contains, term_cmp, term_bool, cmp_op
    term: $ => seq(
      optional('not'),
      choice(
        seq($.principal, 'is', field('role', $.identifier)),
        seq(field('left', $.path), 'in', $.literal_list),
        seq(field('left', $.path), field('operator', 'contains'), field('right', $._term_value)),
        seq(field('left', $.path), field('operator', choice('==', '!=', '<=', '>=', '<', '>')),
          field('right', $._term_value)),
        field('left', $.path),
      ),
    ),
    // term_value: `context` is no reserved word, so it is a name unless a `.` follows.
    _term_value: $ => choice($.path, $._literal, alias('context', $.identifier)),

    // path, path_root
    path: $ => choice(
      seq(
        field('root', choice($.principal, 'resource', 'case', 'context')),
        '.',
        field('field', $.identifier),
      ),
      $.principal,
    ),

    // table, table_header, table_row, cell, empty_cell, cell_entry, cell_sign
    table: $ => seq('table', '{', $.table_header, repeat($.table_row), '}'),
    table_header: $ => repeat1(seq('|', choice($.everyone, $.identifier))),
    table_row: $ => seq(field('state', $.identifier), repeat1(seq('|', $.cell))),
    cell: $ => choice($.empty_cell, repeat1($.cell_entry)),
    empty_cell: _ => '.',
    // A sign and the action it grants or takes are written together: `+view`, `-*`.
    cell_entry: $ => seq(
      field('sign', choice('+', '-')),
      field('action', choice(
        alias(token.immediate('*'), $.star),
        alias(token.immediate(/[A-Za-z_][A-Za-z0-9_]*/), $.identifier),
      )),
    ),
  },
});
