#!/bin/sh
# Stage 2 of the test VM, PID 1 on the machine's own root (a throwaway overlay). POSIX sh:
# the guest's /bin/sh is dash. Gives the command the file systems a Debian system has
# (IPFire-like mounts are the tests' business), runs /vmshare/command.sh, writes its exit
# status to /vmshare/status and powers off. No status file means the guest died first.
share=/vmshare
echo "test VM: stage 2 starts"

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mkdir -p /dev/pts /dev/shm
mount -t devpts -o gid=5,mode=620 devpts /dev/pts
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /dev/shm
mount -t tmpfs -o mode=1777 tmpfs /tmp
mount -t tmpfs -o mode=755,nosuid,nodev tmpfs /run
mkdir -p /run/netns /run/lock
mount -t cgroup2 cgroup2 /sys/fs/cgroup 2>/dev/null
ip link set lo up
hostname testvm
# The serial console would turn every \n into \r\n.
stty -onlcr 2>/dev/null

# From here the console carries the command's output: only the kernel's emergencies may
# interleave (the boot ran at loglevel 4, see qemu.ts). Then the marker the host's boot
# watchdog waits for (COMMAND_STARTS_MARKER in boot-watch.ts), alone on its line.
echo 1 > /proc/sys/kernel/printk
echo "test VM: the command starts"

# Through a pipe, as on CI: the console is a terminal, and programs that see one draw
# progress screens instead of lines. A named one, so this script need not wait for the
# reader: a process the command left running in the background keeps the pipe open, and
# "command | cat" would then wait for it until the host's overall timeout.
mkfifo /run/console.pipe
cat /run/console.pipe &
reader=$!
sh "$share/command.sh" < /dev/null > /run/console.pipe 2>&1
echo "$?" > "$share/status.partial" && mv "$share/status.partial" "$share/status"
# The reader ends at once unless something still holds the pipe; give it 5 s to pass
# on what is left, then power off (which ends whatever was left running).
waited=0
while kill -0 "$reader" 2>/dev/null && [ "$waited" -lt 5 ]; do
  sleep 1
  waited=$((waited + 1))
done
if kill -0 "$reader" 2>/dev/null; then
  echo "test VM: the command left processes holding its output open; powering off anyway"
fi
sync
exec /bin/busybox poweroff -f
