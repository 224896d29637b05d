export { AccountsService, AccountCodes, accountOwnerQuery, toAccount, type Account, type CardAccountLookup } from './accounts.service.ts';
export * from './accounts.schemas.ts';
