// Entry point of the igmpproxy binary. Placeholder until the daemon's CLI takes over:
// it answers --version and -h, and the build's self-tests.
import { dropRuntimeEnvironment, embeddedAssetSha256 } from './single-binary.ts';
import { VERSION } from './version.ts';

dropRuntimeEnvironment();

const USAGE = 'Usage: igmpproxy [-h] [-n] [-d] [-v [-v]] <configfile>\n';
const args = process.argv.slice(2);

if (args[0] === '--version') {
  process.stdout.write(`igmpproxy ${VERSION}\n`);
} else if (args[0] === '-h' || args[0] === '--help') {
  process.stdout.write(USAGE);
} else if (args[0] === '--self-test-assets') {
  // Hidden, for test/build: proves which shim the binary embeds.
  const digest = embeddedAssetSha256(args[1] ?? 'igmp_shim.node');
  process.stdout.write(`${digest ?? 'not a single binary'}\n`);
  process.exitCode = digest === undefined ? 1 : 0;
} else {
  process.stderr.write(USAGE);
  process.exitCode = 1;
}
