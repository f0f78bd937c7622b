//! Page state kept in the URL query string, and links that change part of it.

use leptos_router::params::ParamsMap;

/// The query string of the current page as ordered key/value pairs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct QueryState(Vec<(String, String)>);

impl From<ParamsMap> for QueryState {
    fn from(map: ParamsMap) -> Self {
        let mut pairs: Vec<(String, String)> = map.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
        pairs.sort();
        QueryState(pairs)
    }
}

impl QueryState {
    pub fn from_pairs(pairs: &[(&str, &str)]) -> Self {
        QueryState(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    /// The value of `key`, or "" when absent.
    pub fn get(&self, key: &str) -> String {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    }

    /// A comma-separated list value.
    pub fn list(&self, key: &str) -> Vec<String> {
        self.get(key)
            .split(',')
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect()
    }
}

/// `?…` for the current state with `changes` applied; an empty value removes the key.
pub fn with_query(state: &QueryState, changes: &[(&str, &str)]) -> String {
    let mut pairs: Vec<(String, String)> = state
        .0
        .iter()
        .filter(|(k, _)| !changes.iter().any(|(c, _)| c == k))
        .cloned()
        .collect();
    pairs.extend(
        changes
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| (k.to_string(), v.to_string())),
    );
    pairs.sort();
    if pairs.is_empty() {
        return "?".to_string();
    }
    let encoded: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect();
    format!("?{}", encoded.join("&"))
}

/// Percent-encodes a query component (RFC 3986 unreserved characters pass).
pub fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b',' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_part_of_the_query() {
        let state = QueryState::from_pairs(&[("q", "metrics.a > 1"), ("sort", "x")]);
        assert_eq!(with_query(&state, &[("sort", "")]), "?q=metrics.a%20%3E%201");
        assert_eq!(
            with_query(&state, &[("sel", "a,b")]),
            "?q=metrics.a%20%3E%201&sel=a,b&sort=x"
        );
        assert_eq!(state.list("missing"), Vec::<String>::new());
    }
}
