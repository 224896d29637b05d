import { Type, type Static } from '@sinclair/typebox';
import { Int, IsoDate, Open, OrganizationNumber, Text } from '../../shared/schema.ts';

/** Wire schemas of the customer endpoints, after the upstream FirstVision Customers API 1.3.0. */

const Email = Type.String({ maxLength: 60, pattern: '^([a-zA-Z0-9_.+-]+@[a-zA-Z0-9-]+(\\.[a-zA-Z0-9-]+)+|)$' });
const Digit = (max: number, description: string) => Type.Integer({ minimum: 0, maximum: max, description });

/** The person fields emboss keeps (owner or co-owner); other upstream fields are accepted and kept as sent. */
export const PersonData = Open({
  title: Type.Optional(Text(20)),
  firstName: Type.Optional(Text(40)),
  middleName: Type.Optional(Text(40)),
  lastName: Type.Optional(Text(40)),
  suffix: Type.Optional(Text(20)),
  nameLine1: Type.Optional(Text(40)),
  nameLine2: Type.Optional(Text(40)),
  nameLine3: Type.Optional(Text(40)),
  nameTypeIndicator1: Type.Optional(Digit(2, 'Name type indicator 1.')),
  maritalStatus: Type.Optional(Type.String({ maxLength: 1 })),
  genderCode: Type.Optional(Digit(9, 'Gender code: 0 unspecified, 1 male, 2 female.')),
  dateOfBirth: Type.Optional(IsoDate('Date of birth (ISO 8601).')),
  identificationNumberFlag: Type.Optional(Digit(9, 'Identification number flag.')),
  identificationNumber: Type.Optional(Text(25)),
  houseNumber: Type.Optional(Text(20)),
  houseName: Type.Optional(Text(40)),
  houseAddress1: Type.Optional(Text(40)),
  houseAddress2: Type.Optional(Text(40)),
  houseAddress3: Type.Optional(Text(40)),
  houseAddress4: Type.Optional(Text(40)),
  city: Type.Optional(Text(30)),
  state: Type.Optional(Text(3)),
  postalCode: Type.Optional(Text(10)),
  countryCode: Type.Optional(Text(3)),
  languageIndicator: Type.Optional(Text(3)),
  homePhoneNumber: Type.Optional(Text(20)),
  mobilePhoneNumber: Type.Optional(Text(20)),
  homeFaxPhoneNumber: Type.Optional(Text(20)),
  email: Type.Optional(Email),
  employerName: Type.Optional(Text(40)),
  statement2Indicator: Type.Optional(Type.String({ maxLength: 1 })),
}, 'Owner or co-owner name and address data.');

/** Amounts of 17 digits with cents (upstream "Max Length: 17"); kept in the profile (JSON), not in a numeric column. */
const ReservedAmt = Type.Number({ minimum: 0, maximum: 1e15, description: 'Up to 999,999,999,999,999.99.' });

/** Reserved for future use upstream; emboss keeps them as sent and echoes them in the answer. */
const ReservedData = Open({
  reservedCode1: Type.Optional(Text(20)),
  reservedCode2: Type.Optional(Text(20)),
  reservedCode3: Type.Optional(Text(20)),
  reservedCode4: Type.Optional(Text(20)),
  reservedCode5: Type.Optional(Text(20)),
  reservedDate1: Type.Optional(IsoDate()),
  reservedDate2: Type.Optional(IsoDate()),
  reservedDate3: Type.Optional(IsoDate()),
  reservedDate4: Type.Optional(IsoDate()),
  reservedDate5: Type.Optional(IsoDate()),
  reservedAmt1: Type.Optional(ReservedAmt),
  reservedAmt2: Type.Optional(ReservedAmt),
  reservedAmt3: Type.Optional(ReservedAmt),
  reservedAmt4: Type.Optional(ReservedAmt),
  reservedAmt5: Type.Optional(ReservedAmt),
}, 'Reserved for future use: kept as sent.');

export const AddCustomerRequest = Type.Object({
  customerData: Open({
    customerKeyData: Open({
      organizationNumber: OrganizationNumber,
      customerNumber: Type.Optional(Text(19, 'Customer number, up to 19 digits; empty, spaces or zeros: emboss generates one. Other text: 422 EMBU01E.')),
      accountNumber: Type.Optional(Text(19, 'Up to 19 digits, echoed in the answer; accounts are linked by Account Add. Other text: 422 EMBU02E.')),
      coOwnerIndicator: Type.Optional(Type.Integer({ minimum: 0, maximum: 2 })),
      dualFlag: Type.Optional(Type.String({ maxLength: 1 })),
    }),
    customerMiscellaneousData: Type.Optional(Open({
      vipStatus: Type.Optional(Type.Integer({ minimum: 0, maximum: 9 })),
      sicCode: Type.Optional(Type.Integer({ minimum: 0, maximum: 999999 })),
    })),
    ownerCoOwnerData: Type.Optional(Open({
      ownerData: Type.Optional(PersonData),
      coOwnerData: Type.Optional(PersonData),
    })),
  }),
  resvData: Type.Optional(ReservedData),
}, { additionalProperties: true });
export type AddCustomerRequest = Static<typeof AddCustomerRequest>;
// A request the server accepts (the docs page shows it; test/http/openapi-examples.test.ts sends it with real numbers).
AddCustomerRequest.examples = [{
  customerData: {
    customerKeyData: { organizationNumber: 100, customerNumber: '' },
    customerMiscellaneousData: { vipStatus: 0 },
    ownerCoOwnerData: {
      ownerData: { firstName: 'Ada', lastName: 'Lovelace', nameLine1: 'ADA LOVELACE', dateOfBirth: '1985-12-10', genderCode: 2, city: 'LONDON', countryCode: 'GBR', email: 'ada@example.org' },
    },
  },
}];

