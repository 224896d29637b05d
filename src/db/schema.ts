import type { ColumnType, Generated, JSONColumnType } from 'kysely';

/** Table types for Kysely. Each table belongs to one module (named beside it). */

type CreatedAt = ColumnType<Date, Date | string | undefined, never>;
type UpdatedAt = ColumnType<Date, Date | string | undefined, Date | string>;
/** NUMERIC: pg returns strings; written as number or string. */
type Numeric = ColumnType<string, number | string, number | string>;

// organizations module
export interface OrganizationTable {
  number: number;
  name: string;
  pan_token_enabled: boolean;
  /** The card bureau's key (type BUR) for personalization records; none: no records are produced. */
  bureau_key_name: string | null;
  /** The bureau's armored OpenPGP public key: files are then PGP-encrypted as well. */
  bureau_pgp_public_key: string | null;
  created_at: CreatedAt;
  updated_at: UpdatedAt;
}

export interface LogoTable {
  organization: number;
  number: number;
  description: string;
  bin: string;
  pan_length: number;
  expiry_months: number;
  service_code: string;
  pin_method: 'IBM3624' | 'PVV';
  pin_length: number;
  decimalization_table: string;
  pvki: number;
  max_pin_tries: number;
  pin_tries_exceeded_action: string;
  dcvv2_validity_minutes: number;
  currency: number;
  card_type: string;
  cvk_name: string | null;
  pvk_name: string | null;
  created_at: CreatedAt;
  updated_at: UpdatedAt;
}

// keys module: key blocks, each encrypted under the master key by the security module
export interface SecurityKeyTable {
  name: string;
  type: string;
  kcv: string;
  key_block: string;
  origin: 'components' | 'generated';
  created_at: CreatedAt;
}

// clients module
export interface ApiClientTable {
  client_id: string;
  apikey: string;
  secret_block: string;
  secret_fingerprint: string;
  organizations: JSONColumnType<number[]>;
  scopes: JSONColumnType<string[]>;
  key_associations: JSONColumnType<Record<string, string>>;
  card_number_key: string | null;
  token_ttl_seconds: number;
  /** How the client speaks the wire (clients module's WireProfile; migration 0012). */
  wire_profile: JSONColumnType<Record<string, unknown>, string | undefined, string>;
  created_at: CreatedAt;
  updated_at: UpdatedAt;
}

export interface AccessTokenTable {
  token_hash: string;
  client_id: string;
  issued_at: ColumnType<Date, Date, never>;
  expires_at: ColumnType<Date, Date, never>;
}

export interface ClientSignatureTable {
  signature: string;
  request_id: string;
  expires_at: Date;
}

export interface RateCounterTable {
  key: string;
  /** Epoch milliseconds (bigint: read as text). */
  until_ms: string;
  hits: number;
}

// customers module
export interface CustomerTable {
  customer_number: string;
  organization: number;
  status: number;
  name_line_1: string;
  first_name: string;
  last_name: string;
  date_of_birth: string | null;
  identification_number: string;
  profile: JSONColumnType<Record<string, unknown>>;
  created_by: string;
  created_at: CreatedAt;
  updated_at: UpdatedAt;
}

// accounts module
export interface AccountTable {
  account_number: string;
  organization: number;
  logo: number;
  customer_number: string;
  status: string;
  block_code_1: string;
  block_code_2: string;
  credit_limit: Numeric;
  billing_cycle: number;
  currency: number;
  short_name: string;
  relationship_number: string;
  date_opened: ColumnType<string, string, string>;
  profile: JSONColumnType<Record<string, unknown>>;
  created_by: string;
  created_at: CreatedAt;
  updated_at: UpdatedAt;
}

// audit module
export interface AuditEventTable {
  id: Generated<string>;
  at: CreatedAt;
  actor: string;
  request_id: string;
  action: string;
  entity_type: string;
  entity_id: string;
  organization: number | null;
  details: JSONColumnType<Record<string, unknown>>;
}

// idempotency module
export interface IdempotencyKeyTable {
  client_id: string;
  request_id: string;
  fingerprint: string;
  status_code: number | null;
  /** The stored response, encrypted under the system DEK (it may carry card data). */
  response_sealed: string | null;
  /** The run of the request that holds the id while it runs (null once answered, or for an inquiry's record). */
  holder: string | null;
  /** Until when that run holds it: a later retry of a request still unanswered takes the id over. */
  lease_until: Date | null;
  /** The request's signature, unique: a signature is accepted with one request id (0010). */
  signature: string | null;
  created_at: CreatedAt;
}

// cards module
export interface CardNumberTable {
  pan_hash: string;
  pan_token: string;
  pan_encrypted: string;
  bin: string;
  last4: string;
  organization: number;
  logo: number;
  created_at: CreatedAt;
}

