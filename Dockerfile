# Builds the aiops binary and its web bundle, then ships both in a slim image.
FROM rust:1.95-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends nodejs npm && rm -rf /var/lib/apt/lists/*
RUN rustup target add wasm32-unknown-unknown \
 && cargo install cargo-leptos --version 0.3.10 --locked \
 && cargo install wasm-bindgen-cli --version 0.2.130
RUN mkdir -p /opt/binaryen && cd /opt/binaryen && npm init -y >/dev/null && npm install binaryen@123
ENV PATH="/opt/binaryen/node_modules/.bin:${PATH}"
WORKDIR /src
COPY . .
RUN cargo leptos build --release

# ONNX Runtime for the embedded predictor: the library from the onnxruntime==1.32.0 wheel
# (the version the predictor is tested against), loaded at run time from ORT_DYLIB_PATH.
FROM python:3.11-slim-bookworm AS onnxruntime
RUN pip download --no-deps --only-binary=:all: --dest /wheel onnxruntime==1.32.0 \
 && python -m zipfile -e /wheel/onnxruntime-1.32.0-*.whl /ort \
 && cp /ort/onnxruntime/capi/libonnxruntime.so.1.32.0 /libonnxruntime.so.1.32.0

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates curl && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --user-group --home /var/lib/aiops --create-home aiops
COPY --from=build /src/target/release/aiops /usr/local/bin/aiops
# The hashed bundle names (cargo-leptos writes them beside the binary).
COPY --from=build /src/target/release/hash.txt /usr/local/bin/hash.txt
COPY --from=build /src/target/site /usr/local/share/aiops/site
COPY --from=onnxruntime /libonnxruntime.so.1.32.0 /usr/local/lib/aiops/libonnxruntime.so.1.32.0
ENV AIOPS_ADDR=0.0.0.0:3000 \
    ORT_DYLIB_PATH=/usr/local/lib/aiops/libonnxruntime.so.1.32.0 \
    AIOPS_DATA_DIR=/var/lib/aiops \
    AIOPS_SITE_ROOT=/usr/local/share/aiops/site \
    AIOPS_LOG_FORMAT=json
# A numeric user, so Kubernetes' runAsNonRoot can check it (the Helm chart runs as 10001).
USER 10001
EXPOSE 3000
HEALTHCHECK --interval=10s --timeout=3s --retries=3 CMD curl -fsS http://127.0.0.1:3000/health || exit 1
ENTRYPOINT ["aiops"]
CMD ["serve"]
