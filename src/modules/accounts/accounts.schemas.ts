import { Type, type Static } from '@sinclair/typebox';
import { AMOUNT_MAX, Int, IsoDate, LogoNumber, Open, OrganizationNumber, Text } from '../../shared/schema.ts';

/** Wire schemas of the account endpoints, after the upstream FirstVision Accounts API 1.3.0. */

export const AddAccountRequest = Type.Object({
  accountData: Open({
    organization: OrganizationNumber,
    logo: LogoNumber,
    accountNumber: Type.Optional(Text(19, 'Account number, up to 19 digits; empty, spaces or zeros: emboss generates one. Other text: 422 EMBT01E.')),
    customerNumber: Text(19, 'Owner: an existing customer of the same organization (digits). Blank: 422 VPL5SAA19E; unknown or not digits: 422 VPL5SIC13S.'),
    billingAccountType: Type.Optional(Int(0, 9, 'Billing account type: 0–3.')),
    primaryAccount: Type.Optional(Type.String({ maxLength: 1, description: 'Space or P.' })),
    relationshipNumber: Type.Optional(Text(19, 'Relationship the account belongs to, up to 19 digits. Other text: 422 EMBT02E.')),
    shortName: Type.Optional(Text(20)),
    creditLimit: Type.Optional(Type.Number({
      minimum: 0, maximum: AMOUNT_MAX,
      description: 'Up to 999,999,999,999,999.99 (upstream "Max Length: 17", numeric(17, 2)). A JSON number of 1e15 or more, which is what .94 to .99 of the largest read as, is past what the column holds: 422 EMBT03E.',
    })),
    billingCurrency: Type.Optional(Text(3, 'ISO 4217 numeric currency; empty or spaces: the logo\'s. Not digits: 422 VPL5SAA21E.')),
    billingCycle: Type.Optional(Int(0, 99, 'Cycle day, 1–31.')),
    blockCode1: Type.Optional(Type.String({ maxLength: 1 })),
    blockCode2: Type.Optional(Type.String({ maxLength: 1 })),
    customerStatement: Type.Optional(Int(0, 9, 'Customer statement: 0 or 1.')),
    customerLetter: Type.Optional(Int(0, 9, 'Customer letter: 0, 1 or 2.')),
    dateOpened: Type.Optional(IsoDate()),
    cardExpirationDate: Type.Optional(Text(4, 'MMYY, kept as sent; empty or spaces: none. Not digits: 422 VPL5SAA39E.')),
  }),
}, { additionalProperties: true });
export type AddAccountRequest = Static<typeof AddAccountRequest>;
// A request the server accepts (the docs page shows it; test/http/openapi-examples.test.ts sends it with real numbers).
AddAccountRequest.examples = [{ accountData: { organization: 100, logo: 1, customerNumber: '5161117319164675621', creditLimit: 1000, billingCycle: 10, shortName: 'ADA', dateOpened: '2024-01-15' } }];

export const AddAccountResponse = Type.Object({
  organization: Type.Integer(),
  foreignOrganization: Type.String(),
  accountNumber: Type.String(),
});

export const AccountInquiryHeaders = Type.Object({
  'organization-number': Type.Integer({ minimum: 1, maximum: 998 }),
  'account-number': Type.Optional(Type.String({ pattern: '^[0-9]{1,19}$', maxLength: 19 })),
  'card-number': Type.Optional(Type.String({ pattern: '^[0-9A-Za-z]{1,19}$', maxLength: 19 })),
}, { additionalProperties: true });
export type AccountInquiryHeaders = Static<typeof AccountInquiryHeaders>;

export const AccountInquiryResponse = Type.Object({
  currencyCode: Type.Integer(),
  accountData: Type.Object({
    organization: Type.Integer(),
    accountNumber: Type.String(),
    logo: Type.Integer(),
    shortName: Type.String(),
    customerNumber: Type.String(),
    internalStatus: Type.String(),
    blockCode1: Type.String(),
    blockCode2: Type.String(),
    billingCycle: Type.Integer(),
    creditLimit: Type.Number(),
    availableCredit: Type.Number(),
    currentBalance: Type.Number(),
    dateOpened: Type.String(),
    relationshipNumber: Type.String(),
  }),
  customerData: Type.Object({
    customerNumber: Type.String(),
    nameLine1: Type.String(),
  }),
});

export const BlockCodeRequest = Open({
  organizationNumber: OrganizationNumber,
  accountNumber: Type.String({ pattern: '^[0-9]{1,19}$', maxLength: 19 }),
  functionCode: Type.String({ maxLength: 1, description: 'B: block, U: unblock.' }),
  blockCode: Type.Optional(Type.String({ maxLength: 1, description: 'A–Z to block; space to unblock.' })),
  blockCodeIndicator: Int(0, 9, '0: best fitting slot (block only), 1: block code 1, 2: block code 2.'),
  foreignUse: Type.String({ maxLength: 1 }),
});
export type BlockCodeRequest = Static<typeof BlockCodeRequest>;

export const BlockCodeResponse = Type.Object({
  localOrganization: Type.Integer(),
  accountNumber: Type.String(),
  foreignUse: Type.String(),
  functionCode: Type.String(),
  blockCode1Local: Type.String(),
  blockCode2Local: Type.String(),
});

export const CustomerAccountsRequest = Open({
  organizationNumber: OrganizationNumber,
  customerNumber: Type.String({ pattern: '^[0-9]{1,19}$', maxLength: 19 }),
  functionCode: Type.Optional(Type.String({ maxLength: 1, description: 'Space/empty: first 20; N: next 20 after startToken; P: the 20 before startToken.' })),
  startToken: Type.Optional(Open({
    accountOrganizationNumber: Type.Optional(Type.Integer({ minimum: 0, maximum: 998 })),
    accountNumber: Type.Optional(Type.String({ pattern: '^[0-9]{0,19}$', maxLength: 19 })),
    associationType: Type.Optional(Int(0, 9)),
  })),
});
export type CustomerAccountsRequest = Static<typeof CustomerAccountsRequest>;

const Token = (suffix: 'Next' | 'Prev') => Type.Object({
  [`accountOrganization${suffix}`]: Type.Integer(),
  [`accountNumber${suffix}`]: Type.String(),
  [`accountType${suffix}`]: Type.Integer(),
});
export const CustomerAccountsResponse = Type.Object({
  nextToken: Token('Next'),
  prevToken: Token('Prev'),
  more: Type.String(),
  numberOfOccurrences: Type.Integer(),
  acctTable: Type.Array(Type.Object({
    organizationNumber: Type.Integer(),
    accountNumber: Type.String(),
    associationType: Type.Integer(),
    organizationName: Type.String(),
    logo: Type.Integer(),
    logoDescription: Type.String(),
    accountInternalStatus: Type.String(),
  })),
});
