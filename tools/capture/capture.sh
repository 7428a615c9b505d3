#!/bin/bash
# Boot the capture kernel under qemu (TCG), run one workload with tracing on, and store the
# trace and dmesg under sample_traces/real/<name>/.
#
# Usage: tools/capture/capture.sh [options] WORKLOAD
#   WORKLOAD: dmabuf-selftests sw_sync vgem general abba recursive refcount_underflow
#             irq_inconsistent none, or dmabuf-selftests:TEST to run one selftest
#             (sanitycheck dma_fence dma_fence_chain dma_fence_unwrap dma_resv)
# Options:
#   --name NAME          output directory name (default: WORKLOAD, plus -nohash with the next)
#   --no-hash-pointers   boot with no_hash_pointers: %p prints raw addresses, so lock_acquire
#                        addresses match the ones lockdep prints in dmesg
#   --bufkb N            per-CPU trace buffer in KiB (default 2048)
#   --events SET         full (lock, dma_fence, kmem, sched, rcu; default) or lock-fence
#   --smp N              guest CPUs (default 2)
#   --timeout S          kill qemu after S seconds (default 900)
#   --out DIR            output directory (default sample_traces/real/NAME)
#   --no-compress        keep files uncompressed (default: xz -9 every file over 1 MB)
#   --republish          do not boot: re-publish the last run of NAME from work/runs/NAME
#                        (e.g. after editing notes/NAME.md or this script's README template)
# A file notes/NAME.md, if present, is appended to the generated README (hand-written
# explanations that must survive re-captures).
#
# Needs a built kernel (tools/capture/build-kernel.sh) and qemu-system-x86, busybox-static,
# cpio, gcc, xz-utils, python3.  Everything intermediate goes to tools/capture/work/.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
WORK=${CAPTURE_WORK:-$HERE/work}
KSRC=$WORK/linux
BZIMAGE=$KSRC/arch/x86/boot/bzImage

die() { echo "capture.sh: error: $*" >&2; exit 1; }
log() { echo "capture.sh: $(date +%H:%M:%S) $*" >&2; }

REPUBLISH=0 NAME= NOHASH=0 BUFKB=2048 EVENTS=full SMP=2 TIMEOUT=900 OUT= COMPRESS=1 WORKLOAD=
while [ $# -gt 0 ]; do
  case "$1" in
    --name) NAME=$2; shift 2 ;;
    --no-hash-pointers) NOHASH=1; shift ;;
    --bufkb) BUFKB=$2; shift 2 ;;
    --events) EVENTS=$2; shift 2 ;;
    --smp) SMP=$2; shift 2 ;;
    --timeout) TIMEOUT=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    --no-compress) COMPRESS=0; shift ;;
    --republish) REPUBLISH=1; shift ;;
    -h|--help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    -*) die "unknown option $1 (see --help)" ;;
    *) [ -z "$WORKLOAD" ] || die "only one WORKLOAD"; WORKLOAD=$1; shift ;;
  esac
done
[ -n "$WORKLOAD" ] || die "no WORKLOAD given (see --help)"

