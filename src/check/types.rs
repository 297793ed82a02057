//! Types: the enums a policy declares, the type of an attribute as written, and the literals
//! compared with an attribute in a filter.

use super::names::Sort;
use super::Checker;
use crate::ast::{self, Item, LiteralKind, TypeExpr};
use crate::diagnostic::words;
use crate::diagnostic::{Code, Diagnostic, Span};
use crate::ir::*;
use std::collections::HashMap;

impl Checker {
    /// The enums, in declaration order, each with its variants by name.
    pub(super) fn enums(&mut self, items: &[&Item], p: &mut Policy) {
        self.variant_index = vec![HashMap::new(); self.enums.order.len()];
        p.enums = self
            .enums
            .order
            .iter()
            .map(|n| EnumDef {
                name: n.clone(),
                span: self.enums.map[n].1,
                variants: Vec::new(),
            })
            .collect();
        for item in items {
            if let Item::Enum { name, variants } = item {
                let idx = self.enums.get(&name.name).unwrap_or(0) as usize;
                let mut seen: HashMap<&str, Span> = HashMap::new();
                for v in variants {
                    if let Some(prev) = seen.insert(&v.name, v.span) {
                        self.error(
                            Diagnostic::new(
                                Code::Duplicate,
                                v.span,
                                format!("variant `{}` is listed twice", v.name),
                            )
                            .with_secondary(prev, "first listed here")
                            .with_help("remove the repeated variant"),
                        );
                    }
                }
                let mut names: Vec<String> = Vec::new();
                let mut index: HashMap<String, u32> = HashMap::new();
                for v in variants {
                    if !index.contains_key(&v.name) {
                        index.insert(v.name.clone(), names.len() as u32);
                        names.push(v.name.clone());
                    }
                }
                p.enums[idx].variants = names;
                self.variant_index[idx] = index;
            }
        }
    }

    pub(super) fn type_expr(&mut self, t: &TypeExpr, _p: &Policy) -> Option<Type> {
        const BUILTIN: [&str; 4] = ["string", "bool", "int", "datetime"];
        match t {
            TypeExpr::Named(id) => match id.name.as_str() {
                "string" => Some(Type::Str),
                "bool" => Some(Type::Bool),
                "int" => Some(Type::Int),
                "datetime" => Some(Type::DateTime),
                "set" => {
                    self.error(
                        Diagnostic::new(Code::Undefined, id.span, "`set` needs an element type")
                            .with_help("write `set<string>`"),
                    );
                    None
                }
                name => {
                    if let Some(e) = self.enums.get(name) {
                        Some(Type::Enum(EnumId(e)))
                    } else if self.kinds.get(name).is_some() {
                        self.error(
                            Diagnostic::new(
                                Code::WrongSort,
                                id.span,
                                format!("`{name}` is a resource kind, not a value type"),
                            )
                            .with_help(format!("to refer to a `{name}`, write `ref {name}`")),
                        );
                        None
                    } else {
                        let cands = BUILTIN.iter().copied().chain(self.enums.candidates());
                        let help = self.did_you_mean(name, cands).unwrap_or_else(|| "the types are `string`, `bool`, `int`, `datetime`, `set<string>`, `ref Kind`, `ref User` and declared enums".into());
                        self.error(
                            Diagnostic::new(
                                Code::Undefined,
                                id.span,
                                format!("unknown type `{name}`"),
                            )
                            .with_help(help),
                        );
                        None
                    }
                }
            },
            TypeExpr::Set(el) => {
                if el.name == "string" {
                    Some(Type::SetStr)
                } else {
                    self.error(
                        Diagnostic::new(
                            Code::TypeMismatch,
                            el.span,
                            format!("sets of `{}` are not supported", el.name),
                        )
                        .with_help("only `set<string>` is supported"),
                    );
                    None
                }
            }
            TypeExpr::Ref(target) => {
                if target.name == "User" {
                    Some(Type::RefUser)
                } else {
                    let cands = ["User"];
                    if let Some(k) = self.kinds.get(&target.name) {
                        Some(Type::Ref(KindId(k)))
                    } else {
                        self.unresolved(target, &[Sort::Kind], &cands);
                        None
                    }
                }
            }
        }
    }

