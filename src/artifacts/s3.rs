//! Artifacts in an S3 bucket (AWS, MinIO or any S3-compatible server), path-style.

use aws_sdk_s3::config::{RequestChecksumCalculation, ResponseChecksumValidation};
use aws_sdk_s3::error::DisplayErrorContext;
use aws_sdk_s3::primitives::ByteStream as S3Body;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use aws_sdk_s3::Client;
use bytes::{Buf, Bytes, BytesMut};
use futures::{StreamExt, TryStreamExt};
use tokio_util::io::ReaderStream;

use super::{ArtifactEntry, ArtifactPath, ArtifactStore, ByteStream};
use crate::{CoreError, CoreResult};

/// Uploads are sent in parts of this size, so an upload of any length holds at most
/// one part in memory. S3 needs parts of at least 5 MiB (except the last).
const PART_SIZE: usize = 8 * 1024 * 1024;
/// Parts uploading at once: at most this many parts (and one being read) sit in memory.
const PARTS_IN_FLIGHT: usize = 3;
/// Downloads past one range fetch this many ranges at once, each held until its turn to go
/// out: 16 MiB at most.
const RANGE_SIZE: usize = 4 * 1024 * 1024;
const RANGES_IN_FLIGHT: usize = 4;

/// Reads the next part of `body`, at most [`PART_SIZE`] bytes in one buffer of that size, and
/// whether the body ended. A chunk that crosses the bound is cut and its rest kept in
/// `carry` for the next part: growing a buffer past the bound doubled it to 16 MiB for 8 MiB
/// of data, which put the S3 upload's peak RSS at 97 MiB.
async fn read_part(body: &mut ByteStream, carry: &mut Option<Bytes>) -> CoreResult<(Bytes, bool)> {
    let mut part = BytesMut::new();
    loop {
        let mut chunk = match carry.take() {
            Some(rest) => rest,
            None => match body.next().await {
                Some(chunk) => chunk?,
                None => return Ok((part.freeze(), true)),
            },
        };
        let room = PART_SIZE - part.len();
        if chunk.len() > room {
            *carry = Some(chunk.split_off(room));
        }
        if part.capacity() == 0 && !chunk.is_empty() {
            // The whole part at once, so it never grows by copying; pages untouched by a
            // small artifact are never made resident.
            part.reserve(PART_SIZE);
        }
        part.extend_from_slice(&chunk);
        if part.len() == PART_SIZE {
            return Ok((part.freeze(), false));
        }
    }
}

/// S3's longest object key, in bytes.
const MAX_KEY_BYTES: usize = 1024;

pub struct S3ArtifactStore {
    client: Client,
    bucket: String,
    /// Key prefix without leading or trailing slash ("" for the bucket root).
    prefix: String,
}

fn storage_error(context: &str, e: impl std::error::Error) -> CoreError {
    CoreError::Storage(format!("{context}: {}", DisplayErrorContext(e)))
}

impl S3ArtifactStore {
    /// Builds a client from the usual `AWS_*` variables and `AWS_ENDPOINT_URL`.
    pub async fn from_env(bucket: &str, prefix: &str) -> CoreResult<Self> {
        let shared = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .load()
            .await;
        let mut config = aws_sdk_s3::config::Builder::from(&shared)
            .force_path_style(true)
            // S3-compatible servers differ in their support of the newer default checksums.
            .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
            .response_checksum_validation(ResponseChecksumValidation::WhenRequired);
        if shared.region().is_none() {
            config = config.region(aws_sdk_s3::config::Region::new("us-east-1"));
        }
        Ok(Self::new(Client::from_conf(config.build()), bucket, prefix))
    }

    /// Builds a client for an explicit endpoint and key pair (MinIO, s3s-fs, tests).
    pub fn with_static_credentials(
        endpoint: &str,
        access_key: &str,
        secret_key: &str,
        bucket: &str,
        prefix: &str,
    ) -> Self {
        let credentials = aws_sdk_s3::config::Credentials::new(access_key, secret_key, None, None, "static");
        let config = aws_sdk_s3::config::Builder::new()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .endpoint_url(endpoint)
            .region(aws_sdk_s3::config::Region::new("us-east-1"))
            .credentials_provider(credentials)
            .force_path_style(true)
            .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
            .response_checksum_validation(ResponseChecksumValidation::WhenRequired)
            .build();
        Self::new(Client::from_conf(config), bucket, prefix)
    }

