//! Reading MLflow requests: GET fields come from the query string (repeated keys are
//! lists), other methods send JSON. Both become one field map with typed accessors that
//! accept proto3-JSON spellings (int64 as number or string, doubles as "NaN"/"Infinity").

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use serde_json::{Map, Value};

use super::error::{ApiError, ApiResult};

/// Largest JSON body accepted (MLflow's own limit for log-batch is 1 MB; leave headroom).
const MAX_JSON_BODY: usize = 16 * 1024 * 1024;

pub struct Fields(pub Map<String, Value>);

impl<S: Send + Sync> FromRequest<S> for Fields {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let mut fields = Map::new();
        if let Some(query) = req.uri().query() {
            for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
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
        }
        let body = Bytes::from_request(req, state)
            .await
            .map_err(|e| ApiError::bad_request(format!("Could not read the request body: {e}")))?;
        if body.len() > MAX_JSON_BODY {
            return Err(ApiError::invalid("Request body is too large"));
        }
        if !body.iter().all(u8::is_ascii_whitespace) {
            match serde_json::from_slice::<Value>(&body) {
                Ok(Value::Object(map)) => fields.extend(map),
                Ok(_) => return Err(ApiError::bad_request("The request body must be a JSON object")),
                Err(e) => {
                    return Err(ApiError::bad_request(format!(
                        "Malformed JSON in the request body: {e}"
                    )))
                }
            }
        }
        Ok(Fields(fields))
    }
}

impl Fields {
    fn get(&self, key: &str) -> Option<&Value> {
        self.0.get(key).filter(|v| !v.is_null())
    }

    /// A string field; a repeated query key yields its first value.
    pub fn str(&self, key: &str) -> ApiResult<Option<String>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(Value::Array(items)) => match items.first() {
                Some(Value::String(s)) => Ok(Some(s.clone())),
                _ => Err(ApiError::invalid(format!(
                    "Invalid value for parameter '{key}': expected a string"
                ))),
            },
            Some(Value::Number(n)) => Ok(Some(n.to_string())),
            Some(_) => Err(ApiError::invalid(format!(
                "Invalid value for parameter '{key}': expected a string"
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
