//! The Open Inference Protocol's tensors on the wire, shared by the REST API and the
//! inference page: JSON tensors (flat or nested data), Triton's binary tensor extension
//! (little-endian elements, BYTES as 4-byte lengths), and MLflow's scoring formats.
//! Errors are messages for a 400: every one is the caller's.

use serde_json::{json, Map, Value};

use crate::{DataType, Tensor, TensorData, TensorSpec};

/// (name, binary) of each requested output; none means every output, as JSON.
pub fn read_outputs(request: &Map<String, Value>) -> Result<Vec<(String, bool)>, String> {
    let Some(list) = request.get("outputs") else {
        return Ok(Vec::new());
    };
    let items = list.as_array().ok_or("'outputs' must be a list")?;
    let mut out = Vec::new();
    for item in items {
        let name = item
            .get("name")
            .and_then(Value::as_str)
            .ok_or("each requested output needs a 'name'")?;
        let binary = item
            .get("parameters")
            .and_then(|p| p.get("binary_data"))
            .and_then(Value::as_bool)
            .unwrap_or(false);
        out.push((name.to_string(), binary));
    }
    Ok(out)
}

pub fn read_inputs(request: &Map<String, Value>, mut binary: &[u8]) -> Result<Vec<Tensor>, String> {
    let items = request
        .get("inputs")
        .and_then(Value::as_array)
        .ok_or("the request needs an 'inputs' list")?;
    let mut tensors = Vec::with_capacity(items.len());
    for item in items {
        let name = item
            .get("name")
            .and_then(Value::as_str)
            .ok_or("each input needs a 'name'")?;
        let bad = |why: String| format!("input '{name}': {why}");
        let datatype_text = item
            .get("datatype")
            .and_then(Value::as_str)
            .ok_or_else(|| bad("needs a 'datatype'".into()))?;
        let datatype = DataType::parse(datatype_text)
            .ok_or_else(|| bad(format!("unknown datatype '{datatype_text}'")))?;
        let shape: Vec<i64> = item
            .get("shape")
            .and_then(Value::as_array)
            .ok_or_else(|| bad("needs a 'shape' list".into()))?
            .iter()
            .map(|d| d.as_i64().filter(|d| *d >= 0))
            .collect::<Option<_>>()
            .ok_or_else(|| bad("the shape must be non-negative integers".into()))?;
        let count = Tensor::element_count(&shape).ok_or_else(|| bad("the shape is too large".into()))?;
        let binary_size = item
            .get("parameters")
            .and_then(|p| p.get("binary_data_size"))
            .map(|v| {
                v.as_u64()
                    .ok_or_else(|| bad("binary_data_size must be a byte count".into()))
            })
            .transpose()?;
        let data = match binary_size {
            Some(size) => {
                let size = usize::try_from(size).map_err(|_| bad("binary_data_size too large".into()))?;
                if size > binary.len() {
                    return Err(bad(format!(
                        "binary_data_size {size} is past the end of the body"
                    )));
                }
                let (blob, rest) = binary.split_at(size);
                binary = rest;
                from_binary(datatype, blob, count).map_err(bad)?
            }
            None => {
                let data = item
                    .get("data")
                    .ok_or_else(|| bad("needs 'data' (or binary_data_size)".into()))?;
                let mut flat = Vec::new();
                flatten(data, &mut flat);
                from_json(datatype, &flat).map_err(bad)?
            }
        };
        tensors.push(Tensor {
            name: name.to_string(),
            shape,
            data,
        });
    }
    if !binary.is_empty() {
        return Err(format!(
            "{} bytes of binary data follow the inputs that no input claims",
            binary.len()
        ));
    }
    Ok(tensors)
}

pub fn flatten<'v>(value: &'v Value, out: &mut Vec<&'v Value>) {
    match value {
        Value::Array(items) => items.iter().for_each(|v| flatten(v, out)),
        other => out.push(other),
    }
}

