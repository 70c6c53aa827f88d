/*
 * The fixed part of every rethfs C reproducer: each step's system calls as rethfs's host
 * makes them, the bookkeeping of readdir-seek-resumes-after-entry as rethfs keeps it, the
 * checks of the finding's step, and the cleanup that every exit path goes through.
 * libc and syscall(SYS_getdents64) only.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <unistd.h>

#define TRACEFS "/sys/kernel/tracing"
#define TRACEFS_MAGIC 0x74726163
/* The buffer of each getdents64 call of a listing, as rethfs (and ls) use. */
#define LIST_BUFFER 32768
/* A `cat` reads at most this much, as rethfs's does. */
#define READ_FILE_MAX 1048576

/* Each reproducer calls only the functions its steps need. */
#define STEP_FN static __attribute__((unused))

/* git bisect run's convention. */
enum { CORRECT = 0, SHOWS = 1, CANNOT = 125 };

/* What the run's host answered a step before the finding's. */
enum { RAN_OK, RAN_FAILED };

struct dent {
	char *name;
	unsigned char type;
	long long off;
};

/* An open file of the scenario's, and what rethfs's seek invariant keeps for it: the
 * entries read since the open or a rewind, whether a read reached the end, the names
 * created or removed meanwhile, and a seek not yet followed by a read. */
struct handle {
	const char *name;
	int fd;
	struct dent *seen;
	size_t nseen;
	int complete;
	int pass;
	char **touched;
	size_t ntouched;
	int pending;
	long long pos;
};

/* Events made, undone at cleanup: the enable to write 0 to, then the line that removes it. */
struct undo {
	const char *control;
	const char *line;
	const char *enable;
};

/* -- the reproducer's own tables -- */

enum { V_DONE, V_WRITTEN, V_DATA, V_STAT, V_DIRENTS, V_NAMES, V_POS, V_CWD };

/* One step's answer: an errno, or a value. */
struct result {
	int err;
	int kind;
	long long num;
	char *text;
	size_t len;
	struct stat st;
	struct dent *ents;
	size_t nents;
	/* getdents right after a seek: where the seek went. */
	int after_seek;
	long long seek_pos;
};

/* One answer the finding's step may rightly give. */
enum { W_ERR, W_DONE, W_STAT, W_DATA, W_NAMES, W_ENTRIES, W_WRITTEN, W_POS, W_CWD };
struct want {
	int kind;
	int err;
	long long num;
	const char *text;
	char ftype;
	unsigned perm;
	unsigned long long nlink;
	unsigned uid, gid;
	const char *const *names;
	const char *types;
	const long long *offs;
};

static char prefix[32];
static char *uprobe;
static int root_fd = -1;
static int start_fd = -1;
static int mounted;
static char saved_options[160];
static struct undo *undone;
static char **dirs_made;
static size_t nundo, ndirs;
static volatile sig_atomic_t prepared, cleaning;

#define NHANDLES (sizeof handles / sizeof *handles)

/* `s` with {prefix} and {uprobe} expanded, newly allocated; the program is short, so what
 * it allocates lives until it ends. */
static char *X(const char *s)
{
	size_t cap = strlen(s) + 1, n = 0;
	char *out = malloc(cap);
	while (out) {
		const char *with = NULL;
		size_t skip = 0;
		if (!strncmp(s, "{prefix}", 8))
			with = prefix, skip = 8;
		else if (!strncmp(s, "{uprobe}", 8))
			with = uprobe, skip = 8;
		size_t add = with ? strlen(with) : 1;
		if (n + add + 1 > cap) {
			cap = 2 * cap + add;
			out = realloc(out, cap);
			if (!out)
				break;
		}
		if (with) {
			memcpy(out + n, with, add);
			n += add;
			s += skip;
		} else if (*s) {
			out[n++] = *s++;
		} else {
			out[n] = 0;
			return out;
		}
	}
	perror("repro: malloc");
	_exit(CANNOT);
}

