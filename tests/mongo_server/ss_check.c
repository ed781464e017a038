/* Checks that libmongoc (the driver tierprobe's serverStatus poller uses) can talk to
 * the test server: handshake, serverStatus, prints opcounters.command.
 * Usage: ss_check MONGODB_URI   (exit 0 and "opcounters.command: N" on success) */
#include <mongoc/mongoc.h>
#include <stdio.h>

int main(int argc, char **argv)
{
	bson_error_t err;
	bson_t reply;
	bson_iter_t it;
	int rc = 1;

	if (argc != 2) {
		fprintf(stderr, "usage: %s MONGODB_URI\n", argv[0]);
		return 2;
	}
	mongoc_init();
	mongoc_client_t *client = mongoc_client_new(argv[1]);
	if (!client) {
		fprintf(stderr, "bad uri %s\n", argv[1]);
		return 2;
	}
	bson_t *cmd = BCON_NEW("serverStatus", BCON_INT32(1));
	if (!mongoc_client_command_simple(client, "admin", cmd, NULL, &reply, &err)) {
		fprintf(stderr, "serverStatus failed: %s\n", err.message);
	} else if (bson_iter_init(&it, &reply) &&
		   bson_iter_find_descendant(&it, "opcounters.command", &it) &&
		   BSON_ITER_HOLDS_NUMBER(&it)) {
		printf("opcounters.command: %lld\n", (long long)bson_iter_as_int64(&it));
		rc = 0;
	} else {
		fprintf(stderr, "no opcounters.command in reply\n");
	}
	bson_destroy(&reply);
	bson_destroy(cmd);
	mongoc_client_destroy(client);
	mongoc_cleanup();
	return rc;
}
