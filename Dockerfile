# syntax=docker/dockerfile:1
# TruStacks bot image: `trustacks serve`, the webhook service (docs/install.md, docs/configuration.md).
#
# Two stages. `build` installs the hash-pinned Rego engine, builds the trustacks wheel (bot/ plus the
# shipped rules/) and installs it into a virtualenv at /opt/trustacks. The runtime stage copies only
# that virtualenv onto the same slim base: no compiler, no pip cache, no source tree, no build files.
# tests/ship/test_image.py lints this file with hadolint and replays the same install steps in a fresh
# virtualenv, so the image's layout is tested without a Docker engine.
#
# Both stages use one base, pinned by tag (written out, not an ARG, so hadolint's registry check sees
# it), on the Python minor version the test-suite runs on. The engine wheel in requirements/pinned.txt
# is x86_64 (manylinux_2_34, glibc 2.34+; bookworm has 2.36): build for linux/amd64.
FROM python:3.11.11-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
RUN python -m venv /opt/trustacks
# The Rego engine first, by hash (DESIGN.md §7): a substituted wheel is refused.
COPY requirements/pinned.txt requirements/pinned.txt
RUN /opt/trustacks/bin/pip install --require-hashes --no-deps -r requirements/pinned.txt
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY rules ./rules
# A wheel, not an editable install: the image holds no checkout. The last command fails the build if
# the shipped constitution is missing or does not compile.
RUN /opt/trustacks/bin/pip wheel --no-deps --wheel-dir /tmp/wheels . \
 && /opt/trustacks/bin/pip install /tmp/wheels/trustacks-*.whl \
 && /opt/trustacks/bin/python -c "from bot.policy.engine import PolicyEngine; PolicyEngine.load(isolate=False)" \
 && /opt/trustacks/bin/trustacks --version

FROM python:3.11.11-slim-bookworm
LABEL org.opencontainers.image.title="TruStacks" \
      org.opencontainers.image.description="Git-native GitOps bot: agents propose, policy decides, humans approve." \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.source="https://github.com/trustacks/trustacks"
# A fixed non-root uid/gid, so Kubernetes' runAsNonRoot can verify it and fsGroup can own the volumes.
RUN groupadd --system --gid 10001 trustacks \
 && useradd --system --uid 10001 --gid trustacks --no-log-init \
      --home-dir /var/lib/trustacks --create-home --shell /usr/sbin/nologin trustacks
COPY --from=build /opt/trustacks /opt/trustacks
# Listen on all interfaces inside the container (config.py defaults to loopback). Set as variables,
# not flags, so TRUSTACKS_* from the deployment can still change them. Policy comes only from signed
# bundles mounted at /etc/trustacks/policy (with constitution.pin.json) and the public key mounted at
# /etc/trustacks/policy-key (`trustacks bundle release`, docs/install.md): without them serve refuses to start.
ENV PATH=/opt/trustacks/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/var/lib/trustacks \
    TRUSTACKS_DATA_DIR=/var/lib/trustacks \
    TRUSTACKS_HOST=0.0.0.0 \
    TRUSTACKS_PORT=8080 \
    TRUSTACKS_POLICY_BUNDLE_DIR=/etc/trustacks/policy \
    TRUSTACKS_POLICY_PUBLIC_KEY_FILE=/etc/trustacks/policy-key/trustacks.pub
USER 10001:10001
WORKDIR /var/lib/trustacks
EXPOSE 8080
# SIGTERM drains: readiness turns 503, running jobs get TRUSTACKS_SHUTDOWN_GRACE_SECONDS to finish.
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=3s --start-period=15s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('TRUSTACKS_PORT', '8080'), timeout=2)"]
ENTRYPOINT ["trustacks"]
CMD ["serve"]
