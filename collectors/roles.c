/* roles.c - role discovery: listening-socket owners (/proc/net/tcp{,6} + /proc/PID/fd) and their descendants (libproc2 pids). */
#include "roles.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <libproc2/pids.h>

#include "procnet.h"

static enum pids_item base_items[] = { PIDS_ID_PID, PIDS_ID_PPID, PIDS_CMD, PIDS_CMDLINE_V };
enum { RI_PID, RI_PPID, RI_CMD, RI_ARGV };

struct proc_ent {
	pid_t pid, ppid;
	int name_match;		/* --web-name matches comm or argv[0] basename */
	int mark;
};

struct roles {
	const struct portmap *ports;
	pid_t web_pid, mongod_pid;
	char *web_name;
	unsigned every;
	unsigned calls;
	unsigned discoveries;
	struct pids_info *info;
	pid_t *roots[ROLES_COUNT];
	size_t nroots[ROLES_COUNT];
	pid_t *set[ROLES_COUNT];
	size_t nset[ROLES_COUNT];
};

const char *roles_name(enum roles_role role)
{
	switch (role) {
	case ROLES_WEB:
		return "web";
	case ROLES_MONGOD:
		return "mongod";
	case ROLES_SELF:
		return "self";
	default:
		return "?";
	}
}

struct roles *roles_new(const struct roles_config *cfg)
{
	struct roles *r = calloc(1, sizeof(*r));
	/* argv is only read when a name must be matched: it costs a file read per process. */
	int nitems = cfg->web_name ? 4 : 3;

	if (!r)
		return NULL;
	r->ports = cfg->ports;
	r->web_pid = cfg->web_pid;
	r->mongod_pid = cfg->mongod_pid;
	r->every = cfg->rediscover_every ? cfg->rediscover_every : 10;
	if (cfg->web_name) {
		r->web_name = strdup(cfg->web_name);
		if (!r->web_name) {
			free(r);
			return NULL;
		}
	}
	if (procps_pids_new(&r->info, base_items, nitems) < 0) {
		free(r->web_name);
		free(r);
		return NULL;
	}
	return r;
}

void roles_free(struct roles *r)
{
	if (!r)
		return;
	if (r->info)
		procps_pids_unref(&r->info);
	for (int i = 0; i < ROLES_COUNT; i++) {
		free(r->roots[i]);
		free(r->set[i]);
	}
	free(r->web_name);
	free(r);
}

const pid_t *roles_pids(const struct roles *r, enum roles_role role, size_t *n)
{
	if ((unsigned)role >= ROLES_COUNT) {
		*n = 0;
		return NULL;
	}
	*n = r->nset[role];
	return r->set[role];
}

unsigned roles_discoveries(const struct roles *r)
{
	return r->discoveries;
}

static int cmp_pid(const void *a, const void *b)
{
	pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;
	return (x > y) - (x < y);
}

static int cmp_ent(const void *a, const void *b)
{
	return cmp_pid(&((const struct proc_ent *)a)->pid, &((const struct proc_ent *)b)->pid);
}

static struct proc_ent *find_ent(struct proc_ent *e, size_t n, pid_t pid)
{
	struct proc_ent key = { .pid = pid };
	return bsearch(&key, e, n, sizeof(*e), cmp_ent);
}

static int name_matches(const char *want, const char *comm, char **argv)
{
	if (comm && strcmp(comm, want) == 0)
		return 1;
	if (argv && argv[0] && argv[0][0]) {
		const char *base = strrchr(argv[0], '/');
		return strcmp(base ? base + 1 : argv[0], want) == 0;
	}
	return 0;
}

/* ---- discovery: who owns the listening sockets ---- */

struct inode_list {
	uint64_t *v;
	size_t n, cap;
	int oom;
};

