/** Builds emboss into `outdir` (dist/ by default), replacing what was there; answers the entry file's path. */
export function buildEmboss(outdir?: string): Promise<string>;