pub fn from_json(datatype: DataType, values: &[&Value]) -> Result<TensorData, String> {
    fn ints<T: TryFrom<i64>>(values: &[&Value], name: &str) -> Result<Vec<T>, String> {
        values
            .iter()
            .map(|v| {
                v.as_i64()
                    .and_then(|i| T::try_from(i).ok())
                    .ok_or_else(|| format!("{v} is not a {name} value"))
            })
            .collect()
    }
    fn uints<T: TryFrom<u64>>(values: &[&Value], name: &str) -> Result<Vec<T>, String> {
        values
            .iter()
            .map(|v| {
                v.as_u64()
                    .and_then(|i| T::try_from(i).ok())
                    .ok_or_else(|| format!("{v} is not a {name} value"))
            })
            .collect()
    }
    let floats = || -> Result<Vec<f64>, String> {
        values
            .iter()
            .map(|v| v.as_f64().ok_or_else(|| format!("{v} is not a number")))
            .collect()
    };
    Ok(match datatype {
        DataType::Bool => TensorData::Bool(
            values
                .iter()
                .map(|v| v.as_bool().ok_or_else(|| format!("{v} is not true or false")))
                .collect::<Result<_, _>>()?,
        ),
        DataType::Uint8 => TensorData::Uint8(uints(values, "UINT8")?),
        DataType::Uint16 => TensorData::Uint16(uints(values, "UINT16")?),
        DataType::Uint32 => TensorData::Uint32(uints(values, "UINT32")?),
        DataType::Uint64 => TensorData::Uint64(uints(values, "UINT64")?),
        DataType::Int8 => TensorData::Int8(ints(values, "INT8")?),
        DataType::Int16 => TensorData::Int16(ints(values, "INT16")?),
        DataType::Int32 => TensorData::Int32(ints(values, "INT32")?),
        DataType::Int64 => TensorData::Int64(ints(values, "INT64")?),
        DataType::Fp16 => TensorData::Fp16(floats()?.into_iter().map(half::f16::from_f64).collect()),
        DataType::Fp32 => TensorData::Fp32(floats()?.into_iter().map(|f| f as f32).collect()),
        DataType::Fp64 => TensorData::Fp64(floats()?),
        DataType::Bytes => TensorData::Bytes(
            values
                .iter()
                .map(|v| {
                    v.as_str()
                        .map(|s| s.as_bytes().to_vec())
                        .ok_or_else(|| format!("{v} is not a string"))
                })
                .collect::<Result<_, _>>()?,
        ),
    })
}

/// A tensor's elements as a JSON list, written straight from the tensor: no `Value` per
/// element (a 1,000-row reply has thousands). Floats are written as the f64 they convert
/// to, as [`to_json_data`] does, so both give the same text.
pub struct JsonData<'a>(pub &'a TensorData);

impl serde::Serialize for JsonData<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            TensorData::Bool(v) => s.collect_seq(v),
            TensorData::Uint8(v) => s.collect_seq(v),
            TensorData::Uint16(v) => s.collect_seq(v),
            TensorData::Uint32(v) => s.collect_seq(v),
            TensorData::Uint64(v) => s.collect_seq(v),
            TensorData::Int8(v) => s.collect_seq(v),
            TensorData::Int16(v) => s.collect_seq(v),
            TensorData::Int32(v) => s.collect_seq(v),
            TensorData::Int64(v) => s.collect_seq(v),
            TensorData::Fp16(v) => s.collect_seq(v.iter().map(|x| x.to_f64())),
            TensorData::Fp32(v) => s.collect_seq(v.iter().map(|x| f64::from(*x))),
            TensorData::Fp64(v) => s.collect_seq(v),
            TensorData::Bytes(v) => s.collect_seq(v.iter().map(|b| String::from_utf8_lossy(b))),
        }
    }
}

