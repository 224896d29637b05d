import { createCipheriv, createDecipheriv } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { POSTGRES_LABEL, RESULT_HEADER, SECRET, postgresServerEnv, benchBootstrap, benchCard, resultRow, settleDatabase, signedPost, signedPostLoad, startServer, type HttpResult } from './http.bench.ts';

/**
 * PIN and security-value benchmarks on PostgreSQL: security codes, PIN validation (right PINs,
 * so every request runs the security module and the guarded counter update) and dCVV2
 * generation. Same method as the HTTP benchmarks (server in its own process, autocannon over
 * loopback, every request authenticated and idempotency-recorded), in a database of its own.
 */

const ZPK_HEX = '89ABCDEF0123456776543210FEDCBA98';
const DATABASE = 'emboss_bench_pins';
const BOOTSTRAP = benchBootstrap(`{ name: b.zpk, type: ZPK, components: ["${ZPK_HEX}"] }`, 'keyAssociations: { IYY: b.zpk }');
const tdes = (data: Buffer, decrypt = false) => {
  const c = (decrypt ? createDecipheriv : createCipheriv)('des-ede-ecb', Buffer.from(ZPK_HEX, 'hex'), null).setAutoPadding(false);
  return Buffer.concat([c.update(data), c.final()]);
};
const panField = (pan: string) => Buffer.from(`0000${pan.slice(-13, -1)}`, 'hex');
const xor = (a: Buffer, b: Buffer) => Buffer.from(a.map((x, i) => x ^ b[i]!));
/** The client side: the PIN of a format 0 block under the ZPK, and a format 0 block of a PIN. */
const readPin = (hex: string, pan: string) => { const c = xor(tdes(Buffer.from(hex, 'hex'), true), panField(pan)).toString('hex'); return c.slice(2, 2 + Number(c[1])); };
const pinBlock = (pin: string, pan: string) => tdes(xor(Buffer.from(`0${pin.length}${pin}`.padEnd(16, 'F'), 'hex'), panField(pan))).toString('hex').toUpperCase();

export async function runPinsBench(options: { seconds?: number; connections?: number; postgresUrl: string }): Promise<HttpResult[]> {
  const seconds = options.seconds ?? 10;
  const connections = options.connections ?? 32;
  const dir = mkdtempSync(join(tmpdir(), 'emboss-bench-pins-'));
  const configFile = join(dir, 'bootstrap.yaml');
  writeFileSync(configFile, BOOTSTRAP);
  const admin = async (statement: string) => {
    const c = new pg.Client({ connectionString: options.postgresUrl });
    await c.connect();
    await c.query(statement);
    await c.end();
  };
  await admin(`drop database if exists ${DATABASE} with (force)`);
  await admin(`create database ${DATABASE}`);
  const url = new URL(options.postgresUrl);
  url.pathname = `/${DATABASE}`;
  const results: HttpResult[] = [];
  // 200 cards checked thousands of times a second: the per-card daily cap on verifications is lifted.
  const server = await startServer({ ...postgresServerEnv(url.toString(), join(dir, 'data'), configFile), EMBOSS_VERIFICATIONS_PER_CARD_PER_DAY: '1000000' });
  try {
    const tokenRes = await fetch(`${server.url}/token`, { method: 'POST', headers: { authorization: `Basic ${Buffer.from(`bench:${SECRET}`).toString('base64')}` } });
    const token = ((await tokenRes.json()) as { access_token: string }).access_token;

    // 200 cards on 50 accounts; their PINs read the way a client reads them.
    const cards: Array<{ number: string; block: string }> = [];
    const accounts: string[] = [];
    for (let i = 0; i < 50; i++) {
      const customer = (await signedPost(server.url, token, '/customer/l8v2', { customerData: { customerKeyData: { organizationNumber: 100 } } })).customerNumber;
      accounts.push((await signedPost(server.url, token, '/account/add-L8V3', { accountData: { organization: 100, logo: 1, customerNumber: customer, creditLimit: 1000, billingCycle: 1 } })).accountNumber);
    }
    for (let i = 0; i < 200; i++) {
      const { token: number, pan } = await benchCard(server.url, token, accounts[i % accounts.length]!);
      const codes = await signedPost(server.url, token, '/cards/pin/security-codes', { organizationNumber: 100, cardNumber: number, channel: 'W', keyAssociation: 'IYY' });
      cards.push({ number, block: pinBlock(readPin(codes.pinEncrypt, pan), pan) });
    }
    let i = 0;
    const next = () => cards[i++ % cards.length]!;
    const post = signedPostLoad({ url: server.url, backend: POSTGRES_LABEL, token, seconds, connections, settle: () => settleDatabase(url.toString()) });

    results.push(await post('security codes (POST /cards/pin/security-codes)', '/cards/pin/security-codes', () => (
      { organizationNumber: 100, cardNumber: next().number, channel: 'W', keyAssociation: 'IYY' })));
    results.push(await post('PIN validation (POST /cards/pin/validation)', '/cards/pin/validation', () => {
      const c = next();
      return { organizationNumber: 100, cardNumber: c.number, currentPinBlock: c.block, channel: 'I', keyAssociation: 'IYY' };
    }));
    results.push(await post('dCVV2 generation (POST /cards/pin/dynamic-values)', '/cards/pin/dynamic-values', () => (
      { organizationNumber: 100, cardNumber: next().number, channel: 'W', keyAssociation: 'IYY', disableDCVV2: 'N' })));
  } finally {
    await server.stop();
    await admin(`drop database if exists ${DATABASE} with (force)`);
    rmSync(dir, { recursive: true, force: true });
  }
  return results;
}

/** The PIN benchmarks as a markdown table (npm run bench; `npm run bench pins` alone). */
export async function pinsBenchTable(options: { seconds?: number; connections?: number; postgresUrl: string | undefined }): Promise<string> {
  if (!options.postgresUrl) return 'PIN benchmarks skipped: they run on PostgreSQL (BENCH_DATABASE_URL).\n';
  const rows = await runPinsBench({ ...options, postgresUrl: options.postgresUrl });
  return RESULT_HEADER + rows.map(resultRow).join('');
}
