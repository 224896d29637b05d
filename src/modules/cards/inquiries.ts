import { type Kysely } from 'kysely';
import type { DB } from '../../db/schema.ts';
import type { Actor } from '../../shared/actor.ts';
import { refusal as fail } from '../../shared/errors.ts';
import { isBlankNumber, pad19 } from '../../shared/ids.ts';
import { recordAudit } from '../audit/index.ts';
import type { OrganizationsService } from '../organizations/index.ts';
import type { CardVault } from './card-vault.ts';
import type { CardRepository } from './card-repository.ts';
import { CardCodes, expiryDate, shownCardNumber, type Viewer } from './card-rules.ts';
import { cardDetailsBody, type CardDetailsResponse } from './card-details.ts';
import type { CardDetailsRequest, CustomerCardsQuery, PanInquiryRequest } from './cards.schemas.ts';

const PAGE_SIZE = 20;

export interface CardInquiriesDeps {
  db: Kysely<DB>;
  repository: CardRepository;
  vault: CardVault;
  organizations: OrganizationsService;
}

/** What a client may read of cards: card-pan, card details, the cards of a customer. Each read is audited. */
export class CardInquiries {
  private readonly db: Kysely<DB>;
  constructor(private readonly deps: CardInquiriesDeps) {
    this.db = deps.db;
  }

  /**
   * POST /cards/embosser/card-pan(-l8v2) (docs/wire-compatibility.md: card-pan). The form of
   * `cardNumber` says what it is, whatever the function type (C or P): 32 hex digits, the number
   * under the client's card-number key; 19 characters with a letter, a PAN token; 12–19 digits
   * (zero-padded or not), the clear number. The answer carries both: the number under the client's
   * card-number key and the PAN token ('' for an organization without PAN tokens, where a token
   * in, or function type P, is refused with VPL5SEA16S).
   */
  async panInquiry(actor: Actor, request: PanInquiryRequest, viewer: Viewer) {
    const org = await this.deps.organizations.organization(request.organizationNumber);
    if (!org) throw fail(CardCodes.orgNotFound);
    const number = request.cardNumber;
    if (/^0+$/.test(number)) throw fail(CardCodes.panZeros);
    const input = /^[0-9A-Fa-f]{32}$/.test(number) ? 'encrypted' : /[A-Za-z]/.test(number) ? 'token' : 'number';
    if (!org.panTokenEnabled && (input === 'token' || request.functionType === 'P')) throw fail(CardCodes.tokenSwitchOff);
    // The clear number, when the client sent it (encrypted or not): not read back from the vault.
    let pan: string | undefined;
    if (input === 'encrypted') {
      pan = (await this.deps.vault.fromClient(number, viewer.cardNumberKey))?.replace(/^0+/, '');
      if (!pan) throw fail(CardCodes.badEncryptedPan);
    } else if (input === 'number') {
      pan = number.replace(/^0+/, '');
    }
    const card = await this.deps.repository.resolve(org.number, pan ?? number, request.cardSequence);
    if (!card) throw fail(CardCodes.cardOrAccountNotFound);
    const encrypted = await this.deps.vault.forClient(pan ?? await this.deps.repository.panOf(card), viewer.cardNumberKey);
    await recordAudit(this.db, actor, {
      action: 'card.pan.read', entityType: 'card', entityId: card.pan_token, organization: org.number, details: { functionType: request.functionType, input },
    });
    return {
      organizationNumber: org.number,
      logo: card.logo,
      cardNumber: encrypted,
      cardSequence: card.card_sequence,
      accountNumber: card.account_number,
      panToken: org.panTokenEnabled ? card.pan_token : '',
    };
  }

