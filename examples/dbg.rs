fn main() {
    let path = std::env::args().nth(1).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    let mut sources = casepol::diagnostic::Sources::new();
    let f = sources.add(path.clone(), text.clone());
    let (ast, mut diags) = casepol::syntax::parse(f, &text);
    let (p, d2) = casepol::check::check(&[ast]);
    diags.extend(d2);
    for d in &diags {
        print!("{}", casepol::diagnostic::render::human(d, &sources, false));
    }
    println!(
        "ok={} rules={}",
        p.is_some(),
        p.map(|p| p.rules.len()).unwrap_or(0)
    );
}
