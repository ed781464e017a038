/* procfs.c - host and per-role sampling for samples.csv via libproc2 (proc(5): stat, meminfo, vmstat, diskstats, PID/stat, PID/io). */
#include "procfs.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libproc2/diskstats.h>
#include <libproc2/meminfo.h>
#include <libproc2/misc.h>
#include <libproc2/pids.h>
#include <libproc2/stat.h>
#include <libproc2/vmstat.h>

/* libproc2 refuses to select more pids than this at once (FILL_ID_MAX); stay below it. */
#define PIDS_CHUNK 200

struct cpu_tics {
	unsigned long long user, system, idle, iowait, steal, total;
	int valid;
};

struct disk_prev {
	char name[PROCFS_NAME_MAX];
	unsigned long reads, rsect, rtime, writes, wsect, wtime, iotime;
	int stacked;
};

struct iface_prev {
	char name[PROCFS_NAME_MAX];
	unsigned long long rxb, rxp, txb, txp;
};

/* One process's cumulative counters at the previous sample. */
struct proc_prev {
	pid_t pid;
	unsigned long long began;	/* start time: tells a reused pid from the old one */
	unsigned long long ticks;	/* utime + stime of the whole thread group */
	unsigned long long rbytes, wbytes;
	unsigned long long vcs, ivcs;
	int have_cs;
	int io_ok;		/* /proc/PID/io readable: libproc2 gives 0, not an error, when it is not */
	double rss_kib, threads;
};

struct role_state {
	pid_t *want;
	size_t nwant;
	struct proc_prev *prev;
	size_t nprev;
};

struct procfs_sampler {
	struct stat_info *stat;
	struct meminfo_info *mem;
	struct vmstat_info *vm;
	struct diskstats_info *disk;
	struct pids_info *pids;
	long hz;
	double page_kib;

	double prev_mono;		/* 0 before the baseline */
	struct cpu_tics prev_total;
	struct cpu_tics *prev_cpu;	/* indexed by cpu id */
	size_t nprev_cpu;
	unsigned long long prev_ctxt;
	int have_ctxt;
	unsigned long prev_pswpin, prev_pswpout, prev_pgfault, prev_pgmajfault;
	int have_vm;
	struct disk_prev prev_disk[PROCFS_MAX_DISKS];
	size_t nprev_disk;
	struct iface_prev prev_if[PROCFS_MAX_IFACES];
	size_t nprev_if;
	struct role_state role[ROLES_COUNT];
};

static enum stat_item cpu_items[] = {
	STAT_TIC_ID, STAT_TIC_USER, STAT_TIC_NICE, STAT_TIC_SYSTEM, STAT_TIC_IDLE,
	STAT_TIC_IOWAIT, STAT_TIC_IRQ, STAT_TIC_SOFTIRQ, STAT_TIC_STOLEN,
};
enum { CI_ID, CI_USER, CI_NICE, CI_SYSTEM, CI_IDLE, CI_IOWAIT, CI_IRQ, CI_SOFTIRQ, CI_STOLEN };

static enum meminfo_item mem_items[] = {
	MEMINFO_MEM_TOTAL, MEMINFO_MEM_AVAILABLE, MEMINFO_MEM_CACHED, MEMINFO_SWAP_USED,
};
enum { MI_TOTAL, MI_AVAILABLE, MI_CACHED, MI_SWAP_USED };

static enum vmstat_item vm_items[] = {
	VMSTAT_PSWPIN, VMSTAT_PSWPOUT, VMSTAT_PGFAULT, VMSTAT_PGMAJFAULT,
};
enum { VI_PSWPIN, VI_PSWPOUT, VI_PGFAULT, VI_PGMAJFAULT };

static enum diskstats_item disk_items[] = {
	DISKSTATS_NAME, DISKSTATS_TYPE, DISKSTATS_READS, DISKSTATS_READ_SECTORS, DISKSTATS_READ_TIME,
	DISKSTATS_WRITES, DISKSTATS_WRITE_SECTORS, DISKSTATS_WRITE_TIME, DISKSTATS_IO_TIME,
};
enum { DI_NAME, DI_TYPE, DI_READS, DI_RSECT, DI_RTIME, DI_WRITES, DI_WSECT, DI_WTIME, DI_IOTIME };

static enum pids_item pid_items[] = {
	PIDS_ID_PID, PIDS_TICS_ALL, PIDS_TICS_BEGAN, PIDS_MEM_RES, PIDS_NLWP,
	PIDS_IO_READ_BYTES, PIDS_IO_WRITE_BYTES,
};
enum { PI_PID, PI_TICS, PI_BEGAN, PI_RES, PI_NLWP, PI_RBYTES, PI_WBYTES };

