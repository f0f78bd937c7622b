"""The seed's serving stack, for the serving benchmark: FastAPI and Python's onnxruntime
behind uvicorn, answering the Open Inference Protocol's JSON `infer` for one ONNX model
(AIOPS_BENCH_ONNX, served as AIOPS_BENCH_MODEL). One intra-op thread per session, as aiops.
Run: uvicorn fastapi_server:app --workers N
"""
import os

import numpy as np
import onnxruntime as ort
from fastapi import FastAPI, HTTPException, Request

NAME = os.environ["AIOPS_BENCH_MODEL"]
options = ort.SessionOptions()
options.intra_op_num_threads = 1
session = ort.InferenceSession(os.environ["AIOPS_BENCH_ONNX"], options, providers=["CPUExecutionProvider"])
TYPES = {"FP32": np.float32, "FP64": np.float64, "INT64": np.int64}
NAMES = {np.dtype(v): k for k, v in TYPES.items()}
app = FastAPI()


@app.post("/v2/models/{name}/infer")
async def infer(name: str, request: Request):
    if name != NAME:
        raise HTTPException(404, f"Unknown model '{name}'")
    body = await request.json()
    feeds = {i["name"]: np.asarray(i["data"], dtype=TYPES[i["datatype"]]).reshape(i["shape"]) for i in body["inputs"]}
    outputs = session.run(None, feeds)
    return {
        "model_name": name,
        "outputs": [
            {"name": o.name, "datatype": NAMES.get(v.dtype, "BYTES"), "shape": list(v.shape), "data": v.ravel().tolist()}
            for o, v in zip(session.get_outputs(), outputs)
        ],
    }