MODARGS= SELFTEST=
case "$WORKLOAD" in
  dmabuf-selftests:*)
    SELFTEST=${WORKLOAD#dmabuf-selftests:}; WORKLOAD=dmabuf-selftests
    line=$(grep -n "^selftest($SELFTEST," "$KSRC/drivers/dma-buf/selftests.h" 2>/dev/null | cut -d: -f1 || true)
    [ -n "$line" ] || die "no dma-buf selftest named '$SELFTEST' in drivers/dma-buf/selftests.h"
    MODARGS=igt__${line}__$SELFTEST=1
    DESC="The kernel's dma-buf selftests module (drivers/dma-buf/dmabuf_selftests.ko) loaded with insmod and the parameter '$MODARGS', so only the '$SELFTEST' selftest runs (from module init)." ;;
  dmabuf-selftests) DESC="The kernel's dma-buf selftests module (drivers/dma-buf/dmabuf_selftests.ko) loaded with insmod; it runs all its groups from module init: sanitycheck, dma_fence (signalling, callbacks, waits, race_signal_callback), dma_fence_chain, dma_fence_unwrap, dma_resv." ;;
  sw_sync) DESC="tools/capture/workloads/sw_sync.c (static): 4 sw_sync timelines x 8 fences created with SW_SYNC_IOC_CREATE_FENCE, merged (SYNC_IOC_MERGE), waited on by a child in poll() while the parent signals them one by one with SW_SYNC_IOC_INC, then closed; plus one timeline closed with a fence still pending (signalled with -ENOENT by the kernel)." ;;
  vgem) DESC="tools/capture/workloads/vgem.c (static): 6 vgem dumb buffers, each mmapped, exported as dma-buf, given a vgem fence (DRM_IOCTL_VGEM_FENCE_ATTACH, alternating write/read), its resv snapshotted with DMA_BUF_IOCTL_EXPORT_SYNC_FILE, waited on by a child (poll() on the dma-buf for even objects, DMA_BUF_IOCTL_SYNC begin-CPU-access, which blocks in dma_fence_wait, for odd ones), signalled (DRM_IOCTL_VGEM_FENCE_SIGNAL) and closed (DRM_IOCTL_GEM_CLOSE); one BO with two readers then a writer; and one fence left unsignalled that vgem's 10 s timeout timer signals." ;;
  general) DESC="General shell load from the busybox init: ls -R, cat of /proc files, dd to tmpfs, gzip, md5sum, sort|uniq, find, background subshells (see run_workload in initramfs/init)." ;;
  abba) DESC="tools/capture/modules/abba.c: module init takes &d->a_mutex then &d->b_mutex; a work item (kworker) then takes &d->b_mutex then &d->a_mutex. Runs sequentially (no real deadlock); lockdep reports the circular dependency." ;;
  recursive) DESC="tools/capture/modules/recursive.c: two mutexes initialised at one mutex_init() call site (one class, &o->lock) are nested without mutex_lock_nested(); lockdep reports possible recursive locking." ;;
  refcount_underflow) DESC="tools/capture/modules/refcount_underflow.c: one dma_fence (driver=refcount_underflow timeline=uf_timeline) is initialised, signalled and put twice; the second dma_fence_put() underflows its refcount_t." ;;
  irq_inconsistent) DESC="tools/capture/modules/irq_inconsistent.c: stat_lock taken with spin_lock() in process context with softirqs enabled, then in a timer callback (softirq); lockdep reports inconsistent lock state {SOFTIRQ-ON-W} -> {IN-SOFTIRQ-W}." ;;
  none) DESC="No workload: tracing switched on and off again (idle guest)." ;;
  *) die "unknown workload '$WORKLOAD'" ;;
esac
[ -n "$NAME" ] || { NAME=$WORKLOAD${SELFTEST:+-$SELFTEST}; [ $NOHASH = 1 ] && NAME=$NAME-nohash; }
[ -n "$OUT" ] || OUT=$REPO/sample_traces/real/$NAME
case "$EVENTS" in full|lock-fence) ;; *) die "--events must be full or lock-fence" ;; esac

for t in qemu-system-x86_64 cpio gzip xz python3 gcc; do
  command -v $t >/dev/null || die "$t not found; see tools/capture/README.md for apt-get install"
done
[ -x /bin/busybox ] && /bin/busybox --list | grep -qx insmod \
  || die "/bin/busybox (static) missing; apt-get install busybox-static"
[ -f "$BZIMAGE" ] || die "no kernel at $BZIMAGE; run tools/capture/build-kernel.sh first"
[ -f "$KSRC/Module.symvers" ] || die "kernel modules not built; run tools/capture/build-kernel.sh"

RUN=$WORK/runs/$NAME
if [ $REPUBLISH = 1 ]; then
  [ -s "$RUN/stream.bin" ] || die "--republish: no previous run in $RUN"
  secs=$(cat "$RUN/boot-seconds.txt" 2>/dev/null || echo "?")
