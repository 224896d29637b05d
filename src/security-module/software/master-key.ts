import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { randomBytes } from 'node:crypto';
import { ConfigError } from '../../shared/errors.ts';

export interface MasterKeySource {
  /** EMBOSS_MASTER_KEY: 64 hex characters (AES-256). */
  fromEnv?: string | undefined;
  /** Where a local key file is kept (and created) when the environment gives none. */
  keyFile?: string | undefined;
  warn(message: string): void;
}

/**
 * The master key (LMK) under which every other key is stored. From the environment in
 * production; for local use a key file is generated, with a loud warning, because a key lying
 * next to the data it protects protects little. The key itself is never printed.
 */
export function loadMasterKey(source: MasterKeySource): Buffer {
  if (source.fromEnv !== undefined && source.fromEnv !== '') {
    if (!/^[0-9A-Fa-f]{64}$/.test(source.fromEnv)) {
      throw new ConfigError('EMBOSS_MASTER_KEY must be 64 hexadecimal characters (a 256-bit key)');
    }
    return Buffer.from(source.fromEnv, 'hex');
  }
  if (!source.keyFile) return randomBytes(32);
  if (existsSync(source.keyFile)) {
    const text = readFileSync(source.keyFile, 'utf8').trim();
    if (!/^[0-9A-Fa-f]{64}$/.test(text)) throw new ConfigError(`master key file ${source.keyFile} is not 64 hexadecimal characters`);
    source.warn(`WARNING: using the local master key file ${source.keyFile}. Set EMBOSS_MASTER_KEY from a secret store in production.`);
    return Buffer.from(text, 'hex');
  }
  mkdirSync(dirname(source.keyFile), { recursive: true });
  const key = randomBytes(32);
  writeFileSync(source.keyFile, key.toString('hex') + '\n', { mode: 0o600 });
  source.warn(
    `WARNING: no EMBOSS_MASTER_KEY set; generated a local master key file at ${source.keyFile}. ` +
    'Anyone who can read this file can read every key and card number in this data folder. ' +
    'Use EMBOSS_MASTER_KEY from a secret store in production.',
  );
  return key;
}
