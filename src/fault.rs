//! Fault points for crash tests: `PLURALMATRIX_FAULTS=name[,name…]` makes the daemon abort
//! (as a `kill -9` would, without unwinding) the first time it passes a listed point, so a
//! test can stop it in exactly the window between two steps. Unset, a point costs one load.

use std::sync::OnceLock;

fn armed() -> &'static [String] {
    static ARMED: OnceLock<Vec<String>> = OnceLock::new();
    ARMED.get_or_init(|| {
        std::env::var("PLURALMATRIX_FAULTS")
            .map(|v| v.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect())
            .unwrap_or_default()
    })
}

/// Aborts the process if `name` is armed.
pub fn point(name: &str) {
    if armed().iter().any(|a| a == name) {
        tracing::error!(point = name, "fault point reached: aborting (PLURALMATRIX_FAULTS)");
        std::process::abort();
    }
}

/// Panics if `name` is armed and `when()` holds (for tests of poison input: a panic while
/// handling one particular event). `when` is not called unless the point is armed.
pub fn panic_point(name: &str, when: impl FnOnce() -> bool) {
    if armed().iter().any(|a| a == name) && when() {
        panic!("fault point {name} (PLURALMATRIX_FAULTS)");
    }
}
