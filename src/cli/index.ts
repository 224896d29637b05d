import type { Settings } from '../config/env.ts';
import type { Logger } from '../shared/logger.ts';
import { Refusal } from '../shared/errors.ts';
import { stringProblem } from '../shared/storable-text.ts';
import { MAX_RECORDS_PER_FILE } from '../shared/limits.ts';
import {
  amount, asksForHelp, digits, EX_USAGE, isoDate, parseCommand, UsageError, wholeNumber,
  type CommandSpec, type OptionSpec,
} from './args.ts';

const JSON_OPTION: OptionSpec = { type: 'boolean', help: 'print the result as JSON on stdout (one document)' };

/** A name of a customer add: what the HTTP API accepts (40 characters, no control character). */
const personName = (value: string) => (value.length <= 40 && !stringProblem(value) ? undefined : 'must be at most 40 characters, without control characters');

/**
 * Every command: its options, arguments and help (src/cli/args.ts). Results go to stdout, logs
 * (JSON lines) to stderr — except `serve`'s, whose logs are its output (see src/main.ts).
 */
const COMMANDS: Record<string, CommandSpec> = {
  serve: {
    name: 'serve', summary: 'Start the HTTP API (the default command); applies migrations and the bootstrap file.',
    details: 'Settings come from the environment (emboss help). Its logs (JSON lines) go to stdout: a server\'s logs are its output.\n'
      + 'With EMBOSS_API_PROCESSES > 1 (PostgreSQL), this process starts that many API processes sharing the port.',
  },
  migrate: {
    name: 'migrate', summary: 'Apply the database migrations and exit; prints the migrations applied, one a line.',
    options: { json: JSON_OPTION },
  },
  'config check': {
    name: 'config check', args: ['FILE'], summary: 'Validate a bootstrap file without applying it (nothing is opened or written).',
    options: { json: JSON_OPTION },
  },
  keys: {
    name: 'keys', summary: 'List the stored keys: name, type, check value, origin (never a key).',
    options: { json: JSON_OPTION },
  },
  'customers add': {
    name: 'customers add', summary: 'Add a customer (as POST /customer/l8v2 does) and print its number, e.g. for issue-batch --customer.',
    options: {
      org: { type: 'string', value: 'N', required: true, help: 'organization number (the demo set-up has 100)', check: wholeNumber(1, 998) },
      'first-name': { type: 'string', value: 'TEXT', help: 'owner\'s first name', check: personName },
      'last-name': { type: 'string', value: 'TEXT', help: 'owner\'s last name', check: personName },
      'customer-number': { type: 'string', value: 'DIGITS', help: 'the customer number (default: one is generated)', check: digits(19) },
      json: { ...JSON_OPTION, help: 'print the whole answer (as the API\'s) as JSON on stdout' },
    },
    details: 'Recorded in the audit trail as done by "cli".',
  },
  'issue-batch': {
    name: 'issue-batch', summary: 'Mass issue in this process, with a progress bar (on stderr).',
    options: {
      org: { type: 'string', value: 'N', required: true, help: 'organization number', check: wholeNumber(1, 998) },
      logo: { type: 'string', value: 'N', required: true, help: 'logo number', check: wholeNumber(1, 998) },
      'card-type': { type: 'string', value: 'N', help: 'card type, with org and logo identifies the request (default 1)', check: wholeNumber(0, 99) },
      quantity: { type: 'string', value: 'N', required: true, help: 'cards in all', check: wholeNumber(1, 1_000_000) },
      customer: { type: 'string', value: 'NUMBER', help: 'the customer of every account (required for a new request; emboss customers add makes one)', check: digits(19) },
      'credit-limit': { type: 'string', value: 'AMOUNT', help: 'credit limit of each account', check: amount(999_999_999) },
      expiry: { type: 'string', value: 'YYYY-MM-DD', help: 'expiry of the cards (default: the logo\'s expiry months)', check: isoDate },
      chunk: { type: 'string', value: 'N', help: 'cards per transaction (default 1000)', check: wholeNumber(1) },
      parallel: { type: 'string', value: 'N', help: 'chunks in flight (default 2)', check: wholeNumber(1) },
      'records-per-file': { type: 'string', value: 'N', help: `records per bureau file (default ${MAX_RECORDS_PER_FILE})`, check: wholeNumber(1, MAX_RECORDS_PER_FILE) },
      json: JSON_OPTION,
    },
    details: 'An existing request of the same org/logo/card type is modified (or resumed when the quantity is unchanged).',
  },
  'files list': {
    name: 'files list', summary: 'List the personalization files (name, records, status, SHA-256); `emboss files` alone does too.',
    options: { json: JSON_OPTION },
  },
  'files flush': {
    name: 'files flush', summary: 'Write the pending personalization records to files now; prints the files written.',
    options: { json: JSON_OPTION },
  },
  'files reexport': {
    name: 'files reexport', args: ['NAME', 'FOLDER'], summary: 'Copy a written file, byte for byte, to FOLDER (retransmission to the bureau).',
    options: { json: JSON_OPTION },
  },
  'events replay': {
    name: 'events replay', summary: 'Deliver again the card events after a cursor to the webhook endpoints (docs/events.md).',
    options: {
      after: { type: 'string', value: 'CURSOR', required: true, help: 'the cursor of the last event to leave out (0: from the first)', check: (v: string) => (/^[0-9]{1,18}$/.test(v) ? undefined : 'must be a cursor: digits') },
      endpoint: { type: 'string', value: 'ID', help: 'only this endpoint (default: every endpoint that wants the events)', check: (v: string) => (v.length > 0 && v.length <= 64 ? undefined : 'must be an endpoint id') },
      json: JSON_OPTION,
    },
    details: 'The deliveries are queued here and sent by the running server\'s job worker, in order per card after those pending; receivers drop ids they have seen.',
  },
  'tokens revoke': {
    name: 'tokens revoke', args: ['CLIENT_ID'], summary: 'Revoke every bearer token of a client, at once in every API process.',
    options: { json: JSON_OPTION },
  },
};

