/**
 * The arguments that run an emboss command as an operator runs it: Node on the compiled build
 * (`npm run bench` rebuilds dist/ first, the `prebench` script), with BENCH_SERVER_NODE_ARGS
 * ahead of it for Node's own flags (`--cpu-prof`, heap sizes, …).
 */
export function embossArgv(...command: string[]): string[] {
  return [...(process.env.BENCH_SERVER_NODE_ARGS?.split(' ').filter(Boolean) ?? []), 'dist/main.js', ...command];
}
