# syntax=docker/dockerfile:1
# The streamer service image: `docker build -t streamer .`
# Stage 1 builds a virtualenv with the package and its wheels; stage 2 is a slim runtime with
# that virtualenv only (no compilers, no pip), running as an unprivileged user.

ARG PYTHON_VERSION=3.11

FROM python:${PYTHON_VERSION}-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
RUN python -m venv /opt/streamer \
 && /opt/streamer/bin/pip install . \
 && /opt/streamer/bin/pip uninstall --yes pip

FROM python:${PYTHON_VERSION}-slim AS runtime
ENV PATH=/opt/streamer/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    MALLOC_ARENA_MAX=2 \
    MALLOC_TRIM_THRESHOLD_=1048576 \
    STREAMER_SINK=firehose \
    STREAMER_SPOOL_DIR=/var/lib/streamer/spool \
    STREAMER_LOG_FORMAT=json \
    STREAMER_HEALTH_PORT=8080
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
