/**
 * The optional PGP layer over a whole personalization file (OpenPGP, RFC 4880/9580, with the
 * `openpgp` package): the file is encrypted to the bureau's public key as a binary OpenPGP
 * message (`.pgp`), readable with `gpg --decrypt`. The records inside stay encrypted under the
 * bureau key (they leave the security module only that way); PGP adds a second layer for
 * transport and storage, with integrity protection of the whole file.
 */
import type { PrivateKey, PublicKey } from 'openpgp';
import { PersonalizationFileError } from './file-format.ts';

/** The openpgp package, loaded when a PGP file is first written or read (most set-ups use none). */
let loaded: Promise<typeof import('openpgp')> | undefined;
const pgp = () => (loaded ??= import('openpgp'));

/** Reads an armored public key once; throws BAD_KEY when it is not one. */
export async function readPgpPublicKey(armoredKey: string): Promise<PublicKey> {
  const openpgp = await pgp();
  try {
    return await openpgp.readKey({ armoredKey });
  } catch {
    throw new PersonalizationFileError('BAD_KEY', 'not an armored OpenPGP public key');
  }
}

export async function pgpEncrypt(content: Uint8Array, publicKey: PublicKey): Promise<Uint8Array> {
  const openpgp = await pgp();
  const message = await openpgp.createMessage({ binary: content });
  return openpgp.encrypt({ message, encryptionKeys: publicKey, format: 'binary' });
}

/** Decrypts a binary or armored OpenPGP message with an armored private key (and its passphrase). */
export async function pgpDecrypt(content: Uint8Array, armoredPrivateKey: string, passphrase?: string): Promise<Uint8Array> {
  const openpgp = await pgp();
  let privateKey: PrivateKey;
  try {
    privateKey = await openpgp.readPrivateKey({ armoredKey: armoredPrivateKey });
    if (passphrase !== undefined) privateKey = await openpgp.decryptKey({ privateKey, passphrase });
  } catch {
    throw new PersonalizationFileError('BAD_KEY', 'not a usable OpenPGP private key (or wrong passphrase)');
  }
  try {
    const armored = Buffer.from(content.subarray(0, 30)).toString('latin1').startsWith('-----BEGIN PGP MESSAGE');
    const message = armored
      ? await openpgp.readMessage({ armoredMessage: Buffer.from(content).toString('utf8') })
      : await openpgp.readMessage({ binaryMessage: content });
    const { data } = await openpgp.decrypt({ message, decryptionKeys: privateKey, format: 'binary' });
    return data;
  } catch {
    throw new PersonalizationFileError('BAD_FILE', 'the OpenPGP message does not decrypt with this key');
  }
}

/** True when the content looks like an OpenPGP message (binary packet tag or ASCII armor). */
export function looksLikePgp(content: Uint8Array): boolean {
  const first = content[0];
  if (first === undefined) return false;
  if (Buffer.from(content.subarray(0, 30)).toString('latin1').startsWith('-----BEGIN PGP MESSAGE')) return true;
  // A clear file starts with 'H|'; an OpenPGP packet header has its top bit set.
  return (first & 0x80) !== 0;
}