#define NITEMS(a) ((int)(sizeof(a) / sizeof((a)[0])))

static double mono_now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int sample_all(struct procfs_sampler *s, struct host_sample *out);

struct procfs_sampler *procfs_sampler_new(void)
{
	struct procfs_sampler *s = calloc(1, sizeof(*s));
	struct host_sample *scratch;
	int r;

	if (!s)
		return NULL;
	r = procps_stat_new(&s->stat);
	if (r >= 0)
		r = procps_meminfo_new(&s->mem);
	if (r >= 0)
		r = procps_vmstat_new(&s->vm);
	if (r >= 0)
		r = procps_pids_new(&s->pids, pid_items, NITEMS(pid_items));
	if (r < 0) {
		procfs_sampler_free(s);
		errno = -r;
		return NULL;
	}
	/* A host without block devices (some containers) has no diskstats: disks stay unknown. */
	if (procps_diskstats_new(&s->disk) < 0)
		s->disk = NULL;
	s->hz = procps_hertz_get();
	if (s->hz <= 0)
		s->hz = 100;
	s->page_kib = (double)sysconf(_SC_PAGESIZE) / 1024.0;

	/* The baseline: the first procfs_sample() reports deltas from here. */
	scratch = malloc(sizeof(*scratch));
	if (!scratch) {
		procfs_sampler_free(s);
		errno = ENOMEM;
		return NULL;
	}
	sample_all(s, scratch);
	free(scratch);
	return s;
}

void procfs_sampler_free(struct procfs_sampler *s)
{
	if (!s)
		return;
	if (s->stat)
		procps_stat_unref(&s->stat);
	if (s->mem)
		procps_meminfo_unref(&s->mem);
	if (s->vm)
		procps_vmstat_unref(&s->vm);
	if (s->disk)
		procps_diskstats_unref(&s->disk);
	if (s->pids)
		procps_pids_unref(&s->pids);
	for (int i = 0; i < ROLES_COUNT; i++) {
		free(s->role[i].want);
		free(s->role[i].prev);
	}
	free(s->prev_cpu);
	free(s);
}

int procfs_sampler_set_role(struct procfs_sampler *s, enum roles_role role, const pid_t *pids,
			    size_t n)
{
	pid_t *v = NULL;

	if ((unsigned)role >= ROLES_COUNT)
		return -EINVAL;
	if (n) {
		v = malloc(n * sizeof(*v));
		if (!v)
			return -ENOMEM;
		memcpy(v, pids, n * sizeof(*v));
	}
	free(s->role[role].want);
	s->role[role].want = v;
	s->role[role].nwant = n;
	return 0;
}

/* ---- CPU, context switches, run queue: libproc2 stat ---- */

static void tics_from(struct stat_stack *st, struct cpu_tics *t)
{
#define V(i) STAT_VAL(i, ull_int, st, NULL)
	/* Guest time is already inside user time, so the total leaves it out. */
	t->user = V(CI_USER) + V(CI_NICE);
	t->system = V(CI_SYSTEM) + V(CI_IRQ) + V(CI_SOFTIRQ);
	t->idle = V(CI_IDLE);
	t->iowait = V(CI_IOWAIT);
	t->steal = V(CI_STOLEN);
#undef V
	t->total = t->user + t->system + t->idle + t->iowait + t->steal;
	t->valid = 1;
}

