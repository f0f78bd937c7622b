//! Rebuilds the core when a migration is added or changed: `sqlx::migrate!` reads the
//! `migrations/` folders at compile time, and cargo does not see a new file there by itself.

fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
