//! Artifacts in a folder on local disk.

use std::path::{Path, PathBuf};

use futures::StreamExt;
use tokio::io::AsyncWriteExt;
use tokio_util::io::ReaderStream;

use super::{ArtifactEntry, ArtifactPath, ArtifactStore, ByteStream, RESERVED_UPLOADS_DIR};
use crate::{CoreError, CoreResult};

pub struct LocalArtifactStore {
    root: PathBuf,
    /// Uploads in progress, inside the root (so a rename finishes them) under a name no
    /// client path may use. Emptied at start: whatever is there was cut off by a crash.
    uploads: PathBuf,
}

/// A file-system refusal caused by the path the client chose (a name too long, a folder
/// where a file is, a file where a folder is) is the client's mistake, not ours.
fn client_io_error(path: &ArtifactPath, e: std::io::Error) -> CoreError {
    use std::io::ErrorKind as K;
    match e.kind() {
        K::AlreadyExists | K::NotADirectory | K::IsADirectory | K::InvalidFilename => {
            CoreError::InvalidParameter(format!(
                "cannot write artifact '{path}': a file or folder on its path is in the way ({e})"
            ))
        }
        _ => e.into(),
    }
}

impl LocalArtifactStore {
    /// Opens (creating if needed) the folder `root`.
    pub async fn open(root: impl AsRef<Path>) -> CoreResult<Self> {
        let root = root.as_ref();
        tokio::fs::create_dir_all(root).await.map_err(|e| {
            CoreError::Config(format!("cannot create artifact folder {}: {e}", root.display()))
        })?;
        let root = tokio::fs::canonicalize(root)
            .await
            .map_err(|e| CoreError::Config(format!("cannot open artifact folder {}: {e}", root.display())))?;
        let uploads = root.join(RESERVED_UPLOADS_DIR);
        // A clean start: partial uploads left by a crash are swept, never shown.
        if tokio::fs::metadata(&uploads).await.is_ok() {
            tokio::fs::remove_dir_all(&uploads)
                .await
                .map_err(|e| CoreError::Config(format!("cannot sweep {}: {e}", uploads.display())))?;
        }
        tokio::fs::create_dir_all(&uploads)
            .await
            .map_err(|e| CoreError::Config(format!("cannot create {}: {e}", uploads.display())))?;
        Ok(LocalArtifactStore { root, uploads })
    }

    /// The file-system path of `path`. Safe because `ArtifactPath` has no `..`, and we
    /// refuse to follow symlinks that point out of the root (see `confined`).
    fn full_path(&self, path: &ArtifactPath) -> PathBuf {
        let mut full = self.root.clone();
        for segment in path.segments() {
            full.push(segment);
        }
        full
    }

    /// Refuses paths that resolve outside the root through a symlink someone placed in
    /// the store. Checks the nearest existing ancestor, so nothing is created outside either.
    async fn confined(&self, full: &Path) -> CoreResult<()> {
        let mut probe = Some(full);
        while let Some(candidate) = probe {
            if let Ok(real) = tokio::fs::canonicalize(candidate).await {
                if !real.starts_with(&self.root) {
                    return Err(CoreError::NotFound("artifact not found".into()));
                }
                return Ok(());
            }
            probe = candidate.parent();
        }
        Ok(())
    }
}