static int sample_cpu(struct procfs_sampler *s, struct host_sample *out, int deltas)
{
	struct stat_reaped *rp = procps_stat_reap(s->stat, STAT_REAP_CPUS_ONLY, cpu_items, NITEMS(cpu_items));
	struct cpu_tics now;
	struct stat_result *r;

	if (!rp)
		return -EIO;
	tics_from(rp->summary, &now);
	if (deltas && s->prev_total.valid && now.total > s->prev_total.total) {
		double dt = (double)(now.total - s->prev_total.total);
		out->cpu_user_pct = 100.0 * (double)(now.user - s->prev_total.user) / dt;
		out->cpu_system_pct = 100.0 * (double)(now.system - s->prev_total.system) / dt;
		out->cpu_idle_pct = 100.0 * (double)(now.idle - s->prev_total.idle) / dt;
		out->cpu_iowait_pct = 100.0 * (double)(now.iowait - s->prev_total.iowait) / dt;
		out->cpu_steal_pct = 100.0 * (double)(now.steal - s->prev_total.steal) / dt;
	}
	s->prev_total = now;

	double busiest = NAN;
	for (int i = 0; i < rp->cpus->total; i++) {
		struct stat_stack *cs = rp->cpus->stacks[i];
		int id = STAT_VAL(CI_ID, s_int, cs, NULL);
		struct cpu_tics c;

		if (id < 0 || id > 65535)
			continue;
		tics_from(cs, &c);
		if ((size_t)id >= s->nprev_cpu) {
			struct cpu_tics *nv = realloc(s->prev_cpu, ((size_t)id + 1) * sizeof(*nv));
			if (!nv)
				continue;
			memset(nv + s->nprev_cpu, 0, ((size_t)id + 1 - s->nprev_cpu) * sizeof(*nv));
			s->prev_cpu = nv;
			s->nprev_cpu = (size_t)id + 1;
		}
		struct cpu_tics *p = &s->prev_cpu[id];
		/* A core that went offline and came back restarts its counters: skip it once. */
		if (deltas && p->valid && c.total > p->total && c.idle >= p->idle && c.iowait >= p->iowait) {
			double d = (double)(c.total - p->total);
			double idle = (double)(c.idle - p->idle) + (double)(c.iowait - p->iowait);
			double busy = 100.0 * (d - idle) / d;
			if (isnan(busiest) || busy > busiest)
				busiest = busy;
		}
		*p = c;
	}
	if (deltas)
		out->cpu_busiest_core_pct = busiest;

	/* After the reap above the file was just read; these are its fresh values. */
	r = procps_stat_get(s->stat, STAT_SYS_CTX_SWITCHES);
	if (r) {
		unsigned long long ctxt = r->result.ul_int;
		if (deltas && s->have_ctxt && ctxt >= s->prev_ctxt && out->interval_s > 0)
			out->ctx_switches_per_s = (double)(ctxt - s->prev_ctxt) / out->interval_s;
		s->prev_ctxt = ctxt;
		s->have_ctxt = 1;
	}
	r = procps_stat_get(s->stat, STAT_SYS_PROC_RUNNING);
	if (r)
		out->procs_running = (double)r->result.ul_int;
	r = procps_stat_get(s->stat, STAT_SYS_PROC_BLOCKED);
	if (r)
		out->procs_blocked = (double)r->result.ul_int;
	return 0;
}

/* ---- memory, swap, faults: libproc2 meminfo and vmstat ---- */

static void sample_mem(struct procfs_sampler *s, struct host_sample *out, int deltas)
{
	/* select re-reads the files every call; the _get API caches for a second. */
	struct meminfo_stack *m = procps_meminfo_select(s->mem, mem_items, NITEMS(mem_items));
	struct vmstat_stack *v;

	if (m) {
		unsigned long total = MEMINFO_VAL(MI_TOTAL, ul_int, m, NULL);
		unsigned long avail = MEMINFO_VAL(MI_AVAILABLE, ul_int, m, NULL);
		out->mem_used_mib = total >= avail ? (double)(total - avail) / 1024.0 : NAN;
		out->mem_available_mib = (double)avail / 1024.0;
		out->mem_cached_mib = (double)MEMINFO_VAL(MI_CACHED, ul_int, m, NULL) / 1024.0;
		out->swap_used_mib = (double)MEMINFO_VAL(MI_SWAP_USED, ul_int, m, NULL) / 1024.0;
	}
	v = procps_vmstat_select(s->vm, vm_items, NITEMS(vm_items));
	if (!v)
		return;
	unsigned long in = VMSTAT_VAL(VI_PSWPIN, ul_int, v, NULL);
	unsigned long outp = VMSTAT_VAL(VI_PSWPOUT, ul_int, v, NULL);
	unsigned long flt = VMSTAT_VAL(VI_PGFAULT, ul_int, v, NULL);
	unsigned long maj = VMSTAT_VAL(VI_PGMAJFAULT, ul_int, v, NULL);
	double dt = out->interval_s;

	if (deltas && s->have_vm && dt > 0 && in >= s->prev_pswpin && outp >= s->prev_pswpout &&
	    flt >= s->prev_pgfault && maj >= s->prev_pgmajfault) {
		out->swap_in_kib_per_s = (double)(in - s->prev_pswpin) * s->page_kib / dt;
		out->swap_out_kib_per_s = (double)(outp - s->prev_pswpout) * s->page_kib / dt;
		double dmaj = (double)(maj - s->prev_pgmajfault);
		double dall = (double)(flt - s->prev_pgfault);
		out->pgfault_major_per_s = dmaj / dt;
		/* pgfault counts every fault, major ones included. */
		out->pgfault_minor_per_s = (dall >= dmaj ? dall - dmaj : 0) / dt;
	}
	s->prev_pswpin = in;
	s->prev_pswpout = outp;
	s->prev_pgfault = flt;
	s->prev_pgmajfault = maj;
	s->have_vm = 1;
}