else
# 1. out-of-tree modules (built in a copy so the source dir stays clean)
MB=$WORK/modules-build
mkdir -p "$MB"
cp -u "$HERE"/modules/Makefile "$HERE"/modules/*.c "$MB"/
log "building test modules"
nice -n 10 make -s -C "$KSRC" ARCH=x86_64 M="$MB" modules >&2 || die "module build failed"

# 2. static workload programs
BIN=$WORK/bin
mkdir -p "$BIN"
for p in sw_sync vgem; do
  if [ ! -x "$BIN/$p" ] || [ "$HERE/workloads/$p.c" -nt "$BIN/$p" ]; then
    log "compiling workloads/$p.c"
    gcc -O2 -Wall -static -D__user= -idirafter "$KSRC/include/uapi" \
      -o "$BIN/$p" "$HERE/workloads/$p.c" || die "compiling $p.c failed"
  fi
done

# 3. initramfs
ROOT=$WORK/initramfs-root
rm -rf "$ROOT"
mkdir -p "$ROOT"/{bin,sbin,dev,proc,sys,tmp,lib/modules}
cp /bin/busybox "$ROOT/bin/busybox"
cp "$HERE/initramfs/init" "$ROOT/init"
chmod 755 "$ROOT/init"
cp "$BIN"/sw_sync "$BIN"/vgem "$ROOT/bin/"
cp "$MB"/*.ko "$ROOT/lib/modules/"
cp "$(find "$KSRC/drivers/dma-buf" -name dmabuf_selftests.ko)" "$ROOT/lib/modules/"
INITRD=$WORK/initramfs.cpio.gz
(cd "$ROOT" && find . | cpio -o -H newc --quiet | gzip -1) > "$INITRD"

# 4. boot
rm -rf "$RUN"
mkdir -p "$RUN"
APPEND="console=ttyS0 panic=-1 no_timer_check random.trust_cpu=on tr.workload=$WORKLOAD tr.bufkb=$BUFKB tr.events=$EVENTS"
[ -n "$MODARGS" ] && APPEND="$APPEND tr.modargs=$MODARGS"
[ $NOHASH = 1 ] && APPEND="$APPEND no_hash_pointers"
QEMU=(qemu-system-x86_64 -accel tcg,thread=multi -cpu max -smp "$SMP" -m 1024
  -display none -monitor none -serial "file:$RUN/console.log" -no-reboot
  -kernel "$BZIMAGE" -initrd "$INITRD" -append "$APPEND"
  -device virtio-serial-pci -chardev "file,id=cap,path=$RUN/stream.bin"
  -device virtserialport,chardev=cap,name=capture)
echo "${QEMU[*]}" > "$RUN/qemu-cmdline.txt"
# A boot can fail for reasons that have nothing to do with the workload (emulation is slow on a
# loaded host); retry such boots up to $TRIES times, but never a boot that produced output.
TRIES=${CAPTURE_TRIES:-3}
for try in $(seq 1 "$TRIES"); do
  rm -f "$RUN/stream.bin" "$RUN/console.log"
  log "booting: workload=$WORKLOAD name=$NAME (timeout ${TIMEOUT}s, try $try/$TRIES)"
  start=$(date +%s)
  set +e
  timeout "$TIMEOUT" nice -n 10 "${QEMU[@]}" </dev/null
  qrc=$?
  set -e
  secs=$(( $(date +%s) - start ))
  log "qemu exited with $qrc after ${secs}s"
  [ $qrc = 124 ] && die "qemu timed out after ${TIMEOUT}s; console: $RUN/console.log"
  [ -s "$RUN/stream.bin" ] && break
  log "guest sent nothing; last console lines:"
  tail -5 "$RUN/console.log" | sed 's/^/    /' >&2
  cp "$RUN/console.log" "$RUN/console.failed-$try.log"
done
[ -s "$RUN/stream.bin" ] || die "guest sent nothing in $TRIES boots; console log: $RUN/console.log"
echo "$secs" > "$RUN/boot-seconds.txt"
fi  # REPUBLISH
python3 "$HERE/unframe.py" "$RUN/stream.bin" "$RUN" >/dev/null || die "bad output stream from guest"
for f in meta.txt trace.txt dmesg.txt workload.log; do
  [ -f "$RUN/$f" ] || die "guest did not send $f"
done
grep -q '^error:' "$RUN/meta.txt" && die "guest reported errors: $(grep '^error:' "$RUN/meta.txt")"
wrc=$(sed -n 's/^exit_status: //p' "$RUN/meta.txt")
[ "$wrc" = 0 ] || log "WARNING: workload exited with status $wrc (see $RUN/workload.log)"

# 5. publish
rm -rf "$OUT"
mkdir -p "$OUT"
cp "$RUN"/{trace.txt,dmesg.txt,meta.txt,workload.log} "$OUT/"
files=()
for f in trace.txt dmesg.txt meta.txt workload.log; do
  p=$OUT/$f
  lines=$(wc -l < "$p"); bytes=$(stat -c %s "$p")
  if [ $COMPRESS = 1 ] && [ "$bytes" -gt 1048576 ]; then
    log "xz -9 $f ($bytes bytes)"
    xz -9 -T1 -f "$p"
    files+=("| \`$f.xz\` | $lines | $bytes | $(stat -c %s "$p.xz") |")
  else
    files+=("| \`$f\` | $lines | $bytes | $bytes |")
  fi
done

kver=$(sed -n 's/^uname: //p' "$RUN/meta.txt")
entries=$(grep -m1 '^# entries-in-buffer' "$RUN/trace.txt" || true)
inbuf=$(echo "$entries" | sed -E 's/.*: ([0-9]+)\/([0-9]+).*/\1/')
written=$(echo "$entries" | sed -E 's/.*: ([0-9]+)\/([0-9]+).*/\2/')
if [ -n "$inbuf" ] && [ "$inbuf" != "$written" ]; then
  overwrite="yes: the ring buffer wrapped, only the last $inbuf of $written events are in the file (older events were overwritten; each CPU's buffer wraps independently, and a \`##### CPU N buffer started ####\` line marks where a CPU's retained data begins)"
