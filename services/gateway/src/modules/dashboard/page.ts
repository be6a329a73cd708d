import { STANDARDS } from '@sensormesh/aqi';
import { AppError } from '@sensormesh/errors';
import { Elysia } from 'elysia';
import type { GatewayContext } from '../../context.ts';

/**
 * The page's own policy (the JSON API keeps `default-src 'none'`): scripts, styles and data only
 * from this origin, no inline code, WebSocket to this origin ('self' covers ws:/wss: in CSP 3).
 * uPlot sizes its elements through the CSSOM, which style-src does not restrict.
 */
export const PAGE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'none'",
].join('; ');

/** Paths the security headers must treat as pages (they get PAGE_CSP from the route, not the API's). */
export const PAGE_PATHS = ['/'] as const;

const here = (file: string) => new URL(`./page/${file}`, import.meta.url).pathname;
const vendor = (file: string) => Bun.resolveSync(`uplot/dist/${file}`, import.meta.dir);

// Files are read per request (they are small and the OS caches them), so an edit shows on reload.
const ASSETS: Record<string, { path: string; type: string }> = {
  'app.js': { path: here('app.js'), type: 'text/javascript; charset=utf-8' },
  'app.css': { path: here('app.css'), type: 'text/css; charset=utf-8' },
  'uplot.min.js': { path: vendor('uPlot.iife.min.js'), type: 'text/javascript; charset=utf-8' },
  'uplot.min.css': { path: vendor('uPlot.min.css'), type: 'text/css; charset=utf-8' },
};

/** Categories of every index, for the page's legend (one source: @sensormesh/aqi). */
const standards = Object.values(STANDARDS).map((standard) => ({
  id: standard.id,
  name: standard.name,
  categories: standard.categories.map(({ key, name, colour, min, max }) => ({ key, name, colour, min, max })),
}));

/** The live dashboard page at `/` and its assets under `/dashboard/` (uPlot from node_modules). */
export function dashboardPage(ctx: GatewayContext) {
  const hidden = { hide: true } as const;
  return new Elysia({ name: 'sensormesh.gateway.dashboard-page' })
    .use(ctx.access)
    .get(
      '/',
      ({ set }) => {
        set.headers['content-type'] = 'text/html; charset=utf-8';
        set.headers['content-security-policy'] = PAGE_CSP;
        set.headers['cache-control'] = 'no-cache';
        return Bun.file(here('index.html'));
      },
      { access: 'public', detail: hidden },
    )
    .get('/dashboard/standards.json', () => standards, { access: 'public', detail: hidden })
    .get(
      '/dashboard/:asset',
      ({ params, set }) => {
        const asset = Object.hasOwn(ASSETS, params.asset) ? ASSETS[params.asset] : undefined;
        if (!asset) throw new AppError('NOT_FOUND', 'no such asset', { details: { asset: params.asset } });
        set.headers['content-type'] = asset.type;
        set.headers['cache-control'] = 'no-cache';
        return Bun.file(asset.path);
      },
      { access: 'public', detail: hidden },
    );
}
