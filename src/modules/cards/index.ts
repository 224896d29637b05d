export { CardsService, CardCodes, CardStatus, cardProblem, expiryDate, isExpired, maskPan, pinMethodOf, shownCardNumber, type CardRow, type Viewer, type IssueSpec, type IssuedCard, type MassIssueSpec, type PreparedMassCard, type CardsDeps } from './cards.service.ts';
export { CardActions, CardActionCodes, CARD_ACTIONS, type CardActionsDeps } from './card-actions.ts';
export type { CardActionHandler } from './cards.service.ts';
export { CardVault, type ProtectedPan, type SystemKeyBlocks } from './card-vault.ts';
export * from './cards.schemas.ts';
export { CardDetailsResponse, cardDetailsBody, type CardDetailsView } from './card-details.ts';
