/**
 * `picows`: the command line.
 */
import { parseArgs } from 'node:util';
import { formatEchoResult, runEcho } from './echo';
import { flashCommand } from './flash';
import { simCommand } from './sim';
import { stormCommand } from './storm-command';
import { telemetryCommand } from './telemetry';

const USAGE = `usage: picows <command> [options]

commands:
  echo <url>   connect and send every message back verbatim; print how it closed.
               Exits 0 only when the close was clean.
               --max-message <bytes>  largest message (default 16 MiB)
               --core wasm|js         force the core implementation
               --protocol <name>      offer a subprotocol (repeatable)
               --header "Name: value" add a request header (repeatable)
               --duration <ms>        close (1000) after this long
  telemetry <url>  the resilient telemetry client on Node (picows telemetry --help)
  flash --port <tty> [--url ws://.. --ssid .. --password ..]
               build the firmware and write it to a Pico W running Kaluma 1.2.1
  sim          simulated Pico W telemetry devices on flaky Wi-Fi, running the real firmware bundle
               (npm start); picows sim --help for its options
  sim --scenario server-restart [--devices 1000]
               the reconnect storm: a fleet against one server that restarts, jitter vs lockstep
  help         this text
`;

async function main(argv: string[]): Promise<number> {
  const cmd = argv[0] || 'help';
  switch (cmd) {
    case 'echo':
      return echoCommand(argv.slice(1));
    case 'flash':
      return flashCommand(argv.slice(1));
    case 'telemetry':
      return telemetryCommand(argv.slice(1));
    case 'sim':
      return argv.indexOf('--scenario') >= 0 ? stormCommand(argv.slice(1)) : simCommand(argv.slice(1));
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(USAGE);
      return 0;
    default:
      process.stderr.write(`picows: unknown command "${cmd}"\n\n` + USAGE);
      return 2;
  }
}

/** A usage error: the problem, then the usage, on stderr; exit code 2. */
function usageError(problem: string): number {
  process.stderr.write(`picows echo: ${problem}\n\n` + USAGE);
  return 2;
}

/** A whole number of at least `min`, or NaN. */
function wholeNumber(text: string | undefined, min: number): number | undefined {
  if (text === undefined) return undefined;
  return /^\d+$/.test(text) && Number(text) >= min ? Number(text) : NaN;
}

async function echoCommand(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      options: {
        'max-message': { type: 'string' },
        core: { type: 'string' },
        protocol: { type: 'string', multiple: true },
        header: { type: 'string', multiple: true },
        duration: { type: 'string' },
      },
    });
  } catch (e) {
    return usageError((e as Error).message);
  }
  const { values, positionals } = parsed;
  const url = positionals[0];
  if (!url) return usageError('a ws:// URL is required');
  if (positionals.length > 1) return usageError('one URL only, got ' + positionals.length + ' arguments');
  const maxMessage = wholeNumber(values['max-message'], 0);
  const durationMs = wholeNumber(values.duration, 1);
  if (Number.isNaN(maxMessage)) return usageError('--max-message wants a number of bytes');
  if (Number.isNaN(durationMs)) return usageError('--duration wants a number of milliseconds');
  const headers: { [k: string]: string } = {};
  for (const h of values.header || []) {
    const i = h.indexOf(':');
    if (i <= 0) return usageError(`--header wants "Name: value", got "${h}"`);
    headers[h.slice(0, i).trim()] = h.slice(i + 1).trim();
  }
  const core = values.core as 'wasm' | 'js' | undefined;
  if (core && core !== 'wasm' && core !== 'js') return usageError('--core is wasm or js');
  let result;
  try {
    result = await runEcho(url, {
      maxMessage,
      core,
      protocols: values.protocol,
      headers,
      durationMs,
    });
  } catch (e) {
    const err = e as { id?: string; message?: string };
    process.stderr.write(`picows echo: ${err.id ? err.id + ': ' : ''}${err.message}\n`);
    return 2;
  }
  process.stdout.write(formatEchoResult(result));
  return result.wasClean ? 0 : 1;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e) => {
    process.stderr.write(`picows: ${e && e.stack ? e.stack : e}\n`);
    process.exitCode = 1;
  },
);
