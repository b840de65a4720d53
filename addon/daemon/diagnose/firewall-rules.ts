// Whether the add-on's IPTV rules are in place, from the text of `iptables -S` (the filter
// table). The chains and their rules are the ones initscripts/firewall-helper.mustache
// writes (names: build/render.ts LAYOUT; a test keeps the two in step). Pure.

export const FIREWALL_CHAINS = {
  input: 'IGMPPROXY_IN',
  forward: 'IGMPPROXY_FWD',
  output: 'IGMPPROXY_OUT',
  iptvInput: 'IPTVINPUT',
  iptvForward: 'IPTVFORWARD',
  customOutput: 'CUSTOMOUTPUT',
} as const;

export const FIREWALL_HELPER = '/usr/lib/igmpproxy/firewall';

/** One `-A CHAIN ...` line as words, quotes removed (iptables quotes names it must). */
interface Rule {
  readonly chain: string;
  readonly words: readonly string[];
}

function parseRules(text: string): { chains: Set<string>; rules: Rule[] } {
  const chains = new Set<string>();
  const rules: Rule[] = [];
  for (const line of text.split('\n')) {
    const words = line
      .trim()
      .split(/\s+/)
      .map((word) => word.replace(/^"(.*)"$/, '$1'));
    if ((words[0] === '-N' || words[0] === '-P') && words[1]) chains.add(words[1]);
    if (words[0] === '-A' && words[1]) rules.push({ chain: words[1], words: words.slice(2) });
  }
  return { chains, rules };
}

function option(words: readonly string[], name: string): string | undefined {
  const index = words.indexOf(name);
  return index >= 0 ? words[index + 1] : undefined;
}

/**
 * What is missing, as short phrases; empty: everything the configuration needs is there.
 * `subnets`: each downstream's subnet now ("A.B.C.D/P", as the daemon has it), which the
 * helper puts in the downstream's own per-host table when it makes the rules.
 */
export function missingFirewallRules(
  text: string,
  upstreams: readonly string[],
  downstreams: readonly string[],
  subnets: ReadonlyMap<string, string> = new Map(),
): string[] {
  const { chains, rules } = parseRules(text);
  const c = FIREWALL_CHAINS;
  const missing: string[] = [];
  const jumps = (from: string, to: string) =>
    rules.some((rule) => rule.chain === from && rule.words.length === 2 && option(rule.words, '-j') === to);
  for (const [hook, chain] of [
    [c.iptvInput, c.input],
    [c.iptvForward, c.forward],
  ] as const) {
    if (!chains.has(hook)) missing.push(`IPFire's chain ${hook} (is IPFire's firewall running?)`);
    else if (!jumps(hook, chain)) missing.push(`the jump ${hook} -> ${chain}`);
  }
  if (chains.has(c.customOutput) && !jumps(c.customOutput, c.output))
    missing.push(`the jump ${c.customOutput} -> ${c.output}`);
  const accepts = (chain: string, wanted: Record<string, string>) =>
    rules.some(
      (rule) =>
        rule.chain === chain &&
        option(rule.words, '-j') === 'ACCEPT' &&
        Object.entries(wanted).every(([name, value]) => option(rule.words, name) === value),
    );
  for (const down of downstreams) {
    const igmpIn = (rule: Rule) =>
      rule.chain === c.input && option(rule.words, '-i') === down && option(rule.words, '-p') === 'igmp';
    const accept = rules.findIndex((rule) => igmpIn(rule) && option(rule.words, '-j') === 'ACCEPT');
    // The per-host share (firewall-helper.mustache): a hashlimit DROP by source address before the
    // first accept (the lan table's for the downstream's own networks, or the catch-all's alone
    // when it had no address).
    const share = rules.findIndex(
      (rule) =>
        igmpIn(rule) &&
        option(rule.words, '-j') === 'DROP' &&
        option(rule.words, '-m') === 'hashlimit' &&
        option(rule.words, '--hashlimit-mode') === 'srcip',
    );
    // The subnet in the downstream's own table: rules made before its address (or by a helper
    // from before that table) leave its hosts in the bounded table forged addresses can fill.
    const subnet = subnets.get(down);
    const subnetShared =
      subnet !== undefined &&
      rules.some(
        (rule) =>
          igmpIn(rule) &&
          option(rule.words, '-s') === subnet &&
          option(rule.words, '-j') === 'DROP' &&
          option(rule.words, '--hashlimit-mode') === 'srcip',
      );
    if (accept < 0) missing.push(`${c.input}: IGMP in on ${down}`);
    else if (share < 0 || share > accept)
      missing.push(`${c.input}: the per-host IGMP share on ${down}, before its accept`);
    else if (subnet !== undefined && !subnetShared)
      missing.push(`${c.input}: ${down}'s subnet ${subnet} in its own per-host table (the rules predate its address)`);
  }
  for (const up of upstreams) {
    if (!accepts(c.input, { '-i': up, '-p': 'igmp' })) missing.push(`${c.input}: IGMP in on ${up}`);
    for (const down of downstreams) {
      if (!accepts(c.forward, { '-i': up, '-o': down })) missing.push(`${c.forward}: multicast ${up} -> ${down}`);
    }
  }
  return missing;
}
