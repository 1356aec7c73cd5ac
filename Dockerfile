# The one Postman image: every service, postmanctl and the migrations. Build it from the repository root:
#   docker build -t postman:<tag> .
# Nothing in it picks a service: each Deployment says which one it runs with its `command`, such as
# ["python", "-m", "postman_gateway"], and the setup Job runs ["postmanctl", "setup"] (deploy/k8s). Run without a
# command, the image prints postmanctl's help. tests/deploy/test_image.py lints this file (hadolint) and checks it.
#
# The base image is pinned by the digest of its multi-platform index, so that a rebuild starts from the same bytes
# (Python 3.11.16 on Debian bookworm when pinned). To move to the newest patch release, run
#   docker buildx imagetools inspect python:3.11-slim-bookworm
# put the "Digest:" it prints (the index's, not one platform's manifest) after the @ below, rebuild, run `make test`.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm@sha256:a36c24f9cbdf4fd0f52d67f0823eeac19c2028c637cecc392d97f980d4fec56b

# --- builder: the runtime venv from hashed locks, and the gRPC code generated from protos/ ---------------------------
FROM ${PYTHON_IMAGE} AS builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_INPUT=1
WORKDIR /build

# The builder's tools (pip, grpcio-tools, setuptools) get a venv of their own that the image never ships.
COPY requirements-build.lock ./
RUN python -m venv /opt/build-tools \
 && /opt/build-tools/bin/pip install --require-hashes --no-deps -r requirements-build.lock

# The runtime venv: exactly requirements.lock, every package pinned and checked against its hash, nothing resolved
# here. It is made without pip (the tools' pip installs into it), so the image carries no installer.
COPY requirements.lock ./
RUN python -m venv --without-pip /opt/venv \
 && /opt/build-tools/bin/pip --python /opt/venv/bin/python install --require-hashes --no-deps -r requirements.lock

COPY protos/ /build/protos/
WORKDIR /app
COPY pyproject.toml alembic.ini ./
COPY lib/ lib/
COPY services/ services/
COPY migrations/ migrations/
# protoc's absolute-import quirk, as in the Makefile: protos/postman/v1/x.proto becomes lib/postman/v1/x_pb2.py.
RUN /opt/build-tools/bin/python -m grpc_tools.protoc -I/build/protos --python_out=lib --grpc_python_out=lib \
      /build/protos/postman/v1/*.proto \
 && touch lib/postman/__init__.py lib/postman/v1/__init__.py
# The project itself, installed editable as `make install` does for developers: the packages stay in /app/lib and
# /app/services (the gateway's templates and static files beside them; postmanctl setup finds alembic.ini and
# migrations/ in /app) and the venv gains the `postmanctl` console script. setuptools, the build backend, is read
# from the tools' venv.
RUN PYTHONPATH=/opt/build-tools/lib/python3.11/site-packages \
    /opt/build-tools/bin/pip --python /opt/venv/bin/python install --no-deps --no-index --no-build-isolation \
      --editable /app

# --- runtime --------------------------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE}
# Bytecode is compiled below, at build time: the root filesystem is read-only when the container runs, and HOME is
# the writable /tmp (an emptyDir in deploy/k8s) for libraries that want a home directory.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp \
    PATH=/opt/venv/bin:$PATH
RUN groupadd --system --gid 10001 postman \
 && useradd --system --uid 10001 --gid 10001 --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin postman
WORKDIR /app
COPY --from=builder /opt/venv /opt/venv
COPY --from=builder /app /app
RUN python -m compileall -q /opt/venv /app
USER 10001:10001
CMD ["postmanctl", "--help"]