#[async_trait::async_trait]
impl ArtifactStore for LocalArtifactStore {
    async fn put(&self, path: &ArtifactPath, mut body: ByteStream) -> CoreResult<u64> {
        if path.is_root() {
            return Err(super::PathError::Empty.into());
        }
        let full = self.full_path(path);
        let parent = full.parent().unwrap_or(&self.root).to_path_buf();
        self.confined(&parent).await?;
        tokio::fs::create_dir_all(&parent)
            .await
            .map_err(|e| client_io_error(path, e))?;
        if tokio::fs::metadata(&full).await.is_ok_and(|m| m.is_dir()) {
            return Err(CoreError::InvalidParameter(format!("'{path}' is a directory")));
        }
        // Write in the uploads folder and rename, so readers never see half a file.
        let tmp = self
            .uploads
            .join(format!("{}.part", uuid::Uuid::new_v4().simple()));
        let result = async {
            let mut file = tokio::fs::File::create(&tmp).await?;
            let mut written = 0u64;
            while let Some(chunk) = body.next().await {
                let chunk = chunk?;
                file.write_all(&chunk).await?;
                written += chunk.len() as u64;
            }
            file.flush().await?;
            file.sync_all().await?;
            tokio::fs::rename(&tmp, &full).await?;
            Ok::<u64, std::io::Error>(written)
        }
        .await;
        if result.is_err() {
            let _ = tokio::fs::remove_file(&tmp).await;
        }
        result.map_err(|e| client_io_error(path, e))
    }

    async fn get(&self, path: &ArtifactPath) -> CoreResult<ByteStream> {
        let full = self.full_path(path);
        self.confined(&full).await?;
        match tokio::fs::metadata(&full).await {
            Ok(meta) if meta.is_file() => {}
            Ok(_) => return Err(CoreError::InvalidParameter(format!("'{path}' is a directory"))),
            Err(_) => return Err(CoreError::NotFound(format!("artifact '{path}' not found"))),
        }
        let file = tokio::fs::File::open(&full).await?;
        Ok(Box::pin(ReaderStream::with_capacity(file, 64 * 1024)))
    }

    async fn list(&self, dir: &ArtifactPath) -> CoreResult<Vec<ArtifactEntry>> {
        let full = self.full_path(dir);
        self.confined(&full).await?;
        let mut entries = Vec::new();
        let mut reader = match tokio::fs::read_dir(&full).await {
            Ok(reader) => reader,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(entries),
            // A file is not a directory: listing it gives nothing, as in MLflow.
            Err(e) if e.kind() == std::io::ErrorKind::NotADirectory => return Ok(entries),
            Err(e) => return Err(e.into()),
        };
        while let Some(entry) = reader.next_entry().await? {
            let name = entry.file_name().to_string_lossy().into_owned();
            if dir.is_root() && name == RESERVED_UPLOADS_DIR {
                continue; // uploads in progress
            }
            let meta = entry.metadata().await?;
            let child = if dir.is_root() {
                name
            } else {
                format!("{dir}/{name}")
            };
            entries.push(ArtifactEntry {
                path: child,
                is_dir: meta.is_dir(),
                file_size: meta.is_file().then_some(meta.len()),
            });
        }
        entries.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(entries)
    }

    async fn delete(&self, path: &ArtifactPath) -> CoreResult<()> {
        let full = self.full_path(path);
        self.confined(&full).await?;
        let result = match tokio::fs::symlink_metadata(&full).await {
            Ok(meta) if meta.is_dir() => {
                if path.is_root() {
                    // Empty the root but keep it.
                    let mut reader = tokio::fs::read_dir(&full).await?;
                    while let Some(entry) = reader.next_entry().await? {
                        let p = entry.path();
                        if p == self.uploads {
                            continue;
                        }
                        if entry.file_type().await?.is_dir() {
                            tokio::fs::remove_dir_all(p).await?;
                        } else {
                            tokio::fs::remove_file(p).await?;
                        }
                    }
                    Ok(())
                } else {
                    tokio::fs::remove_dir_all(&full).await
                }
            }
            Ok(_) => tokio::fs::remove_file(&full).await,
            Err(_) => Ok(()),
        };
        Ok(result?)
    }

    async fn ping(&self) -> CoreResult<()> {
        let meta = tokio::fs::metadata(&self.root).await?;
        if !meta.is_dir() {
            return Err(CoreError::Storage("artifact root is not a folder".into()));
        }
        Ok(())
    }

    fn describe(&self) -> String {
        format!("local folder {}", self.root.display())
    }
}
