//! `casepol-gen`: writes generated policies, entities and requests (policies/generated/README.md).

use casepol_gen::{write_jsonl, Policy, Population, Sizes, SEED};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

const USAGE: &str = "\
usage: casepol-gen policy   --rules N [--seed S]
       casepol-gen entities --rules N [--users U] [--cases C] [--docs-per-case D] [--seed S]
       casepol-gen requests --rules N --count K [--users U] [--cases C] [--docs-per-case D] [--seed S]
       casepol-gen sample DIR

policy, entities and requests write to standard output. The entity sizes default to those of
the decision benchmarks; requests name the entities that `entities` writes with the same
options. `sample DIR` writes the committed sample (20 rules and a few entities) to DIR.";

struct Options {
    rules: usize,
    seed: u64,
    sizes: Sizes,
    count: Option<usize>,
}

fn number<T: std::str::FromStr>(flag: &str, value: Option<String>) -> Result<T, String> {
    let v = value.ok_or_else(|| format!("{flag} needs a value"))?;
    v.parse()
        .map_err(|_| format!("{flag} takes a number, not `{v}`"))
}

fn options(args: impl Iterator<Item = String>) -> Result<Options, String> {
    let mut o = Options {
        rules: 0,
        seed: SEED,
        sizes: Sizes::DECIDE,
        count: None,
    };
    let mut args = args;
    while let Some(flag) = args.next() {
        match flag.as_str() {
            "--rules" => o.rules = number(&flag, args.next())?,
            "--seed" => o.seed = number(&flag, args.next())?,
            "--users" => o.sizes.users = number(&flag, args.next())?,
            "--cases" => o.sizes.cases = number(&flag, args.next())?,
            "--docs-per-case" => o.sizes.documents_per_case = number(&flag, args.next())?,
            "--count" => o.count = Some(number(&flag, args.next())?),
            _ => return Err(format!("unknown argument `{flag}`")),
        }
    }
    if o.rules == 0 {
        return Err("--rules is required".into());
    }
    Ok(o)
}

fn run() -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    let command = args.next().unwrap_or_default();
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let io = |e: std::io::Error| e.to_string();
    match command.as_str() {
        "policy" => {
            let o = options(args)?;
            let policy = Policy::generate(o.rules, o.seed)?;
            out.write_all(policy.to_casepol().as_bytes()).map_err(io)?;
        }
        "entities" => {
            let o = options(args)?;
            let policy = Policy::generate(o.rules, o.seed)?;
            let population = Population::generate(&policy, o.sizes, o.seed);
            population.write_json(&policy, &mut out).map_err(io)?;
        }
        "requests" => {
            let o = options(args)?;
            let count = o.count.ok_or("--count is required")?;
            let policy = Policy::generate(o.rules, o.seed)?;
            let population = Population::generate(&policy, o.sizes, o.seed);
            write_jsonl(&population.requests(count, o.seed), &mut out).map_err(io)?;
        }
        "sample" => {
            let dir = PathBuf::from(args.next().ok_or("sample needs a directory")?);
            let policy = Policy::generate(20, SEED)?;
            let population = Population::generate(&policy, Sizes::SAMPLE, SEED);
            let write = |name: &str, text: String| {
                std::fs::write(dir.join(name), text)
                    .map_err(|e| format!("cannot write `{}`: {e}", dir.join(name).display()))
            };
            write("policy.casepol", policy.to_casepol())?;
            write("entities.json", population.to_json(&policy))?;
        }
        "-h" | "--help" => println!("{USAGE}"),
        _ => return Err(format!("unknown command `{command}`")),
    }
    out.flush().map_err(io)
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}\n\n{USAGE}");
            ExitCode::from(2)
        }
    }
}
