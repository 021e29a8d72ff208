# The training image: what a Vertex AI custom job runs (`make image ENV=dev|prod` builds it with
# Cloud Build and pushes it to the environment's Artifact Registry repository; ml/jobs/).
# The project with its `train` extras (and `serve`: a run checks its LiteRT export), installed by
# uv exactly as uv.lock pins them. The local cloud's Vertex AI emulator runs this ENTRYPOINT in
# the project's own environment instead (localcloud/cloud.py reads it from here).
FROM python:3.11-slim-bookworm

COPY --from=ghcr.io/astral-sh/uv:0.13.8 /uv /usr/local/bin/uv
ENV UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/app/.venv \
    UV_COMPILE_BYTECODE=1 \
    PATH=/app/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1
WORKDIR /app

# The dependencies first, in their own layer: a change to the code alone rebuilds in seconds.
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --locked --no-install-project --extra train --extra serve
COPY environments environments
COPY ml ml
COPY cli cli
COPY infra infra
RUN uv sync --locked --extra train --extra serve

USER 1000:1000
ENTRYPOINT ["python", "-m", "ml"]
