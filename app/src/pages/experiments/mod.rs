pub mod list;
pub mod runs;
