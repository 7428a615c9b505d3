// SPDX-License-Identifier: GPL-2.0
/*
 * refcount_underflow: one dma_fence put twice.
 *
 * The fence is initialised (dma_fence_init event), signalled (dma_fence_signaled), and its only
 * reference is dropped twice.  The first dma_fence_put() releases it (dma_fence_destroy); the
 * second finds the refcount at 0 and refcount_t prints
 * "refcount_t: underflow; use-after-free." (a WARNING with a backtrace) and saturates the count.
 *
 * To keep the guest healthy the fence memory is owned by this module (ops->release does not free
 * it), so the second put touches live memory; it is freed at module exit.
 */
#include <linux/module.h>
#include <linux/dma-fence.h>
#include <linux/slab.h>
#include <linux/spinlock.h>

struct uf_fence {
	struct dma_fence base;
	spinlock_t lock;
};

static struct uf_fence *uf;

static const char *uf_driver_name(struct dma_fence *f)
{
	return "refcount_underflow";
}

static const char *uf_timeline_name(struct dma_fence *f)
{
	return "uf_timeline";
}

static void uf_release(struct dma_fence *f)
{
	pr_info("refcount_underflow: fence released (memory kept by the module)\n");
}

static const struct dma_fence_ops uf_ops = {
	.get_driver_name = uf_driver_name,
	.get_timeline_name = uf_timeline_name,
	.release = uf_release,
};

static int __init uf_init(void)
{
	uf = kzalloc(sizeof(*uf), GFP_KERNEL);
	if (!uf)
		return -ENOMEM;
	spin_lock_init(&uf->lock);
	dma_fence_init(&uf->base, &uf_ops, &uf->lock, dma_fence_context_alloc(1), 1);
	dma_fence_signal(&uf->base);

	pr_info("refcount_underflow: first dma_fence_put (drops the last reference)\n");
	dma_fence_put(&uf->base);
	pr_info("refcount_underflow: second dma_fence_put (underflow)\n");
	dma_fence_put(&uf->base);
	pr_info("refcount_underflow: done\n");
	return 0;
}

static void __exit uf_exit(void)
{
	kfree(uf);
}

module_init(uf_init);
module_exit(uf_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("tracereplay capture: dma_fence put twice (refcount_t underflow)");
