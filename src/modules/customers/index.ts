export { CustomersService, CustomerCodes, type Customer, type AccountOwnerLookup } from './customers.service.ts';
export * from './customers.schemas.ts';
