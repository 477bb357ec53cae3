# syntax=docker/dockerfile:1
# opscom-bridge image: one image for every role (web, worker, sim, topology, dlq ...).
#   docker build -t opscom-bridge:0.1.0 .
#   docker run --rm -p 8080:8080 -e OPSCOM_BASE_URL=... -e OPSCOM_API_TOKEN=... opscom-bridge:0.1.0 web
# No secret is baked in: every credential comes from the environment (or <NAME>_FILE).

ARG PYTHON_IMAGE=python:3.11-slim

# ---- build: install the project and its dependencies into a self-contained venv ----
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
# Only what the package needs (see .dockerignore); tests, docs and helm stay out.
COPY pyproject.toml README.md ./
COPY schemas ./schemas
COPY bridge ./bridge
# Every dependency ships a manylinux wheel (psycopg[binary] included), so no compiler
# is needed. pip byte-compiles the installed modules, which matters because the
# runtime filesystem is read-only under the Helm chart.
RUN pip install --no-cache-dir . \
    && opscom-bridge --help >/dev/null

# ---- runtime: the venv on a clean slim image, as an unprivileged user ----
FROM ${PYTHON_IMAGE} AS runtime
ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="opscom-bridge" \
      org.opencontainers.image.description="Feeds parking sales (vendor webhooks, RabbitMQ messages) into the OPS-COM Permits API" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.base.name="python:3.11-slim"
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
# A fixed numeric uid/gid so Kubernetes' runAsNonRoot can verify it without a passwd lookup.
RUN groupadd --system --gid 10001 bridge \
    && useradd --system --uid 10001 --gid bridge --home-dir /app --no-create-home \
       --shell /usr/sbin/nologin bridge \
    && install -d -o bridge -g bridge -m 0750 /app
COPY --from=build /opt/venv /opt/venv
# /app is the working directory and the only place the user may write (the default
# SQLite file of a first look lands here); production uses PostgreSQL.
WORKDIR /app
USER 10001:10001
EXPOSE 8080
# Liveness of the web role (/healthz has no dependencies). Other roles override or
# disable it (see docker-compose.yml). slim has no curl, hence Python.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request as u; u.urlopen('http://127.0.0.1:8080/healthz', timeout=4)"]
ENTRYPOINT ["opscom-bridge"]
CMD ["web"]