/* ---- disks: libproc2 diskstats ---- */

static int disk_skipped(const char *name)
{
	/* Memory-backed and loop devices say nothing about the storage (iostat -x hides them too). */
	return strncmp(name, "loop", 4) == 0 || strncmp(name, "ram", 3) == 0 ||
	       strncmp(name, "zram", 4) == 0;
}

/* dm-* and md* are built on other disks: counting them in totals would count each byte twice. */
static int disk_stacked(const char *name)
{
	char path[128];
	DIR *d;
	struct dirent *de;
	int stacked = 0;

	snprintf(path, sizeof(path), "/sys/block/%s/slaves", name);
	d = opendir(path);
	if (!d)
		return 0;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.') {
			stacked = 1;
			break;
		}
	closedir(d);
	return stacked;
}

static void sample_disks(struct procfs_sampler *s, struct host_sample *out, int deltas)
{
	struct diskstats_reaped *rp;
	struct disk_prev now[PROCFS_MAX_DISKS];
	size_t nnow = 0;
	double dt = out->interval_s;
	double tot_ios = 0, tot_ticks = 0;
	int any = 0;

	if (!s->disk)
		return;
	rp = procps_diskstats_reap(s->disk, disk_items, NITEMS(disk_items));
	if (!rp)
		return;
	for (int i = 0; i < rp->total && nnow < PROCFS_MAX_DISKS; i++) {
		struct diskstats_stack *st = rp->stacks[i];
		const char *name = DISKSTATS_VAL(DI_NAME, str, st, NULL);
		struct disk_prev *d = &now[nnow];
		const struct disk_prev *p = NULL;

		if (!name || DISKSTATS_VAL(DI_TYPE, s_int, st, NULL) != DISKSTATS_TYPE_DISK ||
		    disk_skipped(name))
			continue;
		memset(d, 0, sizeof(*d));
		snprintf(d->name, sizeof(d->name), "%s", name);
		d->reads = DISKSTATS_VAL(DI_READS, ul_int, st, NULL);
		d->rsect = DISKSTATS_VAL(DI_RSECT, ul_int, st, NULL);
		d->rtime = DISKSTATS_VAL(DI_RTIME, ul_int, st, NULL);
		d->writes = DISKSTATS_VAL(DI_WRITES, ul_int, st, NULL);
		d->wsect = DISKSTATS_VAL(DI_WSECT, ul_int, st, NULL);
		d->wtime = DISKSTATS_VAL(DI_WTIME, ul_int, st, NULL);
		d->iotime = DISKSTATS_VAL(DI_IOTIME, ul_int, st, NULL);
		nnow++;
		for (size_t j = 0; j < s->nprev_disk; j++)
			if (strcmp(s->prev_disk[j].name, d->name) == 0)
				p = &s->prev_disk[j];
		/* Stacking is looked up once per device, not per sample. */
		d->stacked = p ? p->stacked : disk_stacked(d->name);
		/* A new device (or a counter reset) starts a baseline. */
		if (!deltas || !p || dt <= 0 || d->reads < p->reads || d->writes < p->writes ||
		    d->rsect < p->rsect || d->wsect < p->wsect || d->rtime < p->rtime ||
		    d->wtime < p->wtime || d->iotime < p->iotime)
			continue;

		struct procfs_disk *o = &out->disks[out->ndisks++];
		double ios = (double)(d->reads - p->reads) + (double)(d->writes - p->writes);
		double ticks = (double)(d->rtime - p->rtime) + (double)(d->wtime - p->wtime);
		snprintf(o->name, sizeof(o->name), "%s", d->name);
		/* io_ticks are milliseconds the device had IO in flight. */
		o->util_pct = (double)(d->iotime - p->iotime) / (dt * 1000.0) * 100.0;
		if (o->util_pct > 100.0)
			o->util_pct = 100.0;
		o->await_ms = ios > 0 ? ticks / ios : NAN;
		/* /proc/diskstats counts 512-byte sectors whatever the device's own sector size. */
		o->read_bytes_per_s = (double)(d->rsect - p->rsect) * 512.0 / dt;
		o->write_bytes_per_s = (double)(d->wsect - p->wsect) * 512.0 / dt;
		o->read_iops = (double)(d->reads - p->reads) / dt;
		o->write_iops = (double)(d->writes - p->writes) / dt;
		o->stacked = d->stacked;

		if (isnan(out->disk_util_max_pct) || o->util_pct > out->disk_util_max_pct) {
			out->disk_util_max_pct = o->util_pct;
			out->disk_util_max_await_ms = o->await_ms;
			snprintf(out->disk_util_max_dev, sizeof(out->disk_util_max_dev), "%s", o->name);
		}
		if (!o->stacked) {
			if (!any) {
				out->disk_read_bytes_per_s = out->disk_write_bytes_per_s = 0;
				out->disk_read_iops = out->disk_write_iops = 0;
				any = 1;
			}
			out->disk_read_bytes_per_s += o->read_bytes_per_s;
			out->disk_write_bytes_per_s += o->write_bytes_per_s;
			out->disk_read_iops += o->read_iops;
			out->disk_write_iops += o->write_iops;
			tot_ios += ios;
			tot_ticks += ticks;
		}
	}
	if (any && tot_ios > 0)
		out->disk_await_ms = tot_ticks / tot_ios;
	memcpy(s->prev_disk, now, nnow * sizeof(now[0]));
	s->nprev_disk = nnow;
}

