//! Reading MLflow requests: GET fields come from the query string (repeated keys are
//! lists), other methods send JSON. Both become one field map with typed accessors that
//! accept proto3-JSON spellings (int64 as number or string, doubles as "NaN"/"Infinity").

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{header, Method};
use serde_json::{Map, Value};

use super::error::{ApiError, ApiResult};

pub struct Fields(pub Map<String, Value>);

impl<S: Send + Sync> FromRequest<S> for Fields {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if matches!(*req.method(), Method::GET | Method::HEAD) {
            return Ok(Fields(query_fields(req.uri().query())));
        }
        // MLflow's clients send every other method's fields as a JSON body. Refusing other
        // content types and query-string fields keeps a cross-site form or `<img>` from
        // reaching a write: browsers only send JSON cross-site after a CORS preflight.
        if req.uri().query().is_some_and(|q| !q.is_empty()) {
            return Err(ApiError::bad_request(format!(
                "{} requests carry their fields in a JSON body, not in the query string",
                req.method()
            )));
        }
        let json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(is_json_content_type);
        if !json {
            return Err(ApiError::unsupported_media_type(
                "Request bodies must be JSON (Content-Type: application/json)",
            ));
        }
        // The route's body limit (axum's DefaultBodyLimit) bounds what is read: 413 past it,
        // 400 for a body that broke off or came too slowly.
        let body = Bytes::from_request(req, state).await.map_err(|e| {
            let mut error = ApiError::bad_request(format!("Could not read the request body: {e}"));
            if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                error.status = e.status();
            }
            error
        })?;
        parse_body(&body).map(Fields)
    }
}

/// GET fields from the query string; a repeated key becomes a list.
pub fn query_fields(query: Option<&str>) -> Map<String, Value> {
    let mut fields = Map::new();
    for (key, value) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        let value = Value::String(value.into_owned());
        match fields.get_mut(key.as_ref()) {
            Some(Value::Array(items)) => items.push(value),
            Some(existing) => {
                let first = existing.take();
                *existing = Value::Array(vec![first, value]);
            }
            None => {
                fields.insert(key.into_owned(), value);
            }
        }
    }
    fields
}

/// A JSON body: exactly one object.
pub fn parse_body(body: &[u8]) -> ApiResult<Map<String, Value>> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request(
            "Missing request body: send the fields as a JSON object",
        ));
    }
    // serde_json stops at 128 levels of nesting, so a deep body is an error, not a crash.
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(ApiError::bad_request("The request body must be a JSON object")),
        Err(e) => Err(ApiError::bad_request(format!(
            "Malformed JSON in the request body: {e}"
        ))),
    }
}

/// `application/json`, with or without parameters, and `application/<x>+json`.
fn is_json_content_type(value: &str) -> bool {
    let essence = value
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json" || (essence.starts_with("application/") && essence.ends_with("+json"))
}

impl Fields {
    fn get(&self, key: &str) -> Option<&Value> {
        self.0.get(key).filter(|v| !v.is_null())
    }

    /// A string field; a list (or a repeated query key) is refused, never cut to its first item.
    pub fn str(&self, key: &str) -> ApiResult<Option<String>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(Value::Number(n)) => Ok(Some(n.to_string())),
            Some(_) => Err(ApiError::invalid(format!(
                "Invalid value for parameter '{key}': expected a string"
            ))),
        }
    }

    /// A boolean field: JSON true/false, or "true"/"false" in any case (a query string).
    pub fn bool(&self, key: &str) -> ApiResult<Option<bool>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Ok(Some(true)),
            Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Ok(Some(false)),
            Some(_) => Err(ApiError::invalid(format!(
                "Invalid value for '{key}': expected true or false"
            ))),
        }
    }

    pub fn required_str(&self, key: &str) -> ApiResult<String> {
        match self.str(key)? {
            Some(s) if !s.is_empty() => Ok(s),
            _ => Err(ApiError::missing(key)),
        }
    }

    /// The run id, under its name or the legacy `run_uuid`.
    pub fn run_id(&self) -> ApiResult<String> {
        match (self.str("run_id")?, self.str("run_uuid")?) {
            (Some(id), _) if !id.is_empty() => Ok(id),
            (_, Some(id)) if !id.is_empty() => Ok(id),
            _ => Err(ApiError::missing("run_id")),
        }
    }

    pub fn i64(&self, key: &str) -> ApiResult<Option<i64>> {
        let bad = || {
            ApiError::invalid(format!(
                "Invalid value for parameter '{key}': expected an integer"
            ))
        };
        match self.get(key) {
            None => Ok(None),
            Some(v) => integer(v).map(Some).ok_or_else(bad),
        }
    }

    /// `max_results`: `default` when absent, refused outside 1..=`limit`.
    pub fn max_results(&self, default: i64, limit: i64) -> ApiResult<i64> {
        let max_results = self.i64("max_results")?.unwrap_or(default);
        if !(1..=limit).contains(&max_results) {
            return Err(ApiError::invalid(format!(
                "max_results must be between 1 and {limit}"
            )));
        }
        Ok(max_results)
    }

    pub fn f64(&self, key: &str) -> ApiResult<Option<f64>> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => double(v).map(Some).ok_or_else(|| {
                ApiError::invalid(format!("Invalid value for parameter '{key}': expected a number"))
            }),
        }
    }

    /// A repeated string field (JSON array or repeated query key; a lone value is a list of one).
    pub fn str_list(&self, key: &str) -> ApiResult<Vec<String>> {
        let bad = || {
            ApiError::invalid(format!(
                "Invalid value for parameter '{key}': expected a list of strings"
            ))
        };
        match self.get(key) {
            None => Ok(Vec::new()),
            Some(Value::String(s)) => Ok(vec![s.clone()]),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| v.as_str().map(str::to_string).ok_or_else(bad))
                .collect(),
            Some(_) => Err(bad()),
        }
    }

    /// A nested message field.
    pub fn object(&self, key: &str) -> ApiResult<Option<Fields>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Object(m)) => Ok(Some(Fields(m.clone()))),
            Some(_) => Err(ApiError::invalid(format!(
                "Invalid value for parameter '{key}': expected an object"
            ))),
        }
    }

    /// A repeated message field, as objects.
    pub fn objects(&self, key: &str) -> ApiResult<Vec<Fields>> {
        let bad = || {
            ApiError::invalid(format!(
                "Invalid value for parameter '{key}': expected a list of objects"
            ))
        };
        match self.get(key) {
            None => Ok(Vec::new()),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| v.as_object().map(|m| Fields(m.clone())).ok_or_else(bad))
                .collect(),
            Some(_) => Err(bad()),
        }
    }
}

