//! Tensors as the Open Inference Protocol names them (BOOL, INT8–INT64, UINT8–UINT64,
//! FP16/FP32/FP64, BYTES), their checks against a model's signature, and the conversion
//! to and from ONNX Runtime values.

use half::f16;
use ort::value::{DynValue, TensorElementType, ValueType};
use serde::{Deserialize, Serialize};

use crate::{PredictError, PredictResult};

/// An element type, by its Open Inference Protocol name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum DataType {
    Bool,
    Uint8,
    Uint16,
    Uint32,
    Uint64,
    Int8,
    Int16,
    Int32,
    Int64,
    Fp16,
    Fp32,
    Fp64,
    Bytes,
}

impl DataType {
    pub const ALL: [DataType; 13] = [
        DataType::Bool,
        DataType::Uint8,
        DataType::Uint16,
        DataType::Uint32,
        DataType::Uint64,
        DataType::Int8,
        DataType::Int16,
        DataType::Int32,
        DataType::Int64,
        DataType::Fp16,
        DataType::Fp32,
        DataType::Fp64,
        DataType::Bytes,
    ];

    pub fn name(self) -> &'static str {
        match self {
            DataType::Bool => "BOOL",
            DataType::Uint8 => "UINT8",
            DataType::Uint16 => "UINT16",
            DataType::Uint32 => "UINT32",
            DataType::Uint64 => "UINT64",
            DataType::Int8 => "INT8",
            DataType::Int16 => "INT16",
            DataType::Int32 => "INT32",
            DataType::Int64 => "INT64",
            DataType::Fp16 => "FP16",
            DataType::Fp32 => "FP32",
            DataType::Fp64 => "FP64",
            DataType::Bytes => "BYTES",
        }
    }

    pub fn parse(text: &str) -> Option<DataType> {
        DataType::ALL.into_iter().find(|d| d.name() == text)
    }

    /// Bytes per element in Triton's binary tensor extension (BYTES elements carry their own
    /// 4-byte length prefix instead).
    pub fn size(self) -> Option<usize> {
        match self {
            DataType::Bool | DataType::Uint8 | DataType::Int8 => Some(1),
            DataType::Uint16 | DataType::Int16 | DataType::Fp16 => Some(2),
            DataType::Uint32 | DataType::Int32 | DataType::Fp32 => Some(4),
            DataType::Uint64 | DataType::Int64 | DataType::Fp64 => Some(8),
            DataType::Bytes => None,
        }
    }

    fn from_ort(ty: TensorElementType) -> Option<DataType> {
        Some(match ty {
            TensorElementType::Bool => DataType::Bool,
            TensorElementType::Uint8 => DataType::Uint8,
            TensorElementType::Uint16 => DataType::Uint16,
            TensorElementType::Uint32 => DataType::Uint32,
            TensorElementType::Uint64 => DataType::Uint64,
            TensorElementType::Int8 => DataType::Int8,
            TensorElementType::Int16 => DataType::Int16,
            TensorElementType::Int32 => DataType::Int32,
            TensorElementType::Int64 => DataType::Int64,
            TensorElementType::Float16 => DataType::Fp16,
            TensorElementType::Float32 => DataType::Fp32,
            TensorElementType::Float64 => DataType::Fp64,
            TensorElementType::String => DataType::Bytes,
            _ => return None,
        })
    }
}

/// One input or output of a model, as its graph declares it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TensorSpec {
    pub name: String,
    pub datatype: DataType,
    /// Dynamic dimensions are -1.
    pub shape: Vec<i64>,
}

impl TensorSpec {
    pub(crate) fn from_outlet(name: &str, dtype: &ValueType) -> PredictResult<TensorSpec> {
        match dtype {
            ValueType::Tensor { ty, shape, .. } => Ok(TensorSpec {
                name: name.to_string(),
                datatype: DataType::from_ort(*ty).ok_or_else(|| {
                    PredictError::Load(format!(
                        "'{name}' has an element type this server does not serve ({ty:?})"
                    ))
                })?,
                shape: shape.iter().map(|d| if *d < 0 { -1 } else { *d }).collect(),
            }),
            other => Err(PredictError::Load(format!(
                "'{name}' is not a tensor ({other:?}); export classifiers with skl2onnx's zipmap=False"
            ))),
        }
    }
}

