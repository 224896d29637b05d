import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { backends, openTestStore, type TestStore } from '../helpers/storage.ts';
import { parseBootstrap } from '../../src/config/bootstrap.ts';
import { applyBootstrap, type SetupDeps } from '../../src/modules/setup/index.ts';
import { SoftwareSecurityModule } from '../../src/security-module/software/software-security-module.ts';
import { KeysService, SYSTEM_KEYS } from '../../src/modules/keys/index.ts';
import { OrganizationsService } from '../../src/modules/organizations/index.ts';
import { ClientsService } from '../../src/modules/clients/index.ts';
import { systemClock } from '../../src/shared/clock.ts';
import { ConfigError } from '../../src/shared/errors.ts';

const file = (kcv: string) => `organizations:
  - number: 300
    name: Setup Bank
    panToken: false
    logos:
      - number: 7
        bin: "45454545"
        panLength: 19
        serviceCode: "201"
        pin: { method: IBM3624, length: 6, maxInvalidTries: 5, exceededAction: K }
        dcvv2ValidityMinutes: 15
        keys: { cvk: s.cvk, pvk: s.pvk }
keys:
  - name: s.cvk
    type: CVK
    components: ["0123456789ABCDEF0123456789ABCDEF", "1F2E3D4C5B6A79880F1E2D3C4B5A6978"]
    kcv: "${kcv}"
  - { name: s.pvk, type: PVK, generate: true }
clients:
  - clientId: setup-client
    apikey: setup-apikey-0123456789
    secretEnv: SETUP_SECRET
    organizations: [300]
    scopes: [cards, admin]
`;