    pub fn new(client: Client, bucket: &str, prefix: &str) -> Self {
        S3ArtifactStore {
            client,
            bucket: bucket.to_string(),
            prefix: prefix.trim_matches('/').to_string(),
        }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The object key of `path`: the prefix and the path.
    fn key(&self, path: &ArtifactPath) -> String {
        match (self.prefix.is_empty(), path.is_root()) {
            (true, _) => path.to_string(),
            (false, true) => self.prefix.clone(),
            (false, false) => format!("{}/{}", self.prefix, path),
        }
    }

    /// Whether an object with exactly this key exists.
    async fn object_exists(&self, key: &str) -> bool {
        self.client
            .head_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .is_ok()
    }

    /// S3 would keep `a/b` beside an object `a`, but a folder store can't, and MLflow's
    /// listing can't show both: refuse a path under a file, or a file where a folder is,
    /// so both stores accept the same trees. The ancestors are asked at once.
    async fn refuse_file_folder_clash(&self, path: &ArtifactPath) -> CoreResult<()> {
        let segments: Vec<&str> = path.segments().collect();
        let ancestors: Vec<String> = (1..segments.len())
            .map(|n| self.key(&ArtifactPath::from_segments(&segments[..n])))
            .collect();
        let found = futures::future::join_all(ancestors.iter().map(|k| self.object_exists(k))).await;
        if let Some((key, _)) = ancestors.iter().zip(found).find(|(_, exists)| *exists) {
            return Err(CoreError::InvalidParameter(format!(
                "cannot write artifact '{path}': '{key}' is a file, not a folder"
            )));
        }
        let inside = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(self.dir_prefix(path))
            .max_keys(1)
            .send()
            .await
            .map_err(|e| storage_error("list_objects_v2", e))?;
        if inside.key_count().unwrap_or(0) > 0 {
            return Err(CoreError::InvalidParameter(format!("'{path}' is a directory")));
        }
        Ok(())
    }

    /// The key prefix that lists the inside of `dir`.
    fn dir_prefix(&self, dir: &ArtifactPath) -> String {
        let key = self.key(dir);
        if key.is_empty() {
            key
        } else {
            format!("{key}/")
        }
    }

    async fn put_single(&self, key: &str, data: Bytes) -> CoreResult<()> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .body(S3Body::from(data))
            .send()
            .await
            .map_err(|e| storage_error("put_object", e))?;
        Ok(())
    }