  /** POST /cards/v2/embosser/details: every documented field (card-details.ts). */
  async details(actor: Actor, request: CardDetailsRequest): Promise<CardDetailsResponse> {
    const orgNumber = Number(request.organizationNumber);
    const org = await this.deps.organizations.organization(orgNumber);
    if (!org) throw fail(CardCodes.orgNotFound);
    const card = await this.deps.repository.resolve(orgNumber, request.cardNumber, request.cardSequence === undefined ? undefined : Number(request.cardSequence));
    if (!card) throw fail(CardCodes.cardNotFound);
    const logo = await this.deps.organizations.logo(orgNumber, card.logo);
    // What the answer tells besides the card itself: the expiry before this one (the previous
    // sequence of the number, or the card this one replaced), the replacement, the open plastics.
    const related = await this.deps.repository.relatedOf(card.id);
    const replacement = related?.replacement_token
      ? await shownCardNumber(org, related.replacement_token, () => this.deps.vault.reveal(related.replacement_encrypted!))
      : '';
    await recordAudit(this.db, actor, { action: 'card.read', entityType: 'card', entityId: card.pan_token, organization: orgNumber });
    return cardDetailsBody({
      card, logo, replacement, expiryDate,
      shown: await shownCardNumber(org, card.pan_token, () => this.deps.repository.panOf(card)),
      previousExpiry: related?.previous_expiry ?? related?.replaced_expiry ?? null,
      outstanding: Number(related?.outstanding ?? 0),
    });
  }

  /** GET /customer/v3/cards/details: the customer's cards, by account, 20 at a time. */
  async customerCards(actor: Actor, query: CustomerCardsQuery, customer: string, viewer: Viewer) {
    const org = await this.deps.organizations.organization(query.organizationNumber);
    if (!org) throw fail(CardCodes.customerCardsOrgNotFound);
    const fn = (query.functionCode ?? '').trim();
    if ((fn === 'N' || fn === 'P') && isBlankNumber(query.startAccount)) throw fail(CardCodes.customerCardsNeedStart);
    const customerNumber = pad19(customer);
    // With the account's userAccountNumber (account add keeps the fields it does not model as sent).
    const start = fn === 'N' || fn === 'P' ? pad19(query.startAccount!) : undefined;
    const rows = await this.deps.repository.ofCustomer(org.number, customerNumber, fn === 'N' ? { next: start! } : fn === 'P' ? { previous: start! } : {}, PAGE_SIZE + 1);
    if (rows.length === 0 && fn === '') throw fail(CardCodes.customerCardsNone);
    const page = rows.slice(0, PAGE_SIZE);
    if (fn === 'P') page.reverse();
    const table = [];
    for (const card of page) {
      const p = card.profile as Record<string, unknown>;
      const amount = (k: string) => (typeof p[k] === 'number' ? (p[k] as number) : 0);
      // The clear number, only for the encrypted copy a PCI client with a card-number key gets.
      const pan = viewer.pci && viewer.cardNumberKey ? await this.deps.repository.panOf(card) : undefined;
      table.push({
        accountNumber: card.account_number,
        userAccountNumber: card.user_account_number ?? '',
        cardNumber: await shownCardNumber(org, card.pan_token, pan ?? (() => this.deps.repository.panOf(card))),
        cardSequence: card.card_sequence,
        cardExpireDate: expiryDate(card.expiry),
        digitalCardIndicator: card.digital ? 1 : 0,
        embosserCurrentFirstUsage: card.activation_required ? '1' : '0',
        cardBlockCode: card.block_code,
        // A card's block code is set when it is issued, or with its closing by a card action.
        cardBlockCodeDate: card.block_code === '' ? '' : card.replaced_by_card_id !== null ? card.status_date : card.created_at.toISOString().slice(0, 10),
        cardStatus: card.status,
        encryptedCardNumber: pan && viewer.cardNumberKey ? await this.deps.vault.forClient(pan, viewer.cardNumberKey) : '',
        atmCashAmount: amount('atmCashAmount'),
        atmCashAmountDaily: 0,
        retailAmount: amount('retailPurchaseAmt'),
        retailAmountDaily: 0,
        internetAmount: amount('internetPurchaseAmount'),
        internetAmountDaily: 0,
        overTheCounterAmount: amount('overTheCounterCashAmount'),
        overTheCounterAmountDaily: 0,
      });
    }
    await recordAudit(this.db, actor, { action: 'customer.cards.read', entityType: 'customer', entityId: customerNumber, organization: org.number });
    return { outputArea: { numberOfReturnedItems: table.length, hasMore: rows.length > PAGE_SIZE ? 'Y' : 'N', customerNumber, accountTable: table } };
  }
}
