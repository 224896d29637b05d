import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import {
  AccountInquiryHeaders, type AccountsService, AccountInquiryResponse, AddAccountRequest, AddAccountResponse, BlockCodeRequest, BlockCodeResponse,
} from '../../modules/accounts/index.ts';
import { responses } from '../refusals.ts';
import { actorOf, requireOrganization } from '../plugins/auth.ts';

export const accountRoutes: FastifyPluginAsyncTypebox<{ accounts: AccountsService }> = async (app, { accounts }) => {
  app.post('/account/add-L8V3', {
    schema: {
      operationId: 'accountAdd', tags: ['Accounts'], summary: 'Account Add for an existing customer of the same organization',
      body: AddAccountRequest, response: responses(AddAccountResponse, 'business-rule'),
    },
  }, async (request) => {
    requireOrganization(request, request.body.accountData.organization);
    return await accounts.add(actorOf(request), request.body);
  });

  app.get('/account/v2/accounts', {
    schema: {
      operationId: 'accountInformationInquiry', tags: ['Accounts'], summary: 'Account inquiry by account number (header account-number)',
      headers: AccountInquiryHeaders, response: responses(AccountInquiryResponse, 'business-rule'),
    },
  }, async (request) => {
    requireOrganization(request, request.headers['organization-number']);
    return await accounts.inquire(actorOf(request), request.headers);
  });

  app.put('/account/block-code', {
    schema: {
      operationId: 'accountBlockCodeUpdate', tags: ['Accounts'], summary: 'Block or unblock an account (block code 1 or 2)',
      body: BlockCodeRequest, response: responses(BlockCodeResponse, 'business-rule'),
    },
  }, async (request) => {
    requireOrganization(request, request.body.organizationNumber);
    return await accounts.updateBlockCode(actorOf(request), request.body);
  });
};
