# syntax=docker/dockerfile:1
# postmanctl: the operator command (setup = create and migrate the database, declare the RabbitMQ topology;
# create-user; create-api-key). The migrations Job runs it. Build from the repository root:
#   docker build -f deploy/docker/postmanctl.Dockerfile -t postman-ctl .
# It carries every service's package because migrations/env.py imports every service's models.
ARG PYTHON_IMAGE=python:3.11-slim

# --- builder: the runtime venv, and the gRPC code generated from protos/ -------------------------------------------
FROM ${PYTHON_IMAGE} AS builder
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /build
COPY requirements.txt requirements-dev.txt ./
RUN python -m venv /opt/venv \
 && /opt/venv/bin/pip install -r requirements.txt
# grpcio-tools is a build tool: it goes into the builder's own interpreter, never into the venv the image ships.
# Its pin is read from requirements-dev.txt so that images and developers generate the same code.
RUN pip install "$(grep -E '^grpcio-tools==' requirements-dev.txt)"
COPY protos/ protos/
RUN mkdir -p lib \
 && python -m grpc_tools.protoc -Iprotos --python_out=lib --grpc_python_out=lib protos/postman/v1/*.proto \
 && touch lib/postman/__init__.py lib/postman/v1/__init__.py

# --- runtime ----------------------------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE}
# Bytecode is compiled below at build time: the root filesystem is read-only when the container runs.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp \
    PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/app/lib:/app/services/gateway:/app/services/auth:/app/services/campaign:/app/services/renderer:/app/services/sender-email:/app/services/sender-sms:/app/services/sender-telegram:/app/services/stats
RUN groupadd --system --gid 10001 postman \
 && useradd --system --uid 10001 --gid 10001 --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin postman
WORKDIR /app
COPY --from=builder /opt/venv /opt/venv
COPY lib/ /app/lib/
COPY --from=builder /build/lib/postman /app/lib/postman
COPY services/ /app/services/
# postman_ctl.setup finds alembic.ini and migrations/ next to lib/ (/app).
COPY alembic.ini /app/alembic.ini
COPY migrations/ /app/migrations/
RUN python -m compileall -q /app/lib /app/services /app/migrations
USER 10001:10001
ENTRYPOINT ["python", "-m", "postman_ctl.cli"]
CMD ["setup"]