for (const backend of backends) {
  describe(`bootstrap applied at start (${backend})`, () => {
    let store: TestStore;
    let deps: SetupDeps;
    let goodKcv: string;
    before(async () => {
      store = await openTestStore(backend);
      const sm = new SoftwareSecurityModule(randomBytes(32));
      const db = store.storage.db;
      deps = { db, sm, keys: new KeysService(db, sm), organizations: new OrganizationsService(db), clients: new ClientsService(db, sm, systemClock), env: { SETUP_SECRET: 'first-secret-0123456789' } };
      goodKcv = (await sm.importKey({ type: 'CVK', components: ['0123456789ABCDEF0123456789ABCDEF', '1F2E3D4C5B6A79880F1E2D3C4B5A6978'] })).kcv;
    });
    after(async () => { await store.close(); });

    const snapshot = async () => ({
      orgs: await store.storage.db.selectFrom('organizations').selectAll().where('number', '=', 300).execute(),
      keys: await store.storage.db.selectFrom('security_keys').select(['name', 'kcv', 'key_block']).orderBy('name').execute(),
      clients: await store.storage.db.selectFrom('api_clients').select(['client_id', 'secret_block']).execute(),
    });

    test('a wrong key check value stops start-up, names the line, and writes nothing', async () => {
      const before = await snapshot();
      await assert.rejects(applyBootstrap(deps, parseBootstrap(file('ABCDEF'), 'setup.yaml')), (err: Error) => {
        assert.ok(err instanceof ConfigError);
        assert.match(err.message, /^setup\.yaml:17: key s\.cvk: key check value does not match/);
        assert.doesNotMatch(err.message, /0123456789ABCDEF/);
        return true;
      });
      assert.deepEqual(await snapshot(), before);
    });

    test('a weak or single-DES key stops start-up, names the key and its line, never its value, and writes nothing', async () => {
      const before = await snapshot();
      const cases = [
        // components that combine to all F: FEFE…FE once parity is set, a weak key twice over
        ['89ABCDEF0123456789ABCDEF01234567", "76543210FEDCBA9876543210FEDCBA98', /weak/],
        ['E0E0E0E0F1F1F1F10123456789ABCDEF', /weak/],
        ['1FE01FE00EF10EF1FEDCBA9876543210', /weak/], // semi-weak
        ['0123456789ABCDEF0123456789ABCDEF', /single DES/],
      ] as const;
      for (const [components, why] of cases) {
        const text = file(goodKcv).replace(/components: \[.*\]/, `components: ["${components}"]`).replace(`    kcv: "${goodKcv}"\n`, '');
        await assert.rejects(applyBootstrap(deps, parseBootstrap(text, 'setup.yaml')), (err: Error) => {
          assert.ok(err instanceof ConfigError, String(err));
          assert.match(err.message, /^setup\.yaml:16: key s\.cvk: /);
          assert.match(err.message, why);
          for (const part of components.split('", "')) assert.ok(!err.message.toUpperCase().includes(part.slice(0, 8)), err.message);
          return true;
        });
      }
      assert.deepEqual(await snapshot(), before);
    });

    test('a missing secret variable stops start-up before anything is written', async () => {
      const before = await snapshot();
      await assert.rejects(applyBootstrap({ ...deps, env: {} }, parseBootstrap(file(goodKcv), 'setup.yaml')), /setup\.yaml:22: environment variable SETUP_SECRET is not set/);
      assert.deepEqual(await snapshot(), before);
    });

    test('a valid file is applied, and applying it again changes nothing', async () => {
      const first = await applyBootstrap(deps, parseBootstrap(file(goodKcv), 'setup.yaml'));
      assert.deepEqual(first.keysCreated.sort(), ['s.cvk', 's.pvk']);
      const logo = await deps.organizations.logo(300, 7);
      assert.equal(logo?.bin, '45454545');
      assert.equal(logo?.pin.method, 'IBM3624');
      assert.equal(logo?.pin.maxInvalidTries, 5);
      assert.equal(logo?.pin.exceededAction, 'K');
      assert.equal((await deps.organizations.organization(300))?.panTokenEnabled, false);
      for (const { name } of SYSTEM_KEYS) assert.ok(await deps.keys.find(name), name);
      const afterFirst = await snapshot();
      // Keys are stored only as key blocks: the component hex never appears in the table.
      for (const k of afterFirst.keys) assert.doesNotMatch(k.key_block, /0123456789ABCDEF|FEDCBA9876543210/i);

      const second = await applyBootstrap(deps, parseBootstrap(file(goodKcv), 'setup.yaml'));
      assert.deepEqual(second.keysCreated, []);
      assert.deepEqual(second.keysKept.sort(), ['s.cvk', 's.pvk']);
      assert.deepEqual(await snapshot(), afterFirst);
    });

    test('a declared key cannot silently change under its name', async () => {
      const other = file(goodKcv).replace('"0123456789ABCDEF0123456789ABCDEF", ', '"1123456789ABCDEF0123456789ABCDEF", ').replace(`kcv: "${goodKcv}"`, '');
      const before = await snapshot();
      await assert.rejects(applyBootstrap(deps, parseBootstrap(other, 'setup.yaml')), /setup\.yaml:14: key s\.cvk exists with check value/);
      assert.deepEqual(await snapshot(), before);
    });

    test('a changed client secret replaces the stored one; the old one stops working', async () => {
      const before = (await snapshot()).clients;
      await applyBootstrap({ ...deps, env: { SETUP_SECRET: 'second-secret-0123456789' } }, parseBootstrap(file(goodKcv), 'setup.yaml'));
      const after = (await snapshot()).clients;
      assert.notEqual(after[0]!.secret_block, before[0]!.secret_block);
      const clients = new ClientsService(store.storage.db, deps.sm, systemClock);
      assert.ok(await clients.authenticate('setup-client', 'second-secret-0123456789'));
      assert.equal(await clients.authenticate('setup-client', 'first-secret-0123456789'), undefined);
    });

    test('two processes applying the same file at once both succeed', async () => {
      const text = file(goodKcv).replace(/s\.cvk/g, 'race.cvk').replace(/s\.pvk/g, 'race.pvk').replace('number: 300', 'number: 301').replace('[300]', '[301]').replace('setup-client', 'race-client').replace('setup-apikey', 'race-apikey');
      const results = await Promise.allSettled([applyBootstrap(deps, parseBootstrap(text)), applyBootstrap(deps, parseBootstrap(text))]);
      assert.deepEqual(results.map((r) => r.status), ['fulfilled', 'fulfilled'], JSON.stringify(results.map((r) => r.status === 'rejected' ? String(r.reason) : '')));
      const keys = await store.storage.db.selectFrom('security_keys').select('name').where('name', 'like', 'race.%').execute();
      assert.equal(keys.length, 2);
    });
  });
}
