//! `pinglass` — run the bot (the local sandbox when no credentials are set),
//! or apply the database migrations.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "pinglass",
    version,
    about = "PinGlass: AI portraits in a Telegram chat"
)]
struct Cli {
    /// Configuration file.
    #[arg(long, global = true, default_value = "bot.toml")]
    config: PathBuf,
    #[command(subcommand)]
    command: Option<Commands>,
}

#[derive(Subcommand)]
enum Commands {
    /// Run the bot (the default). With no TELEGRAM_BOT_TOKEN it starts the local sandbox.
    Run,
    /// Create or upgrade the database schema, then exit.
    Migrate,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match pinglass::config::Config::load(&cli.config) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("pinglass: {error}");
            return ExitCode::from(2);
        }
    };
    // Kept to the end of main: dropping it sends what Sentry still holds.
    let _sentry = pinglass::telemetry::init_with_sentry(&config);
    let result = match cli.command.unwrap_or(Commands::Run) {
        Commands::Migrate => pinglass::app::migrate(&config),
        Commands::Run => match tokio::runtime::Runtime::new() {
            Ok(runtime) => runtime.block_on(pinglass::app::run(config)),
            Err(error) => Err(error.into()),
        },
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(
                error = format!("{error:#}"),
                "pinglass stopped with an error"
            );
            eprintln!("pinglass: {error:#}");
            ExitCode::FAILURE
        }
    }
}
