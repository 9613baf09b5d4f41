//! `hookwatch completions SHELL`: the shell completion script for bash, zsh or fish, from
//! the same clap definitions that parse the command line, so it never falls behind.

use clap::{Args, CommandFactory, ValueEnum};
use clap_complete::Shell as Generator;

use super::Cli;

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for
    #[arg(value_enum)]
    pub shell: Shell,
}

/// The shells hookwatch supports.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
}

pub fn run(args: CompletionsArgs) -> anyhow::Result<()> {
    let generator = match args.shell {
        Shell::Bash => Generator::Bash,
        Shell::Zsh => Generator::Zsh,
        Shell::Fish => Generator::Fish,
    };
    let mut command = Cli::command();
    let name = command.get_name().to_string();
    clap_complete::generate(generator, &mut command, name, &mut std::io::stdout());
    Ok(())
}
