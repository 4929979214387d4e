# The worker image of docker-compose.yml: probescale's sources and runtime dependencies on Node 20.
FROM node:20-bookworm-slim
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
RUN npm ci --omit=dev
COPY bin bin
COPY src src
COPY data data
COPY models models
ENTRYPOINT []
