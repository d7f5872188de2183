# labelaudit: API and worker image.
#   docker build -t labelaudit .                                   # CPU torch (default)
#   docker build --build-arg TORCH_INDEX=https://download.pytorch.org/whl/cu124 -t labelaudit:cuda .
#   docker build --build-arg EXTRAS=server,torch,ray -t labelaudit-ray .      # with Ray (LABELAUDIT_EXECUTOR=ray)
FROM python:3.11-slim

# Empty: CPU torch pinned by constraints-cpu.txt. Set to a PyTorch wheel index (e.g. .../whl/cu124) for CUDA.
ARG TORCH_INDEX=""
ARG TORCH_VERSION=2.13.0
# Extras of the package: the server and the torch backbones; add "ray" for the Ray executor and its nodes.
ARG EXTRAS="server,torch"

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    LABELAUDIT_DATA_DIR=/data \
    LABELAUDIT_HOST=0.0.0.0 \
    LABELAUDIT_PORT=8000

RUN groupadd --system --gid 10001 labelaudit \
 && useradd --system --uid 10001 --gid labelaudit --home-dir /app --shell /usr/sbin/nologin labelaudit \
 && mkdir -p /data && chown labelaudit:labelaudit /data

WORKDIR /app
COPY pyproject.toml README.md constraints-cpu.txt ./
COPY app ./app

RUN if [ -n "$TORCH_INDEX" ]; then \
        pip install --index-url "$TORCH_INDEX" "torch==${TORCH_VERSION}" && pip install ".[${EXTRAS}]" ; \
    else \
        pip install --extra-index-url https://download.pytorch.org/whl/cpu -c constraints-cpu.txt \
            ".[${EXTRAS}]" ; \
    fi

USER labelaudit
VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
  CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2).status == 200 else 1)"

# `labelaudit worker` for worker containers (see docker-compose.yml)
CMD ["labelaudit", "serve"]
