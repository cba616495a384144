# syntax=docker/dockerfile:1
# gatehouse: the container image (docs/deploy.md). Not built on the project's own machines, which
# cannot pull base images; test/deploy/image.test.ts runs this file's runtime install
# (deploy/image/install-runtime.sh) and its ENTRYPOINT/CMD in a clean directory instead.
#
#   docker build -t gatehouse:0.1.0 .
#   docker run --rm --read-only -p 9191:9191 -p 9192:9192 gatehouse:0.1.0
#
# Pin the bases by digest in your own registry mirror (docker buildx imagetools inspect <tag>).
ARG NODE_IMAGE=node:20.20.2-bookworm-slim
# The OPA that gatehouse pins (scripts/ensure-opa.sh), only to compile the example policy.
ARG OPA_IMAGE=openpolicyagent/opa:1.19.1-static

FROM ${OPA_IMAGE} AS opa

FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error
COPY . .
COPY --from=opa /opa /usr/local/bin/opa
# The same build as scripts/bootstrap.sh: TypeScript to dist/, the example policy to a Wasm bundle.
RUN npm run build \
 && node dist/main.js build --policies policies --out build/bundle.tar.gz --opa /usr/local/bin/opa
RUN sh deploy/image/install-runtime.sh /src /app

FROM ${NODE_IMAGE}
# tini as PID 1: forwards SIGTERM to gatehouse (whose drain then runs) and reaps zombies.
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini \
 && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production
WORKDIR /app
# Owned by root, readable by all: the non-root user below cannot change its own code, and
# nothing is written at run time, so the root file system can be mounted read-only.
COPY --from=build /app /app
USER 65532:65532
# gRPC (envoy.service.auth.v3.Authorization, grpc.health.v1) and admin (/healthz, /readyz, /metrics).
EXPOSE 9191 9192
ENTRYPOINT ["/usr/bin/tini", "--", "node", "/app/dist/main.js"]
CMD ["serve", "--bundle", "/app/build/bundle.tar.gz"]
