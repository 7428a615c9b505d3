// SPDX-License-Identifier: GPL-2.0
/*
 * recursive: two mutexes of one lock class nested without a subclass annotation.
 *
 * Both objects are initialised by the same mutex_init() call site, so they share a lockdep
 * class.  Taking obj[1]->lock while holding obj[0]->lock (no mutex_lock_nested) makes lockdep
 * print "WARNING: possible recursive locking detected".  No real deadlock: they are different
 * mutexes.
 */
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/slab.h>

struct rec_obj {
	struct mutex lock;
	int value;
};

static struct rec_obj *objs[2];

static struct rec_obj *rec_obj_new(int value)
{
	struct rec_obj *o = kzalloc(sizeof(*o), GFP_KERNEL);

	if (o) {
		mutex_init(&o->lock);	/* one call site => one lockdep class */
		o->value = value;
	}
	return o;
}

static void rec_transfer(struct rec_obj *from, struct rec_obj *to)
{
	mutex_lock(&from->lock);
	mutex_lock(&to->lock);		/* same class, no nesting annotation */
	to->value += from->value;
	from->value = 0;
	mutex_unlock(&to->lock);
	mutex_unlock(&from->lock);
}

static int __init rec_init(void)
{
	objs[0] = rec_obj_new(1);
	objs[1] = rec_obj_new(2);
	if (!objs[0] || !objs[1]) {
		kfree(objs[0]);
		kfree(objs[1]);
		return -ENOMEM;
	}
	pr_info("recursive: nesting two locks of class &o->lock\n");
	rec_transfer(objs[0], objs[1]);
	pr_info("recursive: done, value=%d\n", objs[1]->value);
	return 0;
}

static void __exit rec_exit(void)
{
	kfree(objs[0]);
	kfree(objs[1]);
}

module_init(rec_init);
module_exit(rec_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("tracereplay capture: recursive locking of one lockdep class");
