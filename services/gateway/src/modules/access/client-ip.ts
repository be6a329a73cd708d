/** Anything that can tell a request's peer address (Bun's server, or nothing in app.handle tests). */
export interface PeerAddressSource {
  requestIP(request: Request): { address: string } | null;
}

/** The caller's IP: the first X-Forwarded-For hop behind a trusted proxy, else the socket peer. */
export function clientIp(
  request: Request,
  server: PeerAddressSource | null | undefined,
  trustProxy: boolean,
): string {
  if (trustProxy) {
    const forwarded = request.headers.get('x-forwarded-for')?.split(',')[0]?.trim();
    if (forwarded) return forwarded;
  }
  return server?.requestIP(request)?.address ?? 'unknown';
}
