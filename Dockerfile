# The app's image: one image for the three processes of the Procfile.
#   podman build -t rag-website .            (or docker build)
#   podman run rag-website                   web: gunicorn, uvicorn workers (the default)
#   podman run rag-website worker            the ingestion worker
#   podman run rag-website migrate           apply migrations, then exit
# BASE is any Debian-like image; one without Python (e.g. a debootstrap'd Debian) gets Debian's.
ARG BASE=python:3.11-slim

FROM ${BASE} AS build
RUN if ! python3 -m venv --help >/dev/null 2>&1; then \
        apt-get update -q \
        && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
            python3 python3-venv \
        && rm -rf /var/lib/apt/lists/*; \
    fi
RUN python3 -m venv /opt/venv
# deploy/pip/ is empty but for a README in the repository; a build may put a pip.conf (and
# wheels it points to) there, e.g. the machine's package index settings. Nothing of it reaches
# the runtime image.
COPY deploy/pip/ /tmp/pip/
COPY requirements.txt /tmp/requirements.txt
# Whatever requirements.txt holds: this layer is rebuilt only when it or deploy/pip/ change.
RUN if [ -f /tmp/pip/pip.conf ]; then export PIP_CONFIG_FILE=/tmp/pip/pip.conf; fi \
    && /opt/venv/bin/pip install --no-cache-dir --disable-pip-version-check \
        -r /tmp/requirements.txt \
    && find /opt/venv -name '__pycache__' -prune -exec rm -rf {} +

FROM ${BASE} AS runtime
# OCR's English language data (the engine itself comes with tesserocr's wheel); add
# tesseract-ocr-deu and the like here for OCR_LANGUAGES=eng+deu.
RUN apt-get update -q \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
        tesseract-ocr-eng $(command -v python3 >/dev/null 2>&1 || echo python3) \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system app && useradd --system --gid app --home-dir /app app \
    && mkdir -p /data && chown app:app /data
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY app/ app/
COPY migrations/ migrations/
COPY templates/ templates/
COPY static/ static/
COPY gunicorn.conf.py Procfile deploy/entrypoint.sh ./
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HOST=0.0.0.0 \
    PORT=8000 \
    DATA_DIR=/data \
    HF_HUB_OFFLINE=1
USER app
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --start-period=60s --retries=3 \
    CMD ["python3", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PORT', '8000'), timeout=2)"]
ENTRYPOINT ["/app/entrypoint.sh"]
CMD ["web"]
