import { parseArgs } from 'node:util';

/**
 * Command-line parsing of every emboss command, on `node:util` `parseArgs` (strict): a command
 * declares its options and arguments once (CommandSpec), and gets from it its parsing, its checks
 * (whole numbers, dates, required options) and its `--help` text. Nothing runs when the command
 * line is wrong or asks for help: the command's work starts after `parseCommand` answers.
 */

/** Exit code of a command line that is wrong (EX_USAGE): an unknown option, a missing value, a malformed number. */
export const EX_USAGE = 64;

/** A wrong command line: one line on stderr naming what is wrong, then exit EX_USAGE. */
export class UsageError extends Error {
  /** The command as typed (`files reexport`), for the pointer to its help. */
  constructor(readonly command: string, message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export interface OptionSpec {
  type: 'string' | 'boolean';
  /** The value's placeholder in the help text (`--org N`). */
  value?: string;
  short?: string;
  help: string;
  required?: boolean;
  /** Checks a value before anything runs: answers what is wrong with it, or undefined. */
  check?: (value: string) => string | undefined;
}

export interface CommandSpec {
  /** As typed: `keys`, `files list`. */
  name: string;
  /** One line, for `emboss help`. */
  summary: string;
  /** The arguments after the options, as shown in the usage line (`NAME FOLDER`); each is required. */
  args?: string[];
  /** Paragraphs after the options in the command's help. */
  details?: string;
  options?: Record<string, OptionSpec>;
}

export interface ParsedCommand {
  values: Record<string, string | boolean | undefined>;
  args: string[];
}

const HELP_OPTION: OptionSpec = { type: 'boolean', short: 'h', help: 'this text; runs nothing' };

/** A whole number from min to max (digits only: no sign, exponent or fraction). */
export const wholeNumber = (min: number, max = Number.MAX_SAFE_INTEGER) => (value: string) =>
  /^[0-9]{1,16}$/.test(value) && Number(value) >= min && Number(value) <= max
    ? undefined
    : `must be a whole number from ${min}${max < Number.MAX_SAFE_INTEGER ? ` to ${max}` : ''}`;

/** An amount: digits, and up to 2 decimals, from 0 to max. */
export const amount = (max: number) => (value: string) =>
  /^[0-9]{1,15}(\.[0-9]{1,2})?$/.test(value) && Number(value) <= max ? undefined : `must be an amount from 0 to ${max} (digits, up to 2 decimals)`;

/** A date that exists, YYYY-MM-DD. */
export const isoDate = (value: string) => {
  const ok = /^[0-9]{4}-[0-9]{2}-[0-9]{2}$/.test(value) && new Date(`${value}T00:00:00Z`).toISOString().startsWith(value);
  return ok ? undefined : 'must be a date, YYYY-MM-DD';
};

/** Up to `max` digits. */
export const digits = (max: number) => (value: string) => (/^[0-9]+$/.test(value) && value.length <= max ? undefined : `must be up to ${max} digits`);

/** The help text of one command. */
export function commandHelp(spec: CommandSpec): string {
  const options = { ...spec.options, help: HELP_OPTION };
  const required = Object.entries(options).filter(([, o]) => o.required).map(([name, o]) => `--${name}${o.value ? ` ${o.value}` : ''}`);
  const usage = ['emboss', spec.name, ...required, ...(Object.values(options).some((o) => !o.required) ? ['[options]'] : []), ...(spec.args ?? [])].join(' ');
  const rows = Object.entries(options).map(([name, o]) => [`${o.short ? `-${o.short}, ` : ''}--${name}${o.value ? ` ${o.value}` : ''}`, `${o.help}${o.required ? ' (required)' : ''}`] as const);
  const width = Math.max(...rows.map(([left]) => left.length)) + 2;
  return `usage: ${usage}\n\n${spec.summary}\n\noptions:\n${rows.map(([left, right]) => `  ${left.padEnd(width)}${right}\n`).join('')}`
    + (spec.details ? `\n${spec.details.trimEnd()}\n` : '');
}

/** Whether the arguments ask for help (before any `--`). */
export const asksForHelp = (argv: string[]) => {
  const end = argv.indexOf('--');
  return (end === -1 ? argv : argv.slice(0, end)).some((a) => a === '--help' || a === '-h');
};

/**
 * Parses a command's arguments (those after its name). Answers undefined when they ask for help,
 * after printing the command's help on stdout; throws UsageError when they are wrong.
 */
export function parseCommand(spec: CommandSpec, argv: string[]): ParsedCommand | undefined {
  if (asksForHelp(argv)) {
    process.stdout.write(commandHelp(spec));
    return undefined;
  }
  const options = Object.fromEntries(Object.entries(spec.options ?? {}).map(([name, o]) => [name, { type: o.type, ...(o.short ? { short: o.short } : {}) }]));
  // A negative number after an option that takes a value is that value (parseArgs would take it
  // for an option), to be refused as a malformed number by the option's check.
  const args: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const [a, next] = [argv[i]!, argv[i + 1]];
    const takesValue = a.startsWith('--') && spec.options?.[a.slice(2)]?.type === 'string';
    if (takesValue && next !== undefined && /^-[0-9]/.test(next)) { args.push(`${a}=${next}`); i++; } else args.push(a);
  }
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args, options, strict: true, allowPositionals: true });
  } catch (err) {
    throw new UsageError(spec.name, describeParseError(err));
  }
  const values = parsed.values as ParsedCommand['values'];
  for (const [name, o] of Object.entries(spec.options ?? {})) {
    const value = values[name];
    if (value === undefined) {
      if (o.required) throw new UsageError(spec.name, `--${name}${o.value ? ` ${o.value}` : ''} is required`);
      continue;
    }
    const problem = typeof value === 'string' ? o.check?.(value) : undefined;
    if (problem) throw new UsageError(spec.name, `--${name} ${problem} (got ${JSON.stringify(value)})`);
  }
  const wanted = spec.args ?? [];
  if (parsed.positionals.length < wanted.length) throw new UsageError(spec.name, `missing ${wanted.slice(parsed.positionals.length).join(' ')}`);
  if (parsed.positionals.length > wanted.length) throw new UsageError(spec.name, `unexpected argument ${JSON.stringify(parsed.positionals[wanted.length])}`);
  return { values, args: parsed.positionals };
}

/** parseArgs's error in one line, naming the option. */
function describeParseError(err: unknown): string {
  const e = err as { code?: string; message?: string };
  const quoted = /'([^']*)'/.exec(e.message ?? '')?.[1];
  const option = quoted?.split(' ')[0];
  switch (e.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION': return `unknown option ${option ?? ''}`.trimEnd();
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      return /does not take an argument/.test(e.message ?? '') ? `option ${option} takes no value` : `option ${option} needs a value`;
    default: return (e.message ?? String(err)).split('\n')[0]!;
  }
}