/* Undoes what the steps made, with system calls alone: signal handlers run it too. */
static void cleanup(void)
{
	if (cleaning)
		return;
	cleaning = 1;
	for (size_t i = 0; i < NHANDLES; i++)
		if (handles[i].fd >= 0)
			close(handles[i].fd);
	if (start_fd < 0 || fchdir(start_fd) != 0)
		(void)!chdir("/");
	if (prepared) {
		if (saved_options[0])
			mount(NULL, TRACEFS, NULL, MS_REMOUNT, saved_options);
		for (size_t i = 0; i < ndirs; i++)
			unlinkat(root_fd, dirs_made[i], AT_REMOVEDIR);
		/* An enabled event cannot be removed; an eprobe, made after its event, goes first. */
		for (size_t i = 0; i < nundo; i++) {
			int fd = openat(root_fd, undone[i].enable, O_WRONLY);
			if (fd >= 0) {
				(void)!write(fd, "0", 1);
				close(fd);
			}
			fd = openat(root_fd, undone[i].control, O_WRONLY | O_APPEND);
			if (fd >= 0) {
				(void)!write(fd, undone[i].line, strlen(undone[i].line));
				close(fd);
			}
		}
	}
	if (root_fd >= 0)
		close(root_fd);
	if (mounted)
		umount2(TRACEFS, 0);
}

static void leave(int code) __attribute__((noreturn));
static void leave(int code)
{
	cleanup();
	exit(code);
}

static void say(int code, const char *what, const char *fmt, ...)
	__attribute__((noreturn, format(printf, 3, 4)));
static void say(int code, const char *what, const char *fmt, ...)
{
	va_list ap;
	fflush(stdout);
	fprintf(code == CORRECT ? stdout : stderr, "repro: %s: ", what);
	va_start(ap, fmt);
	vfprintf(code == CORRECT ? stdout : stderr, fmt, ap);
	va_end(ap);
	fputc('\n', code == CORRECT ? stdout : stderr);
	leave(code);
}
#define cannot(...) say(CANNOT, "cannot run here", __VA_ARGS__)

/* Cleans up and dies of the signal; one during the cleanup lets it finish. */
static void on_signal(int sig)
{
	if (cleaning)
		return;
	cleanup();
	signal(sig, SIG_DFL);
	raise(sig);
}

/* uid=,gid=,mode= of the tracefs mount now, as rethfs puts it back after a remount. */
static void save_mount_options(void)
{
	char line[4096], uid[32] = "0", gid[32] = "0", mode[32] = "700";
	FILE *f = fopen("/proc/self/mountinfo", "r");
	while (f && fgets(line, sizeof line, f)) {
		char *field[64], *save = NULL;
		int n = 0;
		for (char *t = strtok_r(line, " \n", &save); t && n < 64; t = strtok_r(NULL, " \n", &save))
			field[n++] = t;
		if (n < 6 || strcmp(field[4], TRACEFS))
			continue;
		for (char *o = strtok_r(field[n - 1], ",", &save); o; o = strtok_r(NULL, ",", &save)) {
			if (!strncmp(o, "uid=", 4))
				snprintf(uid, sizeof uid, "%s", o + 4);
			else if (!strncmp(o, "gid=", 4))
				snprintf(gid, sizeof gid, "%s", o + 4);
			else if (!strncmp(o, "mode=", 5))
				snprintf(mode, sizeof mode, "%s", o + 5);
		}
	}
	if (f)
		fclose(f);
	snprintf(saved_options, sizeof saved_options, "uid=%s,gid=%s,mode=%s", uid, gid, mode);
}

/* Root, tracefs at /sys/kernel/tracing (mounted if it is not), unique names, the cleanup
 * tables expanded and the signals caught: or 125. */
