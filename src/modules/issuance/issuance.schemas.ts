import { Type, type Static } from '@sinclair/typebox';
import { Int, IsoDate, LogoNumber, Open, OrganizationNumber, Text } from '../../shared/schema.ts';

/** Wire schemas of mass card issue, after the upstream MassCardIssueAddRequestL8V3 / MassCardReissueDetailsResponseL8V3. */

/** Pagination bounds: a request makes a million cards at most, so a million pages of one card. */
export const MAX_PAGE = 1_000_000;
export const MAX_PAGE_SIZE = 500;

export const MassIssueRequest = Open({
  organizationNumber: OrganizationNumber,
  logo: LogoNumber,
  cardType: Type.Integer({ minimum: 0, maximum: 99, description: 'Card type: with organization and logo, identifies the request.' }),
  functionType: Type.String({ maxLength: 1, description: 'A: add a request; M: modify one (refused while it runs).' }),
  quantityToCreate: Type.Integer({ minimum: 1, maximum: 1_000_000, description: 'Cards to create in all (upstream allows 5 digits; emboss up to a million).' }),
  customerNumber: Type.String({ pattern: '^[0-9]{1,19}$', maxLength: 19, description: 'The customer every account of the batch belongs to.' }),
  creditLimit: Type.Optional(Type.Number({ minimum: 0, maximum: 999999999 })),
  expiryDate: Type.Optional(IsoDate('Expiry of the cards; default the logo\'s expiry months.')),
  embossedName1: Type.Optional(Text(26)),
  embossedName2: Type.Optional(Text(26)),
  posServiceCode: Type.Optional(Type.String({ pattern: '^([0-9]{3}|)$', maxLength: 3 })),
  relationshipNumber: Type.Optional(Type.String({ maxLength: 19 })),
  status: Type.Optional(Int(0, 9, 'Accepted for compatibility.')),
});
export type MassIssueRequest = Static<typeof MassIssueRequest>;

const Progress = Type.Object({
  status: Type.String({ description: 'PENDING, RUNNING, COMPLETED or FAILED.' }),
  done: Type.Integer(),
  total: Type.Integer(),
  cardsPerSecond: Type.Number(),
  etaSeconds: Type.Union([Type.Number(), Type.Null()]),
});

export const MassIssueResponse = Type.Object({
  outputArea: Type.Object({
    organizationNumber: Type.Integer(),
    logo: Type.Integer(),
    cardType: Type.Integer(),
    dateLastMaintain: Type.String(),
    status: Type.Integer({ description: '1 active request.' }),
    quantityToCreate: Type.Integer(),
    customerNumber: Type.String(),
    creditLimit: Type.Number(),
    expiryDate: Type.String(),
    embossedName1: Type.String(),
    embossedName2: Type.String(),
    progress: Progress,
  }),
});

export const MassIssueQuery = Type.Object({
  organizationNumber: Type.Integer({ minimum: 1, maximum: 998 }),
  logo: Type.Integer({ minimum: 1, maximum: 998 }),
  serviceType: Type.Integer({ minimum: 0, maximum: 99, description: 'The card type of the request.' }),
  page: Type.Optional(Int(1, MAX_PAGE, `Page of cards, from 1 to ${MAX_PAGE.toLocaleString('en-US')} (a request makes a million cards at most).`)),
  pageSize: Type.Optional(Int(1, MAX_PAGE_SIZE, `Cards per page, 1–${MAX_PAGE_SIZE} (default 50).`)),
});
export type MassIssueQuery = Static<typeof MassIssueQuery>;

export const MassIssueDetails = Type.Object({
  outputArea: Type.Object({
    hasMoreRecords: Type.Boolean(),
    totalCardsCount: Type.Integer(),
    totalAvailableCreditLimitAmount: Type.Number(),
    totalPagesCount: Type.Integer(),
    currentPage: Type.Integer(),
    progress: Progress,
    cards: Type.Array(Type.Object({
      sequence: Type.Integer({ description: 'Position of the card in the request, from 1.' }),
      accountNumber: Type.String(),
      cardNumber: Type.String(),
      customerNumber: Type.String(),
      cardType: Type.String(),
      availableCreditLimitAmount: Type.Number(),
      creditLimitAmount: Type.Number(),
      cardStatus: Type.String(),
      accountStatus: Type.String(),
      isActive: Type.Boolean(),
      cardBlockCode: Type.String(),
      expiryDate: Type.String(),
    })),
  }),
});