/* ---- network: /proc/net/dev (libproc2 has no API for it) ---- */

static void sample_net(struct procfs_sampler *s, struct host_sample *out, int deltas)
{
	FILE *f = fopen("/proc/net/dev", "re");
	struct iface_prev now[PROCFS_MAX_IFACES];
	size_t nnow = 0;
	char line[512];
	double dt = out->interval_s;
	int any = 0;

	if (!f)
		return;
	while (fgets(line, sizeof(line), f) && nnow < PROCFS_MAX_IFACES) {
		char *colon = strchr(line, ':');
		char *name = line;
		struct iface_prev *c = &now[nnow];
		const struct iface_prev *p = NULL;

		if (!colon)
			continue;	/* the two title lines */
		*colon = '\0';
		while (isspace((unsigned char)*name))
			name++;
		/* rx: bytes packets errs drop fifo frame compressed multicast; tx: bytes packets ... */
		if (sscanf(colon + 1, "%llu %llu %*u %*u %*u %*u %*u %*u %llu %llu", &c->rxb, &c->rxp,
			   &c->txb, &c->txp) != 4)
			continue;
		snprintf(c->name, sizeof(c->name), "%.*s", (int)sizeof(c->name) - 1, name);
		nnow++;
		for (size_t j = 0; j < s->nprev_if; j++)
			if (strcmp(s->prev_if[j].name, c->name) == 0)
				p = &s->prev_if[j];
		if (!deltas || !p || dt <= 0 || c->rxb < p->rxb || c->txb < p->txb || c->rxp < p->rxp ||
		    c->txp < p->txp)
			continue;

		struct procfs_iface *o = &out->ifaces[out->nifaces++];
		snprintf(o->name, sizeof(o->name), "%s", c->name);
		o->rx_bytes_per_s = (double)(c->rxb - p->rxb) / dt;
		o->tx_bytes_per_s = (double)(c->txb - p->txb) / dt;
		o->rx_packets_per_s = (double)(c->rxp - p->rxp) / dt;
		o->tx_packets_per_s = (double)(c->txp - p->txp) / dt;
		/* Loopback traffic (web <-> local mongod) never touches a wire: kept apart. */
		if (strcmp(o->name, "lo") == 0) {
			out->net_lo_bytes_per_s = o->rx_bytes_per_s;
			continue;
		}
		if (!any) {
			out->net_rx_bytes_per_s = out->net_tx_bytes_per_s = 0;
			out->net_rx_packets_per_s = out->net_tx_packets_per_s = 0;
			any = 1;
		}
		out->net_rx_bytes_per_s += o->rx_bytes_per_s;
		out->net_tx_bytes_per_s += o->tx_bytes_per_s;
		out->net_rx_packets_per_s += o->rx_packets_per_s;
		out->net_tx_packets_per_s += o->tx_packets_per_s;
	}
	fclose(f);
	memcpy(s->prev_if, now, nnow * sizeof(now[0]));
	s->nprev_if = nnow;
}

/* ---- roles: libproc2 pids, plus context switches from /proc/PID/task/TID/status ---- */

