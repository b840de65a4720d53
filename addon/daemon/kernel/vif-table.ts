// Interface name <-> VIF number, kept in step with the kernel's VIF table (MRT_ADD_VIF /
// MRT_DEL_VIF by ifindex). A name keeps its VIF number across re-creation of the interface
// (PPPoE reconnect: new ppp0, new ifindex): the VIF is re-added with the new ifindex.
import { MAXVIFS, MRT_ADD_VIF, MRT_DEL_VIF, packVifctl } from './mroute.ts';

export interface VifEntry {
  readonly name: string;
  readonly ifindex: number;
  readonly vif: number;
}

/** setsockopt(IPPROTO_IP, name, value) on the MRT_INIT socket. */
export type MrouteOptionSetter = (name: number, value: Buffer) => void;

export class VifTable {
  private readonly setOption: MrouteOptionSetter;
  private readonly byName = new Map<string, VifEntry>();

  constructor(setOption: MrouteOptionSetter) {
    this.setOption = setOption;
  }

  /**
   * Makes `name` a VIF bound to `ifindex`; returns its VIF number. Unchanged entries cost
   * nothing; a changed ifindex re-adds the same VIF number. Throws (with the kernel's
   * errno code) when the kernel refuses, or with code 'ENOSPC' when all 32 are taken.
   */
  add(name: string, ifindex: number, threshold = 1): number {
    const known = this.byName.get(name);
    if (known?.ifindex === ifindex) return known.vif;
    let vif: number;
    if (known) {
      vif = known.vif;
      this.deleteFromKernel(vif); // usually gone already: the kernel drops VIFs of deleted devices
      this.byName.delete(name);
    } else {
      vif = this.freeVif();
    }
    this.setOption(MRT_ADD_VIF, packVifctl(vif, ifindex, threshold));
    this.byName.set(name, { name, ifindex, vif });
    return vif;
  }

  /** Removes the VIF of `name` (if any); a VIF the kernel already dropped is fine. */
  remove(name: string): void {
    const known = this.byName.get(name);
    if (!known) return;
    this.byName.delete(name);
    this.deleteFromKernel(known.vif);
  }

  vifOf(name: string): number | undefined {
    return this.byName.get(name)?.vif;
  }

  nameOf(vif: number): string | undefined {
    for (const entry of this.byName.values()) if (entry.vif === vif) return entry.name;
    return undefined;
  }

  entries(): VifEntry[] {
    return [...this.byName.values()].sort((a, b) => a.vif - b.vif);
  }

  private freeVif(): number {
    const used = new Set([...this.byName.values()].map((entry) => entry.vif));
    for (let vif = 0; vif < MAXVIFS; vif++) if (!used.has(vif)) return vif;
    throw Object.assign(new Error(`all ${MAXVIFS} multicast VIFs are in use (kernel limit MAXVIFS)`), {
      code: 'ENOSPC',
    });
  }

  private deleteFromKernel(vif: number): void {
    try {
      this.setOption(MRT_DEL_VIF, packVifctl(vif, 0));
    } catch (error) {
      // EADDRNOTAVAIL: no such VIF any more (interface deleted). Anything else is real.
      if ((error as NodeJS.ErrnoException).code !== 'EADDRNOTAVAIL') throw error;
    }
  }
}