    async fn put_multipart(
        &self,
        key: &str,
        first: Bytes,
        body: &mut ByteStream,
        mut carry: Option<Bytes>,
    ) -> CoreResult<u64> {
        let upload = self
            .client
            .create_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| storage_error("create_multipart_upload", e))?;
        let upload_id = upload
            .upload_id()
            .ok_or_else(|| CoreError::Storage("no upload id from S3".into()))?
            .to_string();
        let result = async {
            // Parts upload on tasks of their own while the next one is read, a few at a
            // time: one at a time, the request's reading and S3's writing take turns.
            let mut uploads: tokio::task::JoinSet<CoreResult<CompletedPart>> = tokio::task::JoinSet::new();
            let mut parts = Vec::new();
            let mut written = 0u64;
            // The first part was read before we knew the upload was large; the rest here.
            let (mut data, mut done) = (first, false);
            let mut part_number = 0i32;
            while !data.is_empty() {
                written += data.len() as u64;
                part_number = part_number
                    .checked_add(1)
                    .ok_or_else(|| CoreError::InvalidParameter("artifact too large".into()))?;
                let send = self
                    .client
                    .upload_part()
                    .bucket(&self.bucket)
                    .key(key)
                    .upload_id(&upload_id)
                    .part_number(part_number)
                    .body(S3Body::from(data))
                    .send();
                let number = part_number;
                uploads.spawn(async move {
                    let part = send.await.map_err(|e| storage_error("upload_part", e))?;
                    Ok(CompletedPart::builder()
                        .set_e_tag(part.e_tag().map(str::to_string))
                        .part_number(number)
                        .build())
                });
                while uploads.len() >= PARTS_IN_FLIGHT {
                    if let Some(joined) = uploads.join_next().await {
                        parts.push(joined.map_err(|e| CoreError::Storage(format!("upload_part: {e}")))??);
                    }
                }
                if done {
                    break;
                }
                (data, done) = read_part(body, &mut carry).await?;
            }
            while let Some(joined) = uploads.join_next().await {
                parts.push(joined.map_err(|e| CoreError::Storage(format!("upload_part: {e}")))??);
            }
            parts.sort_by_key(|p| p.part_number());
            self.client
                .complete_multipart_upload()
                .bucket(&self.bucket)
                .key(key)
                .upload_id(&upload_id)
                .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(parts)).build())
                .send()
                .await
                .map_err(|e| storage_error("complete_multipart_upload", e))?;
            Ok::<u64, CoreError>(written)
        }
        .await;
        if result.is_err() {
            let _ = self
                .client
                .abort_multipart_upload()
                .bucket(&self.bucket)
                .key(key)
                .upload_id(&upload_id)
                .send()
                .await;
        }
        result
    }

    /// Every key under `prefix`, following continuation tokens.
    async fn keys_under(&self, prefix: &str) -> CoreResult<Vec<String>> {
        let mut keys = Vec::new();
        let mut token = None;
        loop {
            let page = self
                .client
                .list_objects_v2()
                .bucket(&self.bucket)
                .prefix(prefix)
                .set_continuation_token(token)
                .send()
                .await
                .map_err(|e| storage_error("list_objects_v2", e))?;
            keys.extend(page.contents().iter().filter_map(|o| o.key().map(str::to_string)));
            match page.next_continuation_token() {
                Some(next) if page.is_truncated().unwrap_or(false) => token = Some(next.to_string()),
                _ => break,
            }
        }
        Ok(keys)
    }
}

#[async_trait::async_trait]
impl ArtifactStore for S3ArtifactStore {
    async fn put(&self, path: &ArtifactPath, mut body: ByteStream) -> CoreResult<u64> {
        if path.is_root() {
            return Err(super::PathError::Empty.into());
        }
        let key = self.key(path);
        if key.len() > MAX_KEY_BYTES {
            return Err(CoreError::InvalidParameter(format!(
                "artifact path '{path}' makes an S3 key of {} bytes; S3 allows {MAX_KEY_BYTES}",
                key.len()
            )));
        }
        self.refuse_file_folder_clash(path).await?;
        // Read up to one part; small files go up in one request, larger ones as multipart.
        let mut carry = None;
        let (first, end) = read_part(&mut body, &mut carry).await?;
        if end {
            let len = first.len() as u64;
            self.put_single(&key, first).await?;
            return Ok(len);
        }
        self.put_multipart(&key, first, &mut body, carry).await
    }