pub fn to_json_data(data: &TensorData) -> Value {
    match data {
        TensorData::Bool(v) => json!(v),
        TensorData::Uint8(v) => json!(v),
        TensorData::Uint16(v) => json!(v),
        TensorData::Uint32(v) => json!(v),
        TensorData::Uint64(v) => json!(v),
        TensorData::Int8(v) => json!(v),
        TensorData::Int16(v) => json!(v),
        TensorData::Int32(v) => json!(v),
        TensorData::Int64(v) => json!(v),
        TensorData::Fp16(v) => json!(v.iter().map(|x| x.to_f64()).collect::<Vec<_>>()),
        TensorData::Fp32(v) => json!(v),
        TensorData::Fp64(v) => json!(v),
        TensorData::Bytes(v) => json!(v
            .iter()
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .collect::<Vec<_>>()),
    }
}

/// Little-endian elements; BYTES as a 4-byte length and the bytes, each.
pub fn to_binary(data: &TensorData) -> Vec<u8> {
    macro_rules! le {
        ($v:expr) => {
            $v.iter().flat_map(|x| x.to_le_bytes()).collect()
        };
    }
    match data {
        TensorData::Bool(v) => v.iter().map(|b| u8::from(*b)).collect(),
        TensorData::Uint8(v) => v.clone(),
        TensorData::Uint16(v) => le!(v),
        TensorData::Uint32(v) => le!(v),
        TensorData::Uint64(v) => le!(v),
        TensorData::Int8(v) => le!(v),
        TensorData::Int16(v) => le!(v),
        TensorData::Int32(v) => le!(v),
        TensorData::Int64(v) => le!(v),
        TensorData::Fp16(v) => le!(v),
        TensorData::Fp32(v) => le!(v),
        TensorData::Fp64(v) => le!(v),
        TensorData::Bytes(items) => {
            let mut out = Vec::new();
            for item in items {
                out.extend_from_slice(&(item.len() as u32).to_le_bytes());
                out.extend_from_slice(item);
            }
            out
        }
    }
}

pub fn from_binary(datatype: DataType, blob: &[u8], count: usize) -> Result<TensorData, String> {
    let Some(size) = datatype.size() else {
        let mut items = Vec::new();
        let mut rest = blob;
        while !rest.is_empty() {
            let (len, tail) = rest
                .split_first_chunk::<4>()
                .ok_or("BYTES data ends inside an element's length")?;
            let len = u32::from_le_bytes(*len) as usize;
            if len > tail.len() {
                return Err("BYTES data ends inside an element".into());
            }
            items.push(tail[..len].to_vec());
            rest = &tail[len..];
        }
        return Ok(TensorData::Bytes(items));
    };
    if count.checked_mul(size) != Some(blob.len()) {
        return Err(format!(
            "{} bytes of binary data for {count} {} values ({} bytes)",
            blob.len(),
            datatype.name(),
            count.saturating_mul(size)
        ));
    }
    macro_rules! le {
        ($t:ty, $variant:ident) => {
            TensorData::$variant(
                blob.chunks_exact(size)
                    .map(|c| <$t>::from_le_bytes(c.try_into().unwrap_or_default()))
                    .collect(),
            )
        };
    }
    Ok(match datatype {
        DataType::Bool => TensorData::Bool(blob.iter().map(|b| *b != 0).collect()),
        DataType::Uint8 => TensorData::Uint8(blob.to_vec()),
        DataType::Uint16 => le!(u16, Uint16),
        DataType::Uint32 => le!(u32, Uint32),
        DataType::Uint64 => le!(u64, Uint64),
        DataType::Int8 => le!(i8, Int8),
        DataType::Int16 => le!(i16, Int16),
        DataType::Int32 => le!(i32, Int32),
        DataType::Int64 => le!(i64, Int64),
        DataType::Fp16 => le!(half::f16, Fp16),
        DataType::Fp32 => le!(f32, Fp32),
        DataType::Fp64 => le!(f64, Fp64),
        DataType::Bytes => TensorData::Bytes(Vec::new()),
    })
}

/// A flat JSON list shaped as `shape` (rows of a matrix, and so on).
pub fn nest(flat: &Value, shape: &[i64]) -> Value {
    let Some(items) = flat.as_array() else {
        return flat.clone();
    };
    if shape.len() <= 1 {
        return flat.clone();
    }
    let inner: usize = shape[1..]
        .iter()
        .map(|d| usize::try_from(*d).unwrap_or(0))
        .product();
    if inner == 0 {
        return json!([]);
    }
    Value::Array(
        items
            .chunks(inner)
            .map(|chunk| nest(&Value::Array(chunk.to_vec()), &shape[1..]))
            .collect(),
    )
}

