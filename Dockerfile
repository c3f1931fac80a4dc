# syntax=docker/dockerfile:1
# Linux image: the controller manager, the CLI, and host agents driving the `filehost` simulator
# (demos, CI). Build: docker build -t shadowkeep:dev .   Run: docker run shadowkeep:dev controller
# The Windows host agent has its own recipe in Dockerfile.windows.
ARG NODE_VERSION=24.21.0

FROM node:${NODE_VERSION}-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY controller ./controller
# Compile only the shipped code; tests and hack scripts stay out of the image.
RUN npx tsc -p tsconfig.json --rootDir . --outDir dist --incremental false \
 && npm prune --omit=dev

FROM node:${NODE_VERSION}-bookworm-slim
# qemu-utils and ntfs-3g: the filehost backend and `shadowkeep sim` make and write real VHDX disks.
RUN apt-get update \
 && apt-get install -y --no-install-recommends qemu-utils ntfs-3g \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=build /src/package.json ./
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist/controller ./dist/controller
USER node
ENTRYPOINT ["node", "/app/dist/controller/cli/main.js"]
CMD ["controller"]
