//! `circlemail serve` and `circlemail migrate`.

use anyhow::Context as _;

use crate::{app::App, config::Config, store::Store};

pub(super) async fn serve(config: Config) -> anyhow::Result<()> {
    let app = App::build(config).await?;
    app.run_until(stop_signal()).await?;
    Ok(())
}

pub(super) async fn migrate(config: &Config) -> anyhow::Result<()> {
    let store = Store::connect(config.database.url.expose(), 1)
        .await
        .context("cannot open the database")?;
    store.migrate().await?;
    println!("database is up to date");
    Ok(())
}

/// Completes on SIGTERM (systemd stop) or SIGINT (Ctrl-C).
async fn stop_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
