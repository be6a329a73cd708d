import { type GatewayContext, gatewayPlugin } from '@sensormesh/gateway';
import { errorHandler, healthRoutes, type ReadinessCheck, requestContext } from '@sensormesh/http';
import { type IngestContext, ingestPlugin } from '@sensormesh/ingest';
import type { Logger } from '@sensormesh/log';
import type { Registry } from '@sensormesh/metrics';
import { type Predictor, predictorPlugin } from '@sensormesh/predictor';
import { Elysia } from 'elysia';

/** What the mesh app needs from the outside. */
export interface MeshDeps {
  logger: Logger;
  registry: Registry;
  checks: Record<string, ReadinessCheck>;
  gateway: GatewayContext;
  ingest: IngestContext;
  predictor: Predictor;
}

/** The one Elysia app of the default mode; later services mount their plugins here. */
export function createMeshApp(deps: MeshDeps) {
  return (
    new Elysia({ name: 'sensormesh.mesh', normalize: false })
      .use(requestContext(deps.logger))
      .use(errorHandler(deps.logger))
      .use(healthRoutes({ checks: deps.checks, registry: deps.registry }))
      // Ingest reads device bodies itself (parse: 'none', INGEST_MAX_PAYLOAD_BYTES); mounted ahead of the
      // gateway so the gateway's body hooks are added after ingest's routes.
      .use(ingestPlugin(deps.ingest))
      .use(gatewayPlugin(deps.gateway))
      .use(predictorPlugin(deps.predictor))
  );
}
