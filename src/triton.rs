//! A deployed version as a Triton model repository: `<name>/config.pbtxt` (platform
//! `onnxruntime_onnx`, the inputs and outputs read from the graph) and
//! `<name>/<version>/model.onnx`, in one tar file that `tar -x` turns into a folder
//! `tritonserver --model-repository` can serve.

use crate::serving::{DataType, TensorSpec};

/// Triton's name for an element type.
fn triton_type(t: DataType) -> &'static str {
    match t {
        DataType::Bool => "TYPE_BOOL",
        DataType::Uint8 => "TYPE_UINT8",
        DataType::Uint16 => "TYPE_UINT16",
        DataType::Uint32 => "TYPE_UINT32",
        DataType::Uint64 => "TYPE_UINT64",
        DataType::Int8 => "TYPE_INT8",
        DataType::Int16 => "TYPE_INT16",
        DataType::Int32 => "TYPE_INT32",
        DataType::Int64 => "TYPE_INT64",
        DataType::Fp16 => "TYPE_FP16",
        DataType::Fp32 => "TYPE_FP32",
        DataType::Fp64 => "TYPE_FP64",
        DataType::Bytes => "TYPE_STRING",
    }
}

fn tensors(kind: &str, specs: &[TensorSpec]) -> String {
    let items: Vec<String> = specs
        .iter()
        .map(|s| {
            let dims: Vec<String> = s.shape.iter().map(i64::to_string).collect();
            format!(
                "  {{\n    name: \"{}\"\n    data_type: {}\n    dims: [ {} ]\n  }}",
                s.name.replace('\\', "\\\\").replace('"', "\\\""),
                triton_type(s.datatype),
                dims.join(", ")
            )
        })
        .collect();
    format!("{kind} [\n{}\n]\n", items.join(",\n"))
}

/// The model configuration. `max_batch_size: 0`: the dimensions are the graph's own,
/// the batch dimension among them (-1 where dynamic).
pub fn config_pbtxt(name: &str, version: i64, inputs: &[TensorSpec], outputs: &[TensorSpec]) -> String {
    format!(
        "name: \"{name}\"\nplatform: \"onnxruntime_onnx\"\nbackend: \"onnxruntime\"\nmax_batch_size: 0\n\
         version_policy: {{ specific: {{ versions: [ {version} ] }} }}\n{}{}",
        tensors("input", inputs),
        tensors("output", outputs)
    )
}

/// The repository as a tar file.
pub fn repository_tar(
    name: &str,
    version: i64,
    inputs: &[TensorSpec],
    outputs: &[TensorSpec],
    onnx: &[u8],
) -> std::io::Result<Vec<u8>> {
    let config = config_pbtxt(name, version, inputs, outputs);
    let mut tar = tar::Builder::new(Vec::new());
    let mut add = |path: String, bytes: &[u8]| -> std::io::Result<()> {
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(u64::try_from(crate::now_millis() / 1000).unwrap_or(0));
        header.set_cksum();
        tar.append_data(&mut header, path, bytes)
    };
    add(format!("{name}/config.pbtxt"), config.as_bytes())?;
    add(format!("{name}/{version}/model.onnx"), onnx)?;
    tar.into_inner()
}
