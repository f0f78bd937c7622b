pub mod account;
pub mod admin;
pub mod deployments;
pub mod experiments;
pub mod models;
pub mod placeholder;
pub mod runs;
