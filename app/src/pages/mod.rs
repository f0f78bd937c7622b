pub mod experiments;
pub mod placeholder;