static void inode_add(struct inode_list *l, uint64_t inode)
{
	if (l->n == l->cap) {
		size_t ncap = l->cap ? l->cap * 2 : 16;
		uint64_t *nv = realloc(l->v, ncap * sizeof(*nv));
		if (!nv) {
			l->oom = 1;
			return;
		}
		l->v = nv;
		l->cap = ncap;
	}
	l->v[l->n++] = inode;
}

static int inode_has(const struct inode_list *l, uint64_t inode)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->v[i] == inode)
			return 1;
	return 0;
}

struct listen_scan {
	const struct portmap *ports;
	struct inode_list web, mongod;
};

static int listen_cb(void *ctx, const struct procnet_sock *s)
{
	struct listen_scan *ls = ctx;

	if (s->state != PROCNET_TCP_LISTEN || !s->inode)
		return 0;
	switch (portmap_get(ls->ports, s->local.port)) {
	case PROTO_HTTP:
		inode_add(&ls->web, s->inode);
		break;
	case PROTO_MONGO:
		inode_add(&ls->mongod, s->inode);
		break;
	default:
		break;
	}
	return 0;
}

struct owner_scan {
	const struct listen_scan *ls;
	int web, mongod;
};

static int owner_cb(void *ctx, pid_t pid, int fd, uint64_t inode)
{
	struct owner_scan *o = ctx;

	(void)pid;
	(void)fd;
	if (inode_has(&o->ls->web, inode))
		o->web = 1;
	if (inode_has(&o->ls->mongod, inode))
		o->mongod = 1;
	return o->web && o->mongod;
}

static int set_roots(struct roles *r, enum roles_role role, const pid_t *v, size_t n)
{
	pid_t *c = NULL;

	if (n) {
		c = malloc(n * sizeof(*c));
		if (!c)
			return -ENOMEM;
		memcpy(c, v, n * sizeof(*c));
	}
	free(r->roots[role]);
	r->roots[role] = c;
	r->nroots[role] = n;
	return 0;
}

static int discover(struct roles *r, const struct proc_ent *e, size_t n, int want_web, int want_mongod)
{
	struct listen_scan ls = { .ports = r->ports };
	pid_t *web = NULL, *mongod = NULL;
	size_t nweb = 0, nmongod = 0;
	int ret = 0;

	r->discoveries++;
	if (r->ports) {
		procnet_tcp_listeners(AF_INET, listen_cb, &ls);
		procnet_tcp_listeners(AF_INET6, listen_cb, &ls);
	}
	if (ls.web.oom || ls.mongod.oom) {
		ret = -ENOMEM;
		goto out;
	}
	web = malloc((n ? n : 1) * sizeof(*web));
	mongod = malloc((n ? n : 1) * sizeof(*mongod));
	if (!web || !mongod) {
		ret = -ENOMEM;
		goto out;
	}
	if (ls.web.n || ls.mongod.n) {
		for (size_t i = 0; i < n; i++) {
			struct owner_scan o = { &ls, 0, 0 };
			procnet_pid_sockets(e[i].pid, owner_cb, &o);
			if (o.web)
				web[nweb++] = e[i].pid;
			if (o.mongod)
				mongod[nmongod++] = e[i].pid;
		}
	}
	if (want_web)
		ret = set_roots(r, ROLES_WEB, web, nweb);
	if (ret == 0 && want_mongod)
		ret = set_roots(r, ROLES_MONGOD, mongod, nmongod);
out:
	free(web);
	free(mongod);
	free(ls.web.v);
	free(ls.mongod.v);
	return ret;
}

/* Nonzero when the role had roots and none of them is alive any more. */
static int roots_gone(const struct roles *r, enum roles_role role, struct proc_ent *e, size_t n)
{
	if (r->nroots[role] == 0)
		return 0;
	for (size_t i = 0; i < r->nroots[role]; i++)
		if (find_ent(e, n, r->roots[role][i]))
			return 0;
	return 1;
}