export interface CardTable {
  id: Generated<string>;
  pan_hash: string;
  card_sequence: number;
  pan_token: string;
  organization: number;
  logo: number;
  account_number: string;
  customer_number: string;
  /** YYMM */
  expiry: string;
  service_code: string;
  /** 0 active, 1 inactive (temporary), 2 blocked by the issuer, 3 closed for good. */
  status: number;
  status_date: string;
  activation_required: boolean;
  activated_at: Date | null;
  block_code: string;
  embossed_name_1: string;
  embossed_name_2: string;
  digital: boolean;
  /** PENDING: a plastic is to be produced; NONE: digital card. */
  plastic_status: string;
  pin_suppressed: boolean;
  /** The PIN as the security module stores it (a PIN block under the master key). */
  pin_stored: string | null;
  /** PVV (4 digits) or IBM 3624 offset. */
  pin_verification: string | null;
  pin_tries: Generated<number>;
  pin_last_invalid: string | null;
  pin_blocked: Generated<boolean>;
  dcvv2_active: Generated<boolean>;
  /** pins module: the last dCVV2 generated (time, validity used, end of its window). */
  dcvv2_generated_at: Date | null;
  dcvv2_validity_minutes: number | null;
  dcvv2_expires_at: Date | null;
  /** pins module: wrong CVV2/dCVV2 values, counted like PIN tries. */
  cvv2_tries: Generated<number>;
  cvv2_last_invalid: string | null;
  cvv2_blocked: Generated<boolean>;
  profile: JSONColumnType<Record<string, unknown>>;
  created_by: string;
  created_at: CreatedAt;
  updated_at: UpdatedAt;
  /** Card actions: the card this one replaces, the card that replaced this one. */
  replaces_card_id: string | null;
  replaced_by_card_id: string | null;
  last_action: Generated<number>;
  last_action_reason: Generated<string>;
  /** Mass issue: the request and the card's position in it. */
  mass_request_id: string | null;
  mass_seq: number | null;
}

// pins module
/** Verifications and PIN unblocks of a card on a UTC day, against the daily caps (migration 0011). */
export interface CardDailyLimitTable {
  card_id: string;
  /** YYYY-MM-DD, UTC. */
  day: string;
  verifications: Generated<number>;
  unblocks: Generated<number>;
}

// personalization module
export interface PersonalizationFileTable {
  id: Generated<string>;
  file_id: string;
  organization: number;
  logo: number;
  planned_at: Date;
  /** FILLING: a mass issue's file still receiving its records; PLANNED: records assigned, not yet written; WRITTEN: on disk. */
  status: 'FILLING' | 'PLANNED' | 'WRITTEN';
  name: string | null;
  record_count: number;
  sha256: string | null;
  written_at: Date | null;
  /** A mass issue's file: its request, the positions it covers and the records it expects (see migration 0008). */
  mass_request_id: string | null;
  mass_first: number | null;
  mass_last: number | null;
  expected_records: number | null;
}

export interface PersonalizationRecordTable {
  id: Generated<string>;
  organization: number;
  logo: number;
  card_id: string;
  reason: string;
  reference: string;
  encrypted_record: string;
  cipher: string;
  bureau_kcv: string;
  file_id: string | null;
  created_at: CreatedAt;
}

// issuance module
export interface MassIssueRequestTable {
  id: Generated<string>;
  organization: number;
  logo: number;
  card_type: number;
  status: 'PENDING' | 'RUNNING' | 'COMPLETED' | 'FAILED';
  quantity: number;
  created: Generated<number>;
  customer_number: string;
  credit_limit: Numeric;
  /** YYMM */
  expiry: string;
  request: JSONColumnType<Record<string, unknown>>;
  created_by: string;
  started_at: Date | null;
  finished_at: Date | null;
  /** Start of the current run and the count then: the rate and ETA of this run. */
  run_started_at: Date | null;
  run_started_count: Generated<number>;
  last_error: string | null;
  created_at: CreatedAt;
  updated_at: UpdatedAt;
}

// events module (migration 0013)
export interface EventTable {
  n: Generated<string>;
  id: Generated<string>;
  seq: string | null;
  subject: string;
  subject_seq: number | null;
  type: string;
  card_token: string | null;
  organization: number | null;
  occurred_at: CreatedAt;
  data: JSONColumnType<Record<string, unknown>>;
}

export interface WebhookEndpointTable {
  id: Generated<string>;
  client_id: string;
  url: string;
  secret_sealed: string;
  event_types: JSONColumnType<string[]>;
  organizations: JSONColumnType<number[]>;
  created_at: CreatedAt;
  deleted_at: Date | null;
}

export interface WebhookDeliveryTable {
  id: Generated<string>;
  endpoint_id: string;
  event_n: string;
  subject: string;
  subject_seq: number;
  status: 'pending' | 'delivered' | 'failed' | 'cancelled';
  attempts: number;
  first_attempt_at: Date | null;
  next_attempt_at: Date;
  done_at: Date | null;
}

export interface WebhookAttemptTable {
  id: Generated<string>;
  delivery_id: string;
  at: CreatedAt;
  status_code: number | null;
  error: string | null;
  duration_ms: number;
}

export interface DB {
  events: EventTable;
  webhook_endpoints: WebhookEndpointTable;
  webhook_deliveries: WebhookDeliveryTable;
  webhook_attempts: WebhookAttemptTable;
  mass_issue_requests: MassIssueRequestTable;
  personalization_files: PersonalizationFileTable;
  personalization_records: PersonalizationRecordTable;
  card_numbers: CardNumberTable;
  cards: CardTable;
  card_daily_limits: CardDailyLimitTable;
  organizations: OrganizationTable;
  logos: LogoTable;
  security_keys: SecurityKeyTable;
  api_clients: ApiClientTable;
  access_tokens: AccessTokenTable;
  client_signatures: ClientSignatureTable;
  rate_counters: RateCounterTable;
  customers: CustomerTable;
  accounts: AccountTable;
  audit_events: AuditEventTable;
  idempotency_keys: IdempotencyKeyTable;
}
