//! Validated artifact paths.

use std::fmt;

/// Why a path was refused. Always the caller's fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    #[error("artifact path '{0}' must be relative")]
    Absolute(String),
    #[error("artifact path '{0}' must not contain '..' or '.' segments")]
    Traversal(String),
    #[error("artifact path '{0}' must not contain backslashes")]
    Backslash(String),
    #[error("artifact path '{0}' must not contain empty segments")]
    EmptySegment(String),
    #[error("artifact path '{0}' contains a forbidden character")]
    ForbiddenCharacter(String),
    #[error("artifact path '{0}' must not be percent-encoded")]
    Encoded(String),
    #[error("artifact path is too long")]
    TooLong,
    #[error("artifact path '{0}' has a name longer than 255 bytes")]
    NameTooLong(String),
    #[error("artifact path '{0}' names a folder reserved for the server")]
    Reserved(String),
    #[error("artifact URI '{0}' is not an mlflow-artifacts:/<path> URI kept by this server")]
    NotServed(String),
    #[error("artifact URI '{0}' names a host; only mlflow-artifacts:/<path> without one is served")]
    Authority(String),
    #[error("an artifact path is required here")]
    Empty,
}

const MAX_PATH_LENGTH: usize = 4096;
/// Longest name one segment may have: file systems refuse more (ENAMETOOLONG).
const MAX_SEGMENT_LENGTH: usize = 255;
/// Where the local store keeps uploads in progress; no client path may start with it.
pub const RESERVED_UPLOADS_DIR: &str = ".aiops-uploads";
/// The scheme runs and experiments use for artifacts kept by this server.
pub const ARTIFACT_SCHEME: &str = "mlflow-artifacts:";

/// A relative, normalised path inside an artifact store: segments joined by `/`, none
/// of them empty, `.` or `..`. The empty path is the store root.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub struct ArtifactPath(String);

impl ArtifactPath {
    /// The root of the store.
    pub fn root() -> Self {
        ArtifactPath(String::new())
    }

    /// Validates a path given by a client. A trailing `/` is dropped; the empty path is the root.
    pub fn parse(raw: &str) -> Result<Self, PathError> {
        let trimmed = raw.strip_suffix('/').unwrap_or(raw);
        check(trimmed, raw)?;
        // Clients may percent-encode once by accident, but a decoded form that differs
        // and would be unsafe (or is itself still encoded) is an escape attempt.
        let mut current = trimmed.to_string();
        for _ in 0..3 {
            let decoded = percent_encoding::percent_decode_str(&current)
                .decode_utf8_lossy()
                .into_owned();
            if decoded == current {
                break;
            }
            if check(&decoded, raw).is_err() || decoded.contains('%') && decoded != current {
                return Err(PathError::Encoded(short(raw)));
            }
            current = decoded;
        }
        Ok(ArtifactPath(trimmed.to_string()))
    }

    /// The store path behind an `mlflow-artifacts:` URI: `mlflow-artifacts:/path` or
    /// `mlflow-artifacts:///path`. A URI with a host (`mlflow-artifacts://host:port/x`) is
    /// refused: the client would send that experiment's artifacts to the other host.
    pub fn from_uri(uri: &str) -> Result<Self, PathError> {
        let rest = uri
            .strip_prefix(ARTIFACT_SCHEME)
            .ok_or_else(|| PathError::NotServed(short(uri)))?;
        let rest = match rest.strip_prefix("//") {
            Some(after) if after.starts_with('/') => after,
            Some(_) => return Err(PathError::Authority(short(uri))),
            None => rest,
        };
        Self::parse(rest.strip_prefix('/').unwrap_or(rest))
    }

    /// The path made of the first segments of an already valid path.
    pub(crate) fn from_segments(segments: &[&str]) -> Self {
        ArtifactPath(segments.join("/"))
    }

    /// Like [`parse`](Self::parse) but refuses the root.
    pub fn parse_file(raw: &str) -> Result<Self, PathError> {
        let path = Self::parse(raw)?;
        if path.is_root() {
            return Err(PathError::Empty);
        }
        Ok(path)
    }

    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn segments(&self) -> impl Iterator<Item = &str> {
        self.0.split('/').filter(|s| !s.is_empty())
    }

    /// This path with `child` (already validated) appended.
    pub fn join(&self, child: &ArtifactPath) -> ArtifactPath {
        match (self.is_root(), child.is_root()) {
            (true, _) => child.clone(),
            (_, true) => self.clone(),
            _ => ArtifactPath(format!("{}/{}", self.0, child.0)),
        }
    }

    /// The last segment, or "" for the root.
    pub fn file_name(&self) -> &str {
        self.0.rsplit('/').next().unwrap_or("")
    }
}