fn integer(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64().or_else(|| {
            n.as_f64()
                .filter(|f| f.fract() == 0.0 && f.abs() < 9.2e18)
                .map(|f| f as i64)
        }),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// proto3 JSON doubles: numbers, numeric strings, and the strings NaN / Infinity / -Infinity.
pub fn double(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => match s.as_str() {
            "NaN" | "nan" => Some(f64::NAN),
            "Infinity" | "inf" => Some(f64::INFINITY),
            "-Infinity" | "-inf" => Some(f64::NEG_INFINITY),
            other => other.trim().parse().ok(),
        },
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use proptest::prelude::*;

    /// Every accessor on every field: may refuse, must not panic.
    fn read_all(fields: &Fields) {
        for key in [
            "run_id",
            "name",
            "experiment_ids",
            "max_results",
            "value",
            "tags",
            "x",
        ] {
            let _ = fields.str(key);
            let _ = fields.required_str(key);
            let _ = fields.i64(key);
            let _ = fields.f64(key);
            let _ = fields.str_list(key);
            let _ = fields.object(key);
            let _ = fields.objects(key);
        }
        let _ = fields.run_id();
    }

    #[test]
    fn deep_json_is_an_error_not_a_crash() {
        for depth in [127, 129, 100_000] {
            let body = format!("{{\"a\":{}1{}}}", "[".repeat(depth), "]".repeat(depth));
            let _ = parse_body(body.as_bytes());
        }
        assert!(parse_body("{\"a\":".repeat(50_000).as_bytes()).is_err());
    }

    #[test]
    fn a_list_where_a_scalar_belongs_is_refused() {
        let fields = Fields(query_fields(Some("run_id=a&run_id=b")));
        assert!(fields.str("run_id").is_err());
        let fields = Fields(parse_body(br#"{"run_id": ["a"], "max_results": [1]}"#).unwrap());
        assert!(fields.run_id().is_err());
        assert!(fields.i64("max_results").is_err());
        assert_eq!(
            Fields(query_fields(Some("ids=1&ids=2"))).str_list("ids").unwrap(),
            vec!["1", "2"]
        );
    }

    #[test]
    fn bodies_must_be_one_json_object() {
        assert!(parse_body(b"").is_err());
        assert!(parse_body(b"   ").is_err());
        assert!(parse_body(b"[1]").is_err());
        assert!(parse_body(b"run_id=x").is_err());
        assert!(parse_body(b"{}").is_ok());
        assert!(is_json_content_type("application/json; charset=utf-8"));
        assert!(is_json_content_type("Application/JSON"));
        assert!(!is_json_content_type("text/plain"));
        assert!(!is_json_content_type("application/x-www-form-urlencoded"));
        assert!(!is_json_content_type("multipart/form-data; boundary=x"));
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 1500, ..ProptestConfig::default() })]

        #[test]
        fn arbitrary_bodies_never_panic(body in proptest::collection::vec(any::<u8>(), 0..300)) {
            if let Ok(map) = parse_body(&body) {
                read_all(&Fields(map));
            }
        }

        #[test]
        fn arbitrary_json_never_panics(json in arb_json()) {
            let body = serde_json::to_vec(&serde_json::json!({ "run_id": json.clone(), "name": json.clone(),
                "experiment_ids": json.clone(), "max_results": json.clone(), "value": json.clone(),
                "tags": json.clone(), "x": json })).unwrap();
            read_all(&Fields(parse_body(&body).unwrap()));
        }

        #[test]
        fn arbitrary_query_strings_never_panic(query in "\\PC{0,200}") {
            read_all(&Fields(query_fields(Some(&query))));
        }
    }

    fn arb_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<f64>().prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
            "\\PC{0,20}".prop_map(Value::String),
            Just(Value::String("NaN".into())),
            Just(Value::String("9223372036854775808".into())),
        ];
        leaf.prop_recursive(4, 32, 6, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                proptest::collection::btree_map("[a-z_]{1,8}", inner, 0..6)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }
}
