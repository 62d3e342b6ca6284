# syntax=docker/dockerfile:1.7
# The web UI's static export, served by nginx (compose `web` service, port 8080, non-root),
# which proxies /api to the `api` service. Build from the repository root:
#   docker build -f infra/docker/web.Dockerfile -t cryptofirm-web .
# The files alone, for the S3 + CloudFront path:
#   docker build -f infra/docker/web.Dockerfile --target export --output type=local,dest=web/out .
# Base images are build arguments with the official defaults (see api.Dockerfile).
ARG NODE_IMAGE=node:20-bookworm-slim
ARG NGINX_IMAGE=nginxinc/nginx-unprivileged:1.27-alpine

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

# --- serve: nginx as an unprivileged user (uid 101, as in nginx-unprivileged) -------------
FROM ${NGINX_IMAGE} AS serve
COPY infra/docker/nginx.conf /etc/nginx/nginx.conf
COPY --from=build /web/out /usr/share/nginx/html
USER 101:101
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD ["wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/healthz"]
CMD ["nginx", "-g", "daemon off;"]