/*
 * Sums voluntary/nonvoluntary_ctxt_switches over the threads of pid:
 * /proc/PID/status shows the main thread's counts only, and libproc2 4.0
 * has no item for them. Threads that exited take their counts with them,
 * so a sum can go down; the caller drops such a pid for that interval.
 */
static int read_ctxsw(pid_t pid, unsigned long long *vcs, unsigned long long *ivcs)
{
	char path[64];
	DIR *d;
	struct dirent *de;
	int found = 0;

	*vcs = *ivcs = 0;
	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	d = opendir(path);
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		char spath[96], line[128];
		FILE *f;

		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		snprintf(spath, sizeof(spath), "/proc/%d/task/%.20s/status", (int)pid, de->d_name);
		f = fopen(spath, "re");
		if (!f)
			continue;
		while (fgets(line, sizeof(line), f)) {
			unsigned long long v;
			if (sscanf(line, "voluntary_ctxt_switches: %llu", &v) == 1) {
				*vcs += v;
				found = 1;
			} else if (sscanf(line, "nonvoluntary_ctxt_switches: %llu", &v) == 1) {
				*ivcs += v;
			}
		}
		fclose(f);
	}
	closedir(d);
	return found ? 0 : -ENOENT;
}

/* Checked once per process: after --user drops privileges, other users' io files are closed to us. */
static int io_readable(pid_t pid)
{
	char path[64];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/io", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	fclose(f);
	return 1;
}

static int cmp_prev(const void *a, const void *b)
{
	pid_t x = ((const struct proc_prev *)a)->pid, y = ((const struct proc_prev *)b)->pid;
	return (x > y) - (x < y);
}

static void sample_role(struct procfs_sampler *s, enum roles_role role, struct host_sample *out,
			int deltas)
{
	struct role_state *rs = &s->role[role];
	struct procfs_role_sample *o = &out->role[role];
	struct proc_prev *now;
	size_t nnow = 0;

	if (rs->nwant == 0) {
		free(rs->prev);
		rs->prev = NULL;
		rs->nprev = 0;
		return;
	}
	now = calloc(rs->nwant, sizeof(*now));
	if (!now)
		return;
	for (size_t off = 0; off < rs->nwant; off += PIDS_CHUNK) {
		unsigned ids[PIDS_CHUNK];
		size_t n = rs->nwant - off < PIDS_CHUNK ? rs->nwant - off : PIDS_CHUNK;
		struct pids_fetch *f;

		for (size_t i = 0; i < n; i++)
			ids[i] = (unsigned)rs->want[off + i];
		f = procps_pids_select(s->pids, ids, (int)n, PIDS_SELECT_PID);
		if (!f)
			continue;
		/* A pid that vanished is simply absent from the answer. */
		for (int i = 0; i < f->counts->total && nnow < rs->nwant; i++) {
			struct pids_stack *st = f->stacks[i];
			struct proc_prev *c = &now[nnow++];

			c->pid = PIDS_VAL(PI_PID, s_int, st, NULL);
			c->ticks = PIDS_VAL(PI_TICS, ull_int, st, NULL);
			c->began = PIDS_VAL(PI_BEGAN, ull_int, st, NULL);
			c->rss_kib = (double)PIDS_VAL(PI_RES, ul_int, st, NULL);
			c->threads = PIDS_VAL(PI_NLWP, s_int, st, NULL);
			c->rbytes = PIDS_VAL(PI_RBYTES, ul_int, st, NULL);
			c->wbytes = PIDS_VAL(PI_WBYTES, ul_int, st, NULL);
			c->have_cs = read_ctxsw(c->pid, &c->vcs, &c->ivcs) == 0;
		}
	}
	qsort(now, nnow, sizeof(*now), cmp_prev);

	if (nnow > 0) {
		double dt = out->interval_s;
		double ticks = 0, rb = 0, wb = 0, vcs = 0, ivcs = 0;
		size_t matched = 0, cs_matched = 0, io_blind = 0;

		o->pids = (double)nnow;
		o->rss_mib = 0;
		o->threads = 0;
		for (size_t i = 0; i < nnow; i++) {
			struct proc_prev *c = &now[i];
			struct proc_prev *p;

			o->rss_mib += c->rss_kib / 1024.0;
			o->threads += c->threads;
			p = rs->prev ? bsearch(c, rs->prev, rs->nprev, sizeof(*c), cmp_prev) : NULL;
			/* Same pid but another start time: a reused pid, i.e. a new process. */
			if (!p || p->began != c->began || c->ticks < p->ticks) {
				c->io_ok = io_readable(c->pid);
				continue;
			}
			c->io_ok = p->io_ok;
			matched++;
			if (!c->io_ok)
				io_blind++;
			ticks += (double)(c->ticks - p->ticks);
			if (c->rbytes >= p->rbytes)
				rb += (double)(c->rbytes - p->rbytes);
			if (c->wbytes >= p->wbytes)
				wb += (double)(c->wbytes - p->wbytes);
			if (c->have_cs && p->have_cs && c->vcs >= p->vcs && c->ivcs >= p->ivcs) {
				vcs += (double)(c->vcs - p->vcs);
				ivcs += (double)(c->ivcs - p->ivcs);
				cs_matched++;
			}
		}
		if (deltas && matched > 0 && dt > 0) {
			o->cpu_pct = ticks / (double)s->hz / dt * 100.0;
			/* A partial sum would pass for the role's IO: unknown instead. */
			if (io_blind == 0) {
				o->read_bytes_per_s = rb / dt;
				o->write_bytes_per_s = wb / dt;
			}
			if (cs_matched > 0) {
				o->vcsw_per_s = vcs / dt;
				o->ivcsw_per_s = ivcs / dt;
			}
		}
	}
	free(rs->prev);
	rs->prev = now;
	rs->nprev = nnow;
}