/** Commands with subcommands; `default` runs when none is given. */
const GROUPS: Record<string, { subcommands: string[]; default?: string }> = {
  config: { subcommands: ['check'] },
  customers: { subcommands: ['add'] },
  files: { subcommands: ['list', 'flush', 'reexport'], default: 'list' },
  tokens: { subcommands: ['revoke'] },
  events: { subcommands: ['replay'] },
};

const ENVIRONMENT = `Environment: HOST, PORT, DATABASE_URL, EMBOSS_DATA_DIR, EMBOSS_CONFIG, EMBOSS_MASTER_KEY,
LOG_LEVEL, RATE_LIMIT_PER_MINUTE, EMBOSS_AUTH_FAILURES_PER_MINUTE, EMBOSS_TOKENS_PER_MINUTE,
EMBOSS_TOKEN_LOCKOUT_FAILURES, SIGNATURE_WINDOW_SECONDS, DB_POOL_SIZE, EMBOSS_WORKER,
EMBOSS_API_PROCESSES, EMBOSS_SHUTDOWN_SECONDS (SIGTERM/SIGINT: how long requests and jobs in
flight may take to finish, default 10), EMBOSS_REQUEST_LEASE_SECONDS (how long a request id whose
run died without an answer stays "in progress", default 10).

Output: results on stdout (--json where they are data), logs (JSON lines) on stderr; \`serve\`
logs on stdout. Exit codes: 0 done, 1 failed, 64 wrong command line (unknown option, missing or
malformed value), 65 refused by a business rule (the error code and description are printed),
75 the embedded database is in use by another process, 78 configuration error.

The embedded database (no DATABASE_URL) belongs to one process at a time: while \`serve\` runs
on a data folder, the other commands on that folder are refused (exit code 75); stop the server
first, or use PostgreSQL (DATABASE_URL), where they can run side by side.
`;

function overallHelp(): string {
  const rows = Object.values(COMMANDS).map((c) => [`${c.name}${c.args ? ` ${c.args.join(' ')}` : ''}`, c.summary] as const);
  rows.push(['help [COMMAND]', 'this text, or a command\'s (as `emboss COMMAND --help`)']);
  const width = Math.max(...rows.map(([left]) => left.length)) + 2;
  return `emboss — card management system\n\nusage: emboss [command] [options]   (every command takes --help)\n\n`
    + `${rows.map(([left, right]) => `  ${left.padEnd(width)}${right}\n`).join('')}\n${ENVIRONMENT}`;
}

function groupHelp(group: string): string {
  const specs = GROUPS[group]!.subcommands.map((s) => COMMANDS[`${group} ${s}`]!);
  const width = Math.max(...specs.map((c) => c.name.length + (c.args ? c.args.join(' ').length + 1 : 0))) + 2;
  return `usage: emboss ${group} ${GROUPS[group]!.default ? '[' : '<'}${GROUPS[group]!.subcommands.join('|')}${GROUPS[group]!.default ? ']' : '>'} [options]\n\n`
    + specs.map((c) => `  ${`${c.name}${c.args ? ` ${c.args.join(' ')}` : ''}`.padEnd(width)}${c.summary}\n`).join('')
    + `\n\`emboss ${group} COMMAND --help\` shows a command's options.\n`;
}

