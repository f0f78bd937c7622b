//! The same artifact-store cases against a local folder and a real S3 server.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use aiops_core::artifacts::{collect, stream_from, ArtifactPath, ArtifactStore, ByteStream};
use aiops_core::CoreError;
use bytes::Bytes;

macro_rules! artifact_cases {
    ($($case:ident),* $(,)?) => {
        mod local {
            $(
                #[tokio::test]
                async fn $case() {
                    let (store, _dir) = crate::common::local_store().await;
                    super::$case(store.as_ref()).await;
                }
            )*
        }
        mod s3 {
            $(
                #[tokio::test]
                async fn $case() {
                    let store = crate::common::s3_store("").await;
                    super::$case(store.as_ref()).await;
                }
            )*
        }
        mod s3_with_prefix {
            $(
                #[tokio::test]
                async fn $case() {
                    let store = crate::common::s3_store("team/artifacts").await;
                    super::$case(store.as_ref()).await;
                }
            )*
        }
    };
}

artifact_cases!(
    put_get_round_trip,
    list_directories_and_files,
    delete_files_and_trees,
    missing_files_are_not_found,
    large_uploads_stream_in_parts,
    ping_answers,
);

fn path(p: &str) -> ArtifactPath {
    ArtifactPath::parse(p).unwrap()
}

async fn read(store: &dyn ArtifactStore, p: &str) -> Vec<u8> {
    collect(store.get(&path(p)).await.unwrap()).await.unwrap()
}

async fn put_get_round_trip(store: &dyn ArtifactStore) {
    let written = store
        .put(&path("1/run/artifacts/model.txt"), stream_from("hello"))
        .await
        .unwrap();
    assert_eq!(written, 5);
    assert_eq!(read(store, "1/run/artifacts/model.txt").await, b"hello");
    // Replacing keeps only the new content.
    store
        .put(&path("1/run/artifacts/model.txt"), stream_from("bye"))
        .await
        .unwrap();
    assert_eq!(read(store, "1/run/artifacts/model.txt").await, b"bye");
    // Empty files exist too.
    store
        .put(&path("empty.bin"), stream_from(Bytes::new()))
        .await
        .unwrap();
    assert!(read(store, "empty.bin").await.is_empty());
    // Names with spaces, colons and percent signs are ordinary names.
    store
        .put(&path("odd names/v1:final 100%.txt"), stream_from("x"))
        .await
        .unwrap();
    assert_eq!(read(store, "odd names/v1:final 100%.txt").await, b"x");
    assert!(store.put(&ArtifactPath::root(), stream_from("x")).await.is_err());
}

async fn list_directories_and_files(store: &dyn ArtifactStore) {
    for (p, body) in [
        ("r/a.txt", "aa"),
        ("r/sub/b.txt", "bbb"),
        ("r/sub/deeper/c.txt", "c"),
        ("rx/other.txt", "o"),
    ] {
        store.put(&path(p), stream_from(body)).await.unwrap();
    }
    let top = store.list(&path("r")).await.unwrap();
    let summary: Vec<(String, bool, Option<u64>)> =
        top.into_iter().map(|e| (e.path, e.is_dir, e.file_size)).collect();
    assert_eq!(
        summary,
        vec![("r/a.txt".into(), false, Some(2)), ("r/sub".into(), true, None)]
    );
    let sub = store.list(&path("r/sub")).await.unwrap();
    assert_eq!(
        sub.iter().map(|e| e.path.as_str()).collect::<Vec<_>>(),
        vec!["r/sub/b.txt", "r/sub/deeper"]
    );
    let root = store.list(&ArtifactPath::root()).await.unwrap();
    assert_eq!(
        root.iter().map(|e| e.path.as_str()).collect::<Vec<_>>(),
        vec!["r", "rx"]
    );
    assert!(store.list(&path("nothing/here")).await.unwrap().is_empty());
}

async fn delete_files_and_trees(store: &dyn ArtifactStore) {
    for p in ["d/keep.txt", "d/tree/a.txt", "d/tree/b/c.txt", "d/treehouse.txt"] {
        store.put(&path(p), stream_from("x")).await.unwrap();
    }
    store.delete(&path("d/tree")).await.unwrap();
    let left: Vec<String> = store
        .list(&path("d"))
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.path)
        .collect();
    assert_eq!(
        left,
        vec!["d/keep.txt", "d/treehouse.txt"],
        "a sibling sharing the prefix survives"
    );
    store.delete(&path("d/keep.txt")).await.unwrap();
    assert!(matches!(
        store.get(&path("d/keep.txt")).await.err(),
        Some(CoreError::NotFound(_))
    ));
    // Deleting what is not there is not an error.
    store.delete(&path("d/never")).await.unwrap();
}

