import { EnvError } from '@sensormesh/config';
import type { GatewayConfig } from '../../env.ts';
import type { SensorLiveStatus } from './model.ts';

/** When a silent sensor turns stale and then offline, in seconds since its newest reading. */
export interface StatusThresholds {
  staleAfterS: number;
  offlineAfterS: number;
}

/** The thresholds from config; the offline one must exceed the stale one (an EnvError names it). */
export function statusThresholds(
  config: Pick<GatewayConfig, 'DASHBOARD_STALE_AFTER_S' | 'DASHBOARD_OFFLINE_AFTER_S'>,
): StatusThresholds {
  const staleAfterS = config.DASHBOARD_STALE_AFTER_S;
  const offlineAfterS = config.DASHBOARD_OFFLINE_AFTER_S;
  if (offlineAfterS <= staleAfterS) {
    throw new EnvError([
      {
        variable: 'DASHBOARD_OFFLINE_AFTER_S',
        message: `must be greater than DASHBOARD_STALE_AFTER_S (${staleAfterS}), got ${offlineAfterS}`,
      },
    ]);
  }
  return { staleAfterS, offlineAfterS };
}

/**
 * online while the newest reading is at most `staleAfterS` old (the boundary is still online),
 * stale up to `offlineAfterS`, offline beyond it or if the sensor never reported. A reading stamped
 * in the future (a device clock ahead) counts as age 0.
 */
export function liveStatus(
  lastSeen: number | null,
  now: number,
  thresholds: StatusThresholds,
): SensorLiveStatus {
  if (lastSeen === null) return 'offline';
  const ageMs = Math.max(0, now - lastSeen);
  if (ageMs <= thresholds.staleAfterS * 1_000) return 'online';
  if (ageMs <= thresholds.offlineAfterS * 1_000) return 'stale';
  return 'offline';
}