    /// Small files come back as one GET stream. Larger ones as ranges, `RANGES_IN_FLIGHT`
    /// fetched at once (one GET stream held a 1 GiB download to half the rate of boto3's
    /// parallel ranges), sent on in order, each from the same version of the object
    /// (`If-Match` its ETag): a file replaced meanwhile fails the download instead of
    /// mixing two versions. The first GET tells which: a small file costs one request, and
    /// a large one drops that first body unread.
    async fn get(&self, path: &ArtifactPath) -> CoreResult<ByteStream> {
        let key = self.key(path);
        let output = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(&key)
            .send()
            .await
            .map_err(|e| match e.as_service_error() {
                Some(se) if se.is_no_such_key() => {
                    CoreError::NotFound(format!("artifact '{path}' not found"))
                }
                _ => storage_error("get_object", e),
            })?;
        let size = output.content_length().unwrap_or(0).max(0) as u64;
        if size <= RANGE_SIZE as u64 {
            let reader = output.body.into_async_read();
            return Ok(Box::pin(ReaderStream::with_capacity(reader, 64 * 1024)));
        }
        let (client, bucket, etag) = (self.client.clone(), self.bucket.clone(), output.e_tag);
        let ranges = (0..size)
            .step_by(RANGE_SIZE)
            .map(move |first| (first, (first + RANGE_SIZE as u64).min(size) - 1));
        let parts = futures::stream::iter(ranges)
            .map(move |(first, last)| {
                let request = client
                    .get_object()
                    .bucket(&bucket)
                    .key(&key)
                    .range(format!("bytes={first}-{last}"))
                    .set_if_match(etag.clone());
                async move {
                    let failed = |e: String| std::io::Error::other(format!("S3 range {first}-{last}: {e}"));
                    let output = request
                        .send()
                        .await
                        .map_err(|e| failed(DisplayErrorContext(e).to_string()))?;
                    let part = output.body.collect().await.map_err(|e| failed(e.to_string()))?;
                    if part.remaining() as u64 != last - first + 1 {
                        return Err(failed(format!("{} bytes came back", part.remaining())));
                    }
                    // As received, not copied into one buffer.
                    Ok(futures::stream::iter(part.into_segments().map(Ok)))
                }
            })
            .buffered(RANGES_IN_FLIGHT)
            .try_flatten();
        Ok(Box::pin(parts))
    }

    async fn list(&self, dir: &ArtifactPath) -> CoreResult<Vec<ArtifactEntry>> {
        let prefix = self.dir_prefix(dir);
        let strip = |key: &str| -> Option<String> {
            let name = key.strip_prefix(&prefix)?.trim_end_matches('/');
            if name.is_empty() {
                return None;
            }
            Some(if dir.is_root() {
                name.to_string()
            } else {
                format!("{dir}/{name}")
            })
        };
        let mut entries = Vec::new();
        let mut token = None;
        loop {
            let page = self
                .client
                .list_objects_v2()
                .bucket(&self.bucket)
                .prefix(&prefix)
                .delimiter("/")
                .set_continuation_token(token)
                .send()
                .await
                .map_err(|e| storage_error("list_objects_v2", e))?;
            for common in page.common_prefixes() {
                if let Some(path) = common.prefix().and_then(strip) {
                    entries.push(ArtifactEntry {
                        path,
                        is_dir: true,
                        file_size: None,
                    });
                }
            }
            for object in page.contents() {
                if let Some(path) = object.key().and_then(strip) {
                    let size = object.size().and_then(|s| u64::try_from(s).ok()).unwrap_or(0);
                    entries.push(ArtifactEntry {
                        path,
                        is_dir: false,
                        file_size: Some(size),
                    });
                }
            }
            match page.next_continuation_token() {
                Some(next) if page.is_truncated().unwrap_or(false) => token = Some(next.to_string()),
                _ => break,
            }
        }
        entries.sort_by(|a, b| a.path.cmp(&b.path));
        entries.dedup_by(|a, b| a.path == b.path);
        Ok(entries)
    }

    async fn delete(&self, path: &ArtifactPath) -> CoreResult<()> {
        let mut keys = self.keys_under(&self.dir_prefix(path)).await?;
        // A directory is only a prefix; delete the exact key only when it is an object
        // (some S3-compatible servers fail on deleting a missing key).
        if !path.is_root() {
            let key = self.key(path);
            if self.object_exists(&key).await {
                keys.push(key);
            }
        }
        for key in keys {
            self.client
                .delete_object()
                .bucket(&self.bucket)
                .key(key)
                .send()
                .await
                .map_err(|e| storage_error("delete_object", e))?;
        }
        Ok(())
    }

    async fn ping(&self) -> CoreResult<()> {
        self.client
            .head_bucket()
            .bucket(&self.bucket)
            .send()
            .await
            .map_err(|e| storage_error("head_bucket", e))?;
        Ok(())
    }

    fn describe(&self) -> String {
        if self.prefix.is_empty() {
            format!("s3://{}", self.bucket)
        } else {
            format!("s3://{}/{}", self.bucket, self.prefix)
        }
    }
}
