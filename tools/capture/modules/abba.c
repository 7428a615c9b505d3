// SPDX-License-Identifier: GPL-2.0
/*
 * abba: two mutexes taken in opposite orders from two code paths.
 *
 * Path 1 (insmod, process context) takes a_mutex then b_mutex; path 2 (a work item, kworker)
 * takes b_mutex then a_mutex.  The paths run one after the other, so nothing deadlocks, but
 * lockdep records a->b and then sees b->a and prints
 * "WARNING: possible circular locking dependency detected".
 */
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/workqueue.h>
#include <linux/slab.h>

struct abba_dev {
	struct mutex a_mutex;
	struct mutex b_mutex;
	int counter;
	struct work_struct work;
};

static struct abba_dev *dev;

static void path_ab(struct abba_dev *d)
{
	mutex_lock(&d->a_mutex);
	mutex_lock(&d->b_mutex);
	d->counter++;
	mutex_unlock(&d->b_mutex);
	mutex_unlock(&d->a_mutex);
}

static void path_ba(struct work_struct *w)
{
	struct abba_dev *d = container_of(w, struct abba_dev, work);

	mutex_lock(&d->b_mutex);
	mutex_lock(&d->a_mutex);	/* inverted order: lockdep reports here */
	d->counter++;
	mutex_unlock(&d->a_mutex);
	mutex_unlock(&d->b_mutex);
}

static int __init abba_init(void)
{
	dev = kzalloc(sizeof(*dev), GFP_KERNEL);
	if (!dev)
		return -ENOMEM;
	mutex_init(&dev->a_mutex);
	mutex_init(&dev->b_mutex);
	INIT_WORK(&dev->work, path_ba);

	pr_info("abba: path 1: a_mutex -> b_mutex\n");
	path_ab(dev);
	pr_info("abba: path 2 (worker): b_mutex -> a_mutex\n");
	schedule_work(&dev->work);
	flush_work(&dev->work);
	pr_info("abba: done, counter=%d\n", dev->counter);
	return 0;
}

static void __exit abba_exit(void)
{
	kfree(dev);
}

module_init(abba_init);
module_exit(abba_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("tracereplay capture: AB-BA mutex order inversion (lockdep circular dependency)");
