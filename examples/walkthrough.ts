/**
 * Every seed flow of emboss through the typed client (clients/typescript), against a running
 * emboss with the demo set-up (`npm start`):
 *
 *   npx tsx examples/walkthrough.ts [base-url]
 *
 * It reads the demo client and the sandbox keys from `$EMBOSS_DATA_DIR/demo-credentials.json`
 * (./.emboss by default). The sandbox keys are published test keys: never for real cards.
 * test/integration/walkthrough.test.ts runs this file against a fresh server.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  createEmbossClient, buildPinBlock, decryptCardNumber, decryptSecurityValue, encryptCardNumber, readPinBlock,
} from '../clients/typescript/index.ts';

const baseUrl = process.argv[2] ?? 'http://127.0.0.1:3000';
const demo = JSON.parse(readFileSync(join(process.env.EMBOSS_DATA_DIR ?? '.emboss', 'demo-credentials.json'), 'utf8'));
const { clientId, apikey, secret, organizationNumber, logo } = demo;
const zpk: string = demo.sandboxKeys.zpk.key; // 3DES zone PIN key, key association IYY
const zpkAes: string = demo.sandboxKeys.zpkAes.key; // AES zone PIN key (format 4), key association IY4
const zek: string = demo.sandboxKeys.zek.key; // card-number key

// Token (POST /token), its renewal and every signature are the client's business.
const emboss = createEmbossClient({ baseUrl, clientId, apikey, secret });

/** The answer of a call, or a thrown error with emboss's error codes. */
function ok<T>(what: string, r: { data?: T; error?: unknown; response: Response }): T {
  if (r.data === undefined) throw new Error(`${what}: ${r.response.status} ${JSON.stringify(r.error)}`);
  return r.data;
}
const step = (what: string, value: unknown) => console.log(`${what.padEnd(28)} ${typeof value === 'string' ? value : JSON.stringify(value)}`);

// 1. Customer, account and card.
const customer = ok('customer add', await emboss.POST('/customer/l8v2', {
  body: {
    customerData: {
      customerKeyData: { organizationNumber, customerNumber: '' },
      ownerCoOwnerData: { ownerData: { firstName: 'Ada', lastName: 'Lovelace', nameLine1: 'ADA LOVELACE', dateOfBirth: '1985-12-10', countryCode: 'USA' } },
    },
  },
}));
step('customer add', customer.customerNumber);

const account = ok('account add', await emboss.POST('/account/add-L8V3', {
  body: { accountData: { organization: organizationNumber, logo, customerNumber: customer.customerNumber, creditLimit: 5000, billingCycle: 15 } },
}));
step('account add', account.accountNumber);

const card = ok('card add', await emboss.POST('/cards/embosser/l8vf', {
  body: { organizationNumber, postToAccount: account.accountNumber, cardNumber: '', embossedName1: 'ADA LOVELACE' },
}));
const token = card.cardNumber; // the PAN token: the number itself is never shown outside the PCI calls
step('card add (PAN token)', token);

// 2. card-pan, both ways: the token gives the number under the card-number key (ZEK) …
const byToken = ok('card-pan by token', await emboss.POST('/cards/embosser/card-pan-l8v2', {
  body: { organizationNumber, cardNumber: token, cardSequence: 1, functionType: 'C' },
}));
const pan = decryptCardNumber(byToken.cardNumber, zek);
step('card-pan: token → number', `${pan.slice(0, 6)}…${pan.slice(-4)}`);
// … and the number, encrypted under the ZEK, gives the token.
const byNumber = ok('card-pan by number', await emboss.POST('/cards/embosser/card-pan-l8v2', {
  body: { organizationNumber, cardNumber: encryptCardNumber(pan, zek), cardSequence: 1, functionType: 'P' },
}));
if (byNumber.panToken !== token) throw new Error('card-pan: the number did not give the card\'s token');
step('card-pan: number → token', byNumber.panToken);

// 3. Security codes: CVV, CVV2, iCVV and the PIN block, each encrypted under the ZPK.
const codes = ok('security codes', await emboss.POST('/cards/pin/security-codes', {
  body: { organizationNumber, cardNumber: token, channel: 'W', keyAssociation: 'IYY' },
}));
const cvv2 = decryptSecurityValue(codes.ud2ec, zpk);
step('security codes', { cvv: decryptSecurityValue(codes.ud1ec, zpk), cvv2, icvv: decryptSecurityValue(codes.ud3ec, zpk) });
const pin = readPinBlock(codes.pinEncrypt, pan, zpk); // ISO 9564 format 0 under the ZPK
step('PIN (read from its block)', pin.replace(/./g, '•'));

// 4. PIN validation with a PIN block built here: format 0 under the 3DES ZPK, format 4 under the AES one.
ok('PIN validation (format 0)', await emboss.POST('/cards/pin/validation', {
  body: { organizationNumber, cardNumber: token, currentPinBlock: buildPinBlock(0, pin, pan, zpk), channel: 'I', keyAssociation: 'IYY' },
}));
ok('PIN validation (format 4)', await emboss.POST('/cards/pin/validation', {
  body: { organizationNumber, cardNumber: token, currentPinBlock: buildPinBlock(4, pin, pan, zpkAes), pinBlockFormat: 4, channel: 'I', keyAssociation: 'IY4' },
}));
step('PIN validation', 'formats 0 and 4 accepted');

// 5. Dynamic CVV2: generated, decrypted, and verified as an authorization host would.
const dynamic = ok('dCVV2', await emboss.POST('/cards/pin/dynamic-values', {
  body: { organizationNumber, cardNumber: token, channel: 'W', keyAssociation: 'IYY', disableDCVV2: 'N' },
}));
const dcvv2 = decryptSecurityValue(dynamic.dcvv2, zpk);
step('dCVV2', `${dcvv2} (valid ${dynamic.dcvv2ExpiryMinutes} minutes)`);
const details = ok('card details', await emboss.POST('/cards/v2/embosser/details', {
  body: { organizationNumber, cardNumber: token, cardSequence: 1, foreignUse: '0' },
}));
const expiry = details.currentDateExpirationDate; // YYYY-MM-DD; verification takes YYMM
const verified = ok('CVV2 verification', await emboss.POST('/cards/cvv2/verification', {
  body: { organizationNumber, cardNumber: token, expirationDate: expiry.slice(2, 4) + expiry.slice(5, 7), cvv2: dcvv2 },
}));
if (verified.result !== 'MATCH') throw new Error(`dCVV2 verification: ${verified.result}`);
step('dCVV2 verification', `${verified.result} (${verified.cvv2Mode})`);