/** Exit code of a command refused because another process holds the embedded database (EX_TEMPFAIL). */
export const EXIT_STORE_IN_USE = 75;
/** Exit code of a command a business rule refused (EX_DATAERR): a customer or organization not on file, … */
export const EXIT_REFUSED = 65;

/** What a command runs with: the settings and the logger. */
export interface CliContext { settings: Settings; logger: Logger }

/**
 * Runs a command line. `context` makes the settings and the logger for the command (its first
 * word, `serve` by default), and is called only once a command is to run: help and a wrong
 * command line load neither (nor the packages behind them), and answer in a third of the time.
 */
export async function runCli(argv: string[], context: (command: string) => Promise<CliContext>): Promise<number | undefined> {
  const command = argv[0] ?? 'serve';
  try {
    return await runCommand(command, argv.slice(1), () => context(command));
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`emboss ${err.command}: ${err.message} (see: emboss ${err.command} --help)\n`);
      return EX_USAGE;
    }
    if (err instanceof Refusal) {
      const name = GROUPS[command] && argv[1] && !argv[1].startsWith('-') ? `${command} ${argv[1]}` : command;
      process.stderr.write(`emboss ${name}: refused: ${err.code} ${err.description}\n`);
      return EXIT_REFUSED;
    }
    // Only a command that opened the database throws this, and then the module is loaded already.
    const { StoreLockedError } = await import('../db/database.ts');
    if (!(err instanceof StoreLockedError)) throw err;
    // What to do instead, for the command given: two openers would break the data folder.
    const instead = command === 'serve'
      ? 'Another emboss already serves from this data folder: stop it first, start this one with another EMBOSS_DATA_DIR, '
        + 'or run both against PostgreSQL (DATABASE_URL=postgres://…).'
      : 'Stop the server that uses it first (emboss serve, npm start), or run against PostgreSQL (DATABASE_URL=postgres://…), '
        + 'where the server and the other commands can work at the same time.';
    process.stderr.write(`emboss ${command}: ${err.message}.\n${instead}\n`);
    return EXIT_STORE_IN_USE;
  }
}

/** A command's arguments, parsed (undefined: help was asked for and printed). */
const parse = (name: string, rest: string[]) => parseCommand(COMMANDS[name]!, rest);

/**
 * A command with subcommands: the subcommand's name and its arguments. Undefined when the group's
 * help was asked for (and printed).
 */
function subcommand(group: string, rest: string[]): { name: string; rest: string[] } | undefined {
  const { subcommands, default: fallback } = GROUPS[group]!;
  const sub = rest[0];
  if (sub !== undefined && !sub.startsWith('-')) {
    if (!subcommands.includes(sub)) throw new UsageError(group, `unknown command ${JSON.stringify(sub)}: one of ${subcommands.join(', ')}`);
    return { name: `${group} ${sub}`, rest: rest.slice(1) };
  }
  if (asksForHelp(rest)) {
    process.stdout.write(groupHelp(group));
    return undefined;
  }
  if (!fallback) throw new UsageError(group, `missing command: one of ${subcommands.join(', ')}`);
  return { name: `${group} ${fallback}`, rest };
}

async function runCommand(command: string, rest: string[], context: () => Promise<CliContext>): Promise<number | undefined> {
  if (GROUPS[command]) {
    const sub = subcommand(command, rest);
    if (!sub) return 0;
    const args = parse(sub.name, sub.rest);
    return args ? (await import('./commands.ts')).runParsed(sub.name, args, await context()) : 0;
  }
  switch (command) {
    case 'help': case '--help': case '-h': {
      // `emboss help COMMAND`: that command's help.
      if (rest[0] && (COMMANDS[rest[0]] || GROUPS[rest[0]])) return runCommand(rest[0], [...rest.slice(1), '--help'], context);
      process.stdout.write(overallHelp());
      return 0;
    }
    case 'serve': {
      if (!parse('serve', rest)) return 0;
      const { settings, logger } = await context();
      const { default: cluster } = await import('node:cluster');
      return settings.EMBOSS_API_PROCESSES > 1 && cluster.isPrimary
        ? (await import('./api-processes.ts')).servePrimary(settings, logger)
        : (await import('./serve.ts')).serveHere(settings, logger);
    }
    default: {
      if (!COMMANDS[command]) {
        process.stderr.write(`emboss: unknown command ${JSON.stringify(command)} (see: emboss help)\n`);
        return EX_USAGE;
      }
      const args = parse(command, rest);
      return args ? (await import('./commands.ts')).runParsed(command, args, await context()) : 0;
    }
  }
}
