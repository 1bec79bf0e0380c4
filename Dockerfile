# syntax=docker/dockerfile:1
# The operator image (default target) and the signer image (`--target signer`), from one build:
#   docker build -t ocsp-operator:dev .
#   docker build -t ocsp-operator-signer:dev --target signer .
# Both run `node dist/src/cli.js` as a non-root user (65532) and need no writable root filesystem.

ARG NODE_IMAGE=node:20-bookworm
ARG NODE_RUNTIME_IMAGE=node:20-bookworm-slim

# Production dependencies only. pkcs11js (the signer's PKCS#11 binding) is a native addon:
# node-gyp builds it here against the image's own Node headers (the repository's .npmrc points
# node-gyp at /usr for Debian's Node; the official image keeps its headers under /usr/local).
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
ENV npm_config_nodedir=/usr/local
COPY package.json package-lock.json .npmrc ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

# The TypeScript build (dev dependencies included), src/ only.
FROM ${NODE_IMAGE} AS build
WORKDIR /app
ENV npm_config_nodedir=/usr/local
COPY package.json package-lock.json .npmrc ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
RUN npx tsc -p tsconfig.json && test -f dist/src/cli.js

# What both images share: Node, the production node_modules, the compiled operator.
FROM ${NODE_RUNTIME_IMAGE} AS runtime
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
FROM runtime AS signer
USER 0:0
RUN apt-get update \
 && apt-get install -y --no-install-recommends softhsm2 opensc \
 && rm -rf /var/lib/apt/lists/* \
 && test -f /usr/lib/softhsm/libsofthsm2.so \
 && install -d -o 65532 -g 65532 -m 0750 /var/lib/softhsm/tokens
ENV SOFTHSM2_CONF=/etc/softhsm/softhsm2.conf \
    PKCS11_MODULE=/usr/lib/softhsm/libsofthsm2.so
VOLUME ["/var/lib/softhsm/tokens"]
USER 65532:65532
CMD ["signer"]

# The operator (the default target: last in the file).
FROM runtime AS operator
EXPOSE 8080
CMD ["controller"]
