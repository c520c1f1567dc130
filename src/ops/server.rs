//! The operator's HTTP endpoint on `[telemetry] metrics_listen`:
//! `GET /metrics` (Prometheus text format) and `GET /healthz`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use tokio::sync::watch;

use super::{Component, Ops};
use crate::db::Db;

struct Shared {
    ops: Arc<Ops>,
    db: Db,
    stale: Duration,
}

/// The endpoint, running; stop it with [`Running::stop`].
pub(crate) struct Running {
    pub(crate) addr: SocketAddr,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    pub(crate) async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

/// Binds `listen` and serves until stopped. Installs the metrics recorder.
pub(crate) async fn start(
    listen: SocketAddr,
    ops: Arc<Ops>,
    db: Db,
    stale: Duration,
) -> anyhow::Result<Running> {
    super::metrics::install();
    let listener = tokio::net::TcpListener::bind(listen).await?;
    let addr = listener.local_addr()?;
    let shared = Arc::new(Shared { ops, db, stale });
    let app = Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .with_state(shared);
    let (stop, mut stop_rx) = watch::channel(false);
    let task = tokio::spawn(async move {
        let serve = axum::serve(listener, app).with_graceful_shutdown(async move {
            let _ = stop_rx.wait_for(|s| *s).await;
        });
        if let Err(error) = serve.await {
            tracing::error!(%error, "metrics endpoint failed");
        }
    });
    tracing::info!(%addr, "metrics and /healthz listening");
    Ok(Running { addr, stop, task })
}

async fn metrics(State(shared): State<Arc<Shared>>) -> axum::response::Response {
    let Some(handle) = super::metrics::install() else {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "metrics recorder unavailable\n",
        )
            .into_response();
    };
    let snapshot = match shared.db.run(|c| crate::db::ops::snapshot(c)).await {
        Ok(snapshot) => snapshot,
        Err(error) => {
            tracing::warn!(%error, "metrics: database snapshot failed");
            Default::default()
        }
    };
    let text = super::metrics::render(handle, &snapshot);
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response()
}

async fn healthz(State(shared): State<Arc<Shared>>) -> axum::response::Response {
    let database = match tokio::time::timeout(
        Duration::from_secs(2),
        shared.db.run(|c| crate::db::ops::ping(c)),
    )
    .await
    {
        Ok(Ok(())) => Component {
            ok: true,
            detail: "answers".into(),
        },
        Ok(Err(error)) => Component {
            ok: false,
            detail: error.to_string(),
        },
        Err(_) => Component {
            ok: false,
            detail: "no answer within 2 s".into(),
        },
    };
    let components = [
        ("poller", shared.ops.poller()),
        ("side_task", shared.ops.side_task(shared.stale)),
        ("database", database),
    ];
    let failing: Vec<&str> = components
        .iter()
        .filter(|(_, c)| !c.ok)
        .map(|(n, _)| *n)
        .collect();
    let body = serde_json::json!({
        "status": if failing.is_empty() { "ok" } else { "unhealthy" },
        "failing": failing,
        "poller": components[0].1,
        "side_task": components[1].1,
        "database": components[2].1,
    });
    let status = if failing.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, axum::Json(body)).into_response()
}
