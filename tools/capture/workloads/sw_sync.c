// SPDX-License-Identifier: GPL-2.0
/*
 * sw_sync: drive software fence timelines through /sys/kernel/debug/sync/sw_sync.
 *
 * Each open() of sw_sync is a new timeline (a dma_fence context).  For each of a few timelines:
 * create fences at increasing seqnos (SW_SYNC_IOC_CREATE_FENCE -> sync_file fds), check they are
 * not signalled (poll, timeout 0), merge two of them (SYNC_IOC_MERGE), read fence info, then let
 * a child process block in poll() on the last fence while the parent advances the timeline step
 * by step (SW_SYNC_IOC_INC) so the fences signal in order; finally close everything (fence puts
 * -> dma_fence_destroy).  A last timeline is closed with fences still unsignalled (the kernel
 * signals them with an error when the timeline goes away).
 *
 * Build: gcc -O2 -static -o sw_sync sw_sync.c
 * Usage: sw_sync [timelines] [fences-per-timeline]
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/types.h>
#include <linux/sync_file.h>

/* drivers/dma-buf/sw_sync.c (not a uapi header) */
struct sw_sync_create_fence_data {
	__u32 value;
	char name[32];
	__s32 fence;
};
#define SW_SYNC_IOC_MAGIC 'W'
#define SW_SYNC_IOC_CREATE_FENCE _IOWR(SW_SYNC_IOC_MAGIC, 0, struct sw_sync_create_fence_data)
#define SW_SYNC_IOC_INC _IOW(SW_SYNC_IOC_MAGIC, 1, __u32)

#define SW_SYNC_PATH "/sys/kernel/debug/sync/sw_sync"

static void die(const char *what)
{
	fprintf(stderr, "sw_sync: %s: %s\n", what, strerror(errno));
	exit(1);
}

static int create_fence(int tl, unsigned value, const char *name)
{
	struct sw_sync_create_fence_data d = { .value = value };

	snprintf(d.name, sizeof(d.name), "%s", name);
	if (ioctl(tl, SW_SYNC_IOC_CREATE_FENCE, &d) < 0)
		die("SW_SYNC_IOC_CREATE_FENCE");
	return d.fence;
}

static void inc(int tl, unsigned n)
{
	__u32 v = n;

	if (ioctl(tl, SW_SYNC_IOC_INC, &v) < 0)
		die("SW_SYNC_IOC_INC");
}

static int is_signaled(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	int r = poll(&p, 1, 0);

	if (r < 0)
		die("poll");
	return r == 1;
}

static int merge(int a, int b, const char *name)
{
	struct sync_merge_data m = { .fd2 = b };

	snprintf(m.name, sizeof(m.name), "%s", name);
	if (ioctl(a, SYNC_IOC_MERGE, &m) < 0)
		die("SYNC_IOC_MERGE");
	return m.fence;
}

static void info(int fd)
{
	struct sync_file_info i;

	memset(&i, 0, sizeof(i));
	if (ioctl(fd, SYNC_IOC_FILE_INFO, &i) < 0)
		die("SYNC_IOC_FILE_INFO");
	printf("  sync_file %s: status=%d num_fences=%u\n", i.name, i.status, i.num_fences);
}

int main(int argc, char **argv)
{
	int ntl = argc > 1 ? atoi(argv[1]) : 4;
	int nf = argc > 2 ? atoi(argv[2]) : 8;
	int fds[64];

	if (nf < 2 || nf > 64 || ntl < 1)
		nf = 8, ntl = 4;

	for (int t = 0; t < ntl; t++) {
		char name[32];
		int tl = open(SW_SYNC_PATH, O_RDWR);

		if (tl < 0)
			die("open " SW_SYNC_PATH);
		printf("timeline %d: %d fences\n", t, nf);
		for (int i = 0; i < nf; i++) {
			snprintf(name, sizeof(name), "tl%d-f%d", t, i + 1);
			fds[i] = create_fence(tl, i + 1, name);
			if (is_signaled(fds[i])) {
				fprintf(stderr, "sw_sync: fence %s signalled too early\n", name);
				return 1;
			}
		}
		snprintf(name, sizeof(name), "tl%d-merged", t);
		int merged = merge(fds[0], fds[nf - 1], name);
		info(merged);

		pid_t child = fork();
		if (child < 0)
			die("fork");
		if (child == 0) {
			/* child: block until the last fence of the timeline signals */
			struct pollfd p = { .fd = fds[nf - 1], .events = POLLIN };
			int r = poll(&p, 1, 10000);
			_exit(r == 1 ? 0 : 2);
		}
		for (int i = 0; i < nf; i++) {
			usleep(2000);
			inc(tl, 1);
			if (!is_signaled(fds[i])) {
				fprintf(stderr, "sw_sync: fence %d not signalled after inc\n", i + 1);
				return 1;
			}
		}
		int st;
		waitpid(child, &st, 0);
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
			fprintf(stderr, "sw_sync: waiter child failed (status %d)\n", st);
			return 1;
		}
		info(merged);
		close(merged);
		for (int i = 0; i < nf; i++)
			close(fds[i]);
		close(tl);
	}

	/* a timeline destroyed with fences still pending */
	int tl = open(SW_SYNC_PATH, O_RDWR);
	if (tl < 0)
		die("open " SW_SYNC_PATH);
	int a = create_fence(tl, 5, "pending-5");
	int b = create_fence(tl, 10, "pending-10");
	inc(tl, 5);
	printf("pending timeline: f5 signalled=%d f10 signalled=%d\n", is_signaled(a), is_signaled(b));
	close(tl);
	printf("after timeline close: f10 signalled=%d\n", is_signaled(b));
	info(b);
	close(a);
	close(b);
	printf("sw_sync: ok\n");
	return 0;
}
