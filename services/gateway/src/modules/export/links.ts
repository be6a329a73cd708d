import { createHmac, timingSafeEqual } from 'node:crypto';

/** What a download link is signed over: the job, the one user it is for, and its expiry. */
export interface LinkClaims {
  jobId: string;
  userId: string;
  /** Epoch ms. */
  expiresAt: number;
}

/** The HMAC key of download links: EXPORT_LINK_SECRET, or one derived from the JWT secret. */
export function linkKey(config: { EXPORT_LINK_SECRET?: string | undefined; JWT_SECRET: string }): Buffer {
  if (config.EXPORT_LINK_SECRET) return Buffer.from(config.EXPORT_LINK_SECRET, 'utf8');
  // A separate key per purpose, so a download signature can never pass as anything else.
  return createHmac('sha256', config.JWT_SECRET).update('sensormesh/export-download-links/v1').digest();
}

function mac(key: Buffer, claims: LinkClaims): Buffer {
  return createHmac('sha256', key)
    .update(`export-download\n${claims.jobId}\n${claims.userId}\n${claims.expiresAt}`)
    .digest();
}

/** Signs and checks download links. */
export function downloadLinks(key: Buffer) {
  return {
    /** The link's signature (base64url, 43 characters). */
    sign(claims: LinkClaims): string {
      return mac(key, claims).toString('base64url');
    },
    /** True when `signature` was made for exactly these claims; compared in constant time. */
    verify(claims: LinkClaims, signature: string): boolean {
      const given = Buffer.from(signature, 'base64url');
      const expected = mac(key, claims);
      // Re-encoding catches non-canonical base64url that decodes to the same bytes.
      if (given.length !== expected.length || given.toString('base64url') !== signature) return false;
      return timingSafeEqual(given, expected);
    },
  };
}
export type DownloadLinks = ReturnType<typeof downloadLinks>;
