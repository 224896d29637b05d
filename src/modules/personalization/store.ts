/**
 * Where personalization files go: a small interface (so a database outbox, an object store or an
 * SFTP drop can stand in later) and its folder implementation over node:fs/promises.
 */
import { link, mkdir, readFile, readdir, stat, unlink, writeFile } from 'node:fs/promises';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { PersonalizationFileError } from './file-format.ts';

export interface StoredFileInfo {
  name: string;
  size: number;
  modifiedAt: Date;
}

export interface PersonalizationFileStore {
  /**
   * Creates the file with this content, all or nothing. Refuses (PersonalizationFileError
   * EXISTS) when a file of that name exists; never overwrites.
   */
  create(name: string, content: Uint8Array): Promise<void>;
  /** PersonalizationFileError NOT_FOUND when absent. */
  read(name: string): Promise<Uint8Array>;
  list(): Promise<StoredFileInfo[]>;
}

const SAFE_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,200}$/;

function checkName(name: string): void {
  if (typeof name !== 'string' || !SAFE_NAME_RE.test(name)) throw new PersonalizationFileError('BAD_INPUT', 'file name must be a plain file name');
}

/**
 * Files in one folder (created when missing). A file is written to a hidden temporary name, then
 * hard-linked to its final name (atomic, and fails when the name exists, so two writers never
 * overwrite each other), then the temporary name is removed. Files are created mode 0600: they
 * are encrypted, but their names and sizes are still nobody else's business.
 */
export class FolderFileStore implements PersonalizationFileStore {
  constructor(readonly folder: string) {}

  async create(name: string, content: Uint8Array): Promise<void> {
    checkName(name);
    await mkdir(this.folder, { recursive: true, mode: 0o700 });
    const tmp = join(this.folder, `.${name}.${randomUUID()}.tmp`);
    await writeFile(tmp, content, { mode: 0o600, flag: 'wx', flush: true });
    try {
      await link(tmp, join(this.folder, name));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw new PersonalizationFileError('EXISTS', 'a file of that name already exists');
      throw e;
    } finally {
      await unlink(tmp).catch(() => undefined);
    }
  }

  async read(name: string): Promise<Uint8Array> {
    checkName(name);
    try {
      return await readFile(join(this.folder, name));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new PersonalizationFileError('NOT_FOUND', 'no such personalization file');
      throw e;
    }
  }

  async list(): Promise<StoredFileInfo[]> {
    let names: string[];
    try {
      names = await readdir(this.folder);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw e;
    }
    const out: StoredFileInfo[] = [];
    for (const name of names) {
      if (name.startsWith('.')) continue;
      const s = await stat(join(this.folder, name)).catch(() => undefined);
      if (s?.isFile()) out.push({ name, size: s.size, modifiedAt: s.mtime });
    }
    return out.sort((a, b) => a.name.localeCompare(b.name));
  }
}