impl fmt::Display for ArtifactPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn short(raw: &str) -> String {
    raw.chars().take(200).collect()
}

fn check(path: &str, raw: &str) -> Result<(), PathError> {
    if path.len() > MAX_PATH_LENGTH {
        return Err(PathError::TooLong);
    }
    if path.is_empty() {
        return Ok(());
    }
    if path.contains('\\') {
        return Err(PathError::Backslash(short(raw)));
    }
    if path.starts_with('/') || looks_like_drive(path) {
        return Err(PathError::Absolute(short(raw)));
    }
    if path.chars().any(|c| c.is_control() || c == '#' || c == '?') {
        return Err(PathError::ForbiddenCharacter(short(raw)));
    }
    for (i, segment) in path.split('/').enumerate() {
        match segment {
            "" => return Err(PathError::EmptySegment(short(raw))),
            "." | ".." => return Err(PathError::Traversal(short(raw))),
            RESERVED_UPLOADS_DIR if i == 0 => return Err(PathError::Reserved(short(raw))),
            s if s.len() > MAX_SEGMENT_LENGTH => return Err(PathError::NameTooLong(short(raw))),
            _ => {}
        }
    }
    Ok(())
}

/// `C:` or `c:/...`: absolute on Windows, and a URI scheme such as `file:` looks alike.
fn looks_like_drive(path: &str) -> bool {
    let first = path.split('/').next().unwrap_or("");
    first.ends_with(':')
        && first[..first.len() - 1]
            .chars()
            .all(|c| c.is_ascii_alphanumeric())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_paths() {
        for ok in [
            "a",
            "a/b.txt",
            "dir/",
            "model/MLmodel",
            "100%.txt",
            "v1:final/x",
            "a b/c d.csv",
        ] {
            assert!(ArtifactPath::parse(ok).is_ok(), "{ok}");
        }
        assert!(ArtifactPath::parse("").is_ok_and(|p| p.is_root()));
        assert_eq!(
            ArtifactPath::parse("dir/").map(|p| p.to_string()),
            Ok("dir".into())
        );
    }

    #[test]
    fn refuses_escapes() {
        for bad in [
            "..",
            "../x",
            "a/../../x",
            "a/./b",
            "/etc/passwd",
            "a\\b",
            "..\\x",
            "C:/x",
            "file:///etc/passwd",
            "a//b",
            "%2e%2e/x",
            "a/%2E%2E/b",
            "..%2fx",
            "%252e%252e/x",
            "a%5cb",
            "%2fetc",
            "a#frag",
            "a?q=1",
            "a\0b",
            "a\nb",
        ] {
            assert!(ArtifactPath::parse(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn names_at_the_limit() {
        let at = "n".repeat(255);
        assert!(ArtifactPath::parse(&format!("a/{at}")).is_ok());
        let over = "n".repeat(256);
        assert_eq!(
            ArtifactPath::parse(&format!("a/{over}")),
            Err(PathError::NameTooLong(
                format!("a/{over}").chars().take(200).collect()
            ))
        );
        assert!(matches!(
            ArtifactPath::parse(".aiops-uploads/x"),
            Err(PathError::Reserved(_))
        ));
        assert!(ArtifactPath::parse("x/.aiops-uploads").is_ok());
    }

    #[test]
    fn artifact_uris() {
        for (uri, path) in [
            ("mlflow-artifacts:/1/abc", "1/abc"),
            ("mlflow-artifacts:///1/abc", "1/abc"),
            ("mlflow-artifacts:1/abc", "1/abc"),
        ] {
            assert_eq!(
                ArtifactPath::from_uri(uri).map(|p| p.to_string()),
                Ok(path.to_string())
            );
        }
        for bad in [
            "mlflow-artifacts://evil.example:8080/x",
            "mlflow-artifacts://127.0.0.1/x",
            "mlflow-artifacts://user@host/x",
        ] {
            assert!(
                matches!(ArtifactPath::from_uri(bad), Err(PathError::Authority(_))),
                "{bad}"
            );
        }
        for bad in ["s3://bucket/x", "file:///etc", "/tmp/x", "runs:/abc/model"] {
            assert!(
                matches!(ArtifactPath::from_uri(bad), Err(PathError::NotServed(_))),
                "{bad}"
            );
        }
        assert!(ArtifactPath::from_uri("mlflow-artifacts:/../x").is_err());
    }

    #[test]
    fn joins() {
        let base = ArtifactPath::parse("1/abc/artifacts").ok().unwrap_or_default();
        let child = ArtifactPath::parse("x/y").ok().unwrap_or_default();
        assert_eq!(base.join(&child).as_str(), "1/abc/artifacts/x/y");
        assert_eq!(ArtifactPath::root().join(&child).as_str(), "x/y");
        assert_eq!(child.file_name(), "y");
    }
}