/// Tensors from a scoring request. One input of shape [-1, F] takes rows of F values; a
/// model with several inputs takes one column per input, by name.
pub fn scoring_inputs(request: &Map<String, Value>, specs: &[TensorSpec]) -> Result<Vec<Tensor>, String> {
    let keys: Vec<&str> = request.keys().map(String::as_str).collect();
    let (columns, rows): (Option<Vec<String>>, Vec<Value>) = match keys.as_slice() {
        ["dataframe_split"] => {
            let split = &request["dataframe_split"];
            let columns = split
                .get("columns")
                .and_then(Value::as_array)
                .map(|c| c.iter().filter_map(|v| v.as_str().map(str::to_string)).collect());
            let data = split
                .get("data")
                .and_then(Value::as_array)
                .ok_or("dataframe_split needs 'data', a list of rows")?;
            (columns, data.clone())
        }
        ["dataframe_records"] => {
            let records = request["dataframe_records"]
                .as_array()
                .ok_or("dataframe_records must be a list of objects")?;
            if specs.len() < 2 {
                return Err(
                    "dataframe_records needs a model with one input per column; use dataframe_split for this model"
                        .into(),
                );
            }
            let columns: Vec<String> = specs.iter().map(|s| s.name.clone()).collect();
            let rows = records
                .iter()
                .map(|r| {
                    columns
                        .iter()
                        .map(|c| r.get(c).cloned().ok_or_else(|| format!("a record has no '{c}'")))
                        .collect::<Result<Vec<_>, _>>()
                        .map(Value::Array)
                })
                .collect::<Result<Vec<_>, _>>()?;
            (Some(columns), rows)
        }
        ["instances"] | ["inputs"] => {
            let value = &request[keys[0]];
            if let Some(named) = value.as_object() {
                // {"inputs": {"X": [[…]], …}}: tensors by name.
                return specs
                    .iter()
                    .map(|spec| {
                        let given = named
                            .get(&spec.name)
                            .ok_or_else(|| format!("missing input '{}'", spec.name))?;
                        tensor_from_nested(&spec.name, spec.datatype, given)
                    })
                    .collect();
            }
            let rows = value
                .as_array()
                .ok_or("instances/inputs must be a list of rows")?;
            (None, rows.clone())
        }
        _ => {
            return Err(
                "The body must have exactly one of dataframe_split, dataframe_records, instances or inputs"
                    .into(),
            )
        }
    };
    match specs {
        [spec] => {
            let n = rows.len() as i64;
            let mut flat = Vec::new();
            for row in &rows {
                flatten(row, &mut flat);
            }
            let width = if n > 0 { flat.len() as i64 / n } else { 0 };
            let shape = if spec.shape.len() == 1 {
                vec![n]
            } else {
                vec![n, width]
            };
            Ok(vec![Tensor {
                name: spec.name.clone(),
                shape,
                data: from_json(spec.datatype, &flat)?,
            }])
        }
        many => {
            let columns =
                columns.ok_or("this model takes named columns: use dataframe_split with 'columns'")?;
            many.iter()
                .map(|spec| {
                    let i = columns
                        .iter()
                        .position(|c| c == &spec.name)
                        .ok_or_else(|| format!("missing column '{}'", spec.name))?;
                    let values = rows
                        .iter()
                        .map(|r| {
                            r.get(i)
                                .ok_or_else(|| format!("a row has no value for '{}'", spec.name))
                        })
                        .collect::<Result<Vec<&Value>, String>>()?;
                    Ok(Tensor {
                        name: spec.name.clone(),
                        shape: vec![values.len() as i64, 1],
                        data: from_json(spec.datatype, &values)?,
                    })
                })
                .collect()
        }
    }
}

