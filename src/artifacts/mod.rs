//! Artifact storage: one interface, a local folder and an S3 bucket behind it.
//!
//! Every path that reaches a store is an [`ArtifactPath`], which can only be made by
//! validation, so no store ever sees `..`, an absolute path or an encoded escape.

mod local;
mod path;
mod s3;

pub use local::LocalArtifactStore;
pub use path::{ArtifactPath, PathError, ARTIFACT_SCHEME, RESERVED_UPLOADS_DIR};
pub use s3::S3ArtifactStore;

use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;
use futures::Stream;

use crate::CoreResult;

/// A body streamed in or out of a store, chunk by chunk.
pub type ByteStream = Pin<Box<dyn Stream<Item = std::io::Result<Bytes>> + Send>>;

/// One entry of a directory listing; `path` is relative to the store root.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ArtifactEntry {
    pub path: String,
    pub is_dir: bool,
    /// Size in bytes; `None` for directories.
    pub file_size: Option<u64>,
}

#[async_trait::async_trait]
pub trait ArtifactStore: Send + Sync {
    /// Writes `body` to `path`, replacing what was there; returns the bytes written.
    async fn put(&self, path: &ArtifactPath, body: ByteStream) -> CoreResult<u64>;
    /// Streams the file at `path`; `NotFound` if there is none.
    async fn get(&self, path: &ArtifactPath) -> CoreResult<ByteStream>;
    /// The direct children of the directory `dir`, sorted by path. A missing directory is empty.
    async fn list(&self, dir: &ArtifactPath) -> CoreResult<Vec<ArtifactEntry>>;
    /// Removes the file or the whole directory at `path`. Removing nothing is not an error.
    async fn delete(&self, path: &ArtifactPath) -> CoreResult<()>;
    /// Checks that the store answers (readiness).
    async fn ping(&self) -> CoreResult<()>;
    /// Where the store keeps things, for logs and `/ready` (never includes secrets).
    fn describe(&self) -> String;
}

/// Opens the store named by `--artifacts`: a folder path, `file://…`, or `s3://bucket/prefix`.
pub async fn open_artifact_store(spec: &str) -> CoreResult<Arc<dyn ArtifactStore>> {
    if let Some(rest) = spec.strip_prefix("s3://") {
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(crate::CoreError::Config(format!(
                "no bucket in artifact root '{spec}'"
            )));
        }
        let store = S3ArtifactStore::from_env(bucket, prefix).await?;
        return Ok(Arc::new(store));
    }
    let folder = spec.strip_prefix("file://").unwrap_or(spec);
    Ok(Arc::new(LocalArtifactStore::open(folder).await?))
}

/// Reads a whole stream into memory. For tests and small previews only.
pub async fn collect(mut stream: ByteStream) -> std::io::Result<Vec<u8>> {
    use futures::StreamExt;
    let mut out = Vec::new();
    while let Some(chunk) = stream.next().await {
        out.extend_from_slice(&chunk?);
    }
    Ok(out)
}

/// Reads a stream until it ends or `cap` bytes came (reading stops there: the rest of a
/// large file is never fetched). May return up to one chunk more than `cap`.
pub async fn read_head(mut stream: ByteStream, cap: usize) -> std::io::Result<Vec<u8>> {
    use futures::StreamExt;
    let mut out = Vec::new();
    while let Some(chunk) = stream.next().await {
        out.extend_from_slice(&chunk?);
        if out.len() >= cap {
            break;
        }
    }
    Ok(out)
}

/// A stream over bytes already in memory.
pub fn stream_from(data: impl Into<Bytes>) -> ByteStream {
    let data: Bytes = data.into();
    Box::pin(futures::stream::once(async move { Ok(data) }))
}
