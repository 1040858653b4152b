# The streamer service image: `docker build -t streamer .` (`make container` builds and runs it).
# Stage 1 builds a virtualenv with the package and the exact wheels of uv.lock; stage 2 is a slim
# runtime with that virtualenv only (no compilers, no pip, no uv), running as an unprivileged user.
# No `# syntax=` line: BuildKit would fetch that frontend from a registry, and the legacy builder
# needs none of its features. Works on Docker Hub's python:3.11-slim (Python in /usr/local/bin)
# and on a Debian-built stand-in (Python in /usr/bin): only `python` on PATH is assumed.

ARG PYTHON_VERSION=3.11

FROM python:${PYTHON_VERSION}-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    UV_NO_CACHE=1 UV_PYTHON_DOWNLOADS=never UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy \
    UV_SYSTEM_CERTS=1 \
    UV_PROJECT_ENVIRONMENT=/opt/streamer
WORKDIR /src
# uv, at the version requirements-uv.txt pins with every file's hash, in this stage only. It
# trusts the image's certificate store (UV_SYSTEM_CERTS), as pip does, not only its built-in roots.
COPY requirements-uv.txt ./
RUN python -m venv /opt/uv \
 && /opt/uv/bin/pip install --require-hashes --requirement requirements-uv.txt
# Dependencies first, from pyproject.toml and uv.lock alone, so a change to the code or the README
# reuses this layer (the slow one) and only reinstalls the package itself: the runtime
# dependencies (no extras) at uv.lock's versions, hashes checked (`--locked`: a lock that is out
# of date with pyproject.toml fails the build), into a virtualenv without pip.
COPY pyproject.toml uv.lock ./
RUN /opt/uv/bin/uv venv --python "$(command -v python)" /opt/streamer \
 && /opt/uv/bin/uv sync --locked --no-default-groups --no-install-project --no-editable
COPY README.md ./
COPY src ./src
RUN /opt/uv/bin/uv sync --locked --no-default-groups --no-editable

FROM python:${PYTHON_VERSION}-slim AS runtime
ENV PATH=/opt/streamer/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    MALLOC_ARENA_MAX=2 \
    MALLOC_TRIM_THRESHOLD_=1048576 \
    STREAMER_SINK=firehose \
    STREAMER_SPOOL_DIR=/var/lib/streamer/spool \
    STREAMER_LOG_FORMAT=json \
    STREAMER_HEALTH_PORT=8080 \
    STREAMER_HEALTH_HOST=0.0.0.0
RUN groupadd --system --gid 10001 streamer \
 && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/streamer --no-create-home \
      --shell /usr/sbin/nologin streamer \
 && mkdir -p /var/lib/streamer/spool \
 && chown -R 10001:10001 /var/lib/streamer \
 && rm -rf /usr/local/lib/python*/site-packages/pip /usr/local/bin/pip*
COPY --from=build /opt/streamer /opt/streamer
USER 10001:10001
WORKDIR /var/lib/streamer
VOLUME ["/var/lib/streamer"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 CMD ["streamer", "health"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["streamer", "run"]
