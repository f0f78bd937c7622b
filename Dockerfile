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

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates curl && rm -rf /var/lib/apt/lists/* \
 && useradd --system --home /var/lib/aiops --create-home aiops
COPY --from=build /src/target/release/aiops /usr/local/bin/aiops
COPY --from=build /src/target/site /usr/local/share/aiops/site
ENV AIOPS_ADDR=0.0.0.0:3000 \
    AIOPS_DATA_DIR=/var/lib/aiops \
    AIOPS_SITE_ROOT=/usr/local/share/aiops/site \
    AIOPS_LOG_FORMAT=json
USER aiops
EXPOSE 3000
HEALTHCHECK --interval=10s --timeout=3s --retries=3 CMD curl -fsS http://127.0.0.1:3000/health || exit 1
ENTRYPOINT ["aiops"]
CMD ["serve"]
