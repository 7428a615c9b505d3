// SPDX-License-Identifier: GPL-2.0
/*
 * irq_inconsistent: one spinlock taken in process context with softirqs enabled and in a timer
 * callback (softirq context).
 *
 * Module init takes stat_lock with plain spin_lock() (marks the class SOFTIRQ-ON-W), then arms a
 * timer whose callback takes the same lock in softirq context (IN-SOFTIRQ-W).  Lockdep prints
 * "WARNING: inconsistent lock state" / "inconsistent {SOFTIRQ-ON-W} -> {IN-SOFTIRQ-W} usage."
 * The correct code would use spin_lock_bh() in process context.
 */
#include <linux/module.h>
#include <linux/spinlock.h>
#include <linux/timer.h>
#include <linux/delay.h>
#include <linux/completion.h>

static DEFINE_SPINLOCK(stat_lock);
static unsigned long stat_count;
static struct timer_list stat_timer;
static DECLARE_COMPLETION(timer_ran);

static void stat_timer_fn(struct timer_list *t)
{
	spin_lock(&stat_lock);		/* softirq context */
	stat_count++;
	spin_unlock(&stat_lock);
	complete(&timer_ran);
}

static int __init irqi_init(void)
{
	spin_lock(&stat_lock);		/* process context, softirqs on: should be spin_lock_bh */
	stat_count++;
	spin_unlock(&stat_lock);

	pr_info("irq_inconsistent: arming timer that takes stat_lock in softirq context\n");
	timer_setup(&stat_timer, stat_timer_fn, 0);
	mod_timer(&stat_timer, jiffies + msecs_to_jiffies(20));
	wait_for_completion(&timer_ran);
	pr_info("irq_inconsistent: done, count=%lu\n", stat_count);
	return 0;
}

static void __exit irqi_exit(void)
{
	del_timer_sync(&stat_timer);
}

module_init(irqi_init);
module_exit(irqi_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("tracereplay capture: spinlock used in process and softirq context (inconsistent lock state)");
