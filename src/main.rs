use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = circlemail::cli::Cli::parse();
    match circlemail::cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("circlemail: {e}");
            e.exit_code()
        }
    }
}
