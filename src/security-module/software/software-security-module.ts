import { createCipheriv, createDecipheriv, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import {
  SecurityModuleError,
  type GenerateKeyRequest,
  type ImportKeyRequest,
  type KeyAlgorithm,
  type KeyBlock,
  type KeyType,
  type ProtectedKey,
  type SecurityModule,
} from '../port.ts';
import { combineComponents, keyCheckValue, withOddParity } from '../../crypto/index.ts';

const BLOCK_VERSION = 'EMB1';

const DEFAULT_ALGORITHM: Record<KeyType, KeyAlgorithm> = {
  CVK: '3DES', PVK: '3DES', ZPK: '3DES', ZEK: '3DES', DEK: 'AES', HMK: 'HMAC', TOK: 'AES', API: 'HMAC',
};
const DEFAULT_LENGTH: Record<KeyAlgorithm, number> = { '3DES': 16, AES: 32, HMAC: 32 };
const VALID_LENGTHS: Record<KeyAlgorithm, number[]> = { '3DES': [16, 24], AES: [16, 24, 32], HMAC: [16, 24, 32, 48, 64] };

interface ClearKey { type: KeyType; algorithm: KeyAlgorithm; key: Buffer }

/**
 * Software security module. Keys are held as key blocks: AES-256-GCM under the master key, the
 * header (version, type, algorithm) as additional authenticated data, so a block cannot be
 * altered or re-labelled as another key type. Unwrapped keys are cached in memory only.
 */
export class SoftwareSecurityModule implements SecurityModule {
  private readonly unwrapped = new Map<KeyBlock, ClearKey>();

  constructor(private readonly masterKey: Buffer) {
    if (masterKey.length !== 32) throw new SecurityModuleError('BAD_KEY', 'master key must be 32 bytes');
  }

  async importKey(request: ImportKeyRequest): Promise<ProtectedKey> {
    const algorithm = request.algorithm ?? DEFAULT_ALGORITHM[request.type];
    if (request.components.length === 0) throw new SecurityModuleError('BAD_INPUT', 'at least one key component is required');
    for (const c of request.components) {
      if (!/^([0-9A-Fa-f]{2})+$/.test(c)) throw new SecurityModuleError('BAD_INPUT', 'key components must be hexadecimal');
    }
    let key: Buffer;
    try {
      key = combineComponents(request.components.map((c) => Buffer.from(c, 'hex')));
    } catch {
      throw new SecurityModuleError('BAD_INPUT', 'key components must all have the same length');
    }
    this.checkLength(algorithm, key.length);
    if (algorithm === '3DES') key = withOddParity(key);
    const kcv = this.kcv(algorithm, key);
    if (request.kcv !== undefined && !safeEqualText(request.kcv.toUpperCase(), kcv.slice(0, request.kcv.length))) {
      throw new SecurityModuleError('KCV_MISMATCH', 'key check value does not match the key components');
    }
    if (request.kcv !== undefined && request.kcv.length < 4) {
      throw new SecurityModuleError('BAD_INPUT', 'key check value must have at least 4 hexadecimal characters');
    }
    return this.protect(request.type, algorithm, key, kcv);
  }

  async generateKey(request: GenerateKeyRequest): Promise<ProtectedKey> {
    const algorithm = request.algorithm ?? DEFAULT_ALGORITHM[request.type];
    const length = request.length ?? DEFAULT_LENGTH[algorithm];
    this.checkLength(algorithm, length);
    let key = randomBytes(length);
    if (algorithm === '3DES') key = withOddParity(key);
    return this.protect(request.type, algorithm, key, this.kcv(algorithm, key));
  }

  async keyCheckValue(block: KeyBlock): Promise<string> {
    const k = this.unwrap(block);
    return this.kcv(k.algorithm, k.key);
  }

  async importSecret(secret: string): Promise<ProtectedKey> {
    if (secret.length < 16) throw new SecurityModuleError('BAD_INPUT', 'an API secret must have at least 16 characters');
    const key = Buffer.from(secret, 'utf8');
    return this.protect('API', 'HMAC', key, this.kcv('HMAC', key));
  }

  async verifySecret(block: KeyBlock, presented: string): Promise<boolean> {
    const k = this.use(block, 'API');
    // Compare fixed-length digests so neither the length nor the content leaks through timing.
    const a = createHmac('sha256', k.key).update('emboss-secret-check').digest();
    const b = createHmac('sha256', Buffer.from(presented, 'utf8')).update('emboss-secret-check').digest();
    return timingSafeEqual(a, b);
  }

  async verifyHmac(block: KeyBlock, message: string, signatureBase64: string): Promise<boolean> {
    const k = this.use(block, 'API');
    const expected = createHmac('sha256', k.key).update(message, 'utf8').digest();
    const presented = Buffer.from(signatureBase64, 'base64');
    if (presented.length !== expected.length) return false;
    return timingSafeEqual(expected, presented);
  }

  async encryptData(dek: KeyBlock, clear: string): Promise<string> {
    const k = this.use(dek, 'DEK');
    const iv = randomBytes(12);
    const cipher = createCipheriv(aesGcm(k.key), k.key, iv);
    const ct = Buffer.concat([cipher.update(clear, 'utf8'), cipher.final()]);
    return Buffer.concat([iv, ct, cipher.getAuthTag()]).toString('base64');
  }

  async decryptData(dek: KeyBlock, stored: string): Promise<string> {
    const k = this.use(dek, 'DEK');
    const raw = Buffer.from(stored, 'base64');
    if (raw.length < 12 + 16 + 1) throw new SecurityModuleError('BAD_INPUT', 'stored data is malformed');
    const decipher = createDecipheriv(aesGcm(k.key), k.key, raw.subarray(0, 12));
    decipher.setAuthTag(raw.subarray(raw.length - 16));
    try {
      return Buffer.concat([decipher.update(raw.subarray(12, raw.length - 16)), decipher.final()]).toString('utf8');
    } catch {
      throw new SecurityModuleError('BAD_INPUT', 'stored data failed authentication');
    }
  }

  async panLookupHash(hmk: KeyBlock, pan: string): Promise<string> {
    const k = this.use(hmk, 'HMK');
    return createHmac('sha256', k.key).update(pan, 'utf8').digest('hex');
  }

  // --- key blocks -------------------------------------------------------------------------

  private protect(type: KeyType, algorithm: KeyAlgorithm, key: Buffer, kcv: string): ProtectedKey {
    const header = `${BLOCK_VERSION}.${type}.${algorithm}`;
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.masterKey, iv);
    cipher.setAAD(Buffer.from(header, 'utf8'));
    const ct = Buffer.concat([cipher.update(key), cipher.final()]);
    const keyBlock = `${header}.${b64(iv)}.${b64(ct)}.${b64(cipher.getAuthTag())}`;
    this.unwrapped.set(keyBlock, { type, algorithm, key });
    return { keyBlock, kcv, type, algorithm };
  }

  private unwrap(block: KeyBlock): ClearKey {
    const cached = this.unwrapped.get(block);
    if (cached) return cached;
    const parts = block.split('.');
    if (parts.length !== 6 || parts[0] !== BLOCK_VERSION) throw new SecurityModuleError('BAD_KEY_BLOCK', 'not an emboss key block');
    const [version, type, algorithm, iv, ct, tag] = parts as [string, KeyType, KeyAlgorithm, string, string, string];
    const decipher = createDecipheriv('aes-256-gcm', this.masterKey, Buffer.from(iv, 'base64url'));
    decipher.setAAD(Buffer.from(`${version}.${type}.${algorithm}`, 'utf8'));
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    let key: Buffer;
    try {
      key = Buffer.concat([decipher.update(Buffer.from(ct, 'base64url')), decipher.final()]);
    } catch {
      throw new SecurityModuleError('BAD_KEY_BLOCK', 'key block failed authentication under the master key');
    }
    const clear = { type, algorithm, key };
    if (this.unwrapped.size > 10_000) this.unwrapped.clear();
    this.unwrapped.set(block, clear);
    return clear;
  }

  private use(block: KeyBlock, type: KeyType): ClearKey {
    const k = this.unwrap(block);
    if (k.type !== type) throw new SecurityModuleError('WRONG_KEY_TYPE', `operation needs a ${type} key, got a ${k.type} key`);
    return k;
  }

  private checkLength(algorithm: KeyAlgorithm, length: number) {
    if (!VALID_LENGTHS[algorithm].includes(length)) {
      throw new SecurityModuleError('BAD_KEY', `a ${algorithm} key must be ${VALID_LENGTHS[algorithm].join(', ')} bytes`);
    }
  }

  private kcv(algorithm: KeyAlgorithm, key: Buffer): string {
    if (algorithm === 'HMAC') return createHmac('sha256', key).update(Buffer.alloc(16)).digest('hex').slice(0, 6).toUpperCase();
    return keyCheckValue(key, algorithm === 'AES' ? 'aes' : '3des');
  }
}

function aesGcm(key: Buffer): 'aes-128-gcm' | 'aes-192-gcm' | 'aes-256-gcm' {
  return key.length === 16 ? 'aes-128-gcm' : key.length === 24 ? 'aes-192-gcm' : 'aes-256-gcm';
}

function b64(buf: Buffer) { return buf.toString('base64url'); }

function safeEqualText(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
