import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { backends, openTestStore, type TestStore } from '../helpers/storage.ts';
import { parseBootstrap } from '../../src/config/bootstrap.ts';
import { applyBootstrap } from '../../src/modules/setup/index.ts';
import { SoftwareSecurityModule } from '../../src/security-module/software/software-security-module.ts';
import { KeysService } from '../../src/modules/keys/index.ts';
import { OrganizationsService } from '../../src/modules/organizations/index.ts';
import { ClientsService } from '../../src/modules/clients/index.ts';
import { systemClock } from '../../src/shared/clock.ts';

/**
 * Every bootstrap example in the documentation (a ```yaml block with keys in README.md or docs/)
 * is applied as a start would apply it: a reader who copies one gets a set-up emboss accepts,
 * its keys included (no weak or single-DES key, see crypto/keys.ts).
 */
const root = new URL('../../', import.meta.url);
const documents = ['README.md', ...readdirSync(new URL('docs/', root)).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];
const examples = documents.flatMap((doc) =>
  [...readFileSync(new URL(doc, root), 'utf8').matchAll(/```ya?ml\n([\s\S]*?)```/g)]
    .map((m, i) => ({ name: `${doc} example ${i + 1}`, text: m[1]! }))
    .filter((e) => /^keys:/m.test(e.text)));

test('the documentation has a bootstrap example to check', () => {
  assert.ok(examples.some((e) => e.name.startsWith('docs/configuration.md')), examples.map((e) => e.name).join(', '));
});

for (const backend of backends) {
  describe(`documentation bootstrap examples are accepted (${backend})`, () => {
    let store: TestStore;
    before(async () => { store = await openTestStore(backend); });
    after(async () => { await store.close(); });

    for (const example of examples) {
      test(example.name, async () => {
        const parsed = parseBootstrap(example.text, example.name);
        const sm = new SoftwareSecurityModule(randomBytes(32));
        const db = store.storage.db;
        // Secrets named by secretEnv are the reader's to set.
        const env = Object.fromEntries(parsed.config.clients.flatMap((c) => (c.secretEnv ? [[c.secretEnv, 'a-secret-of-the-reader-0123456789']] : [])));
        const report = await applyBootstrap({ db, sm, keys: new KeysService(db, sm), organizations: new OrganizationsService(db), clients: new ClientsService(db, sm, systemClock), env }, parsed);
        assert.deepEqual(report.keysCreated.sort(), parsed.config.keys.map((k) => k.name).sort());
      });
    }
  });
}