async fn missing_files_are_not_found(store: &dyn ArtifactStore) {
    assert!(matches!(
        store.get(&path("no/such/file")).await.err(),
        Some(CoreError::NotFound(_))
    ));
}

async fn large_uploads_stream_in_parts(store: &dyn ArtifactStore) {
    // 20 MiB in 1 MiB chunks: more than two S3 parts, never one buffer of the whole.
    let chunk: Vec<u8> = (0..1024 * 1024).map(|i| (i % 251) as u8).collect();
    let chunks: Vec<std::io::Result<Bytes>> = (0..20).map(|_| Ok(Bytes::from(chunk.clone()))).collect();
    let body: ByteStream = Box::pin(futures::stream::iter(chunks));
    let written = store.put(&path("big/blob.bin"), body).await.unwrap();
    assert_eq!(written, 20 * 1024 * 1024);
    let back = read(store, "big/blob.bin").await;
    assert_eq!(back.len(), 20 * 1024 * 1024);
    assert!(back.chunks(chunk.len()).all(|c| c == chunk.as_slice()));
    let listed = store.list(&path("big")).await.unwrap();
    assert_eq!(listed[0].file_size, Some(20 * 1024 * 1024));

    // One byte past an upload part (8 MiB): S3 sends it back as ranges (4 MiB), the last of
    // one byte.
    let edge: Vec<u8> = (0..8 * 1024 * 1024 + 1).map(|i| (i % 253) as u8).collect();
    let body: ByteStream = Box::pin(futures::stream::iter([Ok(Bytes::from(edge.clone()))]));
    store.put(&path("big/edge.bin"), body).await.unwrap();
    assert!(read(store, "big/edge.bin").await == edge);

    // Chunks that straddle the parts' bounds (cut, the rest carried into the next part), and
    // a file of exactly one part.
    let odd: Vec<u8> = (0..3 * 1024 * 1024 + 7).map(|i| (i % 241) as u8).collect();
    let chunks: Vec<std::io::Result<Bytes>> = (0..6).map(|_| Ok(Bytes::from(odd.clone()))).collect();
    let body: ByteStream = Box::pin(futures::stream::iter(chunks));
    assert_eq!(
        store.put(&path("big/odd.bin"), body).await.unwrap(),
        6 * odd.len() as u64
    );
    let back = read(store, "big/odd.bin").await;
    assert!(back.len() == 6 * odd.len() && back.chunks(odd.len()).all(|c| c == odd.as_slice()));
    let whole: Vec<u8> = edge[..8 * 1024 * 1024].to_vec();
    let body: ByteStream = Box::pin(futures::stream::iter([Ok(Bytes::from(whole.clone()))]));
    store.put(&path("big/whole.bin"), body).await.unwrap();
    assert!(read(store, "big/whole.bin").await == whole);
}

async fn ping_answers(store: &dyn ArtifactStore) {
    store.ping().await.unwrap();
    assert!(!store.describe().is_empty());
}

#[tokio::test]
async fn s3_ping_fails_for_a_missing_bucket() {
    let s3 = common::s3_settings();
    let store = aiops_core::artifacts::S3ArtifactStore::with_static_credentials(
        &s3.endpoint,
        &s3.access_key,
        &s3.secret_key,
        "no-such-bucket-here",
        "",
    );
    assert!(store.ping().await.is_err());
}

#[tokio::test]
async fn local_store_does_not_follow_symlinks_out_of_the_root() {
    let (store, dir) = common::local_store().await;
    let outside = dir.path().join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(outside.join("secret.txt"), "secret").unwrap();
    std::os::unix::fs::symlink(&outside, dir.path().join("artifacts/link")).unwrap();
    assert!(store.get(&path("link/secret.txt")).await.is_err());
    assert!(store.list(&path("link")).await.is_err());
    assert!(store.put(&path("link/new.txt"), stream_from("x")).await.is_err());
    assert!(!outside.join("new.txt").exists());
}
