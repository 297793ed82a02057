//! include/casepol.h is what cbindgen makes of src/lib.rs today: regenerated here and compared
//! with the committed header, so a change to the ABI cannot leave the header stale. With
//! `CASEPOL_BLESS=1` the test writes the header instead.

use std::path::Path;

#[test]
fn the_committed_header_is_up_to_date() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config =
        cbindgen::Config::from_file(dir.join("cbindgen.toml")).expect("cbindgen.toml reads");
    let mut generated = Vec::new();
    cbindgen::Builder::new()
        .with_crate(dir)
        .with_config(config)
        .generate()
        .expect("cbindgen generates the header")
        .write(&mut generated);
    let generated = String::from_utf8(generated).expect("the header is UTF-8");
    let path = dir.join("include/casepol.h");
    if std::env::var_os("CASEPOL_BLESS").is_some() {
        std::fs::write(&path, &generated).expect("the header is written");
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "bindings/c/include/casepol.h is stale: run `CASEPOL_BLESS=1 cargo test -p casepol-c --test header` and commit it\n--- generated ---\n{generated}"
    );
}
