/**
 * The security module: the only door to keys (the idea of jPOS's SMAdapter, in small).
 *
 * Keys never leave it in clear. A key lives outside the module only as a *key block*: the key
 * encrypted under the module's master key, with its type and algorithm bound to it, so a key
 * cannot be used as another type. The host stores key blocks (the `keys` module) and hands them
 * back to each operation, as with a payment HSM. Operations take key blocks and clear or
 * encrypted data and return encrypted data or a boolean; no operation returns a clear key, and
 * none returns a clear PIN.
 *
 * The software implementation (`software/`) is the default. A hardware HSM or a cloud payment
 * cryptography service can be added behind this interface and must pass the same contract
 * tests (`contract.ts`). All operations are async so such adapters fit.
 */

/**
 * Key types.
 * - CVK: card verification key pair (3DES double length: CVK A | CVK B) for CVV, CVV2, iCVV, dCVV2.
 * - PVK: PIN verification key (3DES double length) for PVV and IBM 3624 offsets.
 * - ZPK: a client's zone PIN key: PIN blocks and security values it receives (3DES, or AES for ISO format 4).
 * - ZEK: a client's zone encryption key for card numbers it sends and receives (3DES).
 * - DEK: data encryption key for stored card numbers (AES-256-GCM).
 * - HMK: HMAC key for card-number look-up hashes (HMAC-SHA-256).
 * - TOK: PAN token key (AES, FF1).
 * - API: an API client's shared secret for HMAC request signatures and /token.
 */
export type KeyType = 'CVK' | 'PVK' | 'ZPK' | 'ZEK' | 'DEK' | 'HMK' | 'TOK' | 'API';
export type KeyAlgorithm = '3DES' | 'AES' | 'HMAC';

export const KEY_TYPES: readonly KeyType[] = ['CVK', 'PVK', 'ZPK', 'ZEK', 'DEK', 'HMK', 'TOK', 'API'];

/** A key encrypted under the master key; safe to store and to pass around. */
export type KeyBlock = string;

export interface ProtectedKey {
  keyBlock: KeyBlock;
  /** Key check value (hex, uppercase). */
  kcv: string;
  type: KeyType;
  algorithm: KeyAlgorithm;
}

export interface ImportKeyRequest {
  type: KeyType;
  /** Clear components in hex; XOR-combined (a key ceremony). One component is a whole key. */
  components: string[];
  /** Expected key check value; the import fails when it differs. */
  kcv?: string;
  algorithm?: KeyAlgorithm;
}

export interface GenerateKeyRequest {
  type: KeyType;
  algorithm?: KeyAlgorithm;
  /** Bytes: 16 or 24 for 3DES, 16/24/32 for AES, 32 for HMAC. Defaults by type. */
  length?: number;
}

/** Why an operation refused its input; the message is always safe to show. */
export class SecurityModuleError extends Error {
  constructor(readonly code: 'KCV_MISMATCH' | 'BAD_KEY' | 'BAD_KEY_BLOCK' | 'WRONG_KEY_TYPE' | 'BAD_INPUT', message: string) {
    super(message);
    this.name = 'SecurityModuleError';
  }
}

export interface SecurityModule {
  importKey(request: ImportKeyRequest): Promise<ProtectedKey>;
  generateKey(request: GenerateKeyRequest): Promise<ProtectedKey>;
  /** The check value of a stored key. */
  keyCheckValue(key: KeyBlock): Promise<string>;

  /** Takes a client's shared secret into a key block of type API. */
  importSecret(secret: string): Promise<ProtectedKey>;
  /** Constant-time check of a presented secret against a key block of type API. */
  verifySecret(key: KeyBlock, presented: string): Promise<boolean>;
  /** Checks Base64(HMAC-SHA256(secret, message)) in constant time. */
  verifyHmac(key: KeyBlock, message: string, signatureBase64: string): Promise<boolean>;

  /**
   * Encrypts data at rest under a DEK (AES-256-GCM): stored card numbers, stored responses that
   * may carry card data. Returns base64 text to store (IV | ciphertext | tag).
   */
  encryptData(dek: KeyBlock, clear: string): Promise<string>;
  decryptData(dek: KeyBlock, stored: string): Promise<string>;
  /** Keyed look-up hash of a card number under an HMK (hex): for uniqueness and search. */
  panLookupHash(hmk: KeyBlock, pan: string): Promise<string>;
}
