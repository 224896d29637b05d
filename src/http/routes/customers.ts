import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import {
  AddCustomerRequest, AddCustomerResponse, DemographicInquiryRequest, DemographicInquiryResponse,
  UpdateCustomerRequest, UpdateCustomerResponse, type CustomersService,
} from '../../modules/customers/index.ts';
import { CustomerAccountsRequest, CustomerAccountsResponse, type AccountsService } from '../../modules/accounts/index.ts';
import { responses } from '../refusals.ts';
import { actorOf, requireOrganization } from '../plugins/auth.ts';

/** Customers, and a customer's accounts (the accounts service lists them). */
export const customerRoutes: FastifyPluginAsyncTypebox<{ customers: CustomersService; accounts: AccountsService }> = async (app, { customers, accounts }) => {
  app.post('/customer/l8v2', {
    schema: {
      operationId: 'customerAdd', tags: ['Customers'], summary: 'Customer Add: the number is generated when empty or zeros',
      body: AddCustomerRequest, response: responses(AddCustomerResponse, 'business-rule'),
    },
  }, async (request) => {
    requireOrganization(request, request.body.customerData.customerKeyData.organizationNumber);
    return await customers.add(actorOf(request), request.body);
  });

  app.post('/customer/demographicData-l8v2', {
    config: { inquiry: true },
    schema: {
      operationId: 'demographicInquiry', tags: ['Customers'], summary: 'Customer demographic inquiry by customer or account number',
      body: DemographicInquiryRequest, response: responses(DemographicInquiryResponse, 'business-rule'),
    },
  }, async (request) => {
    requireOrganization(request, request.body.organizationNumber);
    return await customers.demographics(actorOf(request), request.body);
  });

  app.put('/customer/', {
    schema: {
      operationId: 'customerUpdate', tags: ['Customers'], summary: 'Customer Update: demographic and user data',
      body: UpdateCustomerRequest, response: responses(UpdateCustomerResponse, 'business-rule'),
    },
  }, async (request) => {
    requireOrganization(request, request.body.organizationNumber);
    return await customers.update(actorOf(request), request.body);
  });

  app.post('/customer/accountNumber', {
    config: { inquiry: true },
    schema: {
      operationId: 'accountNumberInquiry', tags: ['Customers'], summary: 'Accounts of a customer, 20 at a time',
      body: CustomerAccountsRequest, response: responses(CustomerAccountsResponse, 'business-rule'),
    },
  }, async (request) => {
    requireOrganization(request, request.body.organizationNumber);
    return await accounts.listByCustomer(actorOf(request), request.body);
  });
};
