// SPDX-License-Identifier: GPL-2.0
/*
 * vgem: GEM objects with fences on their reservation objects, through /dev/dri/card0 (vgem).
 *
 * For each of a few buffer objects: DRM_IOCTL_MODE_CREATE_DUMB, map and fill it
 * (DRM_IOCTL_MODE_MAP_DUMB + mmap), export it as a dma-buf (DRM_IOCTL_PRIME_HANDLE_TO_FD), attach a
 * vgem fence to its dma_resv (DRM_IOCTL_VGEM_FENCE_ATTACH, exclusive/write or shared/read),
 * snapshot the resv fences as a sync_file (DMA_BUF_IOCTL_EXPORT_SYNC_FILE), let a child process
 * wait for it while the parent signals the fence -- in poll() on the dma-buf for even objects
 * (dma_fence callbacks), in DMA_BUF_IOCTL_SYNC (begin CPU access, which waits in
 * dma_resv_wait_timeout -> dma_fence_wait: dma_fence_wait_start/end events) for odd ones
 * (DRM_IOCTL_VGEM_FENCE_SIGNAL), then close everything (DRM_IOCTL_GEM_CLOSE).
 * With "timeout" as argument, one more fence is left unsignalled so vgem's 10 s timer signals it
 * (from its timer).
 *
 * Build: gcc -O2 -static -D__user= -I<linux>/include/uapi -o vgem vgem.c
 * Usage: vgem [objects] [timeout]
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#include <drm/drm.h>
#include <drm/drm_mode.h>
#include <drm/vgem_drm.h>
#include <linux/dma-buf.h>

static void die(const char *what)
{
	fprintf(stderr, "vgem: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void xioctl(int fd, unsigned long req, void *arg, const char *what)
{
	int r;

	do
		r = ioctl(fd, req, arg);
	while (r < 0 && (errno == EINTR || errno == EAGAIN));
	if (r < 0)
		die(what);
}

static int poll_ready(int fd, short ev, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = ev };
	int r = poll(&p, 1, timeout_ms);

	if (r < 0)
		die("poll");
	return r == 1;
}

struct bo {
	__u32 handle;
	__u64 size;
	int dmabuf;
};

static void bo_create(int drm, struct bo *bo, int fill)
{
	struct drm_mode_create_dumb c = { .width = 64, .height = 64, .bpp = 32 };
	struct drm_mode_map_dumb m = { 0 };
	struct drm_prime_handle ph = { 0 };
	void *p;

	xioctl(drm, DRM_IOCTL_MODE_CREATE_DUMB, &c, "DRM_IOCTL_MODE_CREATE_DUMB");
	bo->handle = c.handle;
	bo->size = c.size;
	m.handle = c.handle;
	xioctl(drm, DRM_IOCTL_MODE_MAP_DUMB, &m, "DRM_IOCTL_MODE_MAP_DUMB");
	p = mmap(NULL, c.size, PROT_READ | PROT_WRITE, MAP_SHARED, drm, m.offset);
	if (p == MAP_FAILED)
		die("mmap");
	memset(p, fill, c.size);
	munmap(p, c.size);
	ph.handle = c.handle;
	ph.flags = DRM_CLOEXEC | DRM_RDWR;
	xioctl(drm, DRM_IOCTL_PRIME_HANDLE_TO_FD, &ph, "DRM_IOCTL_PRIME_HANDLE_TO_FD");
	bo->dmabuf = ph.fd;
}

static void bo_destroy(int drm, struct bo *bo)
{
	struct drm_gem_close gc = { .handle = bo->handle };

	close(bo->dmabuf);
	xioctl(drm, DRM_IOCTL_GEM_CLOSE, &gc, "DRM_IOCTL_GEM_CLOSE");
}

static __u32 fence_attach(int drm, struct bo *bo, int write)
{
	struct drm_vgem_fence_attach a = { .handle = bo->handle, .flags = write ? VGEM_FENCE_WRITE : 0 };

	xioctl(drm, DRM_IOCTL_VGEM_FENCE_ATTACH, &a, "DRM_IOCTL_VGEM_FENCE_ATTACH");
	return a.out_fence;
}

static void fence_signal(int drm, __u32 fence)
{
	struct drm_vgem_fence_signal s = { .fence = fence };

	xioctl(drm, DRM_IOCTL_VGEM_FENCE_SIGNAL, &s, "DRM_IOCTL_VGEM_FENCE_SIGNAL");
}

static int export_sync_file(struct bo *bo, __u32 flags)
{
	struct dma_buf_export_sync_file e = { .flags = flags, .fd = -1 };

	xioctl(bo->dmabuf, DMA_BUF_IOCTL_EXPORT_SYNC_FILE, &e, "DMA_BUF_IOCTL_EXPORT_SYNC_FILE");
	return e.fd;
}

int main(int argc, char **argv)
{
	int nbo = argc > 1 ? atoi(argv[1]) : 6;
	int with_timeout = argc > 2 && !strcmp(argv[2], "timeout");
	int drm = open("/dev/dri/card0", O_RDWR | O_CLOEXEC);

	if (drm < 0)
		die("open /dev/dri/card0");
	if (nbo < 1 || nbo > 64)
		nbo = 6;

	for (int i = 0; i < nbo; i++) {
		struct bo bo;
		int write = i % 2 == 0;

		bo_create(drm, &bo, i);
		__u32 f = fence_attach(drm, &bo, write);
		/* a reader waits for the writer's fence; a writer waits for all fences */
		int sf = export_sync_file(&bo, DMA_BUF_SYNC_WRITE);
		int busy = !poll_ready(sf, POLLIN, 0);
		printf("bo %d: handle=%u size=%llu %s fence=%u busy=%d\n", i, bo.handle,
		       (unsigned long long)bo.size, write ? "write" : "read", f, busy);

		pid_t child = fork();
		if (child < 0)
			die("fork");
		if (child == 0) {
			if (i % 2 == 0)
				/* waits on the dma_resv: POLLOUT = all fences, POLLIN = write fences */
				_exit(poll_ready(bo.dmabuf, POLLOUT, 10000) ? 0 : 2);
			/* CPU access for writing waits for every fence on the resv */
			struct dma_buf_sync s = { .flags = DMA_BUF_SYNC_START | DMA_BUF_SYNC_RW };
			xioctl(bo.dmabuf, DMA_BUF_IOCTL_SYNC, &s, "DMA_BUF_IOCTL_SYNC start");
			s.flags = DMA_BUF_SYNC_END | DMA_BUF_SYNC_RW;
			xioctl(bo.dmabuf, DMA_BUF_IOCTL_SYNC, &s, "DMA_BUF_IOCTL_SYNC end");
			_exit(0);
		}
		usleep(5000);
		fence_signal(drm, f);
		int st;
		waitpid(child, &st, 0);
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
			fprintf(stderr, "vgem: waiter child failed (status %d)\n", st);
			return 1;
		}
		if (!poll_ready(sf, POLLIN, 1000)) {
			fprintf(stderr, "vgem: exported sync_file not signalled\n");
			return 1;
		}
		close(sf);
		bo_destroy(drm, &bo);
	}

	/* two readers then a writer on one object */
	{
		struct bo bo;
		bo_create(drm, &bo, 0x5a);
		__u32 r1 = fence_attach(drm, &bo, 0);
		__u32 r2 = fence_attach(drm, &bo, 0);
		fence_signal(drm, r2);
		fence_signal(drm, r1);
		__u32 w = fence_attach(drm, &bo, 1);
		fence_signal(drm, w);
		printf("shared bo: readers %u %u, writer %u signalled\n", r1, r2, w);
		bo_destroy(drm, &bo);
	}

	if (with_timeout) {
		struct bo bo;
		bo_create(drm, &bo, 0x77);
		__u32 f = fence_attach(drm, &bo, 1);
		printf("leaving fence %u unsignalled; waiting for vgem's timeout\n", f);
		int ok = poll_ready(bo.dmabuf, POLLOUT, 15000);
		printf("timed-out fence signalled: %d\n", ok);
		bo_destroy(drm, &bo);
	}
	close(drm);
	printf("vgem: ok\n");
	return 0;
}