/* The role's set: live roots plus every process whose ancestry reaches one. */
static int build_set(struct roles *r, enum roles_role role, struct proc_ent *e, size_t n)
{
	pid_t *v;
	size_t nv = 0;
	int changed;

	for (size_t i = 0; i < n; i++)
		e[i].mark = 0;
	for (size_t i = 0; i < r->nroots[role]; i++) {
		struct proc_ent *p = find_ent(e, n, r->roots[role][i]);
		if (p)
			p->mark = 1;
	}
	/* Children usually have larger pids than parents, so one pass nearly always settles it. */
	do {
		changed = 0;
		for (size_t i = 0; i < n; i++) {
			struct proc_ent *parent;
			if (e[i].mark || e[i].ppid <= 0)
				continue;
			parent = find_ent(e, n, e[i].ppid);
			if (parent && parent->mark) {
				e[i].mark = 1;
				changed = 1;
			}
		}
	} while (changed);

	v = malloc((n ? n : 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		if (e[i].mark)
			v[nv++] = e[i].pid;
	free(r->set[role]);
	r->set[role] = v;
	r->nset[role] = nv;
	return 0;
}

int roles_refresh(struct roles *r)
{
	struct pids_fetch *f = procps_pids_reap(r->info, PIDS_FETCH_TASKS_ONLY);
	struct proc_ent *e;
	size_t n;
	int ret = 0;

	if (!f)
		return -errno ? -errno : -EIO;
	n = (size_t)f->counts->total;
	e = calloc(n ? n : 1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		struct pids_stack *st = f->stacks[i];
		e[i].pid = PIDS_VAL(RI_PID, s_int, st, NULL);
		e[i].ppid = PIDS_VAL(RI_PPID, s_int, st, NULL);
		if (r->web_name)
			e[i].name_match = name_matches(r->web_name, PIDS_VAL(RI_CMD, str, st, NULL),
						       PIDS_VAL(RI_ARGV, strv, st, NULL));
	}
	qsort(e, n, sizeof(*e), cmp_ent);

	int auto_web = r->web_pid <= 0 && !r->web_name;
	int auto_mongod = r->mongod_pid <= 0;
	int due = r->calls % r->every == 0;
	int want_web = auto_web && (due || roots_gone(r, ROLES_WEB, e, n));
	int want_mongod = auto_mongod && (due || roots_gone(r, ROLES_MONGOD, e, n));
	r->calls++;
	if (want_web || want_mongod)
		ret = discover(r, e, n, want_web, want_mongod);

	if (ret == 0 && r->web_pid > 0)
		ret = set_roots(r, ROLES_WEB, &r->web_pid, 1);
	if (ret == 0 && r->web_name) {
		pid_t *v = malloc((n ? n : 1) * sizeof(*v));
		size_t nv = 0;
		if (!v) {
			ret = -ENOMEM;
		} else {
			for (size_t i = 0; i < n; i++)
				if (e[i].name_match)
					v[nv++] = e[i].pid;
			ret = set_roots(r, ROLES_WEB, v, nv);
			free(v);
		}
	}
	if (ret == 0 && r->mongod_pid > 0)
		ret = set_roots(r, ROLES_MONGOD, &r->mongod_pid, 1);
	if (ret == 0) {
		pid_t self = getpid();
		ret = set_roots(r, ROLES_SELF, &self, 1);
	}
	for (int role = 0; ret == 0 && role < ROLES_COUNT; role++) {
		/* The probe itself has no descendants worth a role: self is this process alone. */
		if (role == ROLES_SELF) {
			struct proc_ent *p = find_ent(e, n, r->roots[role][0]);
			pid_t *v = malloc(sizeof(*v));
			if (!v) {
				ret = -ENOMEM;
				break;
			}
			free(r->set[role]);
			r->set[role] = v;
			r->nset[role] = 0;
			if (p)
				v[r->nset[role]++] = p->pid;
			continue;
		}
		ret = build_set(r, (enum roles_role)role, e, n);
	}
	free(e);
	return ret;
}