/// A tensor's values, flat, in row-major order.
#[derive(Clone, Debug, PartialEq)]
pub enum TensorData {
    Bool(Vec<bool>),
    Uint8(Vec<u8>),
    Uint16(Vec<u16>),
    Uint32(Vec<u32>),
    Uint64(Vec<u64>),
    Int8(Vec<i8>),
    Int16(Vec<i16>),
    Int32(Vec<i32>),
    Int64(Vec<i64>),
    Fp16(Vec<f16>),
    Fp32(Vec<f32>),
    Fp64(Vec<f64>),
    Bytes(Vec<Vec<u8>>),
}

/// Applies `$body` to the vector inside any numeric or boolean variant.
macro_rules! each_data {
    ($data:expr, $v:ident => $body:expr, bytes $b:ident => $bytes:expr) => {
        match $data {
            TensorData::Bool($v) => $body,
            TensorData::Uint8($v) => $body,
            TensorData::Uint16($v) => $body,
            TensorData::Uint32($v) => $body,
            TensorData::Uint64($v) => $body,
            TensorData::Int8($v) => $body,
            TensorData::Int16($v) => $body,
            TensorData::Int32($v) => $body,
            TensorData::Int64($v) => $body,
            TensorData::Fp16($v) => $body,
            TensorData::Fp32($v) => $body,
            TensorData::Fp64($v) => $body,
            TensorData::Bytes($b) => $bytes,
        }
    };
}

impl TensorData {
    pub fn datatype(&self) -> DataType {
        match self {
            TensorData::Bool(_) => DataType::Bool,
            TensorData::Uint8(_) => DataType::Uint8,
            TensorData::Uint16(_) => DataType::Uint16,
            TensorData::Uint32(_) => DataType::Uint32,
            TensorData::Uint64(_) => DataType::Uint64,
            TensorData::Int8(_) => DataType::Int8,
            TensorData::Int16(_) => DataType::Int16,
            TensorData::Int32(_) => DataType::Int32,
            TensorData::Int64(_) => DataType::Int64,
            TensorData::Fp16(_) => DataType::Fp16,
            TensorData::Fp32(_) => DataType::Fp32,
            TensorData::Fp64(_) => DataType::Fp64,
            TensorData::Bytes(_) => DataType::Bytes,
        }
    }

