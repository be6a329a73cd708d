# One image for every service; docker-compose.yml picks the entry point per container.
FROM oven/bun:1.4 AS deps
WORKDIR /app
COPY package.json bun.lock bunfig.toml ./
COPY packages ./packages
COPY services ./services
# Install scripts stay blocked (bunfig.toml): onnxruntime-node's would fetch GPU libraries.
RUN bun install --frozen-lockfile --production

FROM oven/bun:1.4-slim
WORKDIR /app
ENV NODE_ENV=production
COPY --from=deps /app/node_modules ./node_modules
COPY --from=deps /app/packages ./packages
COPY --from=deps /app/services ./services
COPY package.json bun.lock bunfig.toml tsconfig.json ./
COPY clickhouse ./clickhouse
COPY models ./models
USER bun
EXPOSE 8000
CMD ["bun", "run", "services/mesh/src/index.ts"]
