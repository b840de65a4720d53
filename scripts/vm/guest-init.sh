#!/bin/busybox sh
# Stage 1 of the test VM, PID 1 inside the initramfs (busybox only). Loads the modules
# needed to reach the machine's own root over 9p, lays a throwaway tmpfs overlay on it
# (so the guest may write anywhere and nothing reaches the machine), mounts the writable
# share, and hands over to stage 2, which lives in that share.
/bin/busybox --install -s /bin
export PATH=/bin
# Progress lines: the host keeps the console up to the command and shows it when the boot
# fails or stalls (scripts/vm/boot-watch.ts), so a hang names its step.
echo "test VM: stage 1 (initramfs) starts"

fail() {
  echo "test VM stage 1: $*" >&2
  poweroff -f
}

mkdir -p /proc /sys /lower /overlay /newroot
mount -t proc proc /proc
mount -t devtmpfs devtmpfs /dev
# Module files carry a numeric prefix: the glob's order is the dependency order.
for module in /modules/*.ko; do
  insmod "$module" || fail "insmod $module failed"
done
echo "test VM: stage 1: modules loaded, mounting the machine's root (9p)"
# The lower layer never changes while the VM runs: cache=loose saves 9p round trips.
mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=262144,cache=loose host /lower ||
  fail "cannot mount the machine's root (9p tag host)"
mount -t tmpfs -o mode=755 overlay-upper /overlay || fail "cannot mount a tmpfs for the overlay"
mkdir /overlay/upper /overlay/work
mount -t overlay overlay -o lowerdir=/lower,upperdir=/overlay/upper,workdir=/overlay/work /newroot ||
  fail "cannot mount the overlay root"
mkdir -p /newroot/vmshare
mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 share /newroot/vmshare ||
  fail "cannot mount the result share (9p tag share)"
echo "test VM: stage 1: root and share mounted, switching to stage 2"
mount --move /dev /newroot/dev
umount /proc
exec switch_root /newroot /bin/sh /vmshare/stage2.sh
