# syntax=docker/dockerfile:1
# The operator image (default target) and the signer image (`--target signer`), from one build:
#   docker build -t ocsp-operator:dev .
#   docker build -t ocsp-operator-signer:dev --target signer .
# Both run `node dist/src/cli.js` as a non-root user (65532) and need no writable root filesystem.
# OCI labels: --build-arg VERSION=0.1.0 --build-arg REVISION=$(git rev-parse HEAD).
# Behind an npm mirror or a TLS-inspecting proxy, the build stages (never the images) take
# --build-arg NPM_REGISTRY=URL and --build-arg NODE_EXTRA_CA_CERTS=PATH (a CA file the build steps
# can read). hack/build-images.sh builds this file without a daemon, on base images it makes
# (NODE_IMAGE: Node with npm and a compiler; NODE_RUNTIME_IMAGE: Node alone).

ARG NODE_IMAGE=node:24-bookworm
ARG NODE_RUNTIME_IMAGE=node:24-bookworm-slim
ARG VERSION=0.1.0
ARG REVISION=unknown
ARG SOURCE=https://ocsp-operator.dev

# Production dependencies only. pkcs11js (the signer's PKCS#11 binding) and fs-ext (flock, the
# embedded store's one-writer lock) are native addons: node-gyp builds them here against the
# image's own Node headers (the repository's .npmrc points node-gyp at /usr for Debian's Node; the
# Node images keep their headers under /usr/local).
FROM ${NODE_IMAGE} AS deps
ARG NODE_EXTRA_CA_CERTS
ARG NPM_REGISTRY
WORKDIR /app
ENV npm_config_nodedir=/usr/local
COPY package.json package-lock.json .npmrc ./
RUN npm ci --omit=dev --no-audit --no-fund ${NPM_REGISTRY:+--registry "$NPM_REGISTRY"} \
 && npm cache clean --force \
 && node -e 'require("pkcs11js"); require("fs-ext").flockSync' \
 && rm -rf node_modules/pkcs11js/build/Release/obj.target node_modules/pkcs11js/build/Release/.deps \
    node_modules/fs-ext/build/Release/obj.target node_modules/fs-ext/build/Release/.deps

# The TypeScript build (dev dependencies, no install scripts: tsc needs no native addon), src/
# only; the development environment (src/devenv: demo, local clusters) stays out of the image.
FROM ${NODE_IMAGE} AS build
ARG NODE_EXTRA_CA_CERTS
ARG NPM_REGISTRY
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
RUN npm ci --ignore-scripts --no-audit --no-fund ${NPM_REGISTRY:+--registry "$NPM_REGISTRY"}
COPY tsconfig.json ./
COPY src ./src
RUN npx tsc -p tsconfig.json && test -f dist/src/cli.js && rm -rf dist/src/devenv

# What both images share: Node, the production node_modules, the compiled operator; not the npm,
# corepack, yarn and C headers the public Node images carry (nothing here runs them).
FROM ${NODE_RUNTIME_IMAGE} AS runtime
RUN rm -rf /usr/local/lib/node_modules /usr/local/include/node /opt/yarn-* \
    /usr/local/bin/npm /usr/local/bin/npx /usr/local/bin/corepack /usr/local/bin/yarn /usr/local/bin/yarnpkg
WORKDIR /app
ENV NODE_ENV=production
# package.json carries "type": "module", which Node needs to load dist/ as ES modules.
COPY --from=deps --chown=0:0 /app/node_modules ./node_modules
COPY --from=build --chown=0:0 /app/dist/src ./dist/src
COPY --chown=0:0 package.json ./
# Numeric, so that Kubernetes can check runAsNonRoot without a passwd lookup.
USER 65532:65532
ENTRYPOINT ["node", "/app/dist/src/cli.js"]

# The signer: the same program plus SoftHSM's PKCS#11 module at the path OcspResponderPool's
# spec.signing.pkcs11.module defaults to (/usr/lib/softhsm/libsofthsm2.so), and softhsm2-util /
# pkcs11-tool to create tokens and keys. Tokens live in /var/lib/softhsm/tokens: mount a volume
# there (the root filesystem stays read-only). A real HSM's module is mounted the same way.
# Debian keeps SoftHSM's configuration and token directory to group softhsm; the signer runs as
# 65532, so they are opened up (the configuration holds no secret, the tokens are the volume's).
FROM runtime AS signer
USER 0:0
RUN apt-get update \
 && apt-get install -y --no-install-recommends softhsm2 opensc \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/* /var/log/apt/* /var/log/dpkg.log \
 && test -f /usr/lib/softhsm/libsofthsm2.so \
 && chmod 0755 /etc/softhsm /var/lib/softhsm && chmod 0644 /etc/softhsm/softhsm2.conf \
 && install -d -o 65532 -g 65532 -m 0750 /var/lib/softhsm/tokens
ENV SOFTHSM2_CONF=/etc/softhsm/softhsm2.conf \
    PKCS11_MODULE=/usr/lib/softhsm/libsofthsm2.so
VOLUME ["/var/lib/softhsm/tokens"]
USER 65532:65532
CMD ["signer"]
ARG VERSION
ARG REVISION
ARG SOURCE
LABEL org.opencontainers.image.title="ocsp-operator-signer" \
      org.opencontainers.image.description="ocsp-operator's PKCS#11 signer for OCSP responder pools, with SoftHSM and OpenSC" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.licenses="Apache-2.0"

# The operator (the default target: last in the file).
FROM runtime AS operator
EXPOSE 8080
CMD ["controller"]
ARG VERSION
ARG REVISION
ARG SOURCE
LABEL org.opencontainers.image.title="ocsp-operator" \
      org.opencontainers.image.description="A Kubernetes operator that keeps OCSP staples and OCSP responders healthy" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.licenses="Apache-2.0"
