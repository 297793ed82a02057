//! The PostgreSQL server of the tests that need one: its URL from `CASEPOL_PG_URL` (`.ci/run`
//! starts one and sets `CASEPOL_PG_REQUIRED`, so a missing URL fails there), and fresh
//! databases on it.

/// The PostgreSQL server of `CASEPOL_PG_URL`, or `None` (the test is skipped) when it is not
/// set and not required.
pub fn pg_url(test: &str) -> Option<String> {
    match std::env::var("CASEPOL_PG_URL") {
        Ok(url) => Some(url),
        Err(_) => {
            assert!(
                std::env::var_os("CASEPOL_PG_REQUIRED").is_none(),
                "CASEPOL_PG_REQUIRED is set but CASEPOL_PG_URL is not"
            );
            eprintln!("SKIPPED: {test}: set CASEPOL_PG_URL to run it against PostgreSQL");
            None
        }
    }
}

/// Drops database `name` on the server of `url`, if it is there.
pub fn pg_drop(url: &str, name: &str) {
    let mut client = postgres::Client::connect(url, postgres::NoTls).unwrap();
    client
        .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .unwrap();
}

/// A fresh, empty database `name` on the server of `url` (dropped first if a run left it), and
/// its URL.
pub fn pg_database(url: &str, name: &str) -> String {
    pg_drop(url, name);
    let mut client = postgres::Client::connect(url, postgres::NoTls).unwrap();
    client
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .unwrap();
    let base = url.rsplit_once('/').map_or(url, |(b, _)| b);
    format!("{base}/{name}")
}
