#[path = "../tests/common/world.rs"]
mod world;
fn main() {
    let policy = casepol::Policy::from_source("policy.casepol", world::POLICY).unwrap();
    let url = std::env::var("CASEPOL_PG_URL").unwrap();
    let scoped = format!("{url}?options=-c%20search_path%3Dcasepol_scale");
    let source = casepol::db::Source::Postgres(scoped);
    for _ in 0..3 {
        let t = std::time::Instant::now();
        let e = casepol::db::load(&policy, &source).unwrap();
        eprintln!("{} {:?}", e.resources().len(), t.elapsed());
    }
}
