// What `igmpproxy setup --provider` knows about IPTV providers: the unicast networks their
// TV streams are sent from (altnet on the upstream interface; streams from other sources
// are not forwarded).

export type ProviderName = 'telekom' | 'generic';

export const PROVIDER_NAMES: readonly ProviderName[] = ['telekom', 'generic'];

export interface Provider {
  readonly name: ProviderName;
  /** For the generated file's comments. */
  readonly title: string;
  readonly altnets: readonly string[];
  /** Why these networks: comment lines above them, given the upstream interface. */
  readonly altnetComment: (upstream: string) => string;
  /** Shown when the choice is a guess the administrator should narrow down. */
  readonly warning: ((upstream: string) => string) | undefined;
}

export const PROVIDERS: Readonly<Record<ProviderName, Provider>> = {
  // The networks of addon/etc/igmpproxy.conf; IPFire's wiki how-to lists the same
  // (217.0.119.194/16 there is 217.0.0.0/16 written with host bits).
  telekom: {
    name: 'telekom',
    title: 'Telekom (MagentaTV/Entertain)',
    altnets: ['217.0.0.0/16', '193.158.35.0/24'],
    altnetComment: () => "Telekom's stream sources",
    warning: undefined,
  },
  // Without knowing the provider, any source is accepted: a too narrow list shows as black
  // channels, which is worse than forwarding what the receivers asked for anyway.
  generic: {
    name: 'generic',
    title: 'generic (stream sources unknown)',
    altnets: ['0.0.0.0/0'],
    altnetComment: (upstream) =>
      'The stream sources of this provider are not known, so every source is accepted.\n' +
      'Narrow this down: watch a channel, find the sources with\n' +
      `  tcpdump -ni ${upstream} ip multicast\n` +
      'and list their networks here instead of 0.0.0.0/0.',
    warning: (upstream) =>
      "provider 'generic': streams from every source are accepted (altnet 0.0.0.0/0); " +
      `list the real source networks once known (tcpdump -ni ${upstream} ip multicast)`,
  },
};
