//! Start-up: open the database, pick real services or stand-ins, start the
//! bot and the side task, and stop them all on Ctrl-C or SIGTERM.

use std::sync::Arc;

use anyhow::Context;
use secrecy::ExposeSecret;

use crate::bot::{self, BotCtx};
use crate::config::Config;
use crate::db::{self, Db};

/// `pinglass migrate`: create or upgrade the schema and report it.
pub fn migrate(config: &Config) -> anyhow::Result<()> {
    let db = Db::open(&config.database.path, 1)
        .with_context(|| format!("opening {}", config.database.path.display()))?;
    let version = db.schema_version()?;
    let tables = db.run_blocking(|c| db::table_names(c))?;
    println!(
        "{}: schema version {version}, {} tables",
        config.database.path.display(),
        tables.len()
    );
    Ok(())
}

/// `pinglass run`.
pub async fn run(config: Config) -> anyhow::Result<()> {
    let db = Db::open(&config.database.path, config.database.pool_size)
        .with_context(|| format!("opening {}", config.database.path.display()))?;
    let Some(token) = config.secrets.telegram_token.clone() else {
        anyhow::bail!("TELEGRAM_BOT_TOKEN is not set and the local sandbox is not built yet");
    };
    let bot = bot::build_bot(
        token.expose_secret(),
        config.telegram.api_url.clone(),
        config.telegram.poll_timeout_secs,
    )?;
    bot::register_commands(&bot)
        .await
        .context("setMyCommands")?;
    let ctx = Arc::new(BotCtx {
        config: Arc::new(config),
        db,
    });
    let running = bot::start(bot, ctx).await?;
    wait_for_stop_signal().await;
    tracing::info!("stopping: finishing the updates in flight");
    running.shutdown().await;
    Ok(())
}

/// Waits for Ctrl-C or SIGTERM.
pub async fn wait_for_stop_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
