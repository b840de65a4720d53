// The deploy command as scripts/deploy.ts runs it, but with the repository root as the first
// argument: tests point it at a dist/ of their own. It runs as its own process so that a test
// can start it inside its network namespace (`ip netns exec`).
// Usage: node test/deploy/helpers/deploy-with-root.ts REPO_ROOT [deploy arguments...]
import { main } from '../../../scripts/deploy/main.ts';

const [repoRoot, ...argv] = process.argv.slice(2);
if (repoRoot === undefined) {
  process.stderr.write('usage: deploy-with-root.ts REPO_ROOT [deploy arguments...]\n');
  process.exit(2);
}
process.exitCode = await main(argv, {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
  terminal: null,
  promptHidden: null,
  env: process.env,
  repoRoot,
  now: () => Date.now(),
});
