/*
 * Limits the command line checks before it loads anything of the domain (src/cli/index.ts reads
 * and checks a command line with no module loaded: --help and a wrong option answer at once).
 * The modules that own them re-export them.
 */

/** Records of one bureau file at most: a file is built in memory, so this bounds memory per file too. */
export const MAX_RECORDS_PER_FILE = 20_000;
