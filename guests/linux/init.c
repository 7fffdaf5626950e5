/*
 * /init of the rrvm Linux test initramfs (static, no busybox).
 *
 * Prints a banner, mounts /proc, /sys and /dev, reads one console line with
 * a 3 s timeout, reads the first line of the virtio disk /dev/vda and a few
 * bytes of /dev/hwrng, then either crashes the kernel through
 * /proc/sysrq-trigger (when the word "crash" is on the kernel command line)
 * or says goodbye and powers off. Every line starts with "rrvm init: " so a
 * test can grep for it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

static void say(const char *fmt, ...)
{
	char buf[512];
	int n = snprintf(buf, sizeof buf, "rrvm init: ");
	va_list ap;

	va_start(ap, fmt);
	n += vsnprintf(buf + n, sizeof buf - n - 1, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof buf - 2)
		n = sizeof buf - 2;
	buf[n++] = '\n';
	(void)!write(1, buf, n);
}

/* Read a small file into buf (NUL-terminated); returns length or -1. */
static int slurp(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY);
	int n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = 0;
	return n;
}

/* Keep printable characters of the first line of s. */
static void first_line(char *s)
{
	char *p;

	for (p = s; *p && *p != '\n' && *p != '\r'; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
			*p = '.';
	*p = 0;
}

static void do_mount(const char *src, const char *dir, const char *type)
{
	mkdir(dir, 0755);
	if (mount(src, dir, type, 0, NULL) < 0 && errno != EBUSY)
		say("mount %s on %s failed: %s", type, dir, strerror(errno));
}

static void read_console(void)
{
	struct pollfd p = { .fd = 0, .events = POLLIN };
	char line[128];
	int n;

	say("type a line within 3 s:");
	n = poll(&p, 1, 3000);
	if (n <= 0) {
		say("no input");
		return;
	}
	n = read(0, line, sizeof line - 1);
	if (n <= 0) {
		say("no input (read: %s)", n < 0 ? strerror(errno) : "EOF");
		return;
	}
	line[n] = 0;
	first_line(line);
	say("read from console: \"%s\"", line);
}

/* /dev/vda: devtmpfs makes it; without devtmpfs, mknod it from sysfs. */
static void read_disk(void)
{
	char buf[513];
	unsigned maj, min;
	int fd, n;

	if (access("/dev/vda", F_OK) < 0) {
		if (slurp("/sys/block/vda/dev", buf, sizeof buf) < 0 ||
		    sscanf(buf, "%u:%u", &maj, &min) != 2) {
			say("no disk (no /dev/vda, no /sys/block/vda)");
			return;
		}
		if (mknod("/dev/vda", S_IFBLK | 0600, makedev(maj, min)) < 0) {
			say("mknod /dev/vda %u:%u failed: %s", maj, min,
			    strerror(errno));
			return;
		}
	}
	fd = open("/dev/vda", O_RDONLY);
	if (fd < 0) {
		say("open /dev/vda failed: %s", strerror(errno));
		return;
	}
	n = read(fd, buf, 512);
	close(fd);
	if (n < 0) {
		say("read /dev/vda failed: %s", strerror(errno));
		return;
	}
	buf[n] = 0;
	first_line(buf);
	say("disk says: \"%s\"", buf);
}

static void on_alarm(int sig)
{
	(void)sig;
}

/* A few bytes from the hardware RNG (virtio-rng), given up after 2 s. */
static void read_hwrng(void)
{
	struct sigaction sa = { .sa_handler = on_alarm };	/* no SA_RESTART */
	unsigned char b[8];
	int fd, n;

	fd = open("/dev/hwrng", O_RDONLY);
	if (fd < 0) {
		say("no /dev/hwrng: %s", strerror(errno));
		return;
	}
	sigaction(SIGALRM, &sa, NULL);
	alarm(2);
	n = read(fd, b, sizeof b);
	alarm(0);
	close(fd);
	if (n <= 0)
		say("hwrng: %s", n < 0 ? strerror(errno) : "no data");
	else
		say("hwrng: %d bytes %02x%02x%02x%02x...", n, b[0], b[1],
		    b[2], b[3]);
}

static int has_word(const char *s, const char *w)
{
	size_t len = strlen(w);
	const char *p;

	for (p = s; (p = strstr(p, w)) != NULL; p += len)
		if ((p == s || p[-1] == ' ') &&
		    (p[len] == 0 || p[len] == ' ' || p[len] == '\n'))
			return 1;
	return 0;
}

int main(void)
{
	char cmdline[1024] = "";
	char uptime[64];
	char online[64];
	int fd;

	say("hello from pid %d", (int)getpid());
	do_mount("proc", "/proc", "proc");
	do_mount("sysfs", "/sys", "sysfs");
	do_mount("devtmpfs", "/dev", "devtmpfs");
	if (slurp("/proc/cmdline", cmdline, sizeof cmdline) >= 0) {
		char shown[1024];

		strcpy(shown, cmdline);
		first_line(shown);
		say("cmdline: %s", shown);
	}

	read_console();
	read_disk();
	read_hwrng();

	if (slurp("/proc/uptime", uptime, sizeof uptime) >= 0) {
		first_line(uptime);
		say("uptime: %s", uptime);
	}
	if (slurp("/sys/devices/system/cpu/online", online, sizeof online) >= 0) {
		first_line(online);
		say("cpus online: %s", online);
	}

	if (has_word(cmdline, "crash")) {
		say("crash requested: writing c to /proc/sysrq-trigger");
		fd = open("/proc/sysrq-trigger", O_WRONLY);
		if (fd < 0 || write(fd, "c", 1) != 1)
			say("sysrq-trigger failed: %s", strerror(errno));
		/* not reached when it works */
	}

	say("goodbye, powering off");
	sync();
	reboot(RB_POWER_OFF);
	say("reboot(RB_POWER_OFF) failed: %s", strerror(errno));
	for (;;)
		pause();
}