static void begin(void)
{
	struct statfs fs;
	struct stat st;
	size_t i;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (geteuid() != 0)
		cannot("it must run as root (it makes and removes trace events)");
	snprintf(prefix, sizeof prefix, "repro_%ld", (long)getpid());
	/* A uprobe at offset 0 of an existing file: defined, never enabled. */
	char *target = realpath("/bin/sh", NULL);
	if (!target || stat(target, &st) || !S_ISREG(st.st_mode))
		target = realpath("/proc/self/exe", NULL);
	if (!target || asprintf(&uprobe, "%s:0x0", target) < 0)
		cannot("no file to place a uprobe in");
	start_fd = open(".", O_PATH | O_DIRECTORY);
	if (statfs(TRACEFS, &fs) != 0 || fs.f_type != TRACEFS_MAGIC) {
		if (mount("nodev", TRACEFS, "tracefs", 0, NULL) != 0)
			cannot("%s is not tracefs, and mounting it there failed: %s", TRACEFS,
			       strerror(errno));
		mounted = 1;
	}
	root_fd = open(TRACEFS, O_RDONLY | O_DIRECTORY);
	if (root_fd < 0 || fchdir(root_fd) != 0)
		cannot("%s: %s", TRACEFS, strerror(errno));
	for (nundo = 0; undo[nundo].line; nundo++)
		;
	for (ndirs = 0; made_dirs[ndirs]; ndirs++)
		;
	undone = calloc(nundo + 1, sizeof *undone);
	dirs_made = calloc(ndirs + 1, sizeof *dirs_made);
	if (!undone || !dirs_made)
		cannot("out of memory");
	for (i = 0; i < nundo; i++) {
		char *line = X(undo[i].line), *with_nl = malloc(strlen(line) + 2);
		if (!with_nl)
			cannot("out of memory");
		sprintf(with_nl, "%s\n", line);
		undone[i] = (struct undo){ undo[i].control, with_nl, X(undo[i].enable) };
	}
	for (i = 0; i < ndirs; i++)
		dirs_made[i] = X(made_dirs[i]);
	prepared = 1;
	struct sigaction sa = { .sa_handler = on_signal };
	sigemptyset(&sa.sa_mask);
	sigaddset(&sa.sa_mask, SIGINT);
	sigaddset(&sa.sa_mask, SIGTERM);
	sigaddset(&sa.sa_mask, SIGHUP);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	printf("repro: objects named %s, uprobes at %s, in %s%s\n", prefix, uprobe, TRACEFS,
	       mounted ? " (mounted by this program)" : "");
}

/* Where a path starts: the current directory for `./...`, else the tracefs root. */
static int base(const char *path)
{
	while (*path == '/')
		path++;
	return path[0] == '.' && (path[1] == '/' || path[1] == 0) ? AT_FDCWD : root_fd;
}

static void reset(struct result *r)
{
	for (size_t i = 0; i < r->nents; i++)
		free(r->ents[i].name);
	free(r->ents);
	free(r->text);
	memset(r, 0, sizeof *r);
}

/* Records a system call's return: the errno when it failed. */
static int done(struct result *r, long ret)
{
	r->err = ret < 0 ? errno : 0;
	r->kind = V_DONE;
	return ret >= 0;
}

static void forget(struct handle *h)
{
	for (size_t i = 0; i < h->nseen; i++)
		free(h->seen[i].name);
	free(h->seen);
	h->seen = NULL;
	h->nseen = 0;
	h->complete = 0;
}

static void new_pass(struct handle *h, int open)
{
	for (size_t i = 0; i < h->ntouched; i++)
		free(h->touched[i]);
	free(h->touched);
	h->touched = NULL;
	h->ntouched = 0;
	h->pass = open;
}

/* After a step that made or removed these names (NULL-terminated): every open pass may see
 * them come or go. */
STEP_FN void touch(const struct result *r, ...)
{
	va_list ap;
	const char *name;
	if (r->err)
		return;
	va_start(ap, r);
	while ((name = va_arg(ap, const char *))) {
		for (size_t i = 0; i < NHANDLES; i++) {
			struct handle *h = &handles[i];
			char **t = h->pass ? realloc(h->touched, (h->ntouched + 1) * sizeof *t) : NULL;
			if (t) {
				h->touched = t;
				t[h->ntouched++] = X(name);
			}
		}
	}
	va_end(ap);
}

static int is_touched(const struct handle *h, const char *name)
{
	for (size_t i = 0; h->pass && i < h->ntouched; i++)
		if (!strcmp(h->touched[i], name))
			return 1;
	return 0;
}

/* One getdents64 call with a buffer of `size` bytes, decoded into r->ents. */
static int getdents(struct result *r, int fd, size_t size)
{
	/* u64-aligned, as the kernel writes 8-byte fields. */
	unsigned long long *buf = malloc(size + 8);
	char *bytes = (char *)buf;
	long n = buf ? syscall(SYS_getdents64, fd, buf, size) : -1;
	if (!done(r, n)) {
		free(buf);
		return 0;
	}
	r->kind = V_DIRENTS;
	for (long at = 0; at < n;) {
		unsigned short reclen;
		struct dent d;
		memcpy(&d.off, bytes + at + 8, 8);
		memcpy(&reclen, bytes + at + 16, 2);
		d.type = (unsigned char)bytes[at + 18];
		d.name = strdup(bytes + at + 19);
		struct dent *e = realloc(r->ents, (r->nents + 1) * sizeof *e);
		if (!e || !d.name)
			cannot("out of memory");
		r->ents = e;
		r->ents[r->nents++] = d;
		at += reclen;
	}
	free(buf);
	return 1;
}

