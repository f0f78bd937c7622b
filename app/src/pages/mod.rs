pub mod experiments;
pub mod placeholder;
pub mod runs;
