//! AI Ops Dashboard domain core.
//!
//! The types in [`tracking`] compile everywhere (server and WASM); storage, artifact
//! handling and everything that touches I/O sits behind the `ssr` feature.

pub mod auth;
pub mod deployments;
pub mod monitoring;
pub mod registry;
pub mod search;
pub mod time;
pub mod tracking;
pub mod validation;
pub mod webhooks;

#[cfg(feature = "ssr")]
pub mod artifacts;
#[cfg(feature = "ssr")]
pub mod error;
#[cfg(feature = "ssr")]
pub mod service;
#[cfg(feature = "ssr")]
pub mod serving;
#[cfg(feature = "ssr")]
pub mod store;
#[cfg(feature = "ssr")]
pub mod triton;

#[cfg(feature = "ssr")]
pub use error::{CoreError, CoreResult};

/// Milliseconds since the Unix epoch, the time unit of the MLflow wire format.
#[cfg(feature = "ssr")]
pub fn now_millis() -> i64 {
    use std::time::{SystemTime, UNIX_EPOCH};
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}
