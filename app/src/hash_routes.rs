//! The MLflow UI's hash routes (`/#/experiments/2/runs/<id>`, the links the MLflow client
//! prints after a run) mapped to this dashboard's pages. The fragment never reaches the
//! server, so the browser follows it before hydrating (`hydrate`).

/// The page for an MLflow UI fragment (`#/…`), or `None` when it is not one.
pub fn mlflow_hash_route(hash: &str) -> Option<String> {
    let route = hash.strip_prefix("#/")?;
    let (path, query) = route.split_once('?').unwrap_or((route, ""));
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    let target = match parts.as_slice() {
        [] => "/".to_string(),
        ["experiments"] => "/experiments".to_string(),
        ["experiments", id, "runs", run, ..] if !run.is_empty() => format!("/runs/{run}"),
        ["experiments", _, "models", model, ..] if !model.is_empty() => format!("/logged-models/{model}"),
        ["experiments", id, ..] => format!("/experiments/{id}"),
        ["compare-runs"] | ["compare-experiments"] => compare(query),
        ["models"] => "/models".to_string(),
        ["models", name, "versions", version, ..] => format!("/models/{name}/versions/{version}"),
        ["models", name, ..] => format!("/models/{name}"),
        _ => "/".to_string(),
    };
    Some(target)
}

/// `#/compare-runs?runs=["a","b"]&experiments=[…]` (JSON lists, URL-encoded or not).
fn compare(query: &str) -> String {
    let runs = query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(key, _)| *key == "runs")
        .map(|(_, value)| {
            percent_encoding::percent_decode_str(value)
                .decode_utf8_lossy()
                .into_owned()
        })
        .unwrap_or_default();
    let ids: Vec<String> = runs
        .trim_matches(|c| c == '[' || c == ']')
        .split(',')
        .map(|id| id.trim().trim_matches('"').to_string())
        .filter(|id| !id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
        .collect();
    if ids.is_empty() {
        "/compare".to_string()
    } else {
        format!("/compare?runs={}", ids.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::mlflow_hash_route as route;

    #[test]
    fn mlflow_ui_links_land_on_the_matching_page() {
        let run = "0123456789abcdef0123456789abcdef";
        assert_eq!(
            route(&format!("#/experiments/2/runs/{run}")).as_deref(),
            Some(&*format!("/runs/{run}"))
        );
        assert_eq!(
            route(&format!("#/experiments/2/runs/{run}/artifacts/model")).as_deref(),
            Some(&*format!("/runs/{run}"))
        );
        assert_eq!(route("#/experiments/2").as_deref(), Some("/experiments/2"));
        assert_eq!(
            route("#/experiments/2/s?searchFilter=x").as_deref(),
            Some("/experiments/2")
        );
        assert_eq!(route("#/experiments").as_deref(), Some("/experiments"));
        assert_eq!(route("#/models").as_deref(), Some("/models"));
        assert_eq!(
            route("#/models/iris%20model").as_deref(),
            Some("/models/iris%20model")
        );
        assert_eq!(
            route("#/models/iris/versions/3").as_deref(),
            Some("/models/iris/versions/3")
        );
        assert_eq!(
            route("#/compare-runs?runs=%5B%22aa%22,%22bb%22%5D&experiments=%5B%221%22%5D").as_deref(),
            Some("/compare?runs=aa,bb")
        );
        assert_eq!(
            route(r#"#/compare-runs?runs=["aa","bb"]"#).as_deref(),
            Some("/compare?runs=aa,bb")
        );
        assert_eq!(route("#/").as_deref(), Some("/"));
        assert_eq!(route("#/metric/x").as_deref(), Some("/"));
        // Not an MLflow route: left alone.
        assert_eq!(route("#section"), None);
        assert_eq!(route(""), None);
        // Nothing but ids gets through from a compare link.
        assert_eq!(
            route(r#"#/compare-runs?runs=["<x>"]"#).as_deref(),
            Some("/compare")
        );
    }
}
