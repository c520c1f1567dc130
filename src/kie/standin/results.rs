//! The portrait of a task: its reference photos downloaded (checked as Kie
//! checks them), rendered off the async threads, saved for `/results`.

use std::sync::Arc;

use futures::StreamExt;
use url::Url;

use super::tasks::RenderState;
use super::{MAX_REFERENCE_BYTES, Shared};
use crate::kie::render;

/// Downloads the references, renders the portrait off the async threads,
/// saves it, and records the outcome on the task.
pub(super) async fn produce_result(
    shared: Arc<Shared>,
    task_id: String,
    references: Vec<Url>,
    prompt: String,
) {
    let outcome = render_task(&shared, &task_id, &references, prompt).await;
    let render = match outcome {
        Ok(()) => {
            tracing::debug!(%task_id, "kie stand-in: portrait rendered");
            RenderState::Done
        }
        Err(reason) => {
            tracing::warn!(%task_id, %reason, "kie stand-in: task fails, the portrait could not be made");
            RenderState::Failed
        }
    };
    if let Some(task) = shared.book().tasks.get_mut(&task_id) {
        task.render = render;
    }
}

async fn render_task(
    shared: &Shared,
    task_id: &str,
    references: &[Url],
    prompt: String,
) -> Result<(), String> {
    let downloads = references
        .iter()
        .map(|url| download_reference(&shared.http, url));
    let photos = futures::future::try_join_all(downloads).await?;
    let png = tokio::task::spawn_blocking(move || render::render_portrait_png(&photos, &prompt))
        .await
        .map_err(|error| format!("rendering job failed: {error}"))?
        .map_err(|error| error.to_string())?;
    let path = shared.result_path(task_id);
    tokio::fs::write(&path, png)
        .await
        .map_err(|error| format!("saving {} failed: {error}", path.display()))
}

/// Downloads one reference photo and checks it is an image Kie takes.
async fn download_reference(http: &reqwest::Client, url: &Url) -> Result<Vec<u8>, String> {
    let shown = url_without_query(url);
    let response = http
        .get(url.clone())
        .send()
        .await
        .map_err(|error| format!("fetching reference {shown} failed: {error}"))?;
    if !response.status().is_success() {
        return Err(format!(
            "fetching reference {shown} answered HTTP {}",
            response.status()
        ));
    }
    let mut body = Vec::new();
    let mut stream = response.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|error| format!("reading reference {shown} failed: {error}"))?;
        if body.len() + chunk.len() > MAX_REFERENCE_BYTES {
            return Err(format!(
                "reference {shown} is larger than {MAX_REFERENCE_BYTES} bytes"
            ));
        }
        body.extend_from_slice(&chunk);
    }
    match image::guess_format(&body) {
        Ok(image::ImageFormat::Jpeg | image::ImageFormat::Png | image::ImageFormat::WebP) => {
            Ok(body)
        }
        _ => Err(format!(
            "reference {shown} is not a JPEG, PNG or WebP image"
        )),
    }
}

/// A URL for logs: presigned query strings carry signatures.
fn url_without_query(url: &Url) -> String {
    let mut shown = url.clone();
    shown.set_query(None);
    shown.to_string()
}
