# syntax=docker/dockerfile:1
# The server as a container: build with the full install, run the bundle with production packages only.
#   docker build -t whatsapp-crm-bot .
#   docker run -p 3000:3000 -e DATABASE_URL=postgres://… whatsapp-crm-bot
# scripts/check-image.sh runs these same steps without Docker (CI does).

FROM node:24-bookworm-slim AS build
WORKDIR /app
# Manifests and patches first, so the install layer is reused until they change. patches/ is applied by
# the postinstall (patch-package); the server refuses to start if the postgres.js fix is missing.
COPY package.json package-lock.json ./
COPY sdk/package.json sdk/package.json
COPY patches patches
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build

FROM node:24-bookworm-slim AS runtime
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000 \
    DATA_DIR=/data
WORKDIR /app
COPY package.json package-lock.json ./
COPY sdk/package.json sdk/package.json
COPY patches patches
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist dist
COPY migrations migrations
COPY persona.json persona.json
# The embedded database's folder (used only without DATABASE_URL) belongs to the unprivileged user.
RUN mkdir -p /data && chown node:node /data
USER node
EXPOSE 3000
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/ready').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# node runs as PID 1 and handles SIGTERM itself: in-flight requests finish and jobs drain before exit.
CMD ["node", "--enable-source-maps", "dist/server/main.js"]
