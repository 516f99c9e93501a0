# The assetstream image for docker-compose.yml: `assetstream worker`, `assetstream api`,
# `assetstream project` all run from it. Configuration is by environment variables only
# (README, "Configuration").
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    ASSETSTREAM_DATA_DIR=/data

WORKDIR /app
COPY pyproject.toml README.md requirements.lock ./
# Dependencies first, exactly the hash-checked versions CI tests (`make lock`), then the
# project itself without resolving anything again.
RUN pip install --require-hashes -r requirements.lock
COPY domain ./domain
COPY schemas ./schemas
COPY service ./service
COPY streams ./streams
RUN pip install --no-deps . \
    && useradd --system --uid 10001 --home-dir /app assetstream \
    && mkdir -p /data && chown assetstream /data

USER assetstream
VOLUME ["/data"]
EXPOSE 6066 8000
ENTRYPOINT ["assetstream"]
CMD ["worker"]
