//! An AST with every span erased, so two parses can be compared for meaning alone.
//!
//! Every struct is taken apart field by field, with no `..`: a field added to the AST later
//! does not compile here until it is handled, so the comparison cannot silently skip it.

use crate::ast::*;
use crate::diagnostic::Span;

/// Sets every span in `ast` to the empty span at the start of file 0, so that two ASTs compare
/// equal exactly when they mean the same policy, wherever their parts were written. A bare
/// `scope filter { … }` of two or more conditions becomes `scope filter any { … }`, which it
/// means and which `fmt` writes.
pub fn erase(ast: &mut PolicyAst) {
    let PolicyAst { items, skipped } = ast;
    skipped.clear();
    for item in items {
        self::item(item);
    }
}

fn span(s: &mut Span) {
    *s = Span::default();
}

fn ident(i: &mut Ident) {
    let Ident { name: _, span: s } = i;
    span(s);
}

fn idents(list: &mut [Ident]) {
    list.iter_mut().for_each(ident);
}

fn item(item: &mut Item) {
    match item {
        Item::Roles(names) | Item::Permissions(names) => idents(names),
        Item::Actions { names, requires } => {
            idents(names);
            requires.iter_mut().for_each(ident);
        }
        Item::ActionGroup { name, members } => {
            ident(name);
            idents(members);
        }
        Item::RequireGroup(s) => span(s),
        Item::Context { fields, span: s } => {
            fields.iter_mut().for_each(attr);
            span(s);
        }
        Item::Module(ModuleDecl {
            name,
            actions,
            records,
            data_roles,
        }) => {
            ident(name);
            idents(actions);
            idents(records);
            idents(data_roles);
        }
        Item::Group(g) => group(g),
        Item::Enum { name, variants } => {
            ident(name);
            idents(variants);
        }
        Item::User { attrs, span: s } => {
            attrs.iter_mut().for_each(attr);
            span(s);
        }
        Item::Kind(k) => kind(k),
        Item::CaseType(c) => casetype(c),
        Item::Codes(classes) => {
            for CodeClass { class, actions } in classes {
                ident(class);
                actions.iter_mut().for_each(action);
            }
        }
        Item::Rule(r) => rule(r),
    }
}

fn group(g: &mut GroupDecl) {
    let GroupDecl {
        name,
        parent,
        grants,
        permits,
        scopes,
    } = g;
    ident(name);
    parent.iter_mut().for_each(ident);
    idents(grants);
    idents(permits);
    for (scope, s) in scopes {
        span(s);
        match scope {
            Scope::All => {}
            Scope::Assigned(via) => idents(via),
            Scope::Filter { mode, conditions } => {
                // The bare form of two or more conditions means `any`, and `fmt` writes it so.
                if mode.is_none() && conditions.len() >= 2 {
                    *mode = Some((FilterMode::Any, Span::default()));
                }
                if let Some((_, s)) = mode {
                    span(s);
                }
                conditions.iter_mut().for_each(condition);
            }
        }
    }
}

fn condition(c: &mut Condition) {
    let Condition { attr, op, span: s } = c;
    ident(attr);
    span(s);
    match op {
        CondOp::Eq(o) | CondOp::Ne(o) => match o {
            Operand::Principal(s) => span(s),
            Operand::Literal(l) => literal(l),
        },
        CondOp::Contains(l) => literal(l),
        CondOp::In(list) => list.iter_mut().for_each(literal),
    }
}

fn literal(l: &mut Literal) {
    let Literal { kind: _, span: s } = l;
    span(s);
}

fn attr(a: &mut AttrDecl) {
    let AttrDecl { name, ty } = a;
    ident(name);
    match ty {
        TypeExpr::Named(i) | TypeExpr::Set(i) | TypeExpr::Ref(i) => ident(i),
    }
}

fn kind(k: &mut KindDecl) {
    let KindDecl {
        name,
        is_case: _,
        parent,
        attrs,
        relations,
        modes,
        inherits,
        rules,
    } = k;
    ident(name);
    parent.iter_mut().for_each(ident);
    attrs.iter_mut().for_each(attr);
    idents(relations);
    for ModeDecl {
        attr,
        arms,
        span: s,
    } in modes
    {
        ident(attr);
        span(s);
        for ModeArm { variant, relations } in arms {
            ident(variant);
            relations.iter_mut().for_each(|r| idents(r));
        }
    }
    idents(inherits);
    rules.iter_mut().for_each(rule);
}

fn casetype(c: &mut CaseTypeDecl) {
    let CaseTypeDecl {
        name,
        states,
        initials,
        finals,
        transitions,
        module_grants,
        rules,
        tables,
    } = c;
    ident(name);
    idents(states);
    idents(initials);
    idents(finals);
    for Transition {
        action,
        from,
        to,
        by,
        span: s,
    } in transitions
    {
        ident(action);
        idents(from);
        ident(to);
        idents(by);
        span(s);
    }
    for ModuleGrant { module, lines } in module_grants {
        ident(module);
        for ModuleLine {
            subjects,
            actions,
            span: s,
        } in lines
        {
            idents(subjects);
            actions.iter_mut().for_each(action);
            span(s);
        }
    }
    rules.iter_mut().for_each(rule);
    for Table {
        columns,
        rows,
        span: s,
    } in tables
    {
        idents(columns);
        span(s);
        for TableRow { state, cells } in rows {
            ident(state);
            for Cell { entries, span: s } in cells {
                span(s);
                for CellEntry {
                    effect: _,
                    action: a,
                    span: s,
                } in entries
                {
                    action(a);
                    span(s);
                }
            }
        }
    }
}

fn action(a: &mut ActionRef) {
    match a {
        ActionRef::Star(s) => span(s),
        ActionRef::Name(i) => ident(i),
    }
}

fn rule(r: &mut Rule) {
    let Rule {
        effect: _,
        subjects,
        actions,
        states,
        when,
        span: s,
    } = r;
    idents(subjects);
    actions.iter_mut().for_each(action);
    idents(states);
    when.iter_mut().for_each(term);
    span(s);
}

fn term(t: &mut Term) {
    let Term {
        negate: _,
        test,
        span: s,
    } = t;
    span(s);
    match test {
        TermTest::Is(rel) => ident(rel),
        TermTest::In(p, values) => {
            path(p);
            values.iter_mut().for_each(literal);
        }
        TermTest::Contains(p, v) | TermTest::Compare(p, _, v) => {
            path(p);
            match v {
                TermValue::Path(q) => path(q),
                TermValue::Literal(l) => literal(l),
            }
        }
        TermTest::Bool(p) => path(p),
    }
}

fn path(p: &mut Path) {
    let Path {
        root: _,
        attr,
        span: s,
    } = p;
    attr.iter_mut().for_each(ident);
    span(s);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostic::FileId;

    fn spanless(text: &str) -> PolicyAst {
        let (mut ast, diags) = crate::syntax::parse(FileId(0), text);
        assert!(diags.is_empty(), "{diags:?}");
        erase(&mut ast);
        ast
    }

    #[test]
    fn layout_does_not_matter_but_names_do() {
        let a = spanless("role A, B; casetype T { states S; initial S; table { | A \n S | +x } }");
        let b = spanless("role A,B;\n\ncasetype T {\n  states S;\n  initial S;\n  table {\n    | A\n  S | +x\n  }\n}\n");
        assert_eq!(a, b);
        let c = spanless("role A, B; casetype T { states S; initial S; table { | A \n S | -x } }");
        assert_ne!(a, c);
    }
}
