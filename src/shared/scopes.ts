/**
 * What a client may do (docs/security.md has the table of scope × route):
 * - cards: customers, accounts, cards, PIN validation and change, PIN block, try counters;
 * - pci: card-pan (a card's number under the client's card-number key, never in clear) and
 *   security values (CVV, CVV2, iCVV, PIN block), CVV2 verification, dynamic CVV2 generation;
 *   no response shows a clear card number, whatever the scope;
 * - dcvv2: dynamic CVV2 generation alone (for a cardholder-facing app: no other security value);
 * - pin-admin: an operator's duty: unblocking a PIN, which resets the invalid-try counters;
 * - events: the card lifecycle events of the client's organizations (GET /events) and the
 *   client's webhook endpoints (docs/events.md);
 * - admin: no route yet (reserved for operator endpoints).
 * Here, low in the layout, because the bootstrap file's schema names them too.
 */
export const SCOPES = ['cards', 'pci', 'dcvv2', 'pin-admin', 'events', 'admin'] as const;
export type Scope = typeof SCOPES[number];
