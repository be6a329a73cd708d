import { Elysia } from 'elysia';

/** Response headers that lock down a JSON API (after OWASP's REST Security and secure-headers advice). */
const API_HEADERS: Readonly<Record<string, string>> = {
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cross-origin-resource-policy': 'same-origin',
  // JSON needs nothing loaded, run or framed; this also defuses a reflected payload opened as a page.
  'content-security-policy':
    "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
};

/**
 * Security headers on every response, errors and 404s included. HSTS only when `hstsMaxAgeS` > 0,
 * since it is a promise that the host is served over HTTPS. `htmlPaths` (the /docs UI) load scripts
 * and styles, so they keep the other headers but not the JSON-only CSP.
 */
export function securityHeaders(options: { hstsMaxAgeS: number; htmlPaths?: readonly string[] }) {
  const headers: Record<string, string> = { ...API_HEADERS };
  if (options.hstsMaxAgeS > 0) headers['strict-transport-security'] = `max-age=${options.hstsMaxAgeS}`;
  const { 'content-security-policy': _csp, ...htmlHeaders } = headers;
  const htmlPaths = new Set(options.htmlPaths ?? []);
  return new Elysia({ name: 'sensormesh.security-headers' }).onRequest(function setSecurityHeaders({
    request,
    set,
  }) {
    const path = new URL(request.url).pathname;
    Object.assign(set.headers, htmlPaths.has(path) ? htmlHeaders : headers);
  });
}
