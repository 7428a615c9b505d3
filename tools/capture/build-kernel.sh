#!/bin/bash
# Build the capture kernel (x86_64, lockdep + ftrace + dma-buf) from Debian's linux-source-6.1.
#
# Usage: tools/capture/build-kernel.sh [--force-config]
#
#   Unpacks /usr/src/linux-source-6.1.tar.xz into tools/capture/work/linux (once), writes a
#   tinyconfig plus the options below, checks every option really stuck, and builds bzImage and
#   modules (dmabuf_selftests.ko).  Idempotent: an existing tree is reused, the config is only
#   regenerated when this script's option list changed (or with --force-config), and make only
#   rebuilds what changed.  Runs make under `nice -n 10` with -j${JOBS:-2}.
#
# Needs: apt-get install linux-source-6.1 flex bison bc libelf-dev libssl-dev cpio gcc make
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
WORK=${CAPTURE_WORK:-$HERE/work}
KSRC=$WORK/linux
TARBALL=${LINUX_SOURCE_TARBALL:-/usr/src/linux-source-6.1.tar.xz}
JOBS=${JOBS:-2}
FORCE_CONFIG=0
[ "${1:-}" = "--force-config" ] && FORCE_CONFIG=1

die() { echo "build-kernel.sh: error: $*" >&2; exit 1; }
log() { echo "build-kernel.sh: $(date +%H:%M:%S) $*" >&2; }

# Options set to =y on top of tinyconfig.  Grouped by purpose; see README.md.
Y_OPTS=(
  # base system that boots a busybox initramfs on a qemu serial console
  64BIT SMP PRINTK PRINTK_TIME TTY SERIAL_8250 SERIAL_8250_CONSOLE BLK_DEV_INITRD RD_GZIP
  BINFMT_ELF BINFMT_SCRIPT DEVTMPFS DEVTMPFS_MOUNT PROC_FS SYSFS DEBUG_FS TMPFS SHMEM FUTEX
  EPOLL MULTIUSER POSIX_TIMERS KALLSYMS KALLSYMS_ALL MODULES MODULE_UNLOAD PCI
  # data channel: virtio-serial port
  VIRTIO_MENU VIRTIO_PCI VIRTIO_CONSOLE
  # ACPI: without it the guest sees only one CPU (the SeaBIOS MP table lists only the boot CPU
  # under TCG) and cannot power off
  ACPI
  # tracing: trace events + kprobe events
  DEBUG_KERNEL FTRACE EVENT_TRACING KPROBES KPROBE_EVENTS RCU_TRACE
  # WARN()/BUG() output (tinyconfig compiles it out: refcount_t warnings would print nothing)
  # and readable backtraces in the reports
  BUG DEBUG_BUGVERBOSE FRAME_POINTER UNWINDER_FRAME_POINTER
  # lock debugging: lockdep, lock_acquire/lock_release/lock_contended events
  PROVE_LOCKING LOCK_STAT DEBUG_LOCK_ALLOC DEBUG_ATOMIC_SLEEP
  # dma-buf, sync_file, sw_sync, vgem
  DMA_SHARED_BUFFER SYNC_FILE SW_SYNC DRM DRM_VGEM UDMABUF
)
M_OPTS=( DMABUF_SELFTESTS )
# options forced off (tinyconfig picks the "guess" unwinder)
N_OPTS=( UNWINDER_GUESS )
# numeric options: 256 KiB printk buffer so the selftests' dmesg is not overwritten
VAL_OPTS=( LOG_BUF_SHIFT=18 )

command -v flex >/dev/null && command -v bison >/dev/null && command -v bc >/dev/null \
  || die "missing build tools; run: apt-get install flex bison bc libelf-dev libssl-dev cpio gcc make"
[ -e /usr/include/libelf.h ] || die "libelf-dev missing (apt-get install libelf-dev)"

mkdir -p "$WORK"

# 1. unpack
if [ ! -f "$KSRC/Makefile" ]; then
  [ -f "$TARBALL" ] || die "$TARBALL not found; run: apt-get install linux-source-6.1"
  log "unpacking $TARBALL"
  rm -rf "$KSRC" "$WORK/linux-source-6.1"
  tar -C "$WORK" -xf "$TARBALL"
  mv "$WORK/linux-source-6.1" "$KSRC"
fi
cd "$KSRC"
export ARCH=x86_64

# 2. configure (only when the wanted option list changed)
WANT_SIG=$(printf '%s\n' "${Y_OPTS[@]}" -- "${M_OPTS[@]}" -- "${N_OPTS[@]}" -- "${VAL_OPTS[@]}" | sha1sum | cut -c1-40)
if [ $FORCE_CONFIG = 1 ] || [ ! -f .config ] || [ "$(cat .capture-config-sig 2>/dev/null)" != "$WANT_SIG" ]; then
  log "configuring: tinyconfig + ${#Y_OPTS[@]} options"
  make -s tinyconfig >/dev/null
  args=()
  for o in "${Y_OPTS[@]}"; do args+=(-e "$o"); done
  for o in "${M_OPTS[@]}"; do args+=(-m "$o"); done
  for o in "${N_OPTS[@]}"; do args+=(-d "$o"); done
  for kv in "${VAL_OPTS[@]}"; do args+=(--set-val "${kv%%=*}" "${kv#*=}"); done
  scripts/config "${args[@]}"
  make -s olddefconfig
  # second pass: some options only become visible once their parents are on
  scripts/config "${args[@]}"
  make -s olddefconfig
  bad=0
  for o in "${Y_OPTS[@]}"; do
    grep -qx "CONFIG_$o=y" .config || { echo "  option did not stick: CONFIG_$o=y ($(grep "CONFIG_$o[= ]" .config || echo unset))" >&2; bad=1; }
  done
  for o in "${M_OPTS[@]}"; do
    grep -qx "CONFIG_$o=m" .config || { echo "  option did not stick: CONFIG_$o=m ($(grep "CONFIG_$o[= ]" .config || echo unset))" >&2; bad=1; }
  done
  for o in "${N_OPTS[@]}"; do
    grep -qx "# CONFIG_$o is not set" .config || { echo "  option did not stick: CONFIG_$o off" >&2; bad=1; }
  done
  for kv in "${VAL_OPTS[@]}"; do
    grep -qx "CONFIG_$kv" .config || { echo "  option did not stick: CONFIG_$kv" >&2; bad=1; }
  done
  [ $bad = 0 ] || die "some config options did not stick (dependencies); fix the list in $0"
  echo "$WANT_SIG" > .capture-config-sig
else
  log "config up to date"
fi

# 3. build
log "building bzImage + modules with nice -n 10 make -j$JOBS"
start=$(date +%s)
nice -n 10 make -j"$JOBS" bzImage modules
log "build done in $(( $(date +%s) - start ))s"

[ -f arch/x86/boot/bzImage ] || die "no bzImage produced"
SELFTEST=$(find drivers/dma-buf -name dmabuf_selftests.ko | head -1)
[ -n "$SELFTEST" ] || die "dmabuf_selftests.ko was not built"
log "kernel: $KSRC/arch/x86/boot/bzImage ($(make -s kernelrelease))"
log "module: $KSRC/$SELFTEST"
