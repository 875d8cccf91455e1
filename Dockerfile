# Kartenn in one image: `docker build -t kartenn .`, then `docker run -p 8000:8000 -v kartenn-data:/data kartenn`
# (`kartenn init /data` first makes the site; compose.yaml and deploy/kubernetes do it before the server starts).
# The Python wheels carry GDAL (rasterio, pyogrio), PROJ and Mapnik: the image needs no system GIS packages.

# The portal's front end (OpenLayers, bundled by esbuild).
FROM node:20.18-bookworm-slim AS frontend
WORKDIR /build/frontend
COPY frontend/package.json frontend/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY frontend/ ./
RUN npm run build

# The package and its dependencies, in a virtualenv copied whole into the last stage.
FROM python:3.11.11-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/kartenn
WORKDIR /build
COPY pyproject.toml README.md ./
COPY src/ src/
COPY --from=frontend /build/src/kartenn/web/static/ src/kartenn/web/static/
RUN /opt/kartenn/bin/pip install .

FROM python:3.11.11-slim-bookworm
# fonts for the labels of rendered maps
RUN apt-get update \
    && apt-get install -y --no-install-recommends fonts-dejavu-core=2.37-6 \
    && rm -rf /var/lib/apt/lists/*
RUN groupadd --system --gid 10001 kartenn \
    && useradd --system --uid 10001 --gid kartenn --home-dir /data --shell /usr/sbin/nologin kartenn \
    && mkdir -p /data && chown kartenn:kartenn /data
COPY --from=build /opt/kartenn /opt/kartenn
ENV PATH=/opt/kartenn/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    KARTENN_DATA_DIR=/data \
    KARTENN_LOG_FORMAT=json
USER 10001:10001
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]
# SIGTERM: the server stops taking connections and finishes the requests in flight (shutdown_timeout).
STOPSIGNAL SIGTERM
ENTRYPOINT ["kartenn"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]
