pub mod account;
pub mod admin;
pub mod experiments;
pub mod models;
pub mod placeholder;
pub mod runs;
