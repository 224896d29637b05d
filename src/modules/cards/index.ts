/**
 * Cards: issuing (card add, instant card, mass issue: one path), inquiries (card-pan, details,
 * a customer's cards), state changes (status, activation), card actions, and the repository that
 * owns the `cards` and `card_numbers` tables.
 */
export {
  CardCodes, CardStatus, cardProblem, accountProblem, expiryDate, isExpired, maskPan, pinMethodOf, shownCardNumber, type CardRow, type Viewer,
} from './card-rules.ts';
export { CardRepository, type CorrectCheck, type Dcvv2ModeChange, type FoundCard, type GuardedAudit, type TryCounter } from './card-repository.ts';
export { CardIssuing, MassPositionTaken, type CardIssuingDeps, type IssueSpec, type IssuedCard, type MassIssueSpec, type PreparedMassCard } from './issuing.ts';
export { CardInquiries, type CardInquiriesDeps } from './inquiries.ts';
export { CardStateChanges, type CardStateChangesDeps } from './state-changes.ts';
export { CardActions, CardActionCodes, CARD_ACTIONS, type CardActionsDeps } from './card-actions.ts';
export { CardVault, type SystemKeyBlocks } from './card-vault.ts';
export * from './cards.schemas.ts';
export { CardDetailsResponse, cardDetailsBody, type CardDetailsView } from './card-details.ts';
