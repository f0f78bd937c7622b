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

/// The repository as a tar file, in three parts: the entries up to the model's bytes, the
/// model's bytes themselves (moved, never copied: a model may be 2 GiB), and the padding and
/// end of the archive. Sent one after another, they are one tar file.
pub fn repository_tar(
    name: &str,
    version: i64,
    inputs: &[TensorSpec],
    outputs: &[TensorSpec],
    onnx: Vec<u8>,
) -> std::io::Result<[Vec<u8>; 3]> {
    const BLOCK: usize = 512;
    let config = config_pbtxt(name, version, inputs, outputs);
    let header = |size: usize| {
        let mut header = tar::Header::new_gnu();
        header.set_size(size as u64);
        header.set_mode(0o644);
        header.set_mtime(u64::try_from(crate::now_millis() / 1000).unwrap_or(0));
        header.set_cksum();
        header
    };
    let mut tar = tar::Builder::new(Vec::new());
    tar.append_data(
        &mut header(config.len()),
        format!("{name}/config.pbtxt"),
        config.as_bytes(),
    )?;
    // The model's header (and a long-name entry, if its path needs one) with no data: the
    // data is the second part.
    tar.append_data(
        &mut header(onnx.len()),
        format!("{name}/{version}/model.onnx"),
        std::io::empty(),
    )?;
    let mut head = tar.into_inner()?;
    // `into_inner` ended the archive with two zero blocks; they belong after the model.
    head.truncate(head.len().saturating_sub(2 * BLOCK));
    let padding = (BLOCK - onnx.len() % BLOCK) % BLOCK;
    let tail = vec![0; padding + 2 * BLOCK];
    Ok([head, onnx, tail])
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    #[test]
    fn the_three_parts_are_one_tar_file() {
        let spec = |name: &str| TensorSpec {
            name: name.into(),
            datatype: DataType::Fp32,
            shape: vec![-1, 4],
        };
        // A name past the 100 bytes a plain tar header holds, and sizes on and off a block.
        let long = "a-deployment-".repeat(9);
        for (name, size) in [("iris", 1000), (long.as_str(), 1024), ("empty", 0)] {
            let onnx: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
            let parts = repository_tar(name, 3, &[spec("X")], &[spec("Y")], onnx.clone())
                .unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(parts[1], onnx, "the model's bytes are the middle part");
            let joined = parts.concat();
            assert_eq!(joined.len() % 512, 0);
            let mut archive = tar::Archive::new(joined.as_slice());
            let mut found = Vec::new();
            for entry in archive.entries().unwrap_or_else(|e| panic!("{e}")) {
                let mut entry = entry.unwrap_or_else(|e| panic!("{e}"));
                let path = entry
                    .path()
                    .unwrap_or_else(|e| panic!("{e}"))
                    .display()
                    .to_string();
                let mut bytes = Vec::new();
                entry.read_to_end(&mut bytes).unwrap_or_else(|e| panic!("{e}"));
                found.push((path, bytes));
            }
            assert_eq!(found.len(), 2, "{name}");
            assert_eq!(found[0].0, format!("{name}/config.pbtxt"));
            assert!(String::from_utf8_lossy(&found[0].1).contains("onnxruntime_onnx"));
            assert_eq!(found[1], (format!("{name}/3/model.onnx"), onnx));
        }
    }
}
