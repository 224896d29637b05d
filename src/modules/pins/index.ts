import type { Kysely } from 'kysely';
import type { DB } from '../../db/schema.ts';
import type { SecurityModule } from '../../security-module/port.ts';
import type { Clock } from '../../shared/clock.ts';
import type { KeysService } from '../keys/index.ts';
import type { OrganizationsService } from '../organizations/index.ts';
import type { AccountsService } from '../accounts/index.ts';
import type { CardsService } from '../cards/index.ts';

export interface PinsDeps {
  db: Kysely<DB>;
  sm: SecurityModule;
  keys: KeysService;
  organizations: OrganizationsService;
  accounts: AccountsService;
  cards: CardsService;
  clock: Clock;
}

/** PINs and card security values (issue 5). */
export class PinsService {
  constructor(readonly deps: PinsDeps) {}
}
