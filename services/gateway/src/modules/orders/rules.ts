import { AppError } from '@sensormesh/errors';
import type { GatewayConfig } from '../../env.ts';
import type { Role } from '../access/model.ts';

type OrderRulesConfig = Pick<
  GatewayConfig,
  | 'ORDER_ALLOWED_MODELS'
  | 'ORDER_MAX_QUANTITY_PROFESSIONAL'
  | 'ORDER_MAX_QUANTITY_ADMIN'
  | 'ORDER_APPROVAL_THRESHOLD'
>;

interface ItemLike {
  model: string;
  quantity: number;
}

/** The configured order rules: allowed models, per-role limits on an order's total, the approval threshold. */
export function orderRules(config: OrderRulesConfig) {
  const allowedModels = config.ORDER_ALLOWED_MODELS.split(',')
    .map((model) => model.trim())
    .filter(Boolean);
  const maxQuantity: Record<Role, number> = {
    professional: config.ORDER_MAX_QUANTITY_PROFESSIONAL,
    admin: config.ORDER_MAX_QUANTITY_ADMIN,
  };

  /** Checks an order against the rules and returns its total quantity; 422 naming every bad field. */
  function check(input: { items: readonly ItemLike[] }, role: Role): number {
    const details: Array<{ path: string; message: string }> = [];
    input.items.forEach((item, index) => {
      if (!allowedModels.includes(item.model)) {
        details.push({
          path: `/items/${index}/model`,
          message: `model ${JSON.stringify(item.model)} is not offered; choose one of ${allowedModels.join(', ')}`,
        });
      }
    });
    const total = input.items.reduce((sum, item) => sum + item.quantity, 0);
    if (total > maxQuantity[role]) {
      details.push({
        path: '/items',
        message: `${total} sensors in one order exceed the ${role} limit of ${maxQuantity[role]}`,
      });
    }
    if (details.length > 0) {
      throw new AppError('VALIDATION_FAILED', details.map((detail) => detail.message).join('; '), {
        details,
      });
    }
    return total;
  }

  return { check, allowedModels, maxQuantity, approvalThreshold: config.ORDER_APPROVAL_THRESHOLD };
}
