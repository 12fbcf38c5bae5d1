# threadguard moderation service.
#   docker build -t threadguard .
#   docker run --rm -p 8000:8000 threadguard
# Configuration: THREADGUARD_* environment variables (docs/api.md), e.g. -e THREADGUARD_WORKERS=2
# -e THREADGUARD_API_KEY_HASHES=<sha256 hex>. Reload: `docker kill --signal HUP <container>`.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# --- build: install the package and its runtime dependencies into a virtualenv -----------------------------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
RUN python -m venv /opt/venv
COPY pyproject.toml README.md requirements.loc[k] ./
COPY threadguard ./threadguard
COPY service ./service
# the trainer (training/) is not installed: `threadguard serve` does not need it
RUN if [ -f requirements.lock ]; then constraint="-c requirements.lock"; fi; \
    /opt/venv/bin/pip install $constraint . \
 && /opt/venv/bin/python -m compileall -q /opt/venv/lib

# --- runtime ------------------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE}
# UTF-8 everywhere without relying on an installed locale; the model itself is locale-free (no
# StringNormalizer), so nothing depends on LANG beyond Python's own I/O encoding.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUTF8=1 \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    LANG=C.UTF-8 \
    THREADGUARD_HOST=0.0.0.0 \
    THREADGUARD_PORT=8000 \
    THREADGUARD_MODEL=/app/models/threadguard-ngram \
    THREADGUARD_DATABASE_URL=sqlite:////var/lib/threadguard/threadguard.db \
    THREADGUARD_REVIEW_SPILL_PATH=/var/lib/threadguard/review-spill.jsonl
RUN groupadd --system --gid 10001 threadguard \
 && useradd --system --uid 10001 --gid threadguard --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin threadguard \
 && install -d -o 10001 -g 10001 -m 0750 /var/lib/threadguard
# the review queue (SQLite by default; set THREADGUARD_DATABASE_URL for PostgreSQL) and its spill file
VOLUME ["/var/lib/threadguard"]
COPY --from=build /opt/venv /opt/venv
# the default model: its bundle(s) and the `current` pointer, read-only for the service user
COPY --chown=root:root models/threadguard-ngram /app/models/threadguard-ngram
WORKDIR /app
USER 10001:10001
EXPOSE 8000
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, sys, urllib.request; port = os.environ.get('THREADGUARD_PORT', '8000'); sys.exit(0 if urllib.request.urlopen(f'http://127.0.0.1:{port}/readyz', timeout=2).status == 200 else 1)"]
ENTRYPOINT ["threadguard", "serve"]
