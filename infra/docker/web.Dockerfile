# syntax=docker/dockerfile:1.7
# The web UI's static export alone, for the S3 + CloudFront path. Extract it with:
#   docker build -f infra/docker/web.Dockerfile --output type=local,dest=web/out .
ARG NODE_IMAGE=node:20-bookworm-slim

FROM ${NODE_IMAGE} AS build
ENV NEXT_TELEMETRY_DISABLED=1
WORKDIR /web
COPY web/package.json web/package-lock.json ./
RUN --mount=type=cache,target=/root/.npm npm ci --no-audit --no-fund
COPY web/ ./
RUN npm run build && test -f out/index.html

# Nothing but the files: `--output` writes this stage's filesystem to the host.
FROM scratch AS export
COPY --from=build /web/out /