/* ---- the whole sample ---- */

void procfs_sample_clear(struct host_sample *out)
{
	double *fields[] = {
		&out->interval_s, &out->cpu_user_pct, &out->cpu_system_pct, &out->cpu_iowait_pct,
		&out->cpu_steal_pct, &out->cpu_idle_pct, &out->cpu_busiest_core_pct, &out->load1,
		&out->load5, &out->load15, &out->procs_running, &out->procs_blocked,
		&out->mem_used_mib, &out->mem_available_mib, &out->mem_cached_mib,
		&out->swap_used_mib, &out->swap_in_kib_per_s, &out->swap_out_kib_per_s,
		&out->pgfault_major_per_s, &out->pgfault_minor_per_s, &out->ctx_switches_per_s,
		&out->disk_util_max_pct, &out->disk_util_max_await_ms, &out->disk_await_ms,
		&out->disk_read_bytes_per_s, &out->disk_write_bytes_per_s, &out->disk_read_iops,
		&out->disk_write_iops, &out->net_rx_bytes_per_s, &out->net_tx_bytes_per_s,
		&out->net_rx_packets_per_s, &out->net_tx_packets_per_s, &out->net_lo_bytes_per_s,
	};

	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		*fields[i] = NAN;
	for (int r = 0; r < ROLES_COUNT; r++) {
		struct procfs_role_sample *o = &out->role[r];
		o->pids = o->cpu_pct = o->rss_mib = o->threads = NAN;
		o->read_bytes_per_s = o->write_bytes_per_s = o->vcsw_per_s = o->ivcsw_per_s = NAN;
	}
}

static int sample_all(struct procfs_sampler *s, struct host_sample *out)
{
	double mono = mono_now();
	int deltas = s->prev_mono > 0;
	double av1, av5, av15;
	int r;

	procfs_sample_clear(out);
	out->ts = timestamp_now();
	if (deltas)
		out->interval_s = mono - s->prev_mono;
	s->prev_mono = mono;

	r = sample_cpu(s, out, deltas);
	if (procps_loadavg(&av1, &av5, &av15) >= 0) {
		out->load1 = av1;
		out->load5 = av5;
		out->load15 = av15;
	}
	sample_mem(s, out, deltas);
	sample_disks(s, out, deltas);
	sample_net(s, out, deltas);
	for (int i = 0; i < ROLES_COUNT; i++)
		sample_role(s, (enum roles_role)i, out, deltas);
	return r;
}

int procfs_sample(struct procfs_sampler *s, struct host_sample *out)
{
	return sample_all(s, out);
}

/* ---- samples.csv ---- */

#define ROLE_COLUMNS(p)                                                                       \
	p "_pids", p "_cpu_pct", p "_rss_mib", p "_threads", p "_read_bytes_per_s",          \
		p "_write_bytes_per_s", p "_vcsw_per_s", p "_ivcsw_per_s"