pub fn tensor_from_nested(name: &str, datatype: DataType, value: &Value) -> Result<Tensor, String> {
    let mut shape = Vec::new();
    let mut probe = value;
    while let Some(items) = probe.as_array() {
        shape.push(items.len() as i64);
        match items.first() {
            Some(first) => probe = first,
            None => break,
        }
    }
    let mut flat = Vec::new();
    flatten(value, &mut flat);
    Ok(Tensor {
        name: name.to_string(),
        shape,
        data: from_json(datatype, &flat)?,
    })
}

/// Rows of a CSV text (RFC 4180: quoted cells may hold commas, quotes doubled, newlines);
/// blank lines are skipped.
pub fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut row: Vec<String> = Vec::new();
    let mut cell = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                cell.push('"');
                chars.next();
            }
            (true, '"') => quoted = false,
            (true, c) => cell.push(c),
            (false, '"') if cell.trim().is_empty() => {
                cell.clear();
                quoted = true;
            }
            (false, ',') => row.push(std::mem::take(&mut cell)),
            (false, '\n') => {
                row.push(std::mem::take(&mut cell));
                if row.iter().any(|c| !c.trim().is_empty()) {
                    rows.push(std::mem::take(&mut row));
                }
                row.clear();
            }
            (false, '\r') => {}
            (false, c) => cell.push(c),
        }
    }
    row.push(cell);
    if row.iter().any(|c| !c.trim().is_empty()) {
        rows.push(row);
    }
    rows
}

/// A CSV cell as the JSON value `from_json` reads for `datatype`.
fn cell_value(datatype: DataType, cell: &str) -> Result<Value, String> {
    let cell = cell.trim();
    let number = || -> Result<Value, String> {
        if let Ok(i) = cell.parse::<i64>() {
            return Ok(json!(i));
        }
        cell.parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map(Value::Number)
            .ok_or_else(|| format!("'{cell}' is not a number"))
    };
    match datatype {
        DataType::Bytes => Ok(json!(cell)),
        DataType::Bool => match cell.to_ascii_lowercase().as_str() {
            "true" | "1" => Ok(json!(true)),
            "false" | "0" => Ok(json!(false)),
            _ => Err(format!("'{cell}' is not true or false")),
        },
        DataType::Fp16 | DataType::Fp32 | DataType::Fp64 => number(),
        _ => cell
            .parse::<i64>()
            .map(|i| json!(i))
            .or_else(|_| cell.parse::<u64>().map(|u| json!(u)))
            .map_err(|_| format!("'{cell}' is not an integer")),
    }
}