STEP_FN void do_control(struct result *r, const char *file, const char *line)
{
	char *l = X(line);
	size_t n = strlen(l);
	reset(r);
	l = realloc(l, n + 2);
	if (!l)
		cannot("out of memory");
	memcpy(l + n, "\n", 2);
	int fd = openat(root_fd, file, O_WRONLY | O_APPEND);
	if (done(r, fd)) {
		if (done(r, write(fd, l, n + 1)))
			r->num = n + 1;
		close(fd);
	}
	free(l);
	/* A control write forgets every listing: the seek invariant judges within one. */
	for (size_t i = 0; !r->err && i < NHANDLES; i++)
		forget(&handles[i]);
}

STEP_FN void do_mkdir(struct result *r, const char *path)
{
	reset(r);
	done(r, mkdirat(base(path), X(path), 0777));
}

STEP_FN void do_rmdir(struct result *r, const char *path)
{
	reset(r);
	done(r, unlinkat(base(path), X(path), AT_REMOVEDIR));
}

STEP_FN void do_unlink(struct result *r, const char *path)
{
	reset(r);
	done(r, unlinkat(base(path), X(path), 0));
}

STEP_FN void do_rename(struct result *r, const char *from, const char *to)
{
	reset(r);
	done(r, renameat(base(from), X(from), base(to), X(to)));
}

static void stat_value(struct result *r, long ret)
{
	if (done(r, ret))
		r->kind = V_STAT;
}

STEP_FN void do_stat(struct result *r, const char *path)
{
	reset(r);
	stat_value(r, fstatat(base(path), X(path), &r->st, 0));
}

static int handle_fd(struct result *r, struct handle *h)
{
	if (h->fd < 0) {
		r->err = EBADF;
		return 0;
	}
	return 1;
}

/* open(2) with O_NONBLOCK, as rethfs opens (an empty trace pipe is EAGAIN, not a wait). */
STEP_FN void do_open(struct result *r, struct handle *h, const char *path, int flags)
{
	reset(r);
	if (h->fd >= 0) {
		r->err = EBADF;
		return;
	}
	int fd = openat(base(path), X(path), flags | O_NONBLOCK, 0666);
	if (done(r, fd)) {
		h->fd = fd;
		forget(h);
		new_pass(h, 1);
	}
}

STEP_FN void do_openat(struct result *r, struct handle *h, struct handle *dir, const char *path)
{
	reset(r);
	if (h->fd >= 0 || dir->fd < 0) {
		r->err = EBADF;
		return;
	}
	int fd = openat(dir->fd, X(path), O_RDONLY | O_NONBLOCK);
	if (done(r, fd))
		h->fd = fd;
}

STEP_FN void do_close(struct result *r, struct handle *h)
{
	reset(r);
	if (handle_fd(r, h)) {
		close(h->fd);
		h->fd = -1;
		new_pass(h, 0);
	}
}

STEP_FN void do_read(struct result *r, struct handle *h, size_t len)
{
	reset(r);
	if (!handle_fd(r, h))
		return;
	r->text = malloc(len + 1);
	long n = r->text ? read(h->fd, r->text, len) : -1;
	if (done(r, n)) {
		r->kind = V_DATA;
		r->len = n;
	}
}

STEP_FN void do_write(struct result *r, struct handle *h, const char *data)
{
	char *d = X(data);
	reset(r);
	long n = handle_fd(r, h) ? write(h->fd, d, strlen(d)) : -1;
	if (!r->err && done(r, n)) {
		r->kind = V_WRITTEN;
		r->num = n;
	}
	free(d);
}

STEP_FN void do_fstat(struct result *r, struct handle *h)
{
	reset(r);
	if (handle_fd(r, h))
		stat_value(r, fstat(h->fd, &r->st));
}

