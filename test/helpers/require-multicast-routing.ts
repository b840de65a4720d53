// globalSetup of the multicast-routing suites: on a kernel without CONFIG_IP_MROUTE they
// would only fail in their set-up, one by one. Say once why, and where they do run.
import { release } from 'node:os';
import { hostCanRouteMulticast } from '../../scripts/vm/kernel.ts';

export default function requireMulticastRouting(): void {
  if (process.getuid?.() !== 0) return; // the suites skip themselves without root, saying so
  if (!hostCanRouteMulticast()) {
    throw new Error(
      'this kernel cannot route multicast (no /proc/net/ip_mr_vif: CONFIG_IP_MROUTE is off); ' +
        'run the tests with `npm test` or `bash scripts/dev.sh test`, which run these suites in the test VM',
    );
  }
  const where = process.env.IGMPPROXY_TEST_KERNEL ?? `${release()} on this machine (native)`;
  console.log(`multicast-routing suites run on ${where}`);
}
