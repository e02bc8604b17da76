// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * e2e helper, run inside a guest: hold N kernel-uevent listeners open, so
 * that every uevent broadcast takes longer.
 *
 *	uevent-crowd N
 *
 * Opens N NETLINK_KOBJECT_UEVENT sockets bound to the kernel's multicast
 * group, prints "ready N", then sleeps until killed, never reading them
 * (a full socket just drops: netlink_broadcast() still walks it).
 *
 * Why: device_add() (drivers/base/core.c) sends the KOBJ_ADD uevent
 * before it marks the device ready to probe; a bind in between is refused
 * with -EPROBE_DEFER, -EAGAIN to userspace (drivers/base/dd.c
 * __driver_probe_device(), "Device not ready to probe", the stable
 * backport of upstream a2225b6e834a in Debian's 6.1 and 6.12).  netlink
 * delivers to the newest listener first, so a daemon started after the
 * crowd gets the add uevent while the kernel still walks the crowd: the
 * window memplugd fell into about once in eight README demos is held
 * open long enough to hit every time.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/netlink.h>

int main(int argc, char **argv)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK, .nl_groups = 1 };
	int n = argc > 1 ? atoi(argv[1]) : 0;
	struct rlimit rl = { (rlim_t)n + 64, (rlim_t)n + 64 };
	int made = 0;

	if (n <= 0) {
		fprintf(stderr, "usage: uevent-crowd N\n");
		return 2;
	}
	if (setrlimit(RLIMIT_NOFILE, &rl))
		perror("uevent-crowd: setrlimit");
	for (int i = 0; i < n; i++) {
		int s = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_KOBJECT_UEVENT);

		if (s < 0 || bind(s, (struct sockaddr *)&sa, sizeof(sa))) {
			perror("uevent-crowd: netlink");
			break;
		}
		made++;
	}
	printf("ready %d\n", made);
	fflush(stdout);
	if (made < n)
		return 1;
	for (;;)
		pause();
}