    /// The value `l` as a value of `attr`'s type, in a condition whose operator is `op`
    /// (`==`, `!=` or `in`) of a filter whose conditions must all hold (`all`) or not; a
    /// mistyped value is reported with a condition that can be written.
    pub(super) fn value(
        &mut self,
        l: &ast::Literal,
        attr: &AttrDef,
        op: &str,
        all: bool,
        p: &Policy,
    ) -> Option<Value> {
        let v = match (&l.kind, attr.ty) {
            (LiteralKind::Str(s), Type::Str) => Value::Str(s.clone()),
            (LiteralKind::Int(i), Type::Int) => Value::Int(*i),
            (LiteralKind::Bool(b), Type::Bool) => Value::Bool(*b),
            (LiteralKind::Str(s), Type::DateTime) => match crate::datetime::parse(s) {
                Ok(t) => Value::DateTime(t),
                Err(e) => {
                    self.error(
                        Diagnostic::new(
                            Code::TypeMismatch,
                            l.span,
                            format!(
                                "`{}` has type `datetime`, and `{}` is not one: {e}",
                                attr.name,
                                quote(s)
                            ),
                        )
                        .with_secondary(attr.span, format!("`{}` is declared here", attr.name))
                        .with_help(format!(
                            "write an RFC 3339 date and time in quotes, with its offset: `\"{}\"`",
                            crate::datetime::EXAMPLE
                        )),
                    );
                    return None;
                }
            },
            (LiteralKind::Name(n), Type::Enum(e)) => {
                let def = &p.enums[e.idx()];
                match self.variant_index[e.idx()].get(n) {
                    Some(&i) => Value::Variant(i),
                    None => {
                        let help = self
                            .did_you_mean(n, def.variants.iter().map(String::as_str))
                            .unwrap_or_else(|| {
                                format!(
                                    "the variants of `{}` are {}",
                                    def.name,
                                    words::list(&def.variants)
                                )
                            });
                        self.error(
                            Diagnostic::new(
                                Code::Undefined,
                                l.span,
                                format!("`{n}` is not a variant of `{}`", def.name),
                            )
                            .with_help(help),
                        );
                        return None;
                    }
                }
            }
            (LiteralKind::Name(n), Type::Str) => {
                self.type_mismatch(
                    l.span,
                    attr,
                    &format!("the name `{n}`"),
                    &format!("write the string in quotes: `\"{n}\"`"),
                    p,
                );
                return None;
            }
            (LiteralKind::BadInt(digits), _) => {
                self.error(
                    Diagnostic::new(
                        Code::TypeMismatch,
                        l.span,
                        format!("number `{digits}` does not fit in 64 bits"),
                    )
                    .with_help("numbers range from -9223372036854775808 to 9223372036854775807"),
                );
                return None;
            }
            (kind, _) => {
                let what = match kind {
                    LiteralKind::Str(_) => "a string",
                    LiteralKind::Int(_) | LiteralKind::BadInt(_) => "a number",
                    LiteralKind::Bool(_) => "a boolean",
                    LiteralKind::Name(_) => "an enum variant",
                };
                let help = match (attr.ty, kind) {
                    (Type::RefUser, _) => format!(
                        "a `ref User` attribute can only be compared with `principal`: `{} {} principal`",
                        attr.name,
                        if op == "!=" { "!=" } else { "==" }
                    ),
                    // A set is tested for one string at a time; the conditions of a filter
                    // `any` are alternatives, so `in [a, b]` is one `contains` per string.
                    (Type::SetStr, kind) => {
                        let cond = format!("{} contains {}", attr.name, quote(&literal_text(kind)));
                        match op {
                            "!=" => format!(
                                "a filter cannot test that a set lacks a string; `contains` tests that it has one: `{cond}`"
                            ),
                            "in" if all => format!(
                                "a set is tested with `contains`, one string at a time: `{cond};`; in a filter `all` every condition must hold, so to admit a case that has any one of several strings, put one `contains` per string in the filter `any` of another group"
                            ),
                            "in" => format!(
                                "a set is tested with `contains`, one string at a time; the conditions of a filter `any` are alternatives, so write one per string: `{cond};`"
                            ),
                            _ => format!("a set is tested with `contains`: `{cond}`"),
                        }
                    }
                    (Type::Ref(_), _) => format!(
                        "a {} attribute cannot be tested in a filter",
                        p.type_name(attr.ty)
                    ),
                    (Type::Enum(e), LiteralKind::Str(v))
                        if self.variant_index[e.idx()].contains_key(v) =>
                    {
                        format!(
                            "enum variants are written without quotes: `{} == {v}`",
                            attr.name
                        )
                    }
                    _ => {
                        let op = if op == "!=" { "!=" } else { "==" };
                        format!(
                            "compare `{}` with a value of type {}: `{} {op} {}`",
                            attr.name,
                            p.type_name(attr.ty),
                            attr.name,
                            example_value(attr.ty, kind, p)
                        )
                    }
                };
                self.type_mismatch(l.span, attr, what, &help, p);
                return None;
            }
        };
        Some(v)
    }

    #[cold]
    pub(super) fn type_mismatch(
        &mut self,
        span: Span,
        attr: &AttrDef,
        found: &str,
        help: &str,
        p: &Policy,
    ) {
        self.error(
            Diagnostic::new(
                Code::TypeMismatch,
                span,
                format!(
                    "attribute `{}` has type {}, but is compared with {found}",
                    attr.name,
                    p.type_name(attr.ty)
                ),
            )
            .with_secondary(attr.span, format!("`{}` is declared here", attr.name))
            .with_help(help.to_string()),
        );
    }
}

/// A literal's text without quotes: what the user meant to write.
fn literal_text(kind: &LiteralKind) -> String {
    match kind {
        LiteralKind::Str(s) | LiteralKind::Name(s) | LiteralKind::BadInt(s) => s.clone(),
        LiteralKind::Int(i) => i.to_string(),
        LiteralKind::Bool(b) => b.to_string(),
    }
}

/// A value of type `ty`, written as a condition writes it: the literal given, converted when it
/// reads as one (`"3"` for an `int` is `3`), or else a value of the type.
pub(super) fn example_value(ty: Type, kind: &LiteralKind, p: &Policy) -> String {
    let text = literal_text(kind);
    match ty {
        Type::Int => text.parse::<i64>().unwrap_or(0).to_string(),
        Type::DateTime => quote(crate::datetime::EXAMPLE),
        Type::Bool => match text.as_str() {
            "false" | "0" => "false".to_string(),
            _ => "true".to_string(),
        },
        Type::Enum(e) => {
            let variants = &p.enums[e.idx()].variants;
            variants
                .iter()
                .find(|v| **v == text)
                .or(variants.first())
                .cloned()
                .unwrap_or_default()
        }
        _ => quote(&text),
    }
}

/// A string as a policy writes it: in double quotes, with the escapes `\"`, `\\`, `\n`, `\t`.
pub(super) fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
