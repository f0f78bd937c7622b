pub mod compare;
pub mod view;

/// The run's metric histories as chart series (server only).
#[cfg(feature = "ssr")]
pub(crate) mod series {
    use aiops_core::tracking::Metric;

    /// Points per series drawn; longer histories are sampled evenly on the server.
    pub const MAX_POINTS: usize = 500;

    /// (x, y) pairs with x as the step, or as seconds since the first point.
    pub fn xy(history: &[Metric], by_time: bool) -> Vec<(f64, f64)> {
        let t0 = history.first().map(|m| m.timestamp).unwrap_or(0);
        history
            .iter()
            .map(|m| {
                let x = if by_time {
                    (m.timestamp - t0) as f64 / 1000.0
                } else {
                    m.step as f64
                };
                (x, m.value)
            })
            .collect()
    }
}