/// Tensors from a table (a CSV upload, or the inference page's form as one CSV row). A
/// model with one input of shape [-1, F] takes F cells a row; a model with one input per
/// column takes them by the header's names (or in the inputs' order without a header). A
/// first row is a header when any of its cells does not read as the model's data, or when
/// it is the inputs' names.
pub fn csv_inputs(text: &str, specs: &[TensorSpec]) -> Result<Vec<Tensor>, String> {
    let mut rows = parse_csv(text);
    let reads = |row: &[String]| match specs {
        [one] => row.iter().all(|c| cell_value(one.datatype, c).is_ok()),
        many => {
            let names = row.len() == many.len() && row.iter().zip(many).all(|(c, s)| c.trim() == s.name);
            !names
                && row
                    .iter()
                    .zip(many)
                    .all(|(c, s)| cell_value(s.datatype, c).is_ok())
        }
    };
    let header = match rows.first() {
        Some(first) if !reads(first) => Some(rows.remove(0)),
        _ => None,
    };
    if rows.is_empty() {
        return Err("the table has no rows of data".into());
    }
    let n = rows.len() as i64;
    match specs {
        [spec] => {
            let width = rows[0].len();
            if let Some(bad) = rows.iter().position(|r| r.len() != width) {
                return Err(format!(
                    "row {} has {} cells where the first has {width}",
                    bad + 1,
                    rows[bad].len()
                ));
            }
            let values = rows
                .iter()
                .flatten()
                .map(|c| cell_value(spec.datatype, c))
                .collect::<Result<Vec<Value>, String>>()?;
            let refs: Vec<&Value> = values.iter().collect();
            let shape = if spec.shape.len() == 1 {
                vec![n * width as i64]
            } else {
                vec![n, width as i64]
            };
            Ok(vec![Tensor {
                name: spec.name.clone(),
                shape,
                data: from_json(spec.datatype, &refs)?,
            }])
        }
        many => many
            .iter()
            .enumerate()
            .map(|(i, spec)| {
                let column = match &header {
                    Some(names) => names
                        .iter()
                        .position(|h| h.trim() == spec.name)
                        .ok_or_else(|| format!("no column '{}' in the header", spec.name))?,
                    None => i,
                };
                let values = rows
                    .iter()
                    .map(|r| {
                        r.get(column)
                            .ok_or_else(|| format!("a row has no value for '{}'", spec.name))
                            .and_then(|c| cell_value(spec.datatype, c))
                    })
                    .collect::<Result<Vec<Value>, String>>()?;
                let refs: Vec<&Value> = values.iter().collect();
                Ok(Tensor {
                    name: spec.name.clone(),
                    shape: if spec.shape.len() == 1 {
                        vec![n]
                    } else {
                        vec![n, 1]
                    },
                    data: from_json(spec.datatype, &refs)
                        .map_err(|e| format!("input '{}': {e}", spec.name))?,
                })
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(name: &str, datatype: DataType, shape: &[i64]) -> TensorSpec {
        TensorSpec {
            name: name.into(),
            datatype,
            shape: shape.to_vec(),
        }
    }

    #[test]
    fn csv_cells_quote_commas_and_quotes() {
        let rows = parse_csv("a,\"b, c\",\"say \"\"hi\"\"\"\r\n\n1,2,3\n");
        assert_eq!(rows, vec![vec!["a", "b, c", "say \"hi\""], vec!["1", "2", "3"]]);
    }

    #[test]
    fn a_feature_matrix_from_rows_with_a_header() {
        let specs = [spec("X", DataType::Fp32, &[-1, 2])];
        let tensors = csv_inputs("f1,f2\n1,2.5\n3,4\n", &specs).unwrap_or_default();
        assert_eq!(tensors.len(), 1);
        assert_eq!(tensors[0].shape, vec![2, 2]);
        assert_eq!(tensors[0].data, TensorData::Fp32(vec![1.0, 2.5, 3.0, 4.0]));
        assert!(csv_inputs("1,2\n3\n", &specs).is_err());
        assert!(csv_inputs("f1,f2\n", &specs).is_err());
    }

    #[test]
    fn one_column_per_input_by_header_name() {
        let specs = [
            spec("count", DataType::Int64, &[-1, 1]),
            spec("city", DataType::Bytes, &[-1, 1]),
        ];
        let tensors = csv_inputs("city,count\nParis,3\nLyon,4\n", &specs).unwrap_or_default();
        assert_eq!(tensors.len(), 2);
        assert_eq!(tensors[0].data, TensorData::Int64(vec![3, 4]));
        assert_eq!(tensors[1].shape, vec![2, 1]);
        assert!(csv_inputs("city,count\nParis,three\n", &specs).is_err());
    }

    #[test]
    fn json_data_writes_what_to_json_data_writes() {
        for data in [
            TensorData::Fp32(vec![0.1, -2.5, f32::NAN, 3.0e-8]),
            TensorData::Fp64(vec![0.1, 1e300]),
            TensorData::Fp16(vec![half::f16::from_f32(0.333)]),
            TensorData::Int64(vec![-3, i64::MAX]),
            TensorData::Uint8(vec![0, 255]),
            TensorData::Bool(vec![true, false]),
            TensorData::Bytes(vec![b"a\"b".to_vec(), vec![0xff]]),
        ] {
            let direct = serde_json::to_string(&JsonData(&data)).unwrap_or_default();
            assert_eq!(direct, to_json_data(&data).to_string(), "{data:?}");
        }
    }
}
