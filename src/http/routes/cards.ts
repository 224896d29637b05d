import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import {
  CardActionRequest, CardActionResponse, CardActivationRequest, CardActivationResponse, CardAddRequest, CardAddResponse, CardDetailsRequest, CardDetailsResponse,
  CardStatusRequest, CardStatusResponse, CustomerCardsHeaders, CustomerCardsQuery, CustomerCardsResponse, InstantCardRequest,
  InstantCardResponse, PanInquiryRequest, PanInquiryResponse, type CardActions, type CardInquiries, type CardIssuing, type CardStateChanges, type Viewer,
} from '../../modules/cards/index.ts';
import { responses } from '../refusals.ts';
import { actorOf, hasPciScope, requireOrganization } from '../plugins/auth.ts';

/** The calling client's PCI scope and card-number key: what it gets under that key (card-pan, encryptedCardNumber, tracks). */
const viewerOf = (request: FastifyRequest): Viewer => ({ pci: hasPciScope(request), cardNumberKey: request.client?.cardNumberKey ?? null });

/** The services the card routes call (app.ts passes them). */
export interface CardRoutesOptions {
  cards: { issuing: CardIssuing; inquiries: CardInquiries; stateChanges: CardStateChanges; actions: CardActions };
}

export const cardRoutes: FastifyPluginAsyncTypebox<CardRoutesOptions> = async (app, { cards }) => {
  app.post('/cards/embosser/l8vf', {
    // The card insert records the request id with the card (see CardRepository.insert): no reservation first.
    config: { reservesInWrite: true },
    schema: { operationId: 'embosserAdd', tags: ['Cards'], summary: 'Card Add: a new card (number generated from the logo BIN, or given) on an account', body: CardAddRequest, response: responses(CardAddResponse, 'business-rule') },
  }, async (request) => {
    requireOrganization(request, request.body.organizationNumber);
    return await cards.issuing.add(actorOf(request), request.body);
  });

  // Upstream's path and the same operation under a shorter path (an operationId each).
  for (const [url, operationId] of [['/cards/embosser/card-pan-l8v2', 'cardOrPanTokenInquiry'], ['/cards/embosser/card-pan', 'cardOrPanTokenInquiryAlias']] as const) {
    app.post(url, {
      config: { scope: 'pci', inquiry: true },
      schema: {
        operationId, tags: ['Cards'],
        summary: 'PAN token inquiry (PCI scope): cardNumber is, by its form, a card number encrypted under the client\'s card-number key (32 hex), a PAN token (19 characters with a letter) '
          + 'or a clear card number (12-19 digits, zero-padded or not), for functionType C or P alike; the answer carries both the encrypted card number and the PAN token '
          + '(empty without PAN tokens; a token in, or P, is then 422 VPL5SEA16S)',
        body: PanInquiryRequest, response: responses(PanInquiryResponse, 'business-rule'),
      },
    }, async (request) => {
      requireOrganization(request, request.body.organizationNumber);
      return await cards.inquiries.panInquiry(actorOf(request), request.body, viewerOf(request));
    });
  }

  app.post('/cards/v2/embosser/details', {
    config: { inquiry: true },
    schema: { operationId: 'embosserInquiry', tags: ['Cards'], summary: 'Card details by card number or PAN token and sequence', body: CardDetailsRequest, response: responses(CardDetailsResponse, 'business-rule') },
  }, async (request) => {
    requireOrganization(request, Number(request.body.organizationNumber));
    return await cards.inquiries.details(actorOf(request), request.body);
  });

  app.get('/customer/v3/cards/details', {
    schema: {
      operationId: 'cardsDetailsInquiry', tags: ['Cards'], summary: 'The cards of a customer (header customerNumber), by account, 20 at a time',
      querystring: CustomerCardsQuery, headers: CustomerCardsHeaders, response: responses(CustomerCardsResponse, 'business-rule'),
    },
  }, async (request) => {
    requireOrganization(request, request.query.organizationNumber);
    return await cards.inquiries.customerCards(actorOf(request), request.query, request.headers.customernumber, viewerOf(request));
  });

  app.post('/account/v2/instantCard', {
    schema: {
      operationId: 'instantCardAdd', tags: ['Cards'], summary: 'Instant card: the account (accountCreateFlag Y) and an active card in one step; digitalCardFlag 1 for a virtual card',
      body: InstantCardRequest, response: responses(InstantCardResponse, 'business-rule'),
    },
  }, async (request) => {
    requireOrganization(request, request.body.organizationNumber);
    return await cards.issuing.instantCard(actorOf(request), request.body);
  });

  app.put('/cards/status-L8V1', {
    schema: { operationId: 'cardStatusUpdate', tags: ['Cards'], summary: 'Card status: 0 active, 1 inactive, 2 blocked by the issuer, 3 closed (final)', body: CardStatusRequest, response: responses(CardStatusResponse, 'business-rule') },
  }, async (request) => {
    requireOrganization(request, request.body.organizationNumber);
    return await cards.stateChanges.updateStatus(actorOf(request), request.body);
  });

  app.put('/cards/activation', {
    schema: { operationId: 'cardActivation', tags: ['Cards'], summary: 'Card activation: S this card, A every card of its account', body: CardActivationRequest, response: responses(CardActivationResponse, 'business-rule') },
  }, async (request) => {
    requireOrganization(request, request.body.organizationNumber);
    return await cards.stateChanges.activate(actorOf(request), request.body);
  });

  app.put('/cards/embosser/cardAction-L8V2', {
    schema: {
      operationId: 'cardActionUpdate', tags: ['Cards'],
      summary: 'Card action: 0 none, 1 additional plastic, 2 renewal, 3 damaged, 4 lost/stolen (new number), 5 PIN reissue, 6 emergency, 7 compromised (new number)',
      body: CardActionRequest, response: responses(CardActionResponse, 'business-rule'),
    },
  }, async (request) => {
    requireOrganization(request, request.body.organizationNumber);
    return await cards.actions.update(actorOf(request), request.body, viewerOf(request));
  });
};
