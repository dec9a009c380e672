/**
 * `picows`: the command line. Subcommands are added as their issues land.
 */
const USAGE = `usage: picows <command> [options]

commands:
  sim        simulated Pico W telemetry devices on flaky Wi-Fi (not yet: see the simulator issue)
  help       this text
`;

function main(argv: string[]): number {
  const cmd = argv[0] || 'help';
  switch (cmd) {
    case 'sim':
      process.stdout.write('picows sim: not yet. The simulator lands with its own issue; `npm test` runs what exists today.\n');
      return 0;
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

process.exitCode = main(process.argv.slice(2));
