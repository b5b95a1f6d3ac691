# syntax=docker/dockerfile:1
# TruStacks bot image: `trustacks serve`. Multi-stage: build wheels, then a slim non-root runtime.
FROM python:3.12.8-slim-bookworm AS build
WORKDIR /src
COPY requirements/pinned.txt requirements/pinned.txt
RUN python -m venv /opt/trustacks \
 && /opt/trustacks/bin/pip install --no-cache-dir --require-hashes --no-deps -r requirements/pinned.txt
COPY pyproject.toml README.md ./
COPY bot ./bot
RUN /opt/trustacks/bin/pip install --no-cache-dir .

FROM python:3.12.8-slim-bookworm
RUN groupadd --system --gid 10001 trustacks \
 && useradd --system --uid 10001 --gid trustacks --home-dir /var/lib/trustacks --create-home trustacks
COPY --from=build /opt/trustacks /opt/trustacks
ENV PATH=/opt/trustacks/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    TRUSTACKS_DATA_DIR=/var/lib/trustacks
USER 10001:10001
WORKDIR /var/lib/trustacks
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=3s --start-period=10s --retries=3 \
  CMD ["python", "-c", "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=2).status == 200 else 1)"]
ENTRYPOINT ["trustacks"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8080"]
