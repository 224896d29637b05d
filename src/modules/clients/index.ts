import { createHash, randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { DB } from '../../db/schema.ts';
import type { SecurityModule } from '../../security-module/port.ts';
import type { Clock } from '../../shared/clock.ts';
import { TtlCache } from '../../shared/ttl-cache.ts';

export type Scope = 'cards' | 'pci' | 'admin';

export interface ApiClient {
  clientId: string;
  apikey: string;
  organizations: number[];
  scopes: Scope[];
  /** Key association code (e.g. IYY) → name of the client's ZPK in the key store. */
  keyAssociations: Record<string, string>;
  /** Name of the client's ZEK for encrypted card numbers. */
  cardNumberKey: string | null;
  tokenTtlSeconds: number;
  /** The shared secret as a key block: only the security module can use it. */
  secretBlock: string;
}

export interface ClientDeclaration {
  clientId: string;
  apikey: string;
  secret: string;
  organizations: number[];
  scopes: Scope[];
  keyAssociations: Record<string, string>;
  cardNumberKey: string | null;
  tokenTtlSeconds: number;
}

export interface IssuedToken {
  accessToken: string;
  tokenType: 'Bearer';
  expiresIn: number;
  issuedAt: Date;
  clientId: string;
}

const hashToken = (token: string) => createHash('sha256').update(token).digest('hex');

/**
 * API clients and their bearer tokens. Tokens are random 256-bit values; only their SHA-256 is
 * stored, so a database read does not hand out working tokens. Any API process can check a
 * token any other process issued.
 */
export class ClientsService {
  private readonly byApikey = new TtlCache<string, ApiClient | null>(30_000);
  private readonly byId = new TtlCache<string, ApiClient | null>(30_000);
  private readonly tokens = new TtlCache<string, { clientId: string; expiresAt: number } | null>(60_000, 100_000);

  constructor(private readonly db: Kysely<DB>, private readonly sm: SecurityModule, private readonly clock: Clock) {}

  async findByApikey(apikey: string): Promise<ApiClient | undefined> {
    const cached = this.byApikey.get(apikey);
    if (cached !== undefined) return cached ?? undefined;
    const row = await this.db.selectFrom('api_clients').selectAll().where('apikey', '=', apikey).executeTakeFirst();
    const client = row ? toClient(row) : null;
    this.byApikey.set(apikey, client);
    return client ?? undefined;
  }

  async findById(clientId: string): Promise<ApiClient | undefined> {
    const cached = this.byId.get(clientId);
    if (cached !== undefined) return cached ?? undefined;
    const row = await this.db.selectFrom('api_clients').selectAll().where('client_id', '=', clientId).executeTakeFirst();
    const client = row ? toClient(row) : null;
    this.byId.set(clientId, client);
    return client ?? undefined;
  }

  /** Client credentials grant: the client id or apikey with the shared secret. */
  async authenticate(id: string, secret: string): Promise<ApiClient | undefined> {
    const client = (await this.findById(id)) ?? (await this.findByApikey(id));
    // Check a secret even for an unknown client, so timing does not tell which ids exist.
    const block = client?.secretBlock ?? (await this.dummySecret());
    const ok = await this.sm.verifySecret(block, secret);
    return ok && client ? client : undefined;
  }

  async issueToken(client: ApiClient): Promise<IssuedToken> {
    const accessToken = randomBytes(32).toString('base64url');
    const issuedAt = this.clock.now();
    const expiresAt = new Date(issuedAt.getTime() + client.tokenTtlSeconds * 1000);
    await this.db.insertInto('access_tokens').values({
      token_hash: hashToken(accessToken), client_id: client.clientId, issued_at: issuedAt, expires_at: expiresAt,
    }).execute();
    return { accessToken, tokenType: 'Bearer', expiresIn: client.tokenTtlSeconds, issuedAt, clientId: client.clientId };
  }

  /** The client a bearer token belongs to, if the token is known and not expired. */
  async clientForToken(token: string): Promise<ApiClient | undefined> {
    const hash = hashToken(token);
    const nowMs = this.clock.now().getTime();
    let entry = this.tokens.get(hash);
    if (entry === undefined) {
      const row = await this.db.selectFrom('access_tokens').select(['client_id', 'expires_at'])
        .where('token_hash', '=', hash).executeTakeFirst();
      entry = row ? { clientId: row.client_id, expiresAt: new Date(row.expires_at).getTime() } : null;
      this.tokens.set(hash, entry);
    }
    if (!entry || entry.expiresAt <= nowMs) return undefined;
    return this.findById(entry.clientId);
  }

  /** Checks Base64(HMAC-SHA256(secret, message)) for this client, in constant time. */
  verifySignature(client: ApiClient, message: string, signature: string): Promise<boolean> {
    return this.sm.verifyHmac(client.secretBlock, message, signature);
  }

  /** Removes expired tokens (a housekeeping job). */
  async purgeExpiredTokens(): Promise<number> {
    const r = await this.db.deleteFrom('access_tokens').where('expires_at', '<', this.clock.now()).executeTakeFirst();
    return Number(r.numDeletedRows);
  }

  /** Inserts or updates a client (bootstrap). The secret is re-imported only when it changed. */
  async upsert(db: Kysely<DB>, c: ClientDeclaration): Promise<void> {
    const protectedSecret = await this.sm.importSecret(c.secret);
    const existing = await db.selectFrom('api_clients').select(['secret_block', 'secret_fingerprint'])
      .where('client_id', '=', c.clientId).executeTakeFirst();
    const secretBlock = existing && existing.secret_fingerprint === protectedSecret.kcv ? existing.secret_block : protectedSecret.keyBlock;
    const values = {
      apikey: c.apikey,
      secret_block: secretBlock,
      secret_fingerprint: protectedSecret.kcv,
      organizations: JSON.stringify(c.organizations),
      scopes: JSON.stringify(c.scopes),
      key_associations: JSON.stringify(c.keyAssociations),
      card_number_key: c.cardNumberKey,
      token_ttl_seconds: c.tokenTtlSeconds,
    };
    await db.insertInto('api_clients').values({ client_id: c.clientId, ...values })
      .onConflict((oc) => oc.column('client_id').doUpdateSet({ ...values, updated_at: new Date() }))
      .execute();
    this.byApikey.clear();
    this.byId.clear();
  }

  private dummy: Promise<string> | undefined;
  private dummySecret(): Promise<string> {
    this.dummy ??= this.sm.importSecret(randomBytes(24).toString('base64')).then((k) => k.keyBlock);
    return this.dummy;
  }
}

function toClient(row: {
  client_id: string; apikey: string; organizations: number[]; scopes: string[];
  key_associations: Record<string, string>; card_number_key: string | null; token_ttl_seconds: number; secret_block: string;
}): ApiClient {
  return {
    clientId: row.client_id,
    apikey: row.apikey,
    organizations: row.organizations,
    scopes: row.scopes as Scope[],
    keyAssociations: row.key_associations,
    cardNumberKey: row.card_number_key,
    tokenTtlSeconds: row.token_ttl_seconds,
    secretBlock: row.secret_block,
  };
}