    pub fn len(&self) -> usize {
        each_data!(self, v => v.len(), bytes b => b.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The parts one after another; `None` when their element types differ.
    pub fn concat(parts: Vec<TensorData>) -> Option<TensorData> {
        let mut parts = parts.into_iter();
        let mut out = parts.next()?;
        for part in parts {
            macro_rules! join {
                ($($variant:ident),*) => {
                    match (&mut out, part) {
                        $((TensorData::$variant(a), TensorData::$variant(b)) => a.extend(b),)*
                        _ => return None,
                    }
                };
            }
            join!(Bool, Uint8, Uint16, Uint32, Uint64, Int8, Int16, Int32, Int64, Fp16, Fp32, Fp64, Bytes);
        }
        Some(out)
    }

    /// The elements `start..end`, cut to what there is (never out of bounds).
    pub fn slice(&self, start: usize, end: usize) -> TensorData {
        let end = end.min(self.len());
        let start = start.min(end);
        macro_rules! cut {
            ($($variant:ident),*) => {
                match self {
                    $(TensorData::$variant(v) => TensorData::$variant(v[start..end].to_vec()),)*
                }
            };
        }
        cut!(Bool, Uint8, Uint16, Uint32, Uint64, Int8, Int16, Int32, Int64, Fp16, Fp32, Fp64, Bytes)
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Tensor {
    pub name: String,
    pub shape: Vec<i64>,
    pub data: TensorData,
}

impl Tensor {
    /// Elements the shape holds, or `None` for a negative dimension or an overflow.
    pub fn element_count(shape: &[i64]) -> Option<usize> {
        shape.iter().try_fold(1usize, |n, d| {
            usize::try_from(*d).ok().and_then(|d| n.checked_mul(d))
        })
    }

    pub(crate) fn check_against(&self, spec: &TensorSpec) -> PredictResult<()> {
        let bad = |why: String| PredictError::BadInput(format!("input '{}': {why}", spec.name));
        if self.data.datatype() != spec.datatype {
            return Err(bad(format!(
                "datatype {} where the model takes {}",
                self.data.datatype().name(),
                spec.datatype.name()
            )));
        }
        let fits = self.shape.len() == spec.shape.len()
            && self
                .shape
                .iter()
                .zip(&spec.shape)
                .all(|(given, want)| *given >= 0 && (*want < 0 || given == want));
        if !fits {
            return Err(bad(format!(
                "shape {:?} does not fit the model's {:?} (-1 is any size)",
                self.shape, spec.shape
            )));
        }
        let count = Tensor::element_count(&self.shape).ok_or_else(|| bad("shape too large".into()))?;
        if count != self.data.len() {
            return Err(bad(format!(
                "shape {:?} holds {count} values but {} were given",
                self.shape,
                self.data.len()
            )));
        }
        Ok(())
    }

    pub(crate) fn into_value(self) -> PredictResult<DynValue> {
        let runtime = |e: ort::Error| PredictError::Runtime(e.to_string());
        let shape = self.shape;
        macro_rules! tensor {
            ($v:expr) => {
                ort::value::Tensor::from_array((shape.clone(), $v))
                    .map(|t| t.into_dyn())
                    .map_err(runtime)
            };
        }
        match self.data {
            TensorData::Bool(v) => tensor!(v),
            TensorData::Uint8(v) => tensor!(v),
            TensorData::Uint16(v) => tensor!(v),
            TensorData::Uint32(v) => tensor!(v),
            TensorData::Uint64(v) => tensor!(v),
            TensorData::Int8(v) => tensor!(v),
            TensorData::Int16(v) => tensor!(v),
            TensorData::Int32(v) => tensor!(v),
            TensorData::Int64(v) => tensor!(v),
            TensorData::Fp16(v) => tensor!(v),
            TensorData::Fp32(v) => tensor!(v),
            TensorData::Fp64(v) => tensor!(v),
            TensorData::Bytes(items) => {
                let strings = items
                    .into_iter()
                    .map(|b| {
                        String::from_utf8(b).map_err(|_| {
                            PredictError::BadInput(format!(
                                "input '{}': BYTES must be UTF-8 text for this model",
                                self.name
                            ))
                        })
                    })
                    .collect::<PredictResult<Vec<String>>>()?;
                ort::value::Tensor::from_string_array((shape, strings.as_slice()))
                    .map(|t| t.into_dyn())
                    .map_err(runtime)
            }
        }
    }

    pub(crate) fn from_value(name: &str, value: &DynValue) -> PredictResult<Tensor> {
        let runtime = |e: ort::Error| PredictError::Runtime(e.to_string());
        let ty = match value.dtype() {
            ValueType::Tensor { ty, .. } => *ty,
            other => {
                return Err(PredictError::Runtime(format!(
                    "output '{name}' is not a tensor ({other:?})"
                )))
            }
        };
        macro_rules! extract {
            ($t:ty, $variant:ident) => {{
                let (shape, data) = value.try_extract_tensor::<$t>().map_err(runtime)?;
                (shape.to_vec(), TensorData::$variant(data.to_vec()))
            }};
        }
        let (shape, data) = match ty {
            TensorElementType::Bool => extract!(bool, Bool),
            TensorElementType::Uint8 => extract!(u8, Uint8),
            TensorElementType::Uint16 => extract!(u16, Uint16),
            TensorElementType::Uint32 => extract!(u32, Uint32),
            TensorElementType::Uint64 => extract!(u64, Uint64),
            TensorElementType::Int8 => extract!(i8, Int8),
            TensorElementType::Int16 => extract!(i16, Int16),
            TensorElementType::Int32 => extract!(i32, Int32),
            TensorElementType::Int64 => extract!(i64, Int64),
            TensorElementType::Float16 => extract!(f16, Fp16),
            TensorElementType::Float32 => extract!(f32, Fp32),
            TensorElementType::Float64 => extract!(f64, Fp64),
            TensorElementType::String => {
                let (shape, strings) = value.try_extract_strings().map_err(runtime)?;
                (
                    shape.to_vec(),
                    TensorData::Bytes(strings.into_iter().map(String::into_bytes).collect()),
                )
            }
            other => {
                return Err(PredictError::Runtime(format!(
                    "output '{name}' has element type {other:?}"
                )))
            }
        };
        Ok(Tensor {
            name: name.to_string(),
            shape,
            data,
        })
    }
}
