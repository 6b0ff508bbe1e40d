# The emotiondesk service for production: the REST API and dashboard with the
# shipped model pack, no training stack (the serve extra only).
#   docker build -t emotiondesk .
#   docker compose up          (with PostgreSQL: see compose.yaml)
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY pyproject.toml README.md ./
COPY src ./src
COPY models ./models
RUN pip install ".[serve]" \
    && useradd --system --uid 10001 --home-dir /app emotiondesk

USER emotiondesk
# Bind on all interfaces inside the container; the database, the API key and
# the rest come from EMOTIONDESK_* variables (see README, "Configuration").
ENV EMOTIONDESK_HOST=0.0.0.0 \
    EMOTIONDESK_PORT=8000 \
    EMOTIONDESK_WORKERS=2 \
    EMOTIONDESK_AUTO_MIGRATE=false \
    OMP_NUM_THREADS=1
EXPOSE 8000

HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=4)"]

# Migrations on start (once, before the workers fork), then the service.
CMD ["sh", "-c", "emotiondesk db upgrade && exec emotiondesk serve"]
