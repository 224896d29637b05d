import { hash, randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { DB } from '../../db/schema.ts';
import type { SecurityModule } from '../../security-module/port.ts';
import type { Clock } from '../../shared/clock.ts';
import { TtlCache } from '../../shared/ttl-cache.ts';
import { RequestGate, windowEnd } from './admission.ts';

export { SCOPES, type Scope } from '../../shared/scopes.ts';
import type { Scope } from '../../shared/scopes.ts';

/** The limits of the gate (settings; see docs/configuration.md). */
export interface GateLimits {
  /** Admitted requests per authenticated client per minute. */
  perClientPerMinute: number;
  /** Failed authentications (signed routes and /token) per source address per minute. */
  authFailuresPerAddressPerMinute: number;
  /** POST /token requests per address, and tokens issued per client, per minute. */
  tokensPerMinute: number;
  /** Wrong secrets for one client id from one address before that pair is locked out (15 minutes). */
  tokenLockoutFailures: number;
  /** API processes sharing the budgets (each admits at most its share without asking the database). */
  processes: number;
}

export const DEFAULT_GATE_LIMITS: GateLimits = { perClientPerMinute: 6000, authFailuresPerAddressPerMinute: 30, tokensPerMinute: 60, tokenLockoutFailures: 10, processes: 1 };
const MINUTE = 60_000;
/** How long a process trusts what it read of a bearer token: a revocation takes effect within it. */
export const TOKEN_CACHE_MS = 2_000;
const LOCKOUT_WINDOW = 15 * MINUTE;

/** A request the gate refuses (the HTTP layer maps it to 401 or 429). */
export type GateRefusal = 'replay' | 'limited';
/** A client's own budget after a request, for its rate-limit headers. */
export interface Budget { limit: number; remaining: number; resetMs: number }

/**
 * How a client speaks the wire (bootstrap `clients[].successEnvelope` and `authentication`; see
 * docs/wire-compatibility.md). The default: bare success bodies as upstream documents them, and
 * every request signed and carrying a request id.
 */
export interface WireProfile {
  /** Success bodies wrapped in `{ hasError: false, errors: [], data }`, for clients written against a gateway that wraps them. */
  successEnvelope: boolean;
  /** The HMAC signature (with its timestamp): required, checked when sent, or not read. */
  signature: 'required' | 'optional' | 'off';
  /** The request id: required, or optional (a request without one has no exactly-once guarantee). */
  requestId: 'required' | 'optional';
  /** The X-ClientID header upstream declares: required, or checked when sent. */
  clientIdHeader: 'required' | 'optional';
}

export const DEFAULT_WIRE_PROFILE: WireProfile = { successEnvelope: false, signature: 'required', requestId: 'required', clientIdHeader: 'optional' };

type Authentication = 'signed' | 'upstream' | Pick<WireProfile, 'signature' | 'requestId' | 'clientIdHeader'>;

/**
 * A client's wire profile from its bootstrap declaration. `upstream` accepts exactly what the
 * upstream files declare: X-ClientID, bearer token and apikey required, the signature optional
 * (checked when sent), no request id required.
 */
export function wireProfileOf(successEnvelope: boolean, authentication: Authentication): WireProfile {
  if (authentication === 'signed') return { ...DEFAULT_WIRE_PROFILE, successEnvelope };
  if (authentication === 'upstream') return { successEnvelope, signature: 'optional', requestId: 'optional', clientIdHeader: 'required' };
  return { successEnvelope, ...authentication };
}

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
  wire: WireProfile;
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
  wire: WireProfile;
}

export interface IssuedToken {
  accessToken: string;
  tokenType: 'Bearer';
  expiresIn: number;
  issuedAt: Date;
  clientId: string;
}

const hashToken = (token: string) => hash('sha256', token, 'hex');
/**
 * The counter of a (client id, address) pair's wrong secrets. The id is whatever the caller sent,
 * which may be a secret pasted in the wrong field: only its hash is stored.
 */
const lockoutKey = (id: string, address: string) => `lockout:${hashToken(id)}@${address}`;

/**
 * API clients and their bearer tokens. Tokens are random 256-bit values; only their SHA-256 is
 * stored, so a database read does not hand out working tokens. Any API process can check a
 * token any other process issued.
 */
export class ClientsService {
  // A change of a client (scopes, organizations, keys) reaches every process within 5 s, a revoked
  // token within TOKEN_CACHE_MS; an expired token is refused at once (its end is cached with it).
  private readonly byApikey = new TtlCache<string, ApiClient | null>(5_000);
  private readonly byId = new TtlCache<string, ApiClient | null>(5_000);
  private readonly tokens = new TtlCache<string, { clientId: string; expiresAt: number } | null>(TOKEN_CACHE_MS, 100_000);
  private readonly gate: RequestGate;

