/*
 * bench-lowerbound: the least work a container start needs, as a yardstick for scripts/bench.
 *
 *   bench-lowerbound ROOTFS STATEDIR [CMD ARGS...]     (CMD defaults to /bin/true)
 *
 * Mounts an overlay of ROOTFS with a fresh upper dir under STATEDIR, clones into new mount, PID,
 * UTS, IPC and network namespaces, mounts /proc, pivots into the overlay, execs CMD, waits, and
 * removes everything it made. No cgroups, no capabilities or seccomp, no pty, no logs, no state.
 * Exits with CMD's status (128+N for a signal).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

struct child_args {
	const char *merged;
	char **argv;
};

static char child_stack[256 * 1024] __attribute__((aligned(16)));

static void die(const char *what)
{
	fprintf(stderr, "bench-lowerbound: %s: %s\n", what, strerror(errno));
	exit(125);
}

/* In the new namespaces: this runs in a clone of the parent's memory and leaves with _exit. */
static int child(void *arg)
{
	struct child_args *a = arg;
	/* Keep our mounts out of the host's propagation peers (mount_namespaces(7)). */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0 || chdir(a->merged) != 0 ||
	    mount("proc", "proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) != 0 ||
	    sethostname("lowerbound", 10) != 0)
		_exit(125);
	/* pivot_root(".", ".") stacks the old root on the new one; detaching it leaves the new. */
	if (syscall(SYS_pivot_root, ".", ".") != 0 || umount2(".", MNT_DETACH) != 0 || chdir("/") != 0)
		_exit(125);
	execv(a->argv[0], a->argv);
	_exit(errno == ENOENT ? 127 : 126);
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(path);
}

int main(int argc, char **argv)
{
	static char *default_cmd[] = { "/bin/true", NULL };
	char dir[PATH_MAX / 2], upper[PATH_MAX], work[PATH_MAX], merged[PATH_MAX], opts[3 * PATH_MAX + 64];
	int status;

	if (argc < 3) {
		fprintf(stderr, "usage: bench-lowerbound ROOTFS STATEDIR [CMD ARGS...]\n");
		return 2;
	}
	if (snprintf(dir, sizeof dir, "%s/ct.XXXXXX", argv[2]) >= (int)sizeof dir) {
		fprintf(stderr, "bench-lowerbound: STATEDIR is too long\n");
		return 2;
	}
	if (!mkdtemp(dir))
		die("mkdtemp");
	snprintf(upper, sizeof upper, "%s/upper", dir);
	snprintf(work, sizeof work, "%s/work", dir);
	snprintf(merged, sizeof merged, "%s/merged", dir);
	if (mkdir(upper, 0755) != 0 || mkdir(work, 0700) != 0 || mkdir(merged, 0755) != 0)
		die("mkdir");
	snprintf(opts, sizeof opts, "lowerdir=%s,upperdir=%s,workdir=%s", argv[1], upper, work);
	if (mount("overlay", merged, "overlay", 0, opts) != 0)
		die("mount overlay");

	struct child_args args = { merged, argc > 3 ? argv + 3 : default_cmd };
	int flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET | SIGCHLD;
	pid_t pid = clone(child, child_stack + sizeof child_stack, flags, &args);
	if (pid < 0)
		die("clone");
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			die("waitpid");

	if (umount2(merged, MNT_DETACH) != 0)
		die("umount overlay");
	if (nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS) != 0)
		die("remove state dir");
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