else
  overwrite="no: every event written is in the file"
fi
reports=$(python3 "$HERE/summarize_dmesg.py" "$RUN/dmesg.txt")
evs=$(sed -n '/^enabled_events:/,/^kprobe_events:/p' "$RUN/meta.txt" | sed '1d;$d' | sed 's/^ *//' | tr '\n' ' ')
stats=$(grep '^stats_' "$RUN/meta.txt" | sed -E 's/^stats_(cpu[0-9]+): .*entries: ([0-9]+);overrun: ([0-9]+);.*/\1: \2 entries in buffer, \3 overwritten/')
top=$(grep -v '^#' "$RUN/trace.txt" | sed -nE 's/^.*\[[0-9]{3}\] [^ ]+ +[0-9]+\.[0-9]+: ([a-z_0-9]+):.*/\1/p' | sort | uniq -c | sort -rn | head -20)

BT='`'
if grep -q "tracing_mark_write: workload $WORKLOAD start" "$RUN/trace.txt"; then
  markerline="The workload starts at the ${BT}tracing_mark_write: workload $WORKLOAD start${BT} line."
else
  markerline="The ${BT}tracing_mark_write: workload $WORKLOAD start${BT} marker was overwritten (the file begins mid-workload)."
fi
cat > "$OUT/README.md" <<MD
# Real capture: $NAME

Generated by \`tools/capture/capture.sh $([ $NOHASH = 1 ] && echo '--no-hash-pointers ')--bufkb $BUFKB --events $EVENTS $WORKLOAD${SELFTEST:+:$SELFTEST}\`
on $(date -u +%Y-%m-%d) (boot to power-off: ${secs} s under qemu TCG, $SMP vCPUs).

## Workload
$DESC

## Kernel
- \`$kver\`
- Debian \`linux-source-6.1\`, x86_64 \`tinyconfig\` + the options in \`tools/capture/build-kernel.sh\`:
  SMP, ACPI, PROVE_LOCKING, DEBUG_LOCK_ALLOC, LOCK_STAT, DEBUG_ATOMIC_SLEEP, BUG,
  FRAME_POINTER unwinder, FTRACE/EVENT_TRACING, KPROBES/KPROBE_EVENTS, RCU_TRACE (TREE_RCU),
  DMA_SHARED_BUFFER, SYNC_FILE, SW_SYNC, UDMABUF, DRM, DRM_VGEM, DMABUF_SELFTESTS=m,
  VIRTIO_PCI/VIRTIO_CONSOLE, PRINTK_TIME; PREEMPT_NONE, HZ=250.
- Kernel command line: \`$(sed -n 's/^cmdline: //p' "$RUN/meta.txt")\`
  $([ $NOHASH = 1 ] && echo '(`no_hash_pointers`: `%p` in trace events prints raw addresses, so lock_acquire addresses equal the addresses lockdep prints in dmesg; dmesg starts with the kernel'"'"'s no_hash_pointers NOTICE banner)' || echo '(hashed `%p`: lock/kmem addresses in the trace are per-boot hashes and do not match the raw addresses lockdep prints in dmesg)')
- qemu: \`$(sed "s|$REPO/||g" "$RUN/qemu-cmdline.txt")\`

## Tracing
- Trace file: \`/sys/kernel/tracing/trace\` read after \`tracing_on=0\` (not trace_pipe), default
  \`local\` clock, irq-info on; \`buffer_size_kb=$BUFKB\` per CPU.
- Enabled events: $evs
- kprobe: \`$(sed -n 's/^kprobe_events: //p' "$RUN/meta.txt")\` (fires when refcount_t saturates: t=3 is sub/dec underflow, t=2 add on 0).
- \`$entries\`
- Buffer overwritten: $overwrite.
$(echo "$stats" | sed 's/^/- /')
- $markerline

Most frequent events:
\`\`\`
$top
\`\`\`

## What the kernel printed
Summarised from \`dmesg.txt\` by \`tools/capture/summarize_dmesg.py\` (times are the printk
timestamps, same clock as the trace):

$reports

## Files
| file | lines | bytes | stored bytes |
|---|---|---|---|
$(printf '%s\n' "${files[@]}")

\`meta.txt\` holds the guest-side facts (uname, cmdline, per-CPU ring-buffer stats),
\`workload.log\` the workload's stdout/stderr.  \`dmesg.txt\` is the whole kernel log of the
boot (boot messages included).
\`.xz\` files are \`xz -9\`; the tool reads them directly.
MD
if [ -f "$HERE/notes/$NAME.md" ]; then
  { echo; echo "## Notes"; echo; cat "$HERE/notes/$NAME.md"; } >> "$OUT/README.md"
fi
log "wrote $OUT ($(du -sh "$OUT" | cut -f1))"