const char *const procfs_columns[PROCFS_NCOLUMNS] = {
	"host_interval_s",	/* procfs's own measured interval; samples.c has the nominal interval_s */
	"cpu_user_pct", "cpu_system_pct", "cpu_iowait_pct", "cpu_steal_pct", "cpu_idle_pct",
	"cpu_busiest_core_pct",
	"load1", "load5", "load15", "procs_running", "procs_blocked",
	"mem_used_mib", "mem_available_mib", "mem_cached_mib", "swap_used_mib",
	"swap_in_kib_per_s", "swap_out_kib_per_s",
	"pgfault_major_per_s", "pgfault_minor_per_s", "ctx_switches_per_s",
	"disk_util_max_pct", "disk_util_max_dev", "disk_util_max_await_ms", "disk_await_ms",
	"disk_read_bytes_per_s", "disk_write_bytes_per_s", "disk_read_iops", "disk_write_iops",
	"net_rx_bytes_per_s", "net_tx_bytes_per_s", "net_rx_packets_per_s", "net_tx_packets_per_s",
	"net_lo_bytes_per_s",
	ROLE_COLUMNS("web"), ROLE_COLUMNS("mongod"), ROLE_COLUMNS("self"),
};

static void fmt(struct procfs_row *row, size_t *i, double v, int decimals)
{
	char *buf = row->text[*i];

	if (isnan(v) || isinf(v)) {
		buf[0] = '\0';
	} else {
		if (v == 0)
			v = 0;	/* never print "-0.0" */
		snprintf(buf, PROCFS_CELL_MAX, "%.*f", decimals, v);
	}
	row->cells[*i] = buf;
	(*i)++;
}

void procfs_format_row(const struct host_sample *s, struct procfs_row *row)
{
	size_t i = 0;

	fmt(row, &i, s->interval_s, 3);
	fmt(row, &i, s->cpu_user_pct, 1);
	fmt(row, &i, s->cpu_system_pct, 1);
	fmt(row, &i, s->cpu_iowait_pct, 1);
	fmt(row, &i, s->cpu_steal_pct, 1);
	fmt(row, &i, s->cpu_idle_pct, 1);
	fmt(row, &i, s->cpu_busiest_core_pct, 1);
	fmt(row, &i, s->load1, 2);
	fmt(row, &i, s->load5, 2);
	fmt(row, &i, s->load15, 2);
	fmt(row, &i, s->procs_running, 0);
	fmt(row, &i, s->procs_blocked, 0);
	fmt(row, &i, s->mem_used_mib, 1);
	fmt(row, &i, s->mem_available_mib, 1);
	fmt(row, &i, s->mem_cached_mib, 1);
	fmt(row, &i, s->swap_used_mib, 1);
	fmt(row, &i, s->swap_in_kib_per_s, 1);
	fmt(row, &i, s->swap_out_kib_per_s, 1);
	fmt(row, &i, s->pgfault_major_per_s, 1);
	fmt(row, &i, s->pgfault_minor_per_s, 1);
	fmt(row, &i, s->ctx_switches_per_s, 1);
	fmt(row, &i, s->disk_util_max_pct, 1);
	snprintf(row->text[i], PROCFS_CELL_MAX, "%s", s->disk_util_max_dev);
	row->cells[i] = row->text[i];
	i++;
	fmt(row, &i, s->disk_util_max_await_ms, 3);
	fmt(row, &i, s->disk_await_ms, 3);
	fmt(row, &i, s->disk_read_bytes_per_s, 0);
	fmt(row, &i, s->disk_write_bytes_per_s, 0);
	fmt(row, &i, s->disk_read_iops, 1);
	fmt(row, &i, s->disk_write_iops, 1);
	fmt(row, &i, s->net_rx_bytes_per_s, 0);
	fmt(row, &i, s->net_tx_bytes_per_s, 0);
	fmt(row, &i, s->net_rx_packets_per_s, 1);
	fmt(row, &i, s->net_tx_packets_per_s, 1);
	fmt(row, &i, s->net_lo_bytes_per_s, 0);
	for (int r = 0; r < ROLES_COUNT; r++) {
		const struct procfs_role_sample *o = &s->role[r];
		fmt(row, &i, o->pids, 0);
		fmt(row, &i, o->cpu_pct, 1);
		fmt(row, &i, o->rss_mib, 1);
		fmt(row, &i, o->threads, 0);
		fmt(row, &i, o->read_bytes_per_s, 0);
		fmt(row, &i, o->write_bytes_per_s, 0);
		fmt(row, &i, o->vcsw_per_s, 1);
		fmt(row, &i, o->ivcsw_per_s, 1);
	}
	/* The column list and this function must stay in step. */
	if (i != PROCFS_NCOLUMNS)
		abort();
}