STEP_FN void do_getdents(struct result *r, struct handle *h, size_t size)
{
	reset(r);
	if (!handle_fd(r, h) || !getdents(r, h->fd, size))
		return;
	if (h->pending) {
		/* Read right after a seek: the seek invariant judges these; they are not listed. */
		h->pending = 0;
		r->after_seek = 1;
		r->seek_pos = h->pos;
		return;
	}
	h->complete |= r->nents == 0;
	struct dent *s = realloc(h->seen, (h->nseen + r->nents + 1) * sizeof *s);
	if (!s)
		cannot("out of memory");
	h->seen = s;
	for (size_t i = 0; i < r->nents; i++) {
		s[h->nseen] = r->ents[i];
		s[h->nseen++].name = strdup(r->ents[i].name);
	}
}

STEP_FN void do_seek(struct result *r, struct handle *h, long long pos, int whence)
{
	reset(r);
	if (!handle_fd(r, h))
		return;
	off_t at = lseek(h->fd, pos, whence);
	if (!done(r, at))
		return;
	r->kind = V_POS;
	r->num = at;
	if (whence != SEEK_SET)
		return;
	if (pos == 0) {
		forget(h);
		if (h->pass)
			new_pass(h, 1);
	} else {
		h->pending = 1;
		h->pos = pos;
	}
}

/* `ls -f`: open, getdents64 until empty, close; the names without `.` and `..`. */
STEP_FN void do_list(struct result *r, const char *path)
{
	struct result batch = { 0 };
	reset(r);
	int fd = openat(base(path), X(path), O_RDONLY | O_DIRECTORY);
	if (!done(r, fd))
		return;
	r->kind = V_NAMES;
	while (getdents(&batch, fd, LIST_BUFFER) && batch.nents) {
		for (size_t i = 0; i < batch.nents; i++) {
			const char *n = batch.ents[i].name;
			if (!strcmp(n, ".") || !strcmp(n, ".."))
				continue;
			struct dent *e = realloc(r->ents, (r->nents + 1) * sizeof *e);
			if (!e)
				cannot("out of memory");
			r->ents = e;
			r->ents[r->nents] = batch.ents[i];
			r->ents[r->nents++].name = strdup(n);
		}
		reset(&batch);
	}
	if (batch.err)
		r->err = batch.err;
	reset(&batch);
	close(fd);
}

STEP_FN void do_read_file(struct result *r, const char *path)
{
	reset(r);
	int fd = openat(base(path), X(path), O_RDONLY | O_NONBLOCK);
	if (!done(r, fd))
		return;
	r->text = malloc(READ_FILE_MAX + 1);
	if (!r->text)
		cannot("out of memory");
	while (r->len < READ_FILE_MAX) {
		long n = read(fd, r->text + r->len, READ_FILE_MAX - r->len);
		if (!done(r, n) || n == 0)
			break;
		r->len += n;
	}
	if (!r->err)
		r->kind = V_DATA;
	close(fd);
}

STEP_FN void do_write_file(struct result *r, const char *path, const char *data)
{
	char *d = X(data);
	reset(r);
	int fd = openat(base(path), X(path), O_WRONLY | O_CREAT | O_TRUNC, 0666);
	if (done(r, fd)) {
		long n = write(fd, d, strlen(d));
		if (done(r, n)) {
			r->kind = V_WRITTEN;
			r->num = n;
		}
		close(fd);
	}
	free(d);
}

STEP_FN void do_chdir(struct result *r, const char *path)
{
	reset(r);
	int fd = openat(base(path), X(path), O_PATH | O_DIRECTORY);
	if (done(r, fd)) {
		done(r, fchdir(fd));
		close(fd);
	}
}

STEP_FN void do_fchdir(struct result *r, struct handle *h)
{
	reset(r);
	if (handle_fd(r, h))
		done(r, fchdir(h->fd));
}

/* The getcwd system call, the answer below the tracefs root (`.` for the root itself). */
STEP_FN void do_getcwd(struct result *r)
{
	char buf[PATH_MAX + 1];
	reset(r);
	long n = syscall(SYS_getcwd, buf, sizeof buf);
	if (!done(r, n))
		return;
	size_t root = strlen(TRACEFS);
	const char *rel = buf;
	if (!strncmp(buf, TRACEFS, root) && buf[root] == 0)
		rel = ".";
	else if (!strncmp(buf, TRACEFS, root) && buf[root] == '/')
		rel = buf + root + 1;
	r->kind = V_CWD;
	r->text = strdup(rel);
	r->len = strlen(rel);
}

