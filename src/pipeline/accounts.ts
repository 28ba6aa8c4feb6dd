/**
 * MSP child accounts: list them with the Accounts API, keep the ones this shard owns.
 * Pure parts (parsing, sharding) are exported for tests.
 */
import { DuoApiError } from '../errors.js';
import { shardOf, type Shard } from '../util/shard.js';

export interface ChildAccount {
  accountId: string;
  name: string;
  /** The child's API hostname; calls for the child go there, with `account_id`. */
  apiHostname: string;
}

export function parseAccountList(response: unknown): ChildAccount[] {
  if (!Array.isArray(response)) throw new DuoApiError('DLB_DUO_BAD_RESPONSE', 'POST /accounts/v1/account/list: the response is not a list; retrying.', { retryable: true });
  const out: ChildAccount[] = [];
  for (const a of response as Record<string, unknown>[]) {
    if (!a || typeof a.account_id !== 'string' || typeof a.api_hostname !== 'string') continue;
    out.push({ accountId: a.account_id, name: typeof a.name === 'string' ? a.name : '', apiHostname: a.api_hostname });
  }
  return out;
}

export interface AccountFilter {
  shard?: Shard;
  include?: string[];
  exclude?: string[];
}

export function selectAccounts(all: ChildAccount[], f: AccountFilter): ChildAccount[] {
  return all.filter(
    (a) =>
      (!f.shard || shardOf(a.accountId, f.shard.count) === f.shard.index) &&
      (!f.include?.length || f.include.includes(a.accountId)) &&
      !f.exclude?.includes(a.accountId),
  );
}
