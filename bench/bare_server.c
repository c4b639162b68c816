/*
 * bare_server.c — the yardstick for `make bench`: a libmicrohttpd server
 * with the same threading flags as redactd that reads the body and answers
 * 201 with a fixed JSON reply. redactd's ingest rate is reported as a share
 * of this one's.
 */
#include <microhttpd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#if MHD_VERSION < 0x00097002
typedef int MHD_RESULT;
#else
typedef enum MHD_Result MHD_RESULT;
#endif

static MHD_RESULT on_request(void *cls, struct MHD_Connection *conn, const char *url,
                             const char *method, const char *version, const char *upload_data,
                             size_t *upload_size, void **con_cls)
{
	(void)cls; (void)url; (void)method; (void)version; (void)upload_data;
	static int marker;
	if (!*con_cls) {
		*con_cls = &marker;
		return MHD_YES;
	}
	if (*upload_size) {
		*upload_size = 0;
		return MHD_YES;
	}
	static const char body[] = "{\"ids\":[\"m_000000000000000000000000\"],\"findings\":{}}";
	struct MHD_Response *r = MHD_create_response_from_buffer(sizeof body - 1, (void *)body,
	                                                         MHD_RESPMEM_PERSISTENT);
	MHD_add_response_header(r, "Content-Type", "application/json");
	MHD_RESULT rc = MHD_queue_response(conn, 201, r);
	MHD_destroy_response(r);
	return rc;
}

int main(int argc, char **argv)
{
	unsigned port = argc > 1 ? (unsigned)strtoul(argv[1], NULL, 10) : 18081;
	unsigned threads = argc > 2 ? (unsigned)strtoul(argv[2], NULL, 10) : 2;
	struct MHD_Daemon *d = MHD_start_daemon(
		MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL, (uint16_t)port, NULL, NULL, on_request,
		NULL, MHD_OPTION_THREAD_POOL_SIZE, threads, MHD_OPTION_CONNECTION_LIMIT, 1024u,
		MHD_OPTION_END);
	if (!d) {
		fprintf(stderr, "bare_server: cannot listen on %u\n", port);
		return 1;
	}
	sigset_t set;
	int sig;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigprocmask(SIG_BLOCK, &set, NULL);
	sigwait(&set, &sig);
	MHD_stop_daemon(d);
	return 0;
}
