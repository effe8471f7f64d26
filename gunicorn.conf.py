"""gunicorn settings for the Procfile's web process (uvicorn workers: uvloop + httptools)."""

import os

bind = f"0.0.0.0:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_class = "app.infra.event_loop.Worker"
# Answers stream for a while; the default 30 s would kill workers mid-stream on slow clients.
timeout = 120
graceful_timeout = 30
keepalive = 5
accesslog = "-"
