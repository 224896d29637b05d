import type { Kysely } from 'kysely';
import type { DB } from '../../db/schema.ts';
import type { KeyBlock, KeyType, ProtectedKey, SecurityModule } from '../../security-module/port.ts';

export interface StoredKey {
  name: string;
  type: KeyType;
  kcv: string;
  keyBlock: KeyBlock;
  origin: 'components' | 'generated';
}

/** Keys every installation has, generated at first start: stored-PAN encryption, look-up hashes, PAN tokens. */
export const SYSTEM_KEYS: ReadonlyArray<{ name: string; type: KeyType }> = [
  { name: 'system.pan-encryption', type: 'DEK' },
  { name: 'system.pan-lookup', type: 'HMK' },
  { name: 'system.pan-token', type: 'TOK' },
];

/**
 * The key store: named key blocks (keys encrypted under the master key by the security
 * module). This module never sees a clear key; it stores what the security module returns and
 * hands key blocks back to it.
 */
export class KeysService {
  private readonly cache = new Map<string, StoredKey>();

  constructor(private readonly db: Kysely<DB>, private readonly sm: SecurityModule) {}

  async find(name: string, db: Kysely<DB> = this.db): Promise<StoredKey | undefined> {
    const cached = this.cache.get(name);
    if (cached) return cached;
    const row = await db.selectFrom('security_keys').selectAll().where('name', '=', name).executeTakeFirst();
    if (!row) return undefined;
    const key: StoredKey = { name: row.name, type: row.type as KeyType, kcv: row.kcv, keyBlock: row.key_block, origin: row.origin };
    // Key blocks never change under a name (a new key gets a new name), so caching is safe.
    this.cache.set(name, key);
    return key;
  }

  async require(name: string, type: KeyType): Promise<StoredKey> {
    const key = await this.find(name);
    if (!key || key.type !== type) throw new Error(`key ${name} of type ${type} is not in the key store`);
    return key;
  }

  async store(db: Kysely<DB>, name: string, key: ProtectedKey, origin: StoredKey['origin']): Promise<void> {
    await db.insertInto('security_keys').values({
      name, type: key.type, kcv: key.kcv, key_block: key.keyBlock, origin,
    }).execute();
  }

  /** Generates the system keys that are missing. */
  async ensureSystemKeys(db: Kysely<DB> = this.db): Promise<void> {
    for (const { name, type } of SYSTEM_KEYS) {
      if (await this.find(name, db)) continue;
      const key = await this.sm.generateKey({ type });
      await db.insertInto('security_keys')
        .values({ name, type, kcv: key.kcv, key_block: key.keyBlock, origin: 'generated' })
        .onConflict((oc) => oc.column('name').doNothing())
        .execute();
    }
  }

  async list(): Promise<Array<Omit<StoredKey, 'keyBlock'>>> {
    const rows = await this.db.selectFrom('security_keys').select(['name', 'type', 'kcv', 'origin']).orderBy('name').execute();
    return rows.map((r) => ({ name: r.name, type: r.type as KeyType, kcv: r.kcv, origin: r.origin }));
  }
}