STEP_FN void do_chmod(struct result *r, const char *path, unsigned mode)
{
	reset(r);
	done(r, fchmodat(base(path), X(path), mode, 0));
}

/* -1 keeps that id, as chown(2) has it. */
STEP_FN void do_chown(struct result *r, const char *path, long long uid, long long gid)
{
	reset(r);
	done(r, fchownat(base(path), X(path), (uid_t)uid, (gid_t)gid, 0));
}

STEP_FN void do_remount(struct result *r, const char *options)
{
	reset(r);
	if (!saved_options[0])
		save_mount_options();
	done(r, mount(NULL, TRACEFS, NULL, MS_REMOUNT, X(options)));
}

STEP_FN void do_drop_caches(struct result *r)
{
	reset(r);
	int fd = open("/proc/sys/vm/drop_caches", O_WRONLY);
	if (done(r, fd)) {
		done(r, write(fd, "2", 1));
		close(fd);
	}
}

static char ftype(unsigned char d_type)
{
	return d_type == DT_DIR ? 'd' : d_type == DT_REG ? 'f' : 'o';
}

static void show_text(FILE *f, const char *s, size_t n)
{
	fputc('"', f);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = s[i];
		if (c == '\n')
			fputs("\\n", f);
		else if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			fprintf(f, "\\x%02x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

static void show(FILE *f, const struct result *r)
{
	if (r->err) {
		fprintf(f, "errno %d (%s)", r->err, strerror(r->err));
		return;
	}
	switch (r->kind) {
	case V_DONE:
		fputs("ok", f);
		break;
	case V_WRITTEN:
		fprintf(f, "wrote %lld", r->num);
		break;
	case V_DATA:
		fputs("read ", f);
		show_text(f, r->text, r->len);
		break;
	case V_STAT:
		fprintf(f, "%s %o nlink %llu uid %u gid %u",
			S_ISDIR(r->st.st_mode) ? "dir" : S_ISREG(r->st.st_mode) ? "file" : "other",
			(unsigned)(r->st.st_mode & 07777), (unsigned long long)r->st.st_nlink,
			(unsigned)r->st.st_uid, (unsigned)r->st.st_gid);
		break;
	case V_DIRENTS:
	case V_NAMES:
		fputc('[', f);
		for (size_t i = 0; i < r->nents; i++) {
			fprintf(f, "%s%s", i ? " " : "", r->ents[i].name);
			if (r->kind == V_DIRENTS)
				fprintf(f, "@%lld", r->ents[i].off);
		}
		fputc(']', f);
		break;
	case V_POS:
		fprintf(f, "pos %lld", r->num);
		break;
	case V_CWD:
		fprintf(f, "cwd %s", r->text);
		break;
	}
}

/* A step before the finding's: it ran here as in the run, or the trigger cannot run here. */
STEP_FN void step(const struct result *r, int n, const char *what, int ran)
{
	char *w = X(what);
	printf("step %d: %s: ", n, w);
	show(stdout, r);
	putchar('\n');
	if (r->err && ran == RAN_OK)
		cannot("step %d (%s) failed here (%s), though it succeeded in the run: the "
		       "finding's trigger cannot run on this kernel",
		       n, w, strerror(r->err));
	if (!r->err && ran == RAN_FAILED)
		printf("repro: note: step %d succeeded here; it failed in the run\n", n);
	free(w);
}

static int same_text(const char *want, const char *got, size_t len)
{
	char *w = X(want);
	int same = strlen(w) == len && !memcmp(w, got, len);
	free(w);
	return same;
}

static int matches(const struct result *r, const struct want *w)
{
	size_t i;
	if (w->kind == W_ERR)
		return r->err == w->err;
	if (r->err)
		return 0;
	switch (w->kind) {
	case W_DONE:
		return 1;
	case W_STAT:
		return r->kind == V_STAT &&
		       (S_ISDIR(r->st.st_mode) ? 'd' : S_ISREG(r->st.st_mode) ? 'f' : 'o') == w->ftype &&
		       (r->st.st_mode & 07777) == w->perm && r->st.st_nlink == w->nlink &&
		       r->st.st_uid == w->uid && r->st.st_gid == w->gid;
	case W_DATA:
	case W_CWD:
		return r->kind == (w->kind == W_DATA ? V_DATA : V_CWD) &&
		       same_text(w->text, r->text, r->len);
	case W_NAMES:
	case W_ENTRIES:
		if (r->kind != (w->kind == W_NAMES ? V_NAMES : V_DIRENTS))
			return 0;
		for (i = 0; w->names[i]; i++) {
			if (i >= r->nents || !same_text(w->names[i], r->ents[i].name, strlen(r->ents[i].name)))
				return 0;
			if (w->kind == W_ENTRIES &&
			    (ftype(r->ents[i].type) != w->types[i] || r->ents[i].off != w->offs[i]))
				return 0;
		}
		return i == r->nents;
	case W_WRITTEN:
	case W_POS:
		return r->kind == (w->kind == W_WRITTEN ? V_WRITTEN : V_POS) && r->num == w->num;
	}
	return 0;
}

/* The finding's step of a divergence: one of the answers rethfs's model gives is right. */
STEP_FN void answer(const struct result *r, int n, const char *what, const struct want *want,
		   size_t nwant, const char *right, const char *run) __attribute__((noreturn));
STEP_FN void answer(const struct result *r, int n, const char *what, const struct want *want,
		   size_t nwant, const char *right, const char *run)
{
	char *w = X(what);
	printf("step %d: %s: ", n, w);
	show(stdout, r);
	putchar('\n');
	for (size_t i = 0; i < nwant; i++)
		if (matches(r, &want[i]))
			say(CORRECT, "correct", "step %d answered as it should (%s)", n, X(right));
	fflush(stdout);
	fprintf(stderr, "repro: the finding shows: step %d (%s) answered ", n, w);
	show(stderr, r);
	fprintf(stderr, "; correct: %s; the run's kernel answered %s\n", X(right), X(run));
	leave(SHOWS);
}

static const char *first_steady(const struct handle *h, const struct dent *d, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!is_touched(h, d[i].name))
			return d[i].name;
	return "the end";
}

/* readdir-seek-resumes-after-entry: after a seek to the d_off of an entry read earlier on
 * the handle, the read starts at the entry that followed it (names made or removed since
 * the pass began may come or not). */
STEP_FN void seek_resumes(const struct result *r, int n, const char *what, struct handle *h)
	__attribute__((noreturn));
STEP_FN void seek_resumes(const struct result *r, int n, const char *what, struct handle *h)
{
	char *w = X(what);
	size_t k;
	printf("step %d: %s: ", n, w);
	show(stdout, r);
	putchar('\n');
	if (r->err)
		cannot("step %d (%s) failed here (%s), though it succeeded in the run", n, w,
		       strerror(r->err));
	if (!r->after_seek)
		cannot("no seek came before step %d here: the invariant does not apply", n);
	for (k = 0; k < h->nseen && h->seen[k].off != r->seek_pos; k++)
		;
	if (k == h->nseen || (k + 1 == h->nseen && !h->complete))
		cannot("no entry read on %s before had d_off %lld: the invariant does not apply "
		       "on this kernel", h->name, r->seek_pos);
	const char *want = first_steady(h, h->seen + k + 1, h->nseen - k - 1);
	const char *got = first_steady(h, r->ents, r->nents);
	if (!strcmp(want, got))
		say(CORRECT, "correct", "seekdir to %lld, the d_off of `%s`, resumed at %s",
		    r->seek_pos, h->seen[k].name, got);
	say(SHOWS, "the finding shows",
	    "seekdir to %lld, the d_off of `%s`, resumed at %s instead of %s", r->seek_pos,
	    h->seen[k].name, got, want);
}

/* A finding whose check this program cannot make: the steps ran, nothing is judged. */
STEP_FN void not_standalone(const struct result *r, int n, const char *what, const char *why)
	__attribute__((noreturn));
STEP_FN void not_standalone(const struct result *r, int n, const char *what, const char *why)
{
	step(r, n, what, r->err ? RAN_FAILED : RAN_OK);
	cannot("%s", why);
}
