import type { TestGateway } from '../../test-support/gateway.ts';
import type { OrderView } from './model.ts';

let users = 0;

/** Registers and signs in a fresh professional; returns its token and id. */
export async function professional(gw: TestGateway): Promise<{ token: string; id: string }> {
  const email = `pro${++users}-${crypto.randomUUID().slice(0, 8)}@example.org`;
  const password = 'river-stone-4821';
  const created = await gw.call('POST', '/api/v1/auth/register', { body: { email, password } });
  if (created.status !== 201) throw new Error(`register failed: ${created.status} ${created.text}`);
  const tokens = await gw.login(email, password);
  return { token: tokens.accessToken, id: tokens.user.id };
}

/** Polls an order until it reaches `status`, failing after `timeoutMs` (the processor is async). */
export async function waitForStatus(
  gw: TestGateway,
  orderId: string,
  token: string,
  status: string,
  timeoutMs = 10_000,
): Promise<OrderView> {
  const deadline = Date.now() + timeoutMs;
  let last: OrderView | undefined;
  while (Date.now() < deadline) {
    last = (await gw.call('GET', `/api/v1/orders/${orderId}`, { token })).json as OrderView;
    if (last?.status === status) return last;
    await Bun.sleep(25);
  }
  throw new Error(
    `order ${orderId} did not become ${status} in ${timeoutMs} ms; last ${JSON.stringify(last)}`,
  );
}
