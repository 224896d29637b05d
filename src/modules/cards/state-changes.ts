import type { Kysely } from 'kysely';
import type { DB } from '../../db/schema.ts';
import type { Actor } from '../../shared/actor.ts';
import type { Clock } from '../../shared/clock.ts';
import { refusal as fail } from '../../shared/errors.ts';
import { pad19 } from '../../shared/ids.ts';
import { recordAudit } from '../audit/index.ts';
import { recordEvent, recordEvents } from '../events/index.ts';
import { answeredWrite } from '../idempotency/index.ts';
import type { AccountsService } from '../accounts/index.ts';
import type { OrganizationsService } from '../organizations/index.ts';
import type { CardRepository } from './card-repository.ts';
import { CardCodes, CardStatus, isExpired, shownCardNumber, yymm } from './card-rules.ts';
import type { CardActivationRequest, CardStatusRequest } from './cards.schemas.ts';

export interface CardStateChangesDeps {
  db: Kysely<DB>;
  repository: CardRepository;
  organizations: OrganizationsService;
  accounts: AccountsService;
  clock: Clock;
}

/** A card's state: its status (0–3) and its activation. Each change is audited and makes an event. */
export class CardStateChanges {
  private readonly db: Kysely<DB>;
  constructor(private readonly deps: CardStateChangesDeps) {
    this.db = deps.db;
  }

  /** PUT /cards/status-L8V1 */
  async updateStatus(actor: Actor, request: CardStatusRequest) {
    const org = request.organizationNumber;
    if (!(await this.deps.organizations.organization(org))) throw fail(CardCodes.statusOrgNotFound);
    if (![0, 1, 2, 3].includes(request.cardStatus)) throw fail(CardCodes.statusInvalid);
    const now = this.deps.clock.now();
    return answeredWrite(this.db, actor, async (trx) => {
      const found = await this.deps.repository.resolve(org, request.cardNumber, request.cardSequence, trx);
      if (!found) throw fail(CardCodes.statusCardNotFound);
      const card = await this.deps.repository.locked(trx, found.id);
      const account = await this.deps.accounts.find(org, card.account_number, trx);
      if (!account || account.status === 'C') throw fail(CardCodes.statusAccountClosed);
      if (card.status === CardStatus.closed) throw fail(CardCodes.statusFinal);
      if (card.status === request.cardStatus) throw fail(CardCodes.statusSame);
      if (isExpired(card.expiry, now)) throw fail(CardCodes.statusExpired);
      await this.deps.repository.setStatus(trx, card.id, request.cardStatus, now);
      await recordAudit(trx, actor, {
        action: 'card.status', entityType: 'card', entityId: card.pan_token, organization: org,
        details: { from: card.status, to: request.cardStatus, sequence: card.card_sequence, representativeId: request.representativeId ?? '' },
      });
      await recordEvent(trx, {
        type: 'card.status_changed', cardToken: card.pan_token, organization: org,
        data: { from: card.status, to: request.cardStatus, sequence: card.card_sequence },
      });
      return { successMessage: `CARD STATUS UPDATED FROM ${card.status} TO ${request.cardStatus}` };
    });
  }

  /** PUT /cards/activation: S activates the card; A every card awaiting activation on its account. */
  async activate(actor: Actor, request: CardActivationRequest) {
    const org = request.organizationNumber;
    const organization = await this.deps.organizations.organization(org);
    if (!organization) throw fail(CardCodes.activationOrgNotFound);
    if (!['A', 'S'].includes(request.serviceType)) throw fail(CardCodes.activationBadType);
    const now = this.deps.clock.now();
    return answeredWrite(this.db, actor, async (trx) => {
      const card = await this.deps.repository.resolve(org, request.cardNumber, undefined, trx);
      let accountNumber: string;
      if (card) {
        accountNumber = card.account_number;
      } else {
        const account = /^[0-9]+$/.test(request.cardNumber) ? await this.deps.accounts.find(org, request.cardNumber, trx) : undefined;
        if (!account) throw fail(CardCodes.activationCardNotFound);
        if (request.serviceType !== 'A') throw fail(CardCodes.activationAccountNeedsA);
        accountNumber = account.accountNumber;
      }
      const account = await this.deps.accounts.find(org, accountNumber, trx);
      if (!account || account.status === 'C') throw fail(CardCodes.accountClosed);
      if (card && request.serviceType === 'S') {
        if (card.status === CardStatus.closed) throw fail(CardCodes.cardNotActive);
        if (isExpired(card.expiry, now)) throw fail(CardCodes.cardExpired);
      }
      const updated = await this.deps.repository.activate(trx, accountNumber, request.serviceType === 'S' ? card!.id : undefined, now, yymm(now));
      for (const u of updated) {
        await recordAudit(trx, actor, { action: 'card.activate', entityType: 'card', entityId: u.pan_token, organization: org, details: { serviceType: request.serviceType } });
      }
      await recordEvents(trx, updated.map((u) => ({
        type: 'card.activated' as const, cardToken: u.pan_token, organization: org, data: { sequence: u.card_sequence, serviceType: request.serviceType },
      })));
      // Named by an account number (A): the account number is echoed.
      const shownCard = card ? await shownCardNumber(organization, card.pan_token, () => this.deps.repository.panOf(card, trx)) : pad19(accountNumber);
      return {
        organizationNumber: org, logo: account.logo, cardNumber: shownCard, serviceType: request.serviceType, numberCardsActivated: updated.length,
        foreignOrg: 0, numberForeignCardsActivated: 0,
      };
    });
  }
}