  constructor(private readonly db: Kysely<DB>, private readonly sm: SecurityModule, private readonly clock: Clock,
    private readonly limits: GateLimits = DEFAULT_GATE_LIMITS) {
    this.gate = new RequestGate(db, () => this.clock.now().getTime());
  }

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
    let entry = this.tokens.get(hash, nowMs);
    if (entry === undefined) {
      const row = await this.db.selectFrom('access_tokens').select(['client_id', 'expires_at'])
        .where('token_hash', '=', hash).executeTakeFirst();
      entry = row ? { clientId: row.client_id, expiresAt: new Date(row.expires_at).getTime() } : null;
      this.tokens.set(hash, entry, nowMs);
    }
    if (!entry || entry.expiresAt <= nowMs) return undefined;
    return this.findById(entry.clientId);
  }

  /**
   * The last step of authenticating a request, after its signature (if any) was verified: a signed
   * GET's signature (`signedGet`) must not have come before with another request id (a replay; the
   * other requests' signatures are checked where their request ids are stored, see the idempotency
   * module), and the client must be within its budget, counted across processes (RequestGate.spend).
   */
  async admit(client: ApiClient, signedGet?: { signature: string; requestId: string; expiresMs: number }): Promise<{ refusal?: GateRefusal; budget: Budget }> {
    const spent = await this.gate.spend(`client:${client.clientId}`, MINUTE, this.limits.perClientPerMinute, this.limits.processes);
    const limit = this.limits.perClientPerMinute;
    const budget = { limit, remaining: Math.max(0, limit - spent.used), resetMs: spent.untilMs - this.clock.now().getTime() };
    if (!spent.admitted) return { refusal: 'limited', budget };
    if (signedGet) {
      const a = await this.gate.ask({ signature: { value: signedGet.signature, requestId: signedGet.requestId, expiresMs: signedGet.expiresMs } });
      if (a.signature === 'replay') return { refusal: 'replay', budget };
    }
    return { budget };
  }

  /**
   * Whether a source address is over its budget of failed authentications: answered from what
   * this process last learnt, without a database call, so a flood of bad requests costs nothing.
   * Returns the milliseconds to wait, or 0.
   */
  addressRefused(address: string): number {
    return this.refusedFor(`fail:${address}`, MINUTE, this.limits.authFailuresPerAddressPerMinute);
  }

  /** Counts a failed authentication against its source address (shared by all processes). */
  async countFailure(address: string): Promise<void> {
    await this.gate.ask({ hits: [{ key: `fail:${address}`, untilMs: windowEnd(this.clock.now().getTime(), MINUTE), n: 1 }] });
  }

  /**
   * POST /token before the secret is checked: the address's requests per minute, and whether the
   * address or the (client id, address) pair is locked out by failures. Milliseconds to wait, or 0.
   * The lock-out is per pair, not per client id: a stranger who guesses wrong locks out only
   * itself, never the client it names.
   */
  async tokenRequestRefused(address: string, id: string): Promise<number> {
    const now = this.clock.now().getTime();
    const minute = windowEnd(now, MINUTE);
    const lockout = windowEnd(now, LOCKOUT_WINDOW);
    const a = await this.gate.ask({ hits: [
      { key: `token:${address}`, untilMs: minute, n: 1 },
      { key: `fail:${address}`, untilMs: minute, n: 0 },
      { key: lockoutKey(id, address), untilMs: lockout, n: 0 },
    ] });
    if (a.counts[2]! >= this.limits.tokenLockoutFailures) return lockout - now;
    if (a.counts[0]! > this.limits.tokensPerMinute || a.counts[1]! >= this.limits.authFailuresPerAddressPerMinute) return minute - now;
    return 0;
  }

  /** A wrong secret at POST /token: counts for the address and towards the pair's lock-out. */
  async countTokenFailure(address: string, id: string): Promise<void> {
    const now = this.clock.now().getTime();
    await this.gate.ask({ hits: [
      { key: `fail:${address}`, untilMs: windowEnd(now, MINUTE), n: 1 },
      { key: lockoutKey(id, address), untilMs: windowEnd(now, LOCKOUT_WINDOW), n: 1 },
    ] });
  }

  /** Tokens issued to an authenticated client per minute: milliseconds to wait, or 0. */
  async tokenIssueRefused(client: ApiClient): Promise<number> {
    const now = this.clock.now().getTime();
    const untilMs = windowEnd(now, MINUTE);
    const a = await this.gate.ask({ hits: [{ key: `tokens:${client.clientId}`, untilMs, n: 1 }] });
    return a.counts[0]! > this.limits.tokensPerMinute ? untilMs - now : 0;
  }

  private refusedFor(key: string, windowMs: number, limit: number): number {
    const now = this.clock.now().getTime();
    return this.gate.knownTotal(key) >= limit ? windowEnd(now, windowMs) - now : 0;
  }

  /** Revokes every token of a client (an operator's command): refused at once in every process. */
  async revokeTokens(clientId: string): Promise<number> {
    const r = await this.db.deleteFrom('access_tokens').where('client_id', '=', clientId).executeTakeFirst();
    return Number(r.numDeletedRows);
  }

  /** Checks Base64(HMAC-SHA256(secret, message)) for this client, in constant time. */
  verifySignature(client: ApiClient, message: string, signature: string): Promise<boolean> {
    return this.sm.verifyHmac(client.secretBlock, message, signature);
  }

  /** Removes expired tokens, signatures past their window and counters of past windows (housekeeping). */
  async purgeExpired(): Promise<{ tokens: number; signatures: number; counters: number }> {
    const r = await this.db.deleteFrom('access_tokens').where('expires_at', '<', this.clock.now()).executeTakeFirst();
    return { tokens: Number(r.numDeletedRows), ...(await this.gate.purgePast()) };
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
      wire_profile: JSON.stringify(c.wire),
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
  wire_profile: Partial<WireProfile>;
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
    wire: { ...DEFAULT_WIRE_PROFILE, ...row.wire_profile },
  };
}
