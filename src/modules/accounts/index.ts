export { AccountsService, AccountCodes, toAccount, type Account, type CardAccountLookup } from './accounts.service.ts';
export * from './accounts.schemas.ts';
