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
    /// Rebuild the database from the latest backup in the object store
    /// (refuses when the database file exists), then exit.
    Restore,
    /// Call each real service once, without side effects (getMe, Kie's
    /// credits, a T-Bank CheckOrder, the bucket), print a table; exit 0 only
    /// when every service is real and answers.
    Check,
    /// Drive N simulated users through the funnel against in-process
    /// stand-ins and this binary's bot as a child process; print and write a
    /// report; exit non-zero when an invariant breaks.
    Loadtest(LoadtestArgs),
}

#[derive(clap::Args)]
struct LoadtestArgs {
    /// Simulated users.
    #[arg(long, default_value_t = 100)]
    users: u32,
    /// Seconds within which all users arrive.
    #[arg(long, default_value_t = 60.0)]
    arrival_secs: f64,
    /// Kie task latency, seconds: each task draws from min..=max (real: 100–160).
    #[arg(long, default_value_t = 100.0)]
    kie_min_secs: f64,
    #[arg(long, default_value_t = 160.0)]
    kie_max_secs: f64,
    /// Every user picks this package (0 = the smallest); default: each at random.
    #[arg(long)]
    package: Option<usize>,
    /// Share of users whose card is declined.
    #[arg(long, default_value_t = 0.1)]
    decline: f64,
    /// Share of users who leave at the payment link.
    #[arg(long, default_value_t = 0.1)]
    abandon: f64,
    /// Photos per user.
    #[arg(long, default_value_t = 5)]
    photos_min: u32,
    #[arg(long, default_value_t = 15)]
    photos_max: u32,
    /// Only /start and the photos, without waiting for answers (throughput).
    #[arg(long)]
    front_only: bool,
    /// Turn Telegram's rate limits off in the stand-in and the bot (isolates the dispatcher).
    #[arg(long)]
    no_telegram_limits: bool,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// SIGKILL the bot this many times at random moments (restarting it).
    #[arg(long, default_value_t = 0)]
    kills: u32,
    /// Faults the stand-ins inject: none, or realistic (Kie 5xx, 429 bursts,
    /// moderation, recordInfo null, slow downloads; Telegram 429 storms and
    /// 5xx; T-Bank timeouts and errors). With --kills: the crash-and-fault soak.
    #[arg(long, default_value = "none", value_parser = ["none", "realistic"])]
    faults: String,
    /// Give up on a user after this many seconds.
    #[arg(long, default_value_t = 1800)]
    deadline_secs: u64,
    /// Write the JSON report here.
    #[arg(long)]
    output: Option<PathBuf>,
    /// Keep the bot's database, logs and files here (default: a temporary directory).
    #[arg(long)]
    work_dir: Option<PathBuf>,
    /// Half-way through the arrivals, one more user sends this many
    /// messages at once; newcomers' answers are timed before and during it.
    #[arg(long, default_value_t = 0)]
    flood: u32,
    /// Instead of the random users: a payer alone, then a payer while this
    /// many newcomers press /start at their payment; reports the ratio.
    #[arg(long, default_value_t = 0)]
    spike: u32,
    /// The bot backs its database up every this many minutes while serving
    /// (fractions allowed); the report gives the backups' time and size.
    #[arg(long)]
    backup_minutes: Option<f64>,
}

fn loadtest(args: LoadtestArgs, config: PathBuf) -> ExitCode {
    use std::time::Duration;
    let options = pinglass::loadtest::LoadtestOptions {
        users: args.users,
        arrival_window: Duration::from_secs_f64(args.arrival_secs.max(0.0)),
        kie_latency_min: Duration::from_secs_f64(args.kie_min_secs.max(0.0)),
        kie_latency_max: Duration::from_secs_f64(args.kie_max_secs.max(args.kie_min_secs).max(0.0)),
        package: args.package,
        decline_share: args.decline,
        abandon_share: args.abandon,
        photos_min: args.photos_min,
        photos_max: args.photos_max,
        front_only: args.front_only,
        telegram_limits: !args.no_telegram_limits,
        seed: args.seed,
        kills: args.kills,
        faults: args.faults,
        deadline: Duration::from_secs(args.deadline_secs),
        output: args.output,
        config,
        work_dir: args.work_dir,
        flood: args.flood,
        spike: args.spike,
        backup_minutes: args.backup_minutes,
        ..Default::default()
    };
    let result = tokio::runtime::Runtime::new()
        .map_err(anyhow::Error::from)
        .and_then(|runtime| runtime.block_on(pinglass::loadtest::run(options)));
    match result {
        Ok(report) => {
            print!("{}", report.summary());
            if report.ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(error) => {
            eprintln!("pinglass loadtest: {error:#}");
            ExitCode::from(2)
        }
    }
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
        Commands::Loadtest(args) => return loadtest(args, cli.config),
        Commands::Restore => match tokio::runtime::Runtime::new() {
            Ok(runtime) => runtime
                .block_on(pinglass::app::restore(&config))
                .map(|done| println!("{done}")),
            Err(error) => Err(error.into()),
        },
        Commands::Check => {
            return match tokio::runtime::Runtime::new() {
                Ok(runtime) if runtime.block_on(pinglass::app::check(&config)) => ExitCode::SUCCESS,
                Ok(_) => ExitCode::from(1),
                Err(error) => {
                    eprintln!("pinglass check: {error}");
                    ExitCode::from(2)
                }
            };
        }
        // Blocking work is mostly SQLite through an 8-connection pool: more
        // threads than that only wait, each with its stack. Tokio's default
        // of 512 let thousands of waiting handlers grow the process by
        // hundreds of MB (BENCHMARKS.md, photo intake).
        Commands::Run => match tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .max_blocking_threads(64)
            .build()
        {
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
