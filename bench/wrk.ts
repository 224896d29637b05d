import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Load from wrk (Debian package `wrk`, written in C) in its own process. Every emboss request is
 * signed and carries its own request id, so the requests are made and signed here beforehand and
 * wrk sends them one after the other (a small Lua script): signing and building them does not
 * compete with the server for the CPU during the measurement, and wrk itself needs a few µs per
 * request where autocannon (Node) needs about as much as the server. A request id is never sent
 * twice: a run that would need more requests than were made is reported as failed.
 */
export interface WrkRequest { method: 'POST' | 'GET'; path: string; headers: Record<string, string>; body?: string }
export interface WrkResult { requests: number; seconds: number; p50Ms: number; p99Ms: number; errors: number; non2xx: number }

export const wrkAvailable = (): boolean => process.env.BENCH_LOADGEN !== 'autocannon' && spawnSync('wrk', ['--version']).error === undefined;

const SCRIPT = `
-- A fixed rate (args[2] requests per second, 0 for none): every request takes the next slot of
-- one schedule (start + n / rate) and waits for it. Latency is measured from when it is sent.
local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } emboss_timespec;
int clock_gettime(int clk_id, emboss_timespec *tp);
]]
local ts = ffi.new("emboss_timespec")
local function nowMs()
  ffi.C.clock_gettime(1, ts)
  return tonumber(ts.tv_sec) * 1000 + tonumber(ts.tv_nsec) / 1e6
end
local rate = 0
local start = nil
local slots = 0
local function schedule()
  if start == nil then start = nowMs() end
  slots = slots + 1
  local wait = start + (slots - 1) * 1000 / rate - nowMs()
  if wait < 0 then return 0 end
  return math.floor(wait)
end
delay = function()
  if rate <= 0 then return 0 end
  return schedule()
end
local requests = {}
local n = 0
local i = 0
init = function(args)
  rate = tonumber(args[2]) or 0
  local f = assert(io.open(args[1], "rb"))
  local all = f:read("*a")
  f:close()
  for r in string.gmatch(all, "([^%z]+)") do
    n = n + 1
    requests[n] = r
  end
end
request = function()
  i = i + 1
  if i > n then
    -- Out of requests: stop rather than send a request id again (the run is then reported as failed).
    pcall(function() wrk.thread:stop() end)
    return requests[n]
  end
  return requests[i]
end
done = function(summary, latency, _)
  local e = summary.errors
  io.write(string.format('\\nWRK_JSON {"requests":%d,"durationUs":%d,"p50Us":%d,"p99Us":%d,"socketErrors":%d,"non2xx":%d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), e.connect + e.read + e.write + e.timeout, e.status))
end
`;

/**
 * Runs wrk for `seconds` with `connections`, sending `make()`'s requests (made `maxRate` × seconds
 * in advance); with `fixedRate`, at that many requests per second instead of as fast as it can.
 */
export async function runWrk(url: string, seconds: number, connections: number, make: () => WrkRequest, maxRate = 8000, fixedRate = 0): Promise<WrkResult> {
  const dir = mkdtempSync(join(tmpdir(), 'emboss-wrk-'));
  try {
    const host = new URL(url).host;
    const count = Math.ceil(maxRate * seconds) + connections;
    const raw: string[] = [];
    for (let k = 0; k < count; k++) {
      const r = make();
      const body = r.body ?? '';
      const headers = Object.entries({ ...r.headers, host, 'content-length': String(Buffer.byteLength(body)) })
        .map(([name, value]) => `${name}: ${value}\r\n`).join('');
      raw.push(`${r.method} ${r.path} HTTP/1.1\r\n${headers}\r\n${body}`);
    }
    writeFileSync(join(dir, 'requests'), raw.join('\0'));
    writeFileSync(join(dir, 'script.lua'), SCRIPT);
    const out = await new Promise<string>((resolve, reject) => {
      const child = spawn('wrk', ['-t1', `-c${connections}`, `-d${seconds}s`, '--timeout', '10s', '-s', join(dir, 'script.lua'), url, '--', join(dir, 'requests'), String(fixedRate)]);
      let text = '';
      child.stdout.on('data', (d) => { text += d; });
      child.stderr.on('data', (d) => { text += d; });
      child.once('error', reject);
      child.once('exit', (code) => (code === 0 ? resolve(text) : reject(new Error(`wrk exited ${code}: ${text.slice(-500)}`))));
    });
    const line = /WRK_JSON (\{.*\})/.exec(out);
    if (!line) throw new Error(`wrk gave no result: ${out.slice(-500)}`);
    const r = JSON.parse(line[1]!) as { requests: number; durationUs: number; p50Us: number; p99Us: number; socketErrors: number; non2xx: number };
    if (r.requests >= count) throw new Error(`wrk needed more than the ${count} requests made: raise maxRate`);
    return {
      requests: r.requests, seconds: r.durationUs / 1e6, p50Ms: Math.round(r.p50Us / 100) / 10, p99Ms: Math.round(r.p99Us / 100) / 10,
      errors: r.socketErrors, non2xx: r.non2xx,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
