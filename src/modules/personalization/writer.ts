/**
 * Writes personalization files: one file per organization + logo batch of records that the
 * security module has already encrypted for the bureau (`sm.personalizationRecord`). It never
 * sees a clear record, card number or key; what it writes is safe at rest.
 */
import { randomUUID } from 'node:crypto';
import type { PersonalizationRecord } from '../../security-module/port.ts';
import {
  PersonalizationFileError, checkId, encodePersonalizationFile, parsePersonalizationFileName, personalizationFileName,
  type ParsedFileName,
} from './file-format.ts';
import { pgpEncrypt, readPgpPublicKey } from './pgp.ts';
import type { PersonalizationFileStore } from './store.ts';

export interface PersonalizationWriterOptions {
  store: PersonalizationFileStore;
  /** Default: the system clock. */
  clock?: () => Date;
  /** Default: crypto.randomUUID. */
  newFileId?: () => string;
  /** The bureau's armored OpenPGP public key: every file is then PGP-encrypted (`.txt.pgp`). */
  pgpPublicKey?: string;
}

export interface PersonalizationBatch {
  organization: string;
  logo: string;
  /** All under the same bureau key, in the order they are to be produced. */
  records: readonly PersonalizationRecord[];
  /**
   * A planned file (the outbox): fixed id, time and sequence, so writing it again after a crash
   * gives the same name; the store then refuses a second copy (EXISTS) instead of adding one.
   */
  planned?: { fileId: string; createdAt: Date; seq: number };
}

export interface WrittenPersonalizationFile {
  name: string;
  fileId: string;
  organization: string;
  logo: string;
  createdAt: string;
  recordCount: number;
  /** Trailer hash (SHA-256 of the clear file's header and record lines; see file-format.ts). */
  sha256: string;
  pgp: boolean;
  /** Bytes written. */
  size: number;
}

export interface PersonalizationFileInfo extends ParsedFileName {
  size: number;
}

/** Attempts at a free sequence number when another writer takes the same name at the same second. */
const MAX_NAME_ATTEMPTS = 50;

export class PersonalizationFileWriter {
  private readonly store: PersonalizationFileStore;
  private readonly clock: () => Date;
  private readonly newFileId: () => string;
  private readonly publicKey: ReturnType<typeof readPgpPublicKey> | undefined;

  constructor(options: PersonalizationWriterOptions) {
    this.store = options.store;
    this.clock = options.clock ?? (() => new Date());
    this.newFileId = options.newFileId ?? randomUUID;
    this.publicKey = options.pgpPublicKey === undefined ? undefined : readPgpPublicKey(options.pgpPublicKey);
    // A bad key surfaces on the first write; keep the rejection from being reported as unhandled before that.
    this.publicKey?.catch(() => undefined);
  }

  /**
   * Writes one file for the batch: EMB_<org>_<logo>_<yyyymmddHHMMss>_<seq>.txt[.pgp], seq one
   * more than the highest already in the store for that organization and logo.
   */
  async writeBatch(batch: PersonalizationBatch): Promise<WrittenPersonalizationFile> {
    checkId(batch.organization, 'organization');
    checkId(batch.logo, 'logo');
    const createdAt = batch.planned?.createdAt ?? this.clock();
    const fileId = batch.planned?.fileId ?? this.newFileId();
    const { bytes: clear, sha256 } = encodePersonalizationFile({ fileId, organization: batch.organization, logo: batch.logo, createdAt, records: batch.records });
    const pgp = this.publicKey !== undefined;
    const content = pgp ? await pgpEncrypt(clear, await (this.publicKey as ReturnType<typeof readPgpPublicKey>)) : clear;

    let seq = batch.planned?.seq ?? await this.nextSeq(batch.organization, batch.logo);
    for (let attempt = 0; ; attempt++) {
      const name = personalizationFileName(batch.organization, batch.logo, createdAt, seq, pgp);
      try {
        await this.store.create(name, content);
        return {
          name, fileId, organization: batch.organization, logo: batch.logo, createdAt: createdAt.toISOString(),
          recordCount: batch.records.length, sha256, pgp, size: content.length,
        };
      } catch (e) {
        if (!(e instanceof PersonalizationFileError && e.code === 'EXISTS') || attempt >= MAX_NAME_ATTEMPTS || batch.planned) throw e;
        seq++;
      }
    }
  }

  /** Personalization files in the store (other files are ignored), oldest first; optionally of one organization/logo. */
  async list(filter: { organization?: string; logo?: string } = {}): Promise<PersonalizationFileInfo[]> {
    const out: PersonalizationFileInfo[] = [];
    for (const f of await this.store.list()) {
      const p = parsePersonalizationFileName(f.name);
      if (!p) continue;
      if (filter.organization !== undefined && p.organization !== filter.organization) continue;
      if (filter.logo !== undefined && p.logo !== filter.logo) continue;
      out.push({ ...p, size: f.size });
    }
    return out.sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.seq - b.seq || a.name.localeCompare(b.name));
  }

  /** The bytes of a file, as written. */
  async read(name: string): Promise<Uint8Array> {
    if (!parsePersonalizationFileName(name)) throw new PersonalizationFileError('BAD_INPUT', 'not a personalization file name');
    return this.store.read(name);
  }

  /**
   * Re-exports a file: copies it byte for byte, under the same name, to another store (the
   * bureau's drop folder, a retransmission folder). Never overwrites (EXISTS). The file is
   * neither decrypted nor rebuilt, so its hash and PGP layer are the original ones.
   */
  async reexport(name: string, target: PersonalizationFileStore): Promise<PersonalizationFileInfo> {
    const parsed = parsePersonalizationFileName(name);
    if (!parsed) throw new PersonalizationFileError('BAD_INPUT', 'not a personalization file name');
    const content = await this.store.read(name);
    await target.create(name, content);
    return { ...parsed, size: content.length };
  }

  private async nextSeq(organization: string, logo: string): Promise<number> {
    let max = 0;
    for (const f of await this.list({ organization, logo })) max = Math.max(max, f.seq);
    return max + 1;
  }
}