const ReservedCode = Type.Integer({ description: 'The reserved code sent, when it is a whole number (int32); otherwise 0.' });
const ReservedDate = Type.String({ format: 'date', description: 'The reserved date sent; otherwise the date the customer was added.' });
const ReservedAmount = Type.Number({ description: 'The reserved amount sent; otherwise 0.' });
export const AddCustomerResponse = Type.Object({
  organizationNumber: Type.Integer(),
  organizationAssociatedToForeignAccount: Type.Integer({ description: 'Always 0: emboss keeps no foreign accounts.' }),
  foreignCustomerOrganization: Type.Integer({ description: 'Always 0: emboss keeps no foreign customers.' }),
  accountNumber: Type.String({ description: 'The account number sent, 19 digits; zeros when none.' }),
  customerNumber: Type.String(),
  reservedCode1: ReservedCode,
  reservedCode2: ReservedCode,
  reservedCode3: ReservedCode,
  reservedCode4: ReservedCode,
  reservedCode5: ReservedCode,
  reservedDate1: ReservedDate,
  reservedDate2: ReservedDate,
  reservedDate3: ReservedDate,
  reservedDate4: ReservedDate,
  reservedDate5: ReservedDate,
  reservedAmount1: ReservedAmount,
  reservedAmount2: ReservedAmount,
  reservedAmount3: ReservedAmount,
  reservedAmount4: ReservedAmount,
  reservedAmount5: ReservedAmount,
});

export const DemographicInquiryRequest = Open({
  organizationNumber: OrganizationNumber,
  customerAccountCardNumber: Type.String({ pattern: '^[0-9]{1,19}$', maxLength: 19, description: 'Customer number (numberType 1) or account number (0 or space).' }),
  numberType: Type.String({ pattern: '^[ 01]?$', maxLength: 1, description: 'Space or 0: account number; 1: customer number.' }),
  foreignUseIndicator: Type.Optional(Type.String({ maxLength: 1 })),
});
export type DemographicInquiryRequest = Static<typeof DemographicInquiryRequest>;

const NameAddress = Type.Object({ sequence: Type.Integer() }, { additionalProperties: true });
export const DemographicInquiryResponse = Type.Object({
  organizationNumber: Type.Integer(),
  customerNumber: Type.String(),
  status: Type.Integer(),
  vipStatus: Type.String(),
  sicCode: Type.Integer(),
  makerCoMakerIndicator: Type.String(),
  dateLastMaintenance: Type.String(),
  nameAddrData: Type.Array(NameAddress),
});

export const UpdateCustomerRequest = Open({
  organizationNumber: OrganizationNumber,
  customerNumber: Type.String({ pattern: '^[0-9]{1,19}$', maxLength: 19, description: 'Customer number (numberType 1) or account number (0 or space).' }),
  numberType: Type.Optional(Type.String({ pattern: '^[ 01]?$', maxLength: 1 })),
  foreignUseIndicator: Type.Optional(Type.String({ maxLength: 1 })),
  demographicDataIndicator: Type.Optional(Type.String({ maxLength: 1 })),
  userDataIndicator: Type.Optional(Type.String({ maxLength: 1 })),
  vipStatus: Type.Optional(Int(0, 9, 'VIP status: 0 or 1.')),
  status: Type.Optional(Int(0, 9, 'Customer status: 0, 1 or 2.')),
  sicCode: Type.Optional(Type.Integer({ minimum: 0, maximum: 999999 })),
  title: Type.Optional(Text(40)),
  maritalStatus: Type.Optional(Type.String({ maxLength: 1 })),
  nameLine1: Type.Optional(Text(40)),
  nameLine2: Type.Optional(Text(40)),
  nameLine3: Type.Optional(Text(40)),
  houseNumber: Type.Optional(Text(20)),
  houseName: Type.Optional(Text(40)),
  houseAddress1: Type.Optional(Text(40)),
  houseAddress2: Type.Optional(Text(40)),
  houseAddress3: Type.Optional(Text(40)),
  houseAddress4: Type.Optional(Text(40)),
  city: Type.Optional(Text(30)),
  state: Type.Optional(Text(3)),
  postalCode: Type.Optional(Text(10)),
  countryCode: Type.Optional(Text(30)),
  languageIndicator: Type.Optional(Text(3)),
  genderCode: Type.Optional(Int(0, 9, 'Gender code: 0 unspecified, 1 male, 2 female.')),
  homePhoneNumber: Type.Optional(Text(20)),
  faxPhoneNumber: Type.Optional(Text(20)),
  mobilePhoneNumber: Type.Optional(Text(20)),
  dateOfBirth: Type.Optional(IsoDate()),
  email: Type.Optional(Email),
  firstName: Type.Optional(Text(40)),
  middleName: Type.Optional(Text(40)),
  lastName: Type.Optional(Text(40)),
});
export type UpdateCustomerRequest = Static<typeof UpdateCustomerRequest>;

export const UpdateCustomerResponse = Type.Object({
  outputArea: Type.Object({
    organizationNumber: Type.Integer(),
    customerNumber: Type.String(),
    numberType: Type.String(),
    demographicDataIndicator: Type.String(),
    userDataIndicator: Type.String(),
    cmsOrganizationNumber: Type.Integer(),
    accountNumber: Type.String(),
  }),
});
