//! `casepol completions SHELL` and `casepol man`: the shell completion script and the man page,
//! both generated from the same clap definition as `--help`, so they cannot drift from it.

use super::*;
use clap::CommandFactory;

#[derive(clap::Args)]
pub(super) struct CompletionsArgs {
    /// The shell to complete for
    #[arg(value_enum)]
    shell: clap_complete::Shell,
}

/// Prints the completion script for one shell on standard output.
pub(super) fn completions(args: &CompletionsArgs) -> Exit {
    let mut cmd = Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, "casepol", &mut script);
    print_bytes(&script)
}

/// The EXIT STATUS section of the man page: the codes of [`Exit`], which every command shares.
const EXIT_STATUS: &[(&str, &str)] = &[
    (
        "0",
        "Success: the policy is clean, the request is allowed, every request of a batch was \
         decided, every test passed, nothing would be reformatted or differs.",
    ),
    (
        "1",
        "Failure: the policy has errors, the request is denied, a test failed, a file would be \
         reformatted (fmt --check), or two policies differ (diff).",
    ),
    (
        "2",
        "An input could not be used (unreadable file, invalid entities or request, a request \
         that cannot be resolved), or the command line was wrong.",
    ),
];

/// Renders one section of the man page.
type Render = fn(&clap_mangen::Man, &mut Vec<u8>) -> std::io::Result<()>;

/// The lines clap_mangen starts every rendered piece with.
const PREAMBLE: &[u8] = b".ie \\n(.g .ds Aq \\(aq\n.el .ds Aq '\n";

/// The sections clap_mangen does not write: EXIT STATUS and ENVIRONMENT.
fn exit_status_and_environment() -> clap_mangen::roff::Roff {
    use clap_mangen::roff::{bold, roman, Roff};
    let mut roff = Roff::new();
    roff.control("SH", ["EXIT STATUS"]);
    roff.text([roman(
        "When several codes apply, the highest wins. Each command's --help gives its own.",
    )]);
    for (code, meaning) in EXIT_STATUS {
        roff.control("TP", []);
        roff.text([bold(*code)]);
        roff.text([roman(*meaning)]);
    }
    roff.control("SH", ["ENVIRONMENT"]);
    for (name, meaning) in ENVIRONMENT {
        roff.control("TP", []);
        roff.text([bold(*name)]);
        roff.text([roman(*meaning)]);
    }
    roff
}

/// The ENVIRONMENT section of the man page.
const ENVIRONMENT: &[(&str, &str)] = &[
    (
        "NO_COLOR",
        "When set to anything but the empty string, --color auto never colours.",
    ),
    (
        "CLICOLOR_FORCE",
        "When set to anything but 0, --color auto colours even a pipe; NO_COLOR wins over it.",
    ),
];

/// Prints the man page (roff, section 1) on standard output.
pub(super) fn man() -> Exit {
    let page = clap_mangen::Man::new(Cli::command());
    let mut out = Vec::new();
    let rendered = (|| -> std::io::Result<()> {
        page.render_title(&mut out)?;
        let sections: [Render; 6] = [
            |p, w| p.render_name_section(w),
            |p, w| p.render_synopsis_section(w),
            |p, w| p.render_description_section(w),
            |p, w| p.render_options_section(w),
            |p, w| p.render_subcommands_section(w),
            |_, w| exit_status_and_environment().to_writer(w),
        ];
        for section in sections {
            let mut text = Vec::new();
            section(&page, &mut text)?;
            // Each piece repeats the preamble that defines `\*(Aq`; once, after the title, is enough.
            out.extend_from_slice(text.strip_prefix(PREAMBLE).unwrap_or(&text));
        }
        let mut text = Vec::new();
        page.render_version_section(&mut text)?;
        out.extend_from_slice(text.strip_prefix(PREAMBLE).unwrap_or(&text));
        Ok(())
    })();
    match rendered {
        Ok(()) => print_bytes(&out),
        Err(e) => fail_input(format!("cannot render the man page: {e}")),
    }
}

/// Writes `bytes` to standard output. A closed or failing stdout is an error (exit 2).
fn print_bytes(bytes: &[u8]) -> Exit {
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Ok(()) => Exit::Ok,
        Err(_) => Exit::Error,
    }
}
